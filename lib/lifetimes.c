/*
 * lifetimes.c - the public API of the tracker (heaplens.h, "lifetimes"):
 * start and stop, the live figures (found by a heap walk, see confirm),
 * survivors and lookups; and the clock. What the other files own is listed
 * in lifetimes.h.
 */
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <pthread.h>

#include "lifetimes.h"
#include "lifetimes_records.h"
#include "lifetimes_types.h"

hl_lifetimes__state hl_lifetimes__T;

/* The re-entrancy guard. Every hook runs with the GIL held and never
 * lets it go, so one thread at a time is inside: a plain global does what
 * a thread-local would, without __tls_get_addr on every allocation of a
 * shared library (measured: 1% of a churn loop). */
int hl_lifetimes__reent;
int hl_lifetimes__use_tsc = -1;
uint64_t hl_lifetimes__raw0;            /* raw reading at start */
double hl_lifetimes__ns_per_raw = 1.0;


/* In a fork child, the one thread left: the regions of the threads that did
 * not survive the fork are dropped (a new thread could get one's address
 * and be left out). Run by the C library right after fork(), before any
 * Python code of the child. */
static void
quiet_after_fork(void)
{
    PyThreadState *ts = hl_compat__tstate(); /* NULL: C forked without the GIL */
    int k = 0;
    for (int i = 0; i < T.nquiet; i++)
        if (ts != NULL && T.quiet[i].ts == ts)
            T.quiet[k++] = T.quiet[i];
    T.nquiet = k;
}

static pthread_once_t quiet_fork_once = PTHREAD_ONCE_INIT;

static void
quiet_fork_register(void)
{
    (void)pthread_atfork(NULL, NULL, quiet_after_fork);
}

/* Quiet threads (T.quiet). Both run with the GIL held. Returns 1 when `ts`
 * is now quiet (one level deeper), 0 when HL_QUIET_MAX other threads
 * already are: this one's births are then recorded, as without the call. */
int
hl_lifetimes__quiet_enter(PyThreadState *ts)
{
    if (ts == NULL)
        return 0;
    (void)pthread_once(&quiet_fork_once, quiet_fork_register);
    for (int i = 0; i < T.nquiet; i++)
        if (T.quiet[i].ts == ts) {
            T.quiet[i].depth++;
            return 1;
        }
    if (T.nquiet == HL_QUIET_MAX)
        return 0;
    T.quiet[T.nquiet].ts = ts;
    T.quiet[T.nquiet].depth = 1;
    T.nquiet++;
    return 1;
}

void
hl_lifetimes__quiet_leave(PyThreadState *ts)
{
    for (int i = 0; i < T.nquiet; i++)
        if (T.quiet[i].ts == ts) {
            if (--T.quiet[i].depth == 0)
                T.quiet[i] = T.quiet[--T.nquiet];
            return;
        }
}

int
hl_track_quiet(int enter)
{
    PyThreadState *ts = PyThreadState_Get();
    if (enter)
        return hl_lifetimes__quiet_enter(ts);
    if (!quiet_thread(ts))
        return 0;
    hl_lifetimes__quiet_leave(ts);
    return 1;
}

void
clock_setup(void)
{
#if defined(__x86_64__)
    if (use_tsc < 0) {
        unsigned int a, b, c, d;
        /* CPUID 0x80000007 EDX bit 8: the TSC runs at a constant rate in
         * every power state (Linux's constant_tsc + nonstop_tsc). */
        use_tsc = __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8)) ? 1 : 0;
    }
    if (use_tsc == 1) {
        uint64_t n0 = now_ns(), r0 = __rdtsc(), n1;
        while ((n1 = now_ns()) - n0 < 200000) /* 0.2 ms: the factor to 0.1% */
            ;
        uint64_t r1 = __rdtsc();
        ns_per_raw = r1 > r0 ? (double)(n1 - n0) / (double)(r1 - r0) : 1.0;
        if (!(ns_per_raw > 0.0) || ns_per_raw > 10.0) {
            use_tsc = 0; /* a TSC slower than 100 MHz is not one to trust */
            ns_per_raw = 1.0;
        }
    }
#else
    use_tsc = 0;
#endif
    T.start_ns = now_ns();
    raw0 = raw_now();
}

/* Refine the factor over the run so far (called outside hooks). */
void
clock_refine(void)
{
    if (use_tsc != 1)
        return;
    uint64_t n = now_ns() - T.start_ns, r = raw_now() - raw0;
    if (n > 20000000 && r > 0) /* 20 ms */
        ns_per_raw = (double)n / (double)r;
}

/* The middle of a bucket's range. */
static uint64_t
hist_value(size_t b)
{
    if (b < HIST_SUB)
        return b;
    size_t msb = (b - HIST_SUB) / HIST_SUB + 4, sub = (b - HIST_SUB) % HIST_SUB;
    uint64_t lo = ((uint64_t)(HIST_SUB + sub)) << (msb - 4);
    uint64_t width = UINT64_C(1) << (msb - 4);
    return lo + width / 2;
}

/* ---- public API ------------------------------------------------------------ */

int
hl_track_active(void)
{
    return T.active;
}

void
hl_track_gc_phase(int collecting)
{
    T.collecting = collecting != 0;
    /* Our gc.callbacks entry runs inside every collection: the flag read
     * through compat.h's offsets must say so, or it is not trusted again. */
    if (collecting && T.gc_flag != NULL && *T.gc_flag != 1)
        T.gc_flag = NULL;
    if (collecting && !reent)
        learn();
}

static void
release_all(void)
{
    /* Python references last: releasing a type may run arbitrary code, and
     * nothing of ours may be half torn down by then. */
    PyObject **refs = NULL;
    size_t nrefs = 0, cap = T.ntinfos + T.nsites + 1;
    refs = hl_mem__sys_calloc(cap, sizeof(PyObject *));
    tinfo *ti, *tmp;
    HASH_ITER(hh, T.tinfos, ti, tmp) {
        HASH_DEL(T.tinfos, ti);
        if (ti->held && refs != NULL)
            refs[nrefs++] = (PyObject *)ti->type;
        hl_mem__sys_free(ti);
    }
    site *s, *stmp;
    HASH_ITER(hh, T.sites, s, stmp) {
        HASH_DEL(T.sites, s);
        if (refs != NULL)
            refs[nrefs++] = (PyObject *)s->key.code;
        hl_mem__sys_free(s);
    }
    for (size_t i = 1; i <= T.nstats; i++)
        hl_mem__sys_free(T.stats[i]);
    hl_mem__sys_free(T.stats);
    hl_mem__sys_free(T.site_by_id);
    hl_mem__sys_free(T.scache);
    hl_mem__sys_free(T.leaf);
    T.leaf = NULL;
    hl_mem__sys_free(T.rt.slots);
    hl_mem__sys_free(T.rt.bk);
    hl_mem__sys_free(T.nursery);
    T.nursery = NULL;
    pg_release_all();
    T.nn = 0;
    T.mv_head = T.nmoving = 0;
    PyObject *types = T.types;
    T.types = NULL;
    T.tinfos = NULL;
    T.ntinfos = 0;
    memset(T.tcache, 0, sizeof(T.tcache));
    T.last_ti = NULL;
    memset(T.tfilter, 0, sizeof(T.tfilter));
    T.stats = NULL;
    T.nstats = T.capstats = 0;
    T.sites = NULL;
    T.site_by_id = NULL;
    T.scache = NULL;
    T.nsites = T.capsites = 0;
    memset(&T.rt, 0, sizeof(T.rt));
    T.has_pending = 0;
    T.ndeferred = 0;
    hl_mem__sys_free(T.waiting);
    T.waiting = NULL;
    hl_mem__sys_free(T.deadwait);
    T.deadwait = NULL;
    T.ndeadwait = T.capdeadwait = 0;
    T.nwaiting = T.capwaiting = 0;
    T.nnewtypes = 0;
    memset(T.nfilter, 0, sizeof(T.nfilter));
    T.types_unverified = 0;
    PyObject *subclasses = T.subclasses;
    T.subclasses = NULL;
    T.collecting = 0;
    T.gc_flag = NULL;
    T.pending_gc = 0;
    T.parked = 0;
    T.dropped = T.unresolved = 0;
    T.lost = 0;
    T.start_ns = T.stop_ns = 0;
    for (size_t i = 0; i < nrefs; i++)
        Py_DECREF(refs[i]);
    /* (Without the array, out of memory, the references are leaked rather
     * than released while our tables are half torn down.) */
    hl_mem__sys_free(refs);
    Py_XDECREF(types);
    Py_XDECREF(subclasses);
}

static void finish_deaths(void);

/* The Check suite's way to test the reftracer backend's mechanics on
 * 3.13.0-3.13.2 (deaths from C code are reported there). Not exported by
 * the extension: no Python code can select that backend there. */
static int early_tracer_allowed;

void hl_track__allow_early_tracer(int allow);

void
hl_track__allow_early_tracer(int allow)
{
    early_tracer_allowed = allow;
}

int
hl_track_clear(void)
{
    if (T.active)
        return hl_error__set(HL_ESTATE, "the tracker is running: stop it first");
    finish_deaths();
    release_all();
    return 0;
}

static int track_start(const hl_track_options *opts);

/* Starting runs Python code in places (a known_types generator) and learns
 * the thread-state route with the GIL released (compat.h): another thread
 * may call in meanwhile, and must not start a second tracker under us. */
int
hl_track_start(const hl_track_options *opts)
{
    static int starting;
    if (opts == NULL || opts->version != HL_TRACK_OPTIONS_VERSION)
        return hl_error__set(HL_EINVAL, "bad hl_track_options version");
    if (starting)
        return hl_error__set(HL_ESTATE, "a tracker is already starting (in another thread, "
                                        "or in code this start ran)");
    starting = 1;
    hl_compat__tstate_learn(); /* (a faster route to the thread state, or none) */
    int rc = track_start(opts);
    starting = 0;
    return rc;
}

static int
track_start(const hl_track_options *opts)
{
    if (T.active)
        return hl_error__set(HL_ESTATE, "a tracker is already running: stop it first");
    if (opts->frames < 0 || opts->frames > HL_TRACK_MAX_FRAMES)
        return hl_error__set(HL_EINVAL, "frames must be between 0 and %d, not %d",
                             HL_TRACK_MAX_FRAMES, opts->frames);
    if (opts->types != NULL && !PyTuple_Check(opts->types))
        return hl_error__set(HL_EINVAL, "types must be a tuple of types");
    if (opts->backend != HL_BACKEND_ALLOCATOR && opts->backend != HL_BACKEND_REFTRACER)
        return hl_error__set(HL_EINVAL, "unknown backend %d", (int)opts->backend);
    finish_deaths();
    /* The hooks are process-wide and their tables unlocked: they serve the
     * main interpreter only (on 3.12+ a sub-interpreter may run in parallel
     * with a GIL of its own; the hooks then leave its threads alone). */
    if (PyInterpreterState_Get() != PyInterpreterState_Main())
        return hl_error__set(HL_ESTATE, "tracking works in the main interpreter only: the "
                                        "allocator hooks are process-wide and serve one "
                                        "interpreter");
#if HL_HAVE_REFTRACER
    if (opts->backend == HL_BACKEND_REFTRACER && Py_Version < HL_REFTRACER_RELIABLE_HEX &&
        !early_tracer_allowed)
        return hl_error__set(HL_EINVAL, "the reftracer backend needs Python 3.13.3 or later: "
                                        "this Python's PyRefTracer does not report most deaths "
                                        "(CPython gh-130382)");
#endif
#if HL_HAVE_REFTRACER
    if (opts->backend == HL_BACKEND_REFTRACER) {
        if (!tracer_slot_free(&T.prev_tracer, &T.prev_tracer_data))
            return hl_error__set(HL_ESTATE, "the PyRefTracer slot is taken (tracemalloc takes "
                                            "it on 3.13+): use the allocator backend");
    }
#else
    if (opts->backend == HL_BACKEND_REFTRACER)
        return hl_error__set(HL_EINVAL, "the reftracer backend needs Python 3.13 or later");
#endif
    if (opts->frames > 0 && hl_compat__frames_selfcheck() < 0)
        return hl_error__set(HL_ESTATE, "this Python build lays out its frames differently "
                                        "from what heaplens knows: use frames=0");
    release_all();

    T.scache = hl_mem__sys_calloc(SITE_CACHE, sizeof(site_cache_entry));
    T.leaf = hl_mem__sys_calloc(LEAF_CACHE, sizeof(leaf_entry));
    T.site_by_id = hl_mem__sys_calloc(256, sizeof(site *));
    if (T.scache == NULL || T.leaf == NULL || T.site_by_id == NULL) {
        release_all();
        return hl_error__set(HL_ENOMEM, "out of memory for the tracker");
    }
    T.capsites = 256;
    T.nsites = 1; /* site 0: no Python frame */
    T.nursery = hl_mem__sys_calloc(NURSERY_N, sizeof(record));
    if (T.nursery == NULL || rt_rehash(&T.rt, 1024) < 0) {
        release_all();
        return hl_error__set(HL_ENOMEM, "out of memory for the tracker");
    }
    if (opts->types != NULL) {
        Py_INCREF(opts->types);
        T.types = opts->types;
    }
    if (opts->backend == HL_BACKEND_ALLOCATOR && opts->known_types != NULL) {
        PyObject *seq = PySequence_Fast(opts->known_types, "known_types must be a sequence");
        if (seq == NULL) {
            release_all();
            return HL_EPYTHON;
        }
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
            PyObject *tp = PySequence_Fast_GET_ITEM(seq, i);
            if (!PyType_Check(tp) || tinfo_find((PyTypeObject *)tp) != NULL)
                continue;
            tinfo *ti = tinfo_add((PyTypeObject *)tp,
                                  PyType_HasFeature((PyTypeObject *)tp, Py_TPFLAGS_HEAPTYPE));
            if (ti == NULL) {
                Py_DECREF(seq);
                release_all();
                return hl_error__set(HL_ENOMEM, "out of memory for the type table");
            }
            tinfo_settle(ti);
        }
        Py_DECREF(seq);
    }
    T.subclasses = PyObject_GetAttrString((PyObject *)&PyType_Type, "__subclasses__");
    if (T.subclasses == NULL) {
        release_all();
        return HL_EPYTHON;
    }
    T.interp = PyInterpreterState_Get();
    T.gc_flag = opts->backend == HL_BACKEND_ALLOCATOR ? hl_compat__gc_collecting_flag(T.interp) : NULL;
    T.quiet_self = NULL;
    T.frames = opts->frames;
    T.only = opts->current_thread ? PyThreadState_Get() : NULL;
    T.backend = opts->backend;
    T.lost = 0;
    clock_setup();
    T.stop_ns = 0;

    if (T.backend == HL_BACKEND_ALLOCATOR) {
        if (T.installed && !hook_reached())
            T.installed = 0; /* someone took it out of the chain since */
        if (!T.installed) {
            PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &T.prev);
            PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &hl_lifetimes__hook);
            T.installed = 1;
        }
    }
#if HL_HAVE_REFTRACER
    else {
        if (PyRefTracer_SetTracer(tracer, NULL) < 0) {
            release_all();
            return HL_EPYTHON;
        }
        T.tracer_installed = 1;
    }
#endif
    T.active = 1;
    return 0;
}

/* Is our hook or tracer still where we put it? */
static void
check_lost(void)
{
    if (!(T.active || T.deaths))
        return;
    if (T.backend == HL_BACKEND_ALLOCATOR) {
        if (!hook_on_top() && !hook_reached())
            T.lost = 1;
    }
#if HL_HAVE_REFTRACER
    else {
        void *data;
        if (PyRefTracer_GetTracer(&data) != tracer)
            T.lost = 1;
    }
#endif
}

/* Whether record r's object died into a freelist (refcount 0, its block
 * still held); if so, it is counted dead. Only a word of a live block (a
 * record's) is read. */
static int
died_into_freelist(const record *r)
{
    uint32_t t = BT_TYPE(r->bt);
    if (r->key == 0 || !type_real(t) ||
        Py_REFCNT((PyObject *)(r->key + (uintptr_t)T.stats[t]->ti->preheader)) > 0)
        return 0;
    tstats *s = T.stats[t];
    s->died++;
    s->alive_bytes -= r->size;
    return 1;
}

/* At stop: objects that died into a freelist are counted dead now, while
 * their blocks are sure to be ours to read, and their records dropped. */
static void
purge_freelist_dead(void)
{
    if (T.backend != HL_BACKEND_ALLOCATOR)
        return;
    size_t i = 0;
    while (i < T.rt.cap) {
        if (died_into_freelist(&T.rt.slots[i]))
            rt_remove(&T.rt, i); /* a later record may move into slot i: look again */
        else
            i++;
    }
    for (size_t p = 0; p < T.pm_cap; p++) {
        pagerec *g = T.pm[p];
        unsigned j = 0;
        while (g != NULL && j < g->live) {
            if (died_into_freelist(&g->recs[j]))
                pg_remove(g, &g->recs[j]); /* the last record moves into place j: look again */
            else
                j++;
        }
    }
}

/* ---- confirm: the live figures come from a heap walk ----------------------
 * A record says a block was allocated and read like an object of a known
 * type; only a walk of the heap (tp_traverse from the gc-tracked objects,
 * which reaches real objects only) proves that it is one. Every figure about
 * live objects (alive, alive_bytes, survivors, their sizes) is what the walk
 * found among the records: the same objects as a census of the same heap,
 * with the flat sizes flatsize() gives (getsizeof model, no rounding). */

typedef struct {
    int err;
} confirm_ctx;

static int
confirm_on_object(const hl_walk_event *ev, void *payload)
{
    (void)payload;
    PyObject *o = ev->obj;
    PyTypeObject *tp = Py_TYPE(o);
    uintptr_t key = (uintptr_t)o;
    if (T.backend == HL_BACKEND_ALLOCATOR)
        key -= (uintptr_t)hl_compat__preheader(tp);
    record *r = rec_find(key);
    if (r == NULL)
        return 0;
    uint32_t t = BT_TYPE(r->bt);
    if (!type_real(t) || T.stats[t]->ti->type != tp)
        return 0;
    tstats *s = T.stats[t];
    r->site |= SITE_CONFIRMED;
    r->size = ev->flat > (Py_ssize_t)UINT32_MAX ? UINT32_MAX : (uint32_t)ev->flat;
    s->confirmed++;
    s->confirmed_bytes += (uint64_t)r->size;
    return 0;
}

/* Walk the heap and mark the records of the objects found (the tracker
 * running or stopping: its records are current). */
static int
confirm(void)
{
    settle_all();
    for (size_t i = 1; i <= T.nstats; i++)
        T.stats[i]->confirmed = T.stats[i]->confirmed_bytes = 0;
    for (size_t i = 0; i < T.rt.cap; i++)
        T.rt.slots[i].site &= ~SITE_CONFIRMED;
    for (size_t p = 0; p < T.pm_cap; p++)
        for (unsigned j = 0; T.pm[p] != NULL && j < T.pm[p]->live; j++)
            T.pm[p]->recs[j].site &= ~SITE_CONFIRMED;
    hl_walk_options opts = HL_WALK_OPTIONS_INIT;
    opts.model = HL_MODEL_GETSIZEOF;
    opts.align = 1;
    opts.flags = HL_WALK_ALL | HL_WALK_NO_WEAKREFS | HL_WALK_UNATTRIBUTED;
    opts.on_object = confirm_on_object;
    confirm_ctx c = {0};
    opts.payload = &c;
    PyThreadState *was_quiet = T.quiet_self;
    T.quiet_self = hl_compat__tstate(); /* the walk's own objects are not ours to count */
    int rc = hl_heap_walk(NULL, &opts, NULL, 0);
    T.quiet_self = was_quiet;
    /* A __sizeof__ run by the walk may have let another thread run and
     * allocate: its pending block is settled first (the flush empties the
     * nursery slot T.pending points to, which the next event would then
     * read as a record of address 0). */
    reent = 1;
    settle_pending(0);
    nursery_flush();
    reent = 0;
    T.confirmed_at = now_ns();
    return rc;
}

/* Take our hook or tracer out (or leave it forwarding under another). */
static void
uninstall(void)
{
    if (T.backend == HL_BACKEND_ALLOCATOR) {
        if (hook_on_top()) {
            PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &T.prev);
            T.installed = 0;
        } else if (T.lost) {
            T.installed = 0; /* it was taken out: nothing to put back */
        }
        /* else: another hook sits on ours; ours stays in its chain and only
         * forwards (its state is static, so it stays valid). */
    }
#if HL_HAVE_REFTRACER
    else if (T.tracer_installed) {
        void *data;
        if (PyRefTracer_GetTracer(&data) == tracer)
            (void)PyRefTracer_SetTracer(T.prev_tracer, T.prev_tracer_data);
        T.tracer_installed = 0;
    }
#endif
}

/* After stop the hooks stay in place, recording no birth, only forgetting
 * the records of blocks freed, so that the records stay true until the live
 * figures are asked for: the heap walk behind them (confirm) then runs once,
 * and the hooks go. A `with track()` block thus costs no heap walk unless
 * its figures are read. */
static void
finish_deaths(void)
{
    if (!T.deaths)
        return;
    check_lost();
    T.deaths = 0;
    uninstall();
}

int
hl_track_stop(int *lost)
{
    if (!T.active)
        return hl_error__set(HL_ESTATE, "the tracker is not running");
    settle_all();
    /* What still waits for a type now waits for nothing. */
    reent = 1;
    if (T.parked != 0) { /* stopped inside a collection: it may be half made */
        record *r = rec_find(T.parked);
        T.parked = 0;
        if (r != NULL && BT_TYPE(r->bt) == 0) {
            T.unresolved++;
            rec_drop(r);
        }
    }
    for (size_t i = 0; i < T.nwaiting; i++) {
        record *r = rec_find(T.waiting[i]);
        if (r != NULL && type_waiting(BT_TYPE(r->bt))) {
            T.unresolved++;
            rec_drop(r);
        }
    }
    T.nwaiting = 0;
    T.unresolved += T.ndeadwait;
    T.ndeadwait = 0;
    reent = 0;
    check_lost();
    if (!T.lost)
        purge_freelist_dead();
    /* Waiting for the figures to be asked for is safe only while no other
     * tool can take our hook out: one started before us (tracemalloc,
     * which puts back the allocator it found when it stops) could. Then
     * the heap walk runs now. */
    int rc = 0, later = !T.lost;
    if (later && T.backend == HL_BACKEND_ALLOCATOR)
        later = hook_on_top() && PyTraceMalloc_Untrack(0x484c, (uintptr_t)&T) == -2;
    if (!T.lost && !later)
        rc = confirm();
    T.active = 0;
    T.stop_ns = now_ns();
    clock_refine();
    T.deaths = later;
    if (!T.deaths)
        uninstall();
    if (lost != NULL)
        *lost = T.lost;
    return rc;
}

/* While tracking, the live figures are found now; after stop, at the first
 * call that needs them (see finish_deaths), and kept. */
static int
confirm_if_running(void)
{
    if (!T.active && !T.deaths)
        return 0;
    check_lost();
    int rc = T.lost ? 0 : confirm();
    if (!T.active)
        finish_deaths();
    return rc;
}

int
hl_track_get_status(hl_track_status *out)
{
    check_lost();
    settle_all();
    memset(out, 0, sizeof(*out));
    out->records = T.rt.count + T.nn + (size_t)T.nmoving + pg_count();
    out->dropped = T.dropped;
    out->unresolved = T.unresolved;
    out->waiting = T.nwaiting + T.ndeadwait;
    out->types_unverified = T.types_unverified + (size_t)T.nnewtypes;
    out->sites = T.nsites ? T.nsites - 1 : 0;
    out->types = T.nstats;
    out->memory = T.rt.cap * sizeof(record) + T.rt.cap / RT_B * sizeof(rbucket) + (T.nursery ? NURSERY_N * sizeof(record) : 0) + pg_memory() +
                  T.ntinfos * (sizeof(tinfo)) +
                  T.nstats * sizeof(tstats) + T.capstats * sizeof(void *) +
                  T.nsites * sizeof(site) + T.capsites * sizeof(void *) +
                  T.capwaiting * sizeof(uintptr_t) +
                  (T.scache ? SITE_CACHE * sizeof(site_cache_entry) : 0) +
                  (T.leaf ? LEAF_CACHE * sizeof(leaf_entry) : 0);
    out->lost = T.lost;
    out->backend = T.backend;
    out->start_ns = T.start_ns;
    out->stop_ns = T.stop_ns;
    return 0;
}

static uint64_t
percentile(const tstats *s, double q)
{
    if (s->died == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)s->died);
    if (want == 0)
        want = 1;
    uint64_t seen = 0;
    for (size_t b = 0; b < HIST_N; b++) {
        seen += s->hist[b];
        if (seen >= want) {
            uint64_t v = hist_value(b);
            return v > s->life_max ? s->life_max : v;
        }
    }
    return s->life_max;
}

int
hl_track_stats(hl_track_type_stats **out, size_t *n)
{
    *n = 0;
    *out = NULL;
    int rc = confirm_if_running();
    if (rc < 0)
        return rc;
    *out = hl_mem__sys_calloc(T.nstats ? T.nstats : 1, sizeof(hl_track_type_stats));
    if (*out == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for tracker figures");
    for (size_t i = 1; i <= T.nstats; i++) {
        const tstats *s = T.stats[i];
        hl_track_type_stats *o = &(*out)[(*n)++];
        o->type = (PyObject *)s->ti->type;
        o->born = s->born;
        o->died = s->died;
        o->alive = s->confirmed;
        o->alive_bytes = s->confirmed_bytes;
        o->life_p50 = raw_to_ns(percentile(s, 0.5));
        o->life_p90 = raw_to_ns(percentile(s, 0.9));
        o->life_max = raw_to_ns(s->life_max);
    }
    return 0;
}

int
hl_track_counts(hl_track_type_stats **out, size_t *n)
{
    *n = 0;
    *out = NULL;
    settle_all();
    *out = hl_mem__sys_calloc(T.nstats ? T.nstats : 1, sizeof(hl_track_type_stats));
    if (*out == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for tracker counts");
    for (size_t i = 1; i <= T.nstats; i++) {
        const tstats *s = T.stats[i];
        hl_track_type_stats *o = &(*out)[(*n)++];
        o->type = (PyObject *)s->ti->type;
        o->born = s->born;
        o->died = s->died;
    }
    return 0;
}

static void
fill_record(hl_track_record *o, const record *r)
{
    const tstats *s = T.stats[BT_TYPE(r->bt)];
    PyTypeObject *tp = s->ti->type;
    o->type = (PyObject *)tp;
    o->address = r->key + (T.backend == HL_BACKEND_ALLOCATOR ? (uintptr_t)s->ti->preheader : 0);
    o->size = r->size;
    o->birth = ticks_to_ns(BT_TICKS(r->bt));
    o->site = SITE_ID(r->site);
}

static int
record_cmp(const void *a, const void *b)
{
    const hl_track_record *x = a, *y = b;
    return x->birth < y->birth ? -1 : x->birth > y->birth ? 1 : (x->address > y->address) - (x->address < y->address);
}

int
hl_track_survivors(hl_track_record **out, size_t *n, PyTypeObject *type)
{
    *n = 0;
    *out = NULL;
    int rc = confirm_if_running();
    if (rc < 0)
        return rc;
    size_t most = T.rt.count + pg_count();
    *out = hl_mem__sys_calloc(most ? most : 1, sizeof(hl_track_record));
    if (*out == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for the survivors");
    /* The big table's records, then the page store's (p == SIZE_MAX: the
     * big table). */
    for (size_t p = SIZE_MAX, n_in; p == SIZE_MAX || p < T.pm_cap; p++) {
        const record *rs = p == SIZE_MAX ? T.rt.slots : T.pm[p] ? T.pm[p]->recs : NULL;
        n_in = p == SIZE_MAX ? T.rt.cap : T.pm[p] ? T.pm[p]->live : 0;
        for (size_t i = 0; i < n_in; i++) {
            const record *r = &rs[i];
            uint32_t t = BT_TYPE(r->bt);
            if (r->key == 0 || !type_real(t) || !(r->site & SITE_CONFIRMED))
                continue;
            if (type != NULL && !PyType_IsSubtype(T.stats[t]->ti->type, type))
                continue;
            fill_record(&(*out)[(*n)++], r);
        }
    }
    qsort(*out, *n, sizeof(hl_track_record), record_cmp);
    return 0;
}

int
hl_track_site(PyCodeObject ***codes, int **lastis, size_t *n, uint32_t id)
{
    *n = 0;
    *codes = NULL;
    *lastis = NULL;
    if (id >= T.nsites)
        return hl_error__set(HL_EINVAL, "no site %u", (unsigned)id);
    size_t depth = 0;
    for (uint32_t s = id; s != 0; s = T.site_by_id[s]->key.parent)
        depth++;
    *codes = hl_mem__sys_calloc(depth ? depth : 1, sizeof(PyCodeObject *));
    *lastis = hl_mem__sys_calloc(depth ? depth : 1, sizeof(int));
    if (*codes == NULL || *lastis == NULL) {
        hl_mem__sys_free(*codes);
        hl_mem__sys_free(*lastis);
        *codes = NULL;
        *lastis = NULL;
        return hl_error__set(HL_ENOMEM, "out of memory for a traceback");
    }
    for (uint32_t s = id; s != 0; s = T.site_by_id[s]->key.parent) {
        (*codes)[*n] = T.site_by_id[s]->key.code;
        (*lastis)[(*n)++] = T.site_by_id[s]->key.lasti;
    }
    return 0;
}

int
hl_track_lookup(hl_track_record *out, PyObject *obj)
{
    settle_all();
    uintptr_t key = (uintptr_t)obj;
    if (T.backend == HL_BACKEND_ALLOCATOR)
        key -= (uintptr_t)hl_compat__preheader(Py_TYPE(obj));
    const record *r = rec_find(key);
    if (r == NULL)
        return HL_EINVAL;
    uint32_t t = BT_TYPE(r->bt);
    if (!type_real(t) || T.stats[t]->ti->type != Py_TYPE(obj))
        return HL_EINVAL;
    fill_record(out, r);
    /* `obj` is a real object (the caller has it): its size is read from it,
     * in the model of the figures. */
    Py_ssize_t flat;
    if (!(r->site & SITE_CONFIRMED)) {
        PyThreadState *was_quiet = T.quiet_self;
        T.quiet_self = hl_compat__tstate();
        int rc = hl_size_flat(&flat, obj, HL_MODEL_GETSIZEOF, 1);
        T.quiet_self = was_quiet;
        if (rc == 0) {
            out->size = (uint64_t)flat;
        } else if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_Exception)) {
            return HL_EPYTHON; /* KeyboardInterrupt, MemoryError...: passed on */
        } else {
            PyErr_Clear(); /* a __sizeof__ that raised: the record's size stays */
        }
    }
    return 0;
}

int
hl_track_object(PyObject **out, uintptr_t address, PyTypeObject *type, uint64_t birth)
{
    *out = NULL;
    if (!T.active)
        return hl_error__set(HL_ESTATE, "the tracker is not running");
    reent = 1;
    settle_pending(0);
    reent = 0;
    uintptr_t key = address;
    if (T.backend == HL_BACKEND_ALLOCATOR)
        key -= (uintptr_t)hl_compat__preheader(type);
    const record *r = rec_find(key);
    if (r == NULL)
        return 0;
    uint32_t t = BT_TYPE(r->bt);
    /* Only a record a heap walk found (survivors() walks) is an object: a
     * block that merely reads like one is never handed to Python. The
     * record still being there (same type, same birth) proves that block
     * was not freed since. */
    if (!type_real(t) || T.stats[t]->ti->type != type || !(r->site & SITE_CONFIRMED) ||
        ticks_to_ns(BT_TICKS(r->bt)) != birth)
        return 0;
    check_lost();
    if (T.lost)
        return 0; /* deaths were missed: a record no longer proves anything */
    if (Py_REFCNT((PyObject *)address) <= 0)
        return 0; /* dead in a freelist: its block is held, it is not alive */
    *out = Py_NewRef((PyObject *)address);
    return 0;
}

void
hl_track_free(void *p)
{
    hl_mem__sys_free(p);
}

int
hl_track_options_init(hl_track_options *opts, unsigned int version)
{
    static const hl_track_options defaults = HL_TRACK_OPTIONS_INIT;
    if (opts == NULL || version != HL_TRACK_OPTIONS_VERSION)
        return hl_error__set(HL_EINVAL, "hl_track_options version %u, expected %u", version,
                             HL_TRACK_OPTIONS_VERSION);
    *opts = defaults;
    return 0;
}
