/*
 * lifetimes_sites.h - the allocation site of the allocation happening now
 * (internal): a site is (code, instruction, caller's site), so the frames
 * of tracebacks share their outer parts as a trie. Site 0 is "no Python
 * frame". The lookup is on the hooks' hot path; interning a new site is in
 * lifetimes_sites.c, which keeps a strong reference to each code object.
 */
#ifndef HL_LIFETIMES_SITES_H
#define HL_LIFETIMES_SITES_H
#include "lifetimes.h"

/* The site id of (code, lasti) called from site `parent`: a direct-mapped
 * cache in front of the site table. */
static inline uint32_t
site_intern(PyCodeObject *code, int lasti, uint32_t parent)
{
    size_t c = (((uintptr_t)code >> 4) ^ ((size_t)lasti * 0x9E37u) ^ (parent * 0x85EBu)) &
               (SITE_CACHE - 1);
    site_cache_entry *ce = &T.scache[c];
    if (ce->key.code == code && ce->key.lasti == lasti && ce->key.parent == parent)
        return ce->id;
    return site_intern_slow(code, lasti, parent, ce);
}

/* The site of the allocation happening now: up to T.frames frames. `ts`:
 * the calling thread's state when the caller has it already (each fetch
 * is a call and a TLS lookup on 3.12+), else NULL. */
static HOT uint32_t
site_now_ts(PyThreadState *ts)
{
    if (T.frames == 0)
        return 0;
    hl_frame_cursor cur;
    hl_compat__frames_begin(&cur, ts != NULL ? ts : hl_compat__tstate());
    PyCodeObject *codes[HL_TRACK_MAX_FRAMES];
    int lastis[HL_TRACK_MAX_FRAMES];
    if (T.frames == 1) {
        /* The common case: one frame, looked up by its position first. */
        uintptr_t a, b;
        if (!hl_compat__frames_peek(&cur, &a, &b))
            return 0;
        leaf_entry *e = &T.leaf[((a >> 1) ^ (b >> 4) ^ (a >> 11)) & (LEAF_CACHE - 1)];
        if (e->a == a && e->b == b)
            return e->id;
        void *after = hl_compat__frames_after(&cur);
        if (!hl_compat__frames_next(&cur, &codes[0], &lastis[0]))
            return 0;
        uint32_t id = site_intern(codes[0], lastis[0], 0);
        if (id != 0 && cur.frame == after) { /* that very frame was used: cache it */
            e->a = a;
            e->b = b;
            e->id = id;
        }
        return id;
    }
    int n = 0;
    while (n < T.frames && hl_compat__frames_next(&cur, &codes[n], &lastis[n]))
        n++;
    uint32_t id = 0;
    while (n-- > 0)
        id = site_intern(codes[n], lastis[n], id);
    return id;
}

static HOT uint32_t
site_now(void)
{
    return site_now_ts(NULL);
}
#endif
