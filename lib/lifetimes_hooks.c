/*
 * lifetimes_hooks.c - the two backends of the tracker.
 *
 * - allocator: our functions wrap PYMEM_DOMAIN_OBJ (every object and gc
 *   allocation goes there). At malloc time a block has no type yet, so the
 *   newest block stays "pending" and is resolved at the next hook event,
 *   when its header has been written (lifetimes_types.h). Nothing read from
 *   a block is followed here: see THE INVARIANT in lifetimes_types.c.
 * - tracer (3.13.3+): PyRefTracer CREATE gives the object with its type
 *   set; DESTROY comes before tp_dealloc.
 *
 * Hooks run with the GIL held, never run Python code, never fail the user's
 * allocation, and take the re-entrancy guard `reent`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>

#include "lifetimes.h"
#include "lifetimes_records.h"
#include "lifetimes_sites.h"
#include "lifetimes_types.h"


/* Whether the hooks record a birth now: tracking, not inside ourselves, in
 * the tracked interpreter, on a tracked thread, and not our own quiet work.
 * *tsp: the thread state if it was fetched, else NULL. */
static inline int
watching(PyThreadState **tsp)
{
    *tsp = NULL;
    if (!T.active || reent)
        return 0;
#if !HL_HAVE_PER_INTERP_GIL
    /* (one GIL: the thread needs looking at only to leave some out) */
    if (T.only == NULL && T.quiet_self == NULL && T.nquiet == 0)
        return 1;
#endif
    PyThreadState *ts = *tsp = hl_compat__tstate(); /* (site_now_ts uses it again) */
    if (ts == NULL)
        return 0;
#if HL_HAVE_PER_INTERP_GIL
    /* (another interpreter's thread reads none of our state but this) */
    if (ts->interp != T.interp)
        return 0;
#endif
    return (T.only == NULL || ts == T.only) && !quiet_now(ts);
}

/* Whether a free or resize may touch the tables: on 3.12+ a sub-interpreter
 * with a GIL of its own runs the hooks concurrently with us; its blocks are
 * never ours (each such interpreter has its own object allocator state). */
static inline int
ours(void)
{
#if HL_HAVE_PER_INTERP_GIL
    PyThreadState *ts = hl_compat__tstate();
    return ts != NULL && ts->interp == T.interp;
#else
    return 1;
#endif
}

static HOT void
on_alloc(void *p, size_t size, uint64_t raw, PyThreadState *ts)
{
    settle_pending(0);
    if (T.ndeferred)
        retry_deferred();
    record *r = rec_birth((uintptr_t)p);
    r->bt = ticks_of(raw);
    r->size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
    r->site = site_now_ts(ts); /* may add sites, never records: r stays put */
    T.pending = r;
    T.pending_gc = gc_running();
    T.has_pending = 1;
}

/* The figures of a death (record r of block key, still in its store). */
static HOT void
free_record(const record *r, uintptr_t key, uint64_t raw)
{
    uint32_t t = BT_TYPE(r->bt);
    if (t == TYPE_HIDDEN) {
        type_died(key);
    } else if (type_waiting(t)) {
        waiting_died(r, ticks_of(raw));
    } else if (type_real(t)) {
        tstats *s = T.stats[t];
        if (s->is_meta)
            type_died(key);
        count_death(s, r, ticks_of(raw));
    }
}

static HOT void
on_free(void *p, uint64_t raw)
{
    uintptr_t key = (uintptr_t)p;
    record *r = &T.nursery[nursery_of(key)];
    size_t home = SIZE_MAX, hcap = T.rt.cap;
    pagerec *g = NULL;
    unsigned slot = 0;
    if (r->key != key) { /* an older object: in its page record, or the big table */
        g = pg_lookup(key >> PG_BITS);
        if (g != NULL && g->live != 0) {
            slot = pg_slot(g, key);
        } else {
            g = NULL;
            if (hcap != 0) { /* fetch its slot meanwhile */
                home = home_of(key, hcap);
                __builtin_prefetch(&T.rt.slots[home], 0, 3);
            }
        }
    }
    settle_pending(key); /* (may drop a record, moving another of its page or
                            bucket; it births nothing: g stays) */
    int young = r->key == key;
    if (!young && g != NULL) {
        unsigned i = g->idx[slot];
        if (i != 0 && g->recs[i - 1].key == key) {
            free_record(&g->recs[i - 1], key, raw);
            pg_remove_at(g, &g->recs[i - 1], slot);
            return;
        }
    }
    if (!young) {
        record *m = moving_find(key);
        if (m != NULL) {
            r = m;
        } else {
            if (T.rt.cap == 0)
                return;
            if (home == SIZE_MAX || T.rt.cap != hcap)
                home = home_of(key, T.rt.cap);
            size_t i = rt_find_from(&T.rt, key, home);
            if (i == SIZE_MAX)
                return;
            r = &T.rt.slots[i];
        }
    }
    free_record(r, key, raw);
    if (young) {
        r->key = 0;
        T.nn--;
    } else if (in_moving(r)) {
        moving_remove(r);
    } else {
        rt_remove_from(&T.rt, (size_t)(r - T.rt.slots), home);
        rt_maybe_shrink(&T.rt);
    }
}

static void
on_realloc(void *old, void *p, size_t size)
{
    record *r = rec_find((uintptr_t)old);
    if (r == NULL)
        return;
    uint32_t nsize = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
    uint32_t t = BT_TYPE(r->bt);
    if (type_real(t))
        T.stats[t]->alive_bytes += (uint64_t)nsize - r->size;
    if (p == old) {
        r->size = nsize;
        return;
    }
    record keep = *r;
    rec_drop(r);
    r = rec_birth((uintptr_t)p);
    keep.key = (uintptr_t)p;
    keep.size = nsize;
    *r = keep;
    if (T.parked == (uintptr_t)old) /* (resized inside the collection) */
        T.parked = (uintptr_t)p;
}

/* ---- the allocator hook --------------------------------------------------- */

static void *
hook_malloc(void *ctx, size_t size)
{
    (void)ctx;
    /* The clock is read first and its value used last: a TSC read takes
     * ~12 ns, but overlaps with the work in between (the allocation, the
     * previous block's type) instead of stalling the hook. */
    uint64_t raw = T.active ? raw_now() : 0;
    void *p = T.prev.malloc(T.prev.ctx, size);
    if (T.probing)
        T.probe_hits++;
    PyThreadState *ts;
    if (p != NULL && watching(&ts)) {
        reent = 1;
        on_alloc(p, size, raw, ts);
        reent = 0;
    }
    return p;
}

static void *
hook_calloc(void *ctx, size_t nelem, size_t elsize)
{
    (void)ctx;
    uint64_t raw = T.active ? raw_now() : 0;
    void *p = T.prev.calloc(T.prev.ctx, nelem, elsize);
    PyThreadState *ts;
    if (p != NULL && watching(&ts)) {
        reent = 1;
        on_alloc(p, nelem * elsize, raw, ts);
        reent = 0;
    }
    return p;
}

static void *
hook_realloc(void *ctx, void *old, size_t size)
{
    (void)ctx;
    if (old == NULL)
        return hook_malloc(ctx, size);
    if (!(T.active || T.deaths) || reent || !ours())
        return T.prev.realloc(T.prev.ctx, old, size);
    /* Any thread may resize a tracked block; only births are per thread. */
    reent = 1;
    settle_pending(0);
    reent = 0;
    void *p = T.prev.realloc(T.prev.ctx, old, size);
    if (p != NULL && !reent) {
        reent = 1;
        on_realloc(old, p, size);
        reent = 0;
    }
    return p;
}

static void
hook_free(void *ctx, void *p)
{
    (void)ctx;
    if (p != NULL && T.active && !reent && ours()) {
        uint64_t raw = raw_now(); /* early, as in hook_malloc */
        reent = 1;
        on_free(p, raw);
        reent = 0;
    } else if (p != NULL && T.deaths && !reent && ours()) {
        reent = 1;
        record *r = rec_find((uintptr_t)p);
        if (r != NULL)
            rec_drop(r);
        reent = 0;
    }
    T.prev.free(T.prev.ctx, p);
}

PyMemAllocatorEx hl_lifetimes__hook = {NULL, hook_malloc, hook_calloc, hook_realloc, hook_free};

int
hook_on_top(void)
{
    PyMemAllocatorEx cur;
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &cur);
    return cur.malloc == hook_malloc;
}

/* Whether an allocation reaches our hook (it may sit under another one). */
int
hook_reached(void)
{
    T.probing = 1;
    T.probe_hits = 0;
    void *p = PyObject_Malloc(8);
    T.probing = 0;
    PyObject_Free(p);
    return T.probe_hits > 0;
}

/* ---- the tracer backend --------------------------------------------------- */

#if HL_HAVE_REFTRACER
int
tracer(PyObject *op, PyRefTracerEvent event, void *data)
{
    (void)data;
    if (!(T.active || T.deaths) || reent || !ours())
        return 0;
    if (!T.active) { /* stopped: only forget the dead */
        if (event == PyRefTracer_DESTROY) {
            reent = 1;
            record *r = rec_find((uintptr_t)op);
            if (r != NULL)
                rec_drop(r);
            reent = 0;
        }
        return 0;
    }
    reent = 1;
    if (event == PyRefTracer_CREATE) {
        PyThreadState *ts = hl_compat__tstate();
        if ((T.only == NULL || ts == T.only) && !quiet_now(ts)) {
            settle_pending(0);
            {
                record *r = rec_birth((uintptr_t)op); /* a DESTROY we missed dies here */
                r->bt = ticks_now();
                tinfo *ti = tinfo_find(Py_TYPE(op));
                if (ti == NULL)
                    ti = tinfo_add(Py_TYPE(op), 0);
                tstats *s = NULL;
                if (ti != NULL) {
                    tinfo_settle(ti);
                    if (ti->wanted)
                        s = ti->idx != 0 ? T.stats[ti->idx] : stats_for(ti);
                }
                if (s == NULL) {
                    if (ti == NULL || ti->wanted)
                        T.dropped++;
                    rec_drop(r);
                } else {
                    r->bt |= (uint64_t)ti->idx << 48;
                    r->size = 0;
                    r->site = site_now();
                    s->born++;
                    T.pending = r;
                    T.has_pending = 1;
                }
            }
        }
    } else if (event == PyRefTracer_DESTROY) {
        settle_pending(0);
        record *r = rec_find((uintptr_t)op);
        if (r != NULL) {
            int young = in_nursery(r);
            died(r, ticks_now());
            rec_drop(r);
            if (!young)
                rt_maybe_shrink(&T.rt);
        }
    }
    reent = 0;
    return 0;
}

/* Is the PyRefTracer slot ours to take? Free when empty, and also when it
 * holds a tracer that lives inside the interpreter itself while tracemalloc
 * is not tracing: CPython installs no tracer but tracemalloc's, and 3.13's
 * tracemalloc.stop() leaves that one in the slot, doing nothing. Anything
 * else (another tool's tracer, or tracemalloc running) is taken. What was in
 * the slot is saved in fn and data, to be put back exactly. */
int
tracer_slot_free(PyRefTracer *fn, void **data)
{
    *fn = PyRefTracer_GetTracer(data);
    if (*fn == NULL)
        return 1;
    if (PyTraceMalloc_Untrack(0x484c, (uintptr_t)&T) != -2)
        return 0; /* tracemalloc is tracing: the slot is its */
    Dl_info mine, theirs;
    if (dladdr((void *)(uintptr_t)&PyRefTracer_SetTracer, &mine) == 0 ||
        dladdr((void *)(uintptr_t)*fn, &theirs) == 0)
        return 0;
    return mine.dli_fbase == theirs.dli_fbase;
}

static int counting_creates, counting_destroys;

static int
counting_tracer(PyObject *op, PyRefTracerEvent event, void *data)
{
    (void)op;
    (void)data;
    if (event == PyRefTracer_CREATE)
        counting_creates++;
    else if (event == PyRefTracer_DESTROY)
        counting_destroys++;
    return 0;
}
#endif

int
hl_track_probe_tracer(uint64_t *creates, uint64_t *destroys, PyObject *probe)
{
#if HL_HAVE_REFTRACER
    PyRefTracer prev_fn;
    void *prev_data;
    if (!tracer_slot_free(&prev_fn, &prev_data))
        return hl_error__set(HL_ESTATE, "the PyRefTracer slot is taken (by tracemalloc?)");
    counting_creates = counting_destroys = 0;
    if (PyRefTracer_SetTracer(counting_tracer, NULL) < 0)
        return HL_EPYTHON;
    PyObject *r = PyObject_CallNoArgs(probe);
    (void)PyRefTracer_SetTracer(prev_fn, prev_data);
    *creates = (uint64_t)counting_creates;
    *destroys = (uint64_t)counting_destroys;
    if (r == NULL)
        return HL_EPYTHON;
    Py_DECREF(r);
    return 0;
#else
    (void)probe;
    *creates = *destroys = 0;
    return hl_error__set(HL_ESTATE, "PyRefTracer needs Python 3.13 or later");
#endif
}
