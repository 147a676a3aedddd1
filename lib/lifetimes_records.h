/*
 * lifetimes_records.h - the records of the tracker: one per tracked block
 * (allocator backend) or object (tracer), in three places (internal).
 *
 * Records are born in a small nursery and move to a big table only if they
 * outlive it (see "the nursery"): most objects die young, and then cost a
 * few cache-resident stores. Everything here is on the hooks' hot path, so
 * it is inline. Figures are counted here too (count_death, died, unborn).
 */
#ifndef HL_LIFETIMES_RECORDS_H
#define HL_LIFETIMES_RECORDS_H
#include "lifetimes.h"

/* A key's home slot. Blocks are grouped by 512-byte stretch of address
 * space: the stretch is hashed to a place in the table, and the 32
 * possible 16-byte-aligned blocks in it get 32 slots in a row there. A
 * structure built in one go (pymalloc hands out a pool's blocks in address
 * order) then writes, finds and removes its records in runs of adjacent
 * slots instead of one cache miss per object: list(range(250000)) built
 * and dropped under tracking ran 4.1-4.8x plain instead of 6.1x. Longer
 * stretches cost more than they gain (4 KiB: 8x), as runs of full windows
 * make linear probing walk far. */
static inline size_t
home_of(uintptr_t key, size_t cap)
{
    uint64_t h = (uint64_t)(key >> HOME_PAGE_BITS) * UINT64_C(0x9E3779B97F4A7C15);
    size_t i = (size_t)(((unsigned __int128)h * cap) >> 64) +
               (size_t)((key >> 4) & ((1u << (HOME_PAGE_BITS - 4)) - 1));
    return i < cap ? i : i % cap;
}

static inline size_t
rt_find(const rtable *t, uintptr_t key)
{
    if (t->cap == 0)
        return SIZE_MAX;
    size_t i = home_of(key, t->cap);
    for (;;) {
        uintptr_t k = t->slots[i].key;
        if (k == key)
            return i;
        if (k == 0)
            return SIZE_MAX;
        if (++i == t->cap)
            i = 0;
    }
}

static inline void
rt_remove(rtable *t, size_t i)
{
    size_t j = i;
    for (;;) {
        if (++j == t->cap)
            j = 0;
        uintptr_t k = t->slots[j].key;
        if (k == 0)
            break;
        size_t h = home_of(k, t->cap);
        /* Move slot j back to i unless its home lies cyclically in (i, j]. */
        int stays = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].key = 0;
    t->count--;
}

static inline int
rt_rehash(rtable *t, size_t cap)
{
    record *slots = hl_mem__sys_calloc(cap, sizeof(record));
    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].key == 0)
            continue;
        size_t j = home_of(t->slots[i].key, cap);
        while (slots[j].key != 0)
            if (++j == cap)
                j = 0;
        slots[j] = t->slots[i];
    }
    hl_mem__sys_free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* The slot for `key`, new (key set, the rest zero) or the one it had.
 * SIZE_MAX when the table is full and cannot grow. */
static inline size_t
rt_insert(rtable *t, uintptr_t key, int *existed)
{
    *existed = 0;
    if ((t->count + 1) * 20 > t->cap * 17) {             /* load > 0.85 */
        size_t cap = (t->count + 1) * 20 / 11 + 64;       /* load 0.55 */
        if (rt_rehash(t, cap) < 0 && (t->count + 1) * 20 > t->cap * 19)
            return SIZE_MAX; /* could not grow and nearly full: drop */
    }
    size_t i = home_of(key, t->cap);
    for (;;) {
        uintptr_t k = t->slots[i].key;
        if (k == key) {
            *existed = 1;
            return i;
        }
        if (k == 0)
            break;
        if (++i == t->cap)
            i = 0;
    }
    memset(&t->slots[i], 0, sizeof(record));
    t->slots[i].key = key;
    t->count++;
    return i;
}

static inline void
rt_maybe_shrink(rtable *t)
{
    if (t->cap > 4096 && t->count * 4 < t->cap)
        (void)rt_rehash(t, t->count * 20 / 11 + 64); /* failure: stay big */
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
    for (int k = 0; k < T.nmoving; k++) {
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
    int k = ((int)(r - T.moving) - T.mv_head + MOVE_N) % MOVE_N;
    for (; k + 1 < T.nmoving; k++)
        T.moving[(T.mv_head + k) % MOVE_N] = T.moving[(T.mv_head + k + 1) % MOVE_N];
    T.nmoving--;
}

/* The record for `key`, in the nursery, on its way or in the big table,
 * or NULL. */
static inline record *
rec_find(uintptr_t key)
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

/* Forget a record. A big-table removal moves other records of that table:
 * pointers into it are stale afterwards (nursery pointers stay valid). */
static inline void
rec_drop(record *r)
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

/* Put the oldest moving record into the big table. */
static inline void
move_in(void)
{
    record *m = &T.moving[T.mv_head];
    T.mv_head = (T.mv_head + 1) % MOVE_N;
    T.nmoving--;
    int existed;
    size_t i = rt_insert(&T.rt, m->key, &existed);
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
    if (T.nmoving == MOVE_N)
        move_in();
    T.moving[(T.mv_head + T.nmoving++) % MOVE_N] = *n;
    if (T.rt.cap != 0)
        __builtin_prefetch(&T.rt.slots[home_of(n->key, T.rt.cap)], 1, 3);
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

/* Every nursery record to the big table (outside hooks: before the API
 * walks the records). */
static inline void
nursery_flush(void)
{
    if (T.nursery == NULL || T.nn == 0) {
        move_in_all();
        return;
    }
    for (size_t k = 0; k < NURSERY_N; k++)
        if (T.nursery[k].key != 0)
            evict(&T.nursery[k]);
    move_in_all();
}
#endif
