/*
 * census.c - counts and bytes per type, fed by a walk. Keyed tables of
 * moderate size (one row per type) are what uthash is for; a one-entry
 * cache in front catches runs of objects of the same type, which walks
 * produce all the time (the items of one list).
 */
#include "error.h"
#include "hash.h"
#include "heaplens/heaplens.h"
#include "mem.h"

typedef struct {
    PyTypeObject *type; /* strong reference */
    size_t count;
    Py_ssize_t size;
    UT_hash_handle hh;
} census_entry;

struct hl_census {
    census_entry *table;
    census_entry *last;
    size_t ntypes;
};

int
hl_census_new(hl_census **out)
{
    *out = hl_mem__calloc(1, sizeof(hl_census));
    if (*out == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for a census");
    return 0;
}

int
hl_census_add(hl_census *c, PyTypeObject *tp, Py_ssize_t size)
{
    return hl_census_add_many(c, tp, 1, size);
}

int
hl_census_add_many(hl_census *c, PyTypeObject *tp, size_t count, Py_ssize_t size)
{
    census_entry *e = c->last;
    if (e == NULL || e->type != tp) {
        HASH_FIND_PTR(c->table, &tp, e);
        if (e == NULL) {
            e = hl_mem__calloc(1, sizeof(*e));
            if (e == NULL)
                return hl_error__set(HL_ENOMEM, "out of memory for a census row");
            e->type = tp;
            hl_hash__oom = 0;
            HASH_ADD_PTR(c->table, type, e);
            if (hl_hash__oom) {
                hl_mem__free(e);
                return hl_error__set(HL_ENOMEM, "out of memory for the census table");
            }
            Py_INCREF(tp);
            c->ntypes++;
        }
        c->last = e;
    }
    e->count += count;
    /* Saturate rather than wrap: a size past PY_SSIZE_T_MAX (only a lying
     * __sizeof__ gets there) would otherwise read as a negative total. */
    e->size = size > PY_SSIZE_T_MAX - e->size ? PY_SSIZE_T_MAX : e->size + size;
    return 0;
}

int
hl_census_on_object(const hl_walk_event *ev, void *payload)
{
    return hl_census_add(payload, Py_TYPE(ev->obj), ev->flat) < 0;
}

int
hl_census_rows(hl_census_row **rows, size_t *nrows, const hl_census *c)
{
    *rows = hl_mem__calloc(c->ntypes ? c->ntypes : 1, sizeof(hl_census_row));
    *nrows = 0;
    if (*rows == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for %zu census rows", c->ntypes);
    census_entry *e, *tmp;
    size_t i = 0;
    HASH_ITER(hh, c->table, e, tmp)
    {
        (*rows)[i].type = e->type;
        (*rows)[i].count = e->count;
        (*rows)[i].size = e->size;
        i++;
    }
    *nrows = i;
    return 0;
}

void
hl_census_rows_free(hl_census_row *rows)
{
    hl_mem__free(rows);
}

void
hl_census_free(hl_census *c)
{
    if (c == NULL)
        return;
    census_entry *e, *tmp;
    HASH_ITER(hh, c->table, e, tmp)
    {
        HASH_DEL(c->table, e);
        Py_DECREF(e->type);
        hl_mem__free(e);
    }
    hl_mem__free(c);
}
