/*
 * lifetimes_records.h - the records of the tracker: one per tracked block
 * (allocator backend) or object (tracer) (internal).
 *
 * Two stores. The allocator backend keeps the record of a block of at most
 * 512 bytes, once it outlives the nursery, in the page store
 * (lifetimes_pages.h) when its slot there is free; everything else goes to
 * the big table. Records are born in a small nursery and move out only if
 * they outlive it (see "the nursery"): most objects die young, and then
 * cost a few cache-resident stores. rec_find and rec_drop see every store;
 * "both stores" says how one record per key is kept. Everything here is on
 * the hooks' hot path, so it is inline. Figures are counted here too
 * (count_death, died, unborn).
 */
#ifndef HL_LIFETIMES_RECORDS_H
#define HL_LIFETIMES_RECORDS_H
#include "lifetimes.h"
#include "lifetimes_pages.h"

/* ---- the big table: buckets of RT_B slots -----------------------------
 * The table is an array of buckets of RT_B records each (cap is a multiple
 * of RT_B). A key lives in its home bucket or, when that was full at its
 * insertion, in one of the buckets that follow (linear probing by bucket).
 * A bucket's records fill its first `fill` slots (a removal moves the
 * bucket's last record into the hole), so an insertion writes slot `fill`
 * and a lookup compares `fill` keys in a row of memory. Each bucket counts
 * in `over` the records that passed it because it was full (saturating at
 * 255: a saturated count stays until the next rehash, which only makes
 * lookups look further). A lookup stops at the first bucket with a zero
 * count, so an absent key costs one bucket in most cases; no tombstones.
 *
 * Linear probing slot by slot ran the same table at 85% load with runs of
 * 20+ slots per insertion and a backward shift over the run per removal:
 * 926 instructions per tracked object on W1 (callgrind, 3.11). */

/* A key's home bucket, as the index of its first slot. Blocks are grouped
 * by 512-byte stretch of address space: the stretch is hashed to a place in
 * the table, and its 64-byte eighths go to 8 buckets in a row there (a
 * 64-byte eighth holds at most 4 16-byte-aligned blocks: half a bucket). A
 * structure built in one go (pymalloc hands out a pool's blocks in address
 * order) then writes, finds and removes its records in runs of adjacent
 * memory instead of one cache miss per object. */
static inline size_t
home_of(uintptr_t key, size_t cap)
{
    size_t nb = cap / RT_B;
    uint64_t h = (uint64_t)(key >> HOME_PAGE_BITS) * UINT64_C(0x9E3779B97F4A7C15);
    size_t b = (size_t)(((unsigned __int128)h * nb) >> 64) +
               (size_t)((key >> (HOME_PAGE_BITS - 3)) & 7);
    if (b >= nb)
        b -= nb;
    return b * RT_B;
}

/* rt_find with the home already known (home_of(key, t->cap)). */
static inline size_t
rt_find_from(const rtable *t, uintptr_t key, size_t i)
{
    for (size_t n = t->cap / RT_B; n > 0; n--) {
        const record *s = &t->slots[i];
        rbucket bk = t->bk[i / RT_B];
        for (size_t j = 0; j < bk.fill; j++)
            if (s[j].key == key)
                return i + j;
        if (bk.over == 0)
            return SIZE_MAX;
        i += RT_B;
        if (i == t->cap)
            i = 0;
    }
    return SIZE_MAX;
}

static inline size_t
rt_find(const rtable *t, uintptr_t key)
{
    if (t->cap == 0)
        return SIZE_MAX;
    return rt_find_from(t, key, home_of(key, t->cap));
}

/* rt_remove with the home of slot i's key already known. */
static inline void
rt_remove_from(rtable *t, size_t i, size_t home)
{
    size_t b = i / RT_B, nb = t->cap / RT_B;
    size_t h = home / RT_B;
    while (h != b) { /* it passed these buckets: take its count back */
        if (t->bk[h].over != UINT8_MAX)
            t->bk[h].over--;
        if (++h == nb)
            h = 0;
    }
    size_t last = b * RT_B + --t->bk[b].fill;
    if (last != i)
        t->slots[i] = t->slots[last];
    t->slots[last].key = 0;
    t->count--;
    t->removed++;
}

/* Empty slot i: the last record of its bucket moves into it (a pointer to
 * that record is stale afterwards; so is one to slot i). */
static inline void
rt_remove(rtable *t, size_t i)
{
    rt_remove_from(t, i, home_of(t->slots[i].key, t->cap));
}

/* The slot where a record whose key is not in the table goes: the first
 * free one from its home bucket on (there must be one), taken. */
static inline size_t
rt_place_from(rbucket *bk, size_t cap, size_t home)
{
    size_t b = home / RT_B, nb = cap / RT_B;
    while (bk[b].fill == RT_B) {
        if (bk[b].over != UINT8_MAX)
            bk[b].over++;
        if (++b == nb)
            b = 0;
    }
    return b * RT_B + bk[b].fill++;
}

static inline size_t
rt_place(rbucket *bk, size_t cap, uintptr_t key)
{
    return rt_place_from(bk, cap, home_of(key, cap));
}

static inline int
rt_rehash(rtable *t, size_t cap)
{
    cap = (cap + RT_B - 1) / RT_B * RT_B;
    if (cap < t->count + RT_B)
        return -1;
    record *slots = hl_mem__sys_calloc(cap, sizeof(record));
    rbucket *bk = hl_mem__sys_calloc(cap / RT_B, sizeof(rbucket));
    if (slots == NULL || bk == NULL) {
        hl_mem__sys_free(slots);
        hl_mem__sys_free(bk);
        return -1;
    }
    for (size_t b = 0; b < t->cap / RT_B; b++) {
        const record *s = &t->slots[b * RT_B];
        for (size_t j = 0, f = t->bk[b].fill; j < f; j++)
            slots[rt_place(bk, cap, s[j].key)] = s[j];
    }
    hl_mem__sys_free(t->slots);
    hl_mem__sys_free(t->bk);
    t->slots = slots;
    t->bk = bk;
    t->cap = cap;
    t->grow_at = cap * 17 / 20; /* (count + 1) > grow_at iff load would pass 0.85 */
    t->removed = 0;
    return 0;
}

/* The slot for `key`, new (only its key set: the caller writes the rest)
 * or the one it had. SIZE_MAX when the table is full and cannot grow.
 * `home`: home_of(key, hcap), computed earlier (SIZE_MAX: not known). */
static inline size_t
rt_insert(rtable *t, uintptr_t key, size_t home, size_t hcap, int *existed)
{
    *existed = 0;
    if (__builtin_expect(t->count + 1 > t->grow_at, 0)) { /* load > 0.85 */
        size_t cap = (t->count + 1) * 20 / 11 + 64;       /* load 0.55 */
        if (rt_rehash(t, cap) < 0 && (t->count + 1) * 20 > t->cap * 19)
            return SIZE_MAX; /* could not grow and nearly full: drop */
    }
    if (home == SIZE_MAX || hcap != t->cap)
        home = home_of(key, t->cap);
    size_t i = rt_find_from(t, key, home);
    if (i != SIZE_MAX) {
        *existed = 1;
        return i;
    }
    i = rt_place_from(t->bk, t->cap, home);
    t->slots[i].key = key;
    t->count++;
    return i;
}

/* Shrink a table less than a quarter full, once it has seen more removals
 * since its last resize than twice its capacity: a structure built and
 * dropped again and again (a loop, a test, the W1-W6 benchmarks) keeps the
 * table at its size instead of paying a shrink and a regrowth per round
 * (W1: 17 rehashes per build-and-drop of 250,000 ints, about 200
 * instructions per object, with as many bytes zeroed by calloc). A table
 * that stays sparse still shrinks, at an amortized cost of O(1) per
 * removal, and any sparse table shrinks when the API looks at the records
 * (nursery_flush), so the memory figures never show a stale peak. */
static inline void
rt_shrink_sparse(rtable *t)
{
    if (t->cap > 4096 && t->count * 4 < t->cap)
        (void)rt_rehash(t, t->count * 20 / 11 + 64); /* failure: stay big */
}

static inline void
rt_maybe_shrink(rtable *t)
{
    if (t->removed > 2 * t->cap)
        rt_shrink_sparse(t);
}

static inline size_t
nursery_of(uintptr_t key)
{
    return (size_t)(((uint64_t)key * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - NURSERY_BITS));
}

/* -- events -- */

static inline __attribute__((always_inline)) void
count_death(tstats *s, const record *r, uint64_t now_ticks)
{
    uint64_t life = (now_ticks - BT_TICKS(r->bt)) << BT_TICK_SHIFT;
    s->died++;
    s->alive_bytes -= r->size;
    if (life > s->life_max)
        s->life_max = life;
    uint32_t *h = &s->hist[hist_bucket(life)];
    if (*h != UINT32_MAX)
        (*h)++;
}

static inline void
died(record *r, uint64_t now_ticks)
{
    uint32_t t = BT_TYPE(r->bt);
    if (!type_real(t))
        return;
    count_death(T.stats[t], r, now_ticks);
}

/* A record that is lost (out of memory) takes its birth back with it, so
 * that the figures never count as alive what will never be seen to die. */
static inline void
unborn(const record *r)
{
    uint32_t t = BT_TYPE(r->bt);
    T.dropped++;
    if (!type_real(t))
        return;
    T.stats[t]->born--;
    T.stats[t]->alive_bytes -= r->size;
}

static inline int
in_nursery(const record *r)
{
    return r >= T.nursery && r < T.nursery + NURSERY_N;
}

static inline record *
moving_find(uintptr_t key)
{
    for (unsigned k = 0; k < T.nmoving; k++) {
        record *m = &T.moving[(T.mv_head + k) % MOVE_N];
        if (m->key == key)
            return m;
    }
    return NULL;
}

static inline int
in_moving(const record *r)
{
    return r >= T.moving && r < T.moving + MOVE_N;
}

/* Take a record out of the ring (it died on the way): the newer ones close
 * the gap. */
static inline void
moving_remove(record *r)
{
    unsigned k = ((unsigned)(r - T.moving) - T.mv_head + MOVE_N) % MOVE_N;
    for (; k + 1 < T.nmoving; k++) {
        unsigned to = (T.mv_head + k) % MOVE_N, from = (T.mv_head + k + 1) % MOVE_N;
        T.moving[to] = T.moving[from];
        T.mv_home[to] = T.mv_home[from];
        T.mv_cap[to] = T.mv_cap[from];
    }
    T.nmoving--;
}

/* The record for `key` in the fallback: in the nursery, on its way or in
 * the big table, or NULL. */
static inline record *
fb_find(uintptr_t key)
{
    record *n = &T.nursery[nursery_of(key)];
    if (n->key == key)
        return n;
    record *m = moving_find(key);
    if (m != NULL)
        return m;
    size_t i = rt_find(&T.rt, key);
    return i == SIZE_MAX ? NULL : &T.rt.slots[i];
}

/* Forget a record of the fallback. A big-table removal moves another record
 * of that table: pointers into it are stale afterwards (nursery pointers
 * stay valid). */
static inline void
fb_drop(record *r)
{
    if (in_moving(r)) {
        moving_remove(r);
    } else if (in_nursery(r)) {
        r->key = 0;
        T.nn--;
    } else {
        rt_remove(&T.rt, (size_t)(r - T.rt.slots));
    }
}

/* ---- both stores ---------------------------------------------------------
 * Every record is born in the nursery (most die there: a churn costs what it
 * did before the page store). One that outlives its nursery slot moves to
 * its page record if its block is at most PG_MAX bytes and its slot there
 * is free (pg_put), else to the big table through the ring. A key is in one
 * of the page store and the big table at a time; the nursery may hold a
 * newer record of a key whose free we missed (it was freed out of our
 * sight and handed out again), as it did with the big table alone: lookups
 * try the nursery first, and the stale record is counted dead when the new
 * one moves out of the nursery:
 * - to a page: the same slot holds the stale one, or, when the page's `fb`
 *   says a record of the page went to the fallback (or pg_fb_all: a
 *   fallback record's page had no record, out of memory), the ring or the
 *   big table does;
 * - to the fallback: the key's slot in its page record, if any, and the
 *   page is marked `fb` (a page record with no slots is made for it if
 *   needed); the big table's own check (move_in, `existed`) does the rest.
 * `fb` is set in the hooks and recomputed exactly outside them (pg_reclaim),
 * so a page marked by a conflict long gone costs a lookup per move only
 * until then. */

/* Forget the record of `key` in page g's slot, if there is one: the block
 * died unseen (g may be NULL). */
static inline void
pg_forget_stale(pagerec *g, uintptr_t key)
{
    if (g == NULL || g->live == 0)
        return;
    record *s = pg_find(g, key);
    if (s == NULL)
        return;
    died(s, ticks_now());
    pg_remove(g, s);
}

/* Move nursery record n to its page record (allocator backend); 0 when it
 * must go to the big table (then noted: see above). */
static inline int
pg_put(const record *n)
{
    uintptr_t key = n->key, pn = key >> PG_BITS;
    pagerec *g = pg_lookup(pn);
    if (n->size <= PG_MAX) {
        unsigned cls = pg_class(n->size);
        if (g == NULL) {
            g = pg_new(pn, cls);
        } else if (g->cls != cls && g->live == 0) {
            pagerec *m = pg_reclass(g, cls); /* (NULL: out of memory, g stays) */
            if (m != NULL)
                g = m;
        }
        if (g != NULL && g->cls == cls) {
            unsigned slot = pg_slot(g, key), i = g->idx[slot];
            record *s;
            if (i == 0) {
                s = pg_take(g, slot);
                if (s == NULL)
                    goto fallback; /* full, or out of memory */
            } else {
                s = &g->recs[i - 1];
                if (s->key != key)
                    goto fallback; /* another live block there (not pymalloc's spacing) */
                died(s, ticks_now()); /* we missed its free */
            }
            if (__builtin_expect(g->fb | T.pg_fb_all, 0)) {
                record *o = moving_find(key);
                if (o != NULL) { /* moved out earlier, freed unseen */
                    died(o, ticks_now());
                    moving_remove(o);
                } else if (T.rt.cap != 0) {
                    size_t j = rt_find(&T.rt, key);
                    if (j != SIZE_MAX) {
                        died(&T.rt.slots[j], ticks_now());
                        rt_remove(&T.rt, j);
                    }
                }
            }
            *s = *n;
            return 1;
        }
    }
fallback:
    if (g == NULL)
        g = pg_new(pn, 0);
    if (g == NULL) {
        T.pg_fb_all = 1;
    } else {
        pg_forget_stale(g, key);
        g->fb = 1;
    }
    return 0;
}

/* Put the oldest moving record into the big table. */
static inline void
move_in(void)
{
    unsigned h = T.mv_head;
    record *m = &T.moving[h];
    T.mv_head = (h + 1) % MOVE_N;
    T.nmoving--;
    int existed;
    size_t i = rt_insert(&T.rt, m->key, T.mv_home[h], T.mv_cap[h], &existed);
    if (i == SIZE_MAX) {
        unborn(m);
        return;
    }
    if (existed) /* a record whose free we missed: it died unseen */
        died(&T.rt.slots[i], ticks_now());
    T.rt.slots[i] = *m;
}

static inline void
move_in_all(void)
{
    while (T.nmoving > 0)
        move_in();
}

/* Move a nursery record towards the big table, emptying its slot. Its slot
 * there is most likely not in the cache (a build of a big structure evicts
 * at every allocation): the record waits in a ring of MOVE_N while its slot
 * is prefetched, and goes in when the ring is full. */
static inline void
evict(record *n)
{
    if (T.backend == HL_BACKEND_ALLOCATOR && pg_put(n)) {
        n->key = 0;
        T.nn--;
        return;
    }
    if (T.nmoving == MOVE_N)
        move_in();
    unsigned k = (T.mv_head + T.nmoving++) % MOVE_N;
    T.moving[k] = *n;
    size_t cap = T.rt.cap, home = SIZE_MAX;
    if (cap != 0) {
        home = home_of(n->key, cap);
        __builtin_prefetch(&T.rt.slots[home], 1, 3);
    }
    T.mv_home[k] = home; /* move_in uses it if the table keeps its size */
    T.mv_cap[k] = cap;
    n->key = 0;
    T.nn--;
}

/* A fresh nursery record for `key` (key set, the rest zero). */
static HOT record *
rec_birth(uintptr_t key)
{
    record *n = &T.nursery[nursery_of(key)];
    if (n->key == key) { /* we missed its free (it happened out of our sight) */
        died(n, ticks_now());
    } else {
        if (n->key != 0)
            evict(n);
        T.nn++;
    }
    memset(n, 0, sizeof(*n));
    n->key = key;
    return n;
}

static inline int
in_fallback(const record *r)
{
    return in_nursery(r) || in_moving(r) || (r >= T.rt.slots && r < T.rt.slots + T.rt.cap);
}

/* The record for `key`, in either store, or NULL. */
static inline record *
rec_find(uintptr_t key)
{
    if (T.nursery != NULL && T.nursery[nursery_of(key)].key == key)
        return &T.nursery[nursery_of(key)]; /* (the newest: see "both stores") */
    if (T.pm_count != 0) {
        pagerec *g = pg_lookup(key >> PG_BITS);
        if (g != NULL && g->live != 0) {
            record *s = pg_find(g, key);
            if (s != NULL)
                return s;
        }
    }
    return fb_find(key);
}

/* Forget a record (of either store). Another record of its table or page
 * may move into its place: pointers to records are stale afterwards, but
 * for T.pending (see pg_remove) and nursery pointers. */
static inline void
rec_drop(record *r)
{
    if (in_fallback(r)) {
        fb_drop(r);
        return;
    }
    pg_remove(pg_lookup(r->key >> PG_BITS), r);
}

/* Empty page records kept by pg_reclaim, in bytes. */
#define PG_KEEP_EMPTY (128u * 1024u)

/* Outside the hooks: make `fb` exact (a page record for the page of every
 * fallback record, which is all in the big table now), then free the empty
 * page records with no fallback record past the first PG_KEEP_EMPTY bytes
 * of them, so that the memory figures show no stale peak. The ones kept
 * are what code run again and again (a churn, a test screened for leaks
 * between reads of the figures) reuses, and reclasses, without a malloc of
 * ours growing the process's heap in every run. */
static inline void
pg_reclaim(void)
{
    if (T.backend != HL_BACKEND_ALLOCATOR || (T.pm_cap == 0 && T.rt.count == 0))
        return;
    for (size_t i = 0; i < T.pm_cap; i++)
        if (T.pm[i] != NULL)
            T.pm[i]->fb = 0;
    int all = 0;
    for (size_t i = 0; i < T.rt.cap; i++) {
        uintptr_t key = T.rt.slots[i].key;
        if (key == 0)
            continue;
        pagerec *g = pg_lookup(key >> PG_BITS);
        if (g == NULL)
            g = pg_new(key >> PG_BITS, 0);
        if (g == NULL)
            all = 1;
        else
            g->fb = 1;
    }
    T.pg_fb_all = all || T.nn != 0 || T.nmoving != 0; /* (those are never left here) */
    size_t keep = 0, empty = 0; /* (the same walk as pm_resize's) */
    for (size_t i = 0; i < T.pm_cap; i++) {
        pagerec *g = T.pm[i];
        if (g == NULL)
            continue;
        if (g->live != 0 && g->cap > g->live + g->live / 4 + 4)
            (void)pg_resize_recs(g, g->live); /* trimmed (out of memory: kept) */
        if (!pg_empty(T.pm[i])) {
            keep++;
        } else if (empty + pg_bytes(T.pm[i]) <= PG_KEEP_EMPTY) {
            empty += pg_bytes(T.pm[i]);
            keep++;
        }
    }
    if (keep == T.pm_count)
        return;
    size_t cap = 64;
    while (cap * 3 < keep * 4) /* load <= 0.75 */
        cap *= 2;
    (void)pm_resize(cap, PG_KEEP_EMPTY); /* out of memory: they stay, to be reused */
}

/* Every nursery record to the big table (outside hooks: before the API
 * walks the records); then see pg_reclaim. */
static inline void
nursery_flush(void)
{
    if (T.nursery == NULL || T.nn == 0) {
        move_in_all();
        rt_shrink_sparse(&T.rt);
        pg_reclaim();
        return;
    }
    for (size_t k = 0; k < NURSERY_N; k++)
        if (T.nursery[k].key != 0)
            evict(&T.nursery[k]);
    move_in_all();
    rt_shrink_sparse(&T.rt);
    pg_reclaim();
}
#endif
