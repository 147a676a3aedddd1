/*
 * lifetimes_sites.c - interning allocation sites (see lifetimes_sites.h).
 */
#include "lifetimes.h"
#include "lifetimes_sites.h"


/* -- sites -- */

uint32_t
site_intern_slow(PyCodeObject *code, int lasti, uint32_t parent, site_cache_entry *ce)
{
    site_key key;
    memset(&key, 0, sizeof(key)); /* the padding too: uthash hashes the bytes */
    key.code = code;
    key.lasti = lasti;
    key.parent = parent;
    site *s;
    HASH_FIND(hh, T.sites, &key, sizeof(key), s);
    if (s == NULL) {
        if (T.nsites >= T.capsites) {
            size_t cap = T.capsites * 2;
            site **a = hl_mem__sys_calloc(cap, sizeof(site *));
            if (a == NULL)
                return parent;
            memcpy(a, T.site_by_id, T.capsites * sizeof(site *));
            hl_mem__sys_free(T.site_by_id);
            T.site_by_id = a;
            T.capsites = cap;
        }
        s = hl_mem__sys_calloc(1, sizeof(site));
        if (s == NULL)
            return parent;
        s->key = key;
        s->id = (uint32_t)T.nsites;
        hl_hash__oom = 0;
        HASH_ADD(hh, T.sites, key, sizeof(site_key), s);
        if (hl_hash__oom) {
            hl_mem__sys_free(s);
            return parent;
        }
        Py_INCREF(code);
        T.site_by_id[T.nsites++] = s;
    }
    ce->key = key;
    ce->id = s->id;
    return s->id;
}
