/*
 * lifetimes_pages.h - the page store: where the allocator backend keeps the
 * record of a block of at most PG_MAX bytes (internal; lifetimes.h says
 * what a page record is).
 *
 * This file owns the page records and the page map: finding a page record
 * (a direct-mapped cache of PG_CACHE entries, then the map), making one, giving it a class, and
 * reclaiming the empty ones. Which store a record goes to, and keeping one
 * record per key across them, is lifetimes_records.h's (pg_put, "both
 * stores").
 *
 * Why: a build of 250,000 ints cost ~640 instructions per object with every
 * record that outlives the nursery in the big table (a ring, a hash, a
 * bucket scan on each side), ~490 with the page store (callgrind, 3.11).
 * Here a block's record is at a place computed from its address, in a page
 * record that the previous block almost always found already (builds and
 * deallocations walk pages in address order).
 *
 * Nothing here reads block memory: the key is the address we were given.
 */
#ifndef HL_LIFETIMES_PAGES_H
#define HL_LIFETIMES_PAGES_H
#include "lifetimes.h"

/* The class of a request: its size rounded up to 16 (pymalloc's size
 * classes; a request of 0 bytes gets a 16-byte block). */
static inline unsigned
pg_class(size_t size)
{
    return size == 0 ? 16u : (unsigned)((size + 15) & ~(size_t)15);
}

/* Slots of a page record of class `cls`: one per offset / cls, offsets 0..4095. */
static inline unsigned
pg_nslots(unsigned cls)
{
    return cls == 0 ? 0u : 4095u / cls + 1u;
}

/* The reciprocal of a class: offset / cls is ((offset >> 4) * recip) >> 16
 * with k = cls / 16 in 1..32 and (offset >> 4) < 256. With recip =
 * ceil(2^16 / k) = (2^16 + e) / k, 0 <= e < k, x * recip / 2^16 = x / k +
 * x * e / (k * 2^16), and the second term is below 256 * 32 / (k * 2^16)
 * < 1 / k: it never carries x / k over the next integer. (floor(floor(a /
 * 16) / k) = floor(a / (16 k)), so dropping the low 4 bits is exact.)
 * tests/c/check_lifetimes_pages.c checks every class and offset. */
static inline uint32_t
pg_recip(unsigned cls)
{
    unsigned k = cls / 16u;
    return k == 0 ? 0u : (65536u + k - 1u) / k;
}

/* The slot of `key` in page record g (< pg_nslots(g->cls)). */
static inline unsigned
pg_slot(const pagerec *g, uintptr_t key)
{
    return (unsigned)((((uint32_t)(key & ((1u << PG_BITS) - 1)) >> 4) * g->recip) >> 16);
}

static inline size_t
pg_hash(uintptr_t pn)
{
    return (size_t)(((uint64_t)pn * UINT64_C(0x9E3779B97F4A7C15)) >> T.pm_shift);
}

/* The page record of page number `pn`, or NULL. */
static inline pagerec *
pg_lookup(uintptr_t pn)
{
    pagerec *l = T.pg_last[pn & (PG_CACHE - 1)];
    if (l != NULL && l->page == pn)
        return l;
    if (T.pm_count == 0)
        return NULL;
    size_t mask = T.pm_cap - 1;
    for (size_t i = pg_hash(pn);; i = (i + 1) & mask) {
        pagerec *g = T.pm[i];
        if (g == NULL)
            return NULL;
        if (g->page == pn) {
            T.pg_last[pn & (PG_CACHE - 1)] = g;
            return g;
        }
    }
}

/* Put g in a map of `cap` entries (a power of two) with hash shift `shift`. */
static inline void
pm_put(pagerec **pm, size_t cap, unsigned shift, pagerec *g)
{
    size_t i = (size_t)(((uint64_t)g->page * UINT64_C(0x9E3779B97F4A7C15)) >> shift);
    while (pm[i] != NULL)
        i = (i + 1) & (cap - 1);
    pm[i] = g;
}

static inline size_t
pg_bytes(const pagerec *g)
{
    return sizeof(pagerec) + g->nslots + (size_t)g->cap * sizeof(record);
}

/* Whether a page record holds nothing: no record, none in the fallback. */
static inline int
pg_empty(const pagerec *g)
{
    return g->live == 0 && !g->fb;
}

static inline void
pg_free(pagerec *g)
{
    hl_mem__sys_free(g->recs);
    hl_mem__sys_free(g);
}

/* Give the map `cap` entries (rounded up to a power of two) with the page
 * records it has, less the empty ones past the first `keep_empty` bytes of
 * them (freed: outside the hooks only, see pg_reclaim; SIZE_MAX keeps all);
 * -1 out of memory (nothing changed). */
static inline int
pm_resize(size_t cap, size_t keep_empty)
{
    unsigned bits = 0;
    while (((size_t)1 << bits) < cap)
        bits++;
    cap = (size_t)1 << bits;
    pagerec **pm = hl_mem__sys_calloc(cap, sizeof(pagerec *));
    if (pm == NULL)
        return -1;
    unsigned shift = 64 - bits;
    size_t n = 0;
    for (size_t i = 0; i < T.pm_cap; i++) {
        pagerec *g = T.pm[i];
        if (g == NULL)
            continue;
        if (keep_empty != SIZE_MAX && pg_empty(g)) {
            if (pg_bytes(g) > keep_empty) {
                pg_free(g);
                continue;
            }
            keep_empty -= pg_bytes(g);
        }
        pm_put(pm, cap, shift, g);
        n++;
    }
    hl_mem__sys_free(T.pm);
    T.pm = pm;
    T.pm_cap = cap;
    T.pm_shift = shift;
    T.pm_count = n;
    memset(T.pg_last, 0, sizeof(T.pg_last));
    return 0;
}

static inline pagerec *
pg_alloc(uintptr_t pn, unsigned cls)
{
    unsigned n = pg_nslots(cls);
    pagerec *g = hl_mem__sys_calloc(1, sizeof(pagerec) + n);
    if (g == NULL)
        return NULL;
    g->page = pn;
    g->cls = (uint16_t)cls;
    g->recip = pg_recip(cls);
    g->nslots = (uint16_t)n;
    return g;
}

/* A new page record for page `pn` (not in the map), of class `cls` (0: no
 * slots), put in the map; NULL out of memory. */
static inline pagerec *
pg_new(uintptr_t pn, unsigned cls)
{
    if ((T.pm_count + 1) * 4 > T.pm_cap * 3) { /* load 0.75 */
        if (pm_resize(T.pm_cap < 64 ? 64 : T.pm_cap * 2, SIZE_MAX) < 0 &&
            (T.pm_count + 1) * 16 > T.pm_cap * 15)
            return NULL; /* could not grow and nearly full */
    }
    pagerec *g = pg_alloc(pn, cls);
    if (g == NULL)
        return NULL;
    pm_put(T.pm, T.pm_cap, T.pm_shift, g);
    T.pm_count++;
    T.pg_last[pn & (PG_CACHE - 1)] = g;
    return g;
}

/* Give an empty page record (live == 0: every slot's byte is 0) the class
 * `cls`. It is replaced by a bigger one if it has too few slots: the
 * returned pointer is the page's record; NULL out of memory (g stays). */
static inline pagerec *
pg_reclass(pagerec *g, unsigned cls)
{
    if (pg_nslots(cls) > g->nslots) {
        pagerec *n = pg_alloc(g->page, cls);
        if (n == NULL)
            return NULL;
        n->fb = g->fb;
        n->recs = g->recs; /* (kept for reuse) */
        n->cap = g->cap;
        size_t mask = T.pm_cap - 1;
        for (size_t i = pg_hash(g->page);; i = (i + 1) & mask)
            if (T.pm[i] == g) {
                T.pm[i] = n;
                break;
            }
        hl_mem__sys_free(g);
        T.pg_last[n->page & (PG_CACHE - 1)] = n;
        return n;
    }
    g->cls = (uint16_t)cls;
    g->recip = pg_recip(cls);
    return g;
}

/* The records of g moved from `old` to `now`: the pending record with them. */
static inline void
pg_moved(const record *old, size_t n, record *now)
{
    if (T.pending >= old && T.pending < old + n)
        T.pending = now + (T.pending - old);
}

/* Give g room for `cap` records (>= live); -1 out of memory (g stays). */
static inline int
pg_resize_recs(pagerec *g, unsigned cap)
{
    record *n = NULL;
    if (cap != 0) {
        n = hl_mem__sys_malloc((size_t)cap * sizeof(record));
        if (n == NULL)
            return -1;
        if (g->live != 0)
            memcpy(n, g->recs, (size_t)g->live * sizeof(record));
    }
    pg_moved(g->recs, g->live, n);
    hl_mem__sys_free(g->recs);
    g->recs = n;
    g->cap = (uint16_t)cap;
    return 0;
}

/* The record in g for `key`, or NULL. */
static inline record *
pg_find(const pagerec *g, uintptr_t key)
{
    unsigned i = g->idx[pg_slot(g, key)];
    if (i != 0 && g->recs[i - 1].key == key)
        return &g->recs[i - 1];
    return NULL;
}

/* A record for empty slot `slot` of g (its content is the caller's); NULL
 * when g is full or out of memory. Records grow by a quarter (a record is
 * 24 bytes, and at most 30 per live block after growth); pg_reclaim trims
 * them. */
static inline record *
pg_take(pagerec *g, unsigned slot)
{
    if (__builtin_expect(g->live == g->cap, 0)) {
        unsigned most = g->nslots < PG_LIVE_MAX ? g->nslots : PG_LIVE_MAX;
        unsigned cap = g->cap + g->cap / 4 + 4;
        if (cap > most)
            cap = most;
        if (cap <= g->live || pg_resize_recs(g, cap) < 0)
            return NULL;
    }
    g->idx[slot] = (uint8_t)(g->live + 1);
    return &g->recs[g->live++];
}

/* Take record r (at `slot`) out of g: the last record moves into its place
 * (a pointer to that one is stale afterwards, but for T.pending, which
 * follows). */
static inline void
pg_remove_at(pagerec *g, record *r, unsigned slot)
{
    g->idx[slot] = 0;
    record *last = &g->recs[--g->live];
    if (r != last) {
        *r = *last;
        g->idx[pg_slot(g, r->key)] = (uint8_t)(r - g->recs + 1);
        if (T.pending == last)
            T.pending = r;
    }
    last->key = 0;
}

static inline void
pg_remove(pagerec *g, record *r)
{
    pg_remove_at(g, r, pg_slot(g, r->key));
}

/* Records in the page store. */
static inline size_t
pg_count(void)
{
    size_t n = 0;
    for (size_t i = 0; i < T.pm_cap; i++)
        if (T.pm[i] != NULL)
            n += T.pm[i]->live;
    return n;
}

/* Bytes the page store holds. */
static inline size_t
pg_memory(void)
{
    size_t n = T.pm_cap * sizeof(pagerec *);
    for (size_t i = 0; i < T.pm_cap; i++)
        if (T.pm[i] != NULL)
            n += pg_bytes(T.pm[i]);
    return n;
}

static inline void
pg_release_all(void)
{
    for (size_t i = 0; i < T.pm_cap; i++)
        if (T.pm[i] != NULL)
            pg_free(T.pm[i]);
    hl_mem__sys_free(T.pm);
    T.pm = NULL;
    T.pm_cap = T.pm_count = 0;
    T.pm_shift = 64;
    memset(T.pg_last, 0, sizeof(T.pg_last));
    T.pg_fb_all = 0;
}
#endif
