/*
 * lifetimes.h - what the files of the tracker share (internal; the public
 * API is heaplens.h, "lifetimes").
 *
 * The tracker is one state, `T`, fed by two backends:
 *
 * - lifetimes_hooks.c: the allocator hooks (PYMEM_DOMAIN_OBJ) and the
 *   PyRefTracer backend (3.13.3+): births, deaths, resizes.
 * - lifetimes_types.c (+ .h): which block is an object of which type, and
 *   THE INVARIANT that keeps the hooks from following a word read from a
 *   block; new classes verified at safe points.
 * - lifetimes_pages.h: the page store, where the allocator backend keeps
 *   the records of blocks of at most 512 bytes.
 * - lifetimes_records.h: the nursery, the ring and the big table, and the
 *   functions that move, find and drop a record in any of the stores.
 * - lifetimes_sites.c (+ .h): allocation sites, a trie of frames.
 * - lifetimes.c: the public API: start, stop, figures (from a heap walk),
 *   survivors, lookups; the clock.
 *
 * Hooks run with the GIL held (the OBJ domain and the tracer are always
 * called with it), so the tables need no lock. They never run Python code
 * and never fail the user's allocation: they allocate only from the C
 * library (mem.h explains why not from the saved RAW allocator), take a
 * re-entrancy guard (see `reent`), and count what they drop on
 * out-of-memory.
 */
#ifndef HL_LIFETIMES_H
#define HL_LIFETIMES_H
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "compat.h"
#include "error.h"
#include "mem.h"
#define uthash_malloc(sz) hl_mem__sys_malloc(sz)
#define uthash_free(ptr, sz) hl_mem__sys_free(ptr)
#include "hash.h"
#include "heaplens/heaplens.h"


/* The hot path of the hooks: inlined into them, saving a call frame per
 * step on every allocation and free. */
#define HOT inline __attribute__((always_inline))

/* ---- records: the big table, open addressing keyed by address -----------
 * 24 bytes a slot, in buckets of RT_B slots (lifetimes_records.h) plus two
 * bytes per bucket. Capacities are not powers of two: a bucket is picked
 * with a multiply-shift over the hashed key (home_of), which lets the
 * table grow by ~1.5x and keep its load between 0.55 and 0.85, so a live
 * object costs 28-44 bytes. Deletion moves the bucket's last record into
 * the hole (no tombstones, no shifting of runs). */

/* How many threads can be quiet at once (more are recorded, not refused). */
#define HL_QUIET_MAX 8

typedef struct {
    uintptr_t key;   /* block (allocator) or object (tracer) address; 0 = empty */
    uint64_t bt;     /* birth in 16-ns ticks since start (low 48 bits) and the
                        type index (high 16 bits; 0 = not resolved yet) */
    uint32_t site;
    uint32_t size;   /* bytes, saturated at UINT32_MAX */
} record;

#define BT_TICK_SHIFT 4 /* 16 ns: 48 bits of ticks last 52 days */
#define BT_TICKS_MASK ((UINT64_C(1) << 48) - 1)
#define BT_TYPE(bt) ((uint32_t)((bt) >> 48))
#define BT_TICKS(bt) ((bt)&BT_TICKS_MASK)
#define TYPE_MAX 0xFFFB   /* type indexes 1..TYPE_MAX carry figures */
#define TYPE_WAIT 0xFFFC  /* +0, +1, +2: waits for a new type to be verified,
                             its header at offset 0, 16 or 32 (see learn) */
#define TYPE_HIDDEN 0xFFFF /* an object of an unwanted type kept to see it die */

/* A type index with figures behind it. */
static inline int
type_real(uint32_t t)
{
    return t - 1u < (uint32_t)TYPE_MAX;
}

static inline int
type_waiting(uint32_t t)
{
    return t - (uint32_t)TYPE_WAIT < 3u;
}

/* Set in hl_track_record-facing copies of `site` once a heap walk found
 * the object (see confirm): only then is it handed out as an object. */
#define SITE_CONFIRMED 0x80000000u
#define SITE_ID(s) ((s) & ~SITE_CONFIRMED)

typedef struct {
    uint8_t fill; /* its records are in its first `fill` slots */
    uint8_t over; /* records that passed it (it was full), saturating */
} rbucket;

typedef struct {
    record *slots; /* cap / RT_B buckets of RT_B slots */
    rbucket *bk;   /* one per bucket */
    size_t cap, count;
    size_t grow_at; /* count above which an insertion grows it (load 0.85) */
    size_t removed; /* removals since the last resize (see rt_maybe_shrink) */
} rtable;

#define HOME_PAGE_BITS 9
#define RT_B 8 /* slots per bucket of the big table */

/* ---- the nursery ----------------------------------------------------------
 * Every record is born in a small direct-mapped table (2,048 slots, 48
 * KiB: it stays in the L2 cache) at the slot its address hashes to. Most
 * objects die young, and pymalloc hands a freed block out again soon, so a
 * birth usually finds its slot empty or holding the record of a block
 * freed since; a death finds its record there and empties the slot with
 * one store. A record still alive when another birth wants its slot moves
 * to its page record or the big table (evict), so only the objects that
 * live a while ever touch them. */

/* ---- the page store (allocator backend, blocks of at most PG_MAX bytes) --
 * The address space is cut in 4 KiB pages. A page record holds the class
 * of its page (a request size rounded up to 16: the class of the first
 * block seen there), a byte per slot and the page's records, packed: block
 * X has slot (X & 4095) / class, and the slot's byte is 0 or 1 + the index
 * of the record there. Two live blocks at least a class apart never share
 * a slot, and pymalloc gives every block of a pool (4 or 16 KiB, so every
 * block of a page) the same class. Packed records cost 24 bytes per live
 * block however sparse the page (a direct array of slots cost 48 B per
 * live int when a build kept one int in two of a page). Page records are
 * found through a hash map of pointers with a small direct-mapped cache in
 * front (lifetimes_pages.h). Records are born in the nursery (above) and
 * move to their page record when they outlive it; what does not fit there
 * (bigger blocks, a slot holding another key, a page of another class, a
 * 256th record) goes to the big table, the fallback; the tracer backend
 * uses the nursery and the big table only. */

#define PG_BITS 12
#define PG_MAX 512 /* pymalloc's small requests */
#define PG_LIVE_MAX 255 /* records per page (a slot's byte holds 1 + index) */
#define PG_CACHE 64

typedef struct pagerec {
    uintptr_t page;  /* address >> PG_BITS */
    record *recs;    /* cap records, the first `live` in use */
    uint32_t recip;  /* ceil(2^16 / (cls / 16)): see pg_slot */
    uint16_t cls;    /* 16..PG_MAX; 0: no slots (a page seen for the fallback) */
    uint16_t live;
    uint16_t cap;
    uint16_t nslots; /* bytes of idx (>= pg_nslots(cls)) */
    uint8_t fb;      /* a record of this page may be in the fallback */
    uint8_t idx[];   /* per slot: 0 (none) or 1 + its record's index */
} pagerec;

#define MOVE_N 8 /* evicted records waiting for their big-table slot */
#define NURSERY_BITS 11
#define NURSERY_N (1u << NURSERY_BITS)

/* ---- types ---------------------------------------------------------------
 * Every type we know to be alive, keyed by address: the types that existed
 * at start (the heap types among them held by a strong reference so that
 * none dies and frees its address while we read type pointers from blocks)
 * and the type objects created since (we see them die: their blocks are
 * records). A type gets figures, and a strong reference, once an object of
 * it is tracked. */

#define HIST_SUB 16
#define HIST_N (HIST_SUB + 60 * HIST_SUB)

typedef struct tinfo {
    PyTypeObject *type;  /* key; a strong reference when `held` */
    int16_t preheader;   /* -1 until read from the type */
    int8_t wanted;       /* -1 until decided against the filter */
    uint8_t held;
    uint8_t is_meta;     /* its instances are types */
    uint16_t idx;        /* index of its figures, 0 if none yet */
    uint32_t min_size;   /* the smallest block of an instance (settled) */
    UT_hash_handle hh;
} tinfo;

typedef struct {
    tinfo *ti;
    int is_meta;         /* a copy of ti->is_meta, next to the counters */
    uint64_t born, died, alive_bytes, life_max; /* life_max, hist: raw clock units */
    uint64_t confirmed, confirmed_bytes; /* found alive by the last heap walk */
    uint32_t hist[HIST_N];
} tstats;

/* ---- sites ---------------------------------------------------------------
 * A site is (code, instruction, caller's site): frames of a traceback share
 * their outer parts as a trie. Site 0 is "no Python frame". The tracker
 * keeps a strong reference to each code object. */

typedef struct {
    PyCodeObject *code;
    int32_t lasti;
    uint32_t parent;
} site_key;

typedef struct site {
    site_key key;
    uint32_t id;
    UT_hash_handle hh;
} site;

#define SITE_CACHE 4096
#define LEAF_CACHE 1024

/* frames=1: the site of a frame position (see hl_compat__frames_peek). */
typedef struct {
    uintptr_t a, b;
    uint32_t id;
} leaf_entry;
#define DEFER_N 8
#define DEFER_TRIES 256
#define TYPE_CACHE 256
#define TYPE_FILTER_BITS 16 /* 8 KiB: a few thousand types give ~5% false hits */

typedef struct {
    site_key key;
    uint32_t id;
} site_cache_entry;

typedef struct {
    uintptr_t type;  /* the candidate type word it had */
    uint64_t bt;     /* birth ticks (and its TYPE_WAIT index) */
    uint64_t death;  /* ticks */
    uint32_t size;
} dead_waiting;

/* ---- the tracker ---------------------------------------------------------- */

typedef struct {
    int active;
    int installed;          /* our allocator hook is in the chain */
    int tracer_installed;
#if HL_HAVE_REFTRACER
    PyRefTracer prev_tracer;  /* what was in the slot: put back at stop */
    void *prev_tracer_data;
#endif
    hl_track_backend backend;
    PyMemAllocatorEx prev;  /* what our hook forwards to */
    PyThreadState *only;    /* threads="current" */
    int frames;
    PyObject *types;        /* strong: the filter tuple, or NULL */
    uint64_t start_ns, stop_ns;
    int lost;
    int deaths;             /* stopped, hooks still in place to see deaths (see
                               hl_track_stop) */
    uint64_t confirmed_at;  /* when the last heap walk ran (confirm) */

    rtable rt;
    record *nursery;        /* NURSERY_N slots */
    size_t nn;              /* records in the nursery */
    record moving[MOVE_N];  /* evicted, on their way to the big table (see evict): */
    size_t mv_home[MOVE_N], mv_cap[MOVE_N]; /* each one's home_of, for that cap */
    unsigned mv_head, nmoving; /* a ring, oldest at mv_head (unsigned: % MOVE_N is a mask) */
    pagerec **pm;           /* the page map: pm_cap (a power of two) pointers */
    size_t pm_cap, pm_count;
    unsigned pm_shift;      /* 64 - log2(pm_cap) */
    pagerec *pg_last[PG_CACHE]; /* page records found last, by page number mod
                               PG_CACHE (a churn touches a page per class) */
    int pg_fb_all;          /* a fallback record's page may have no record
                               (out of memory): every birth checks the fallback */
    int has_pending;
    record *pending;        /* the newest record (in the nursery), not resolved yet */

    tinfo *tinfos;
    size_t ntinfos;
    tinfo *tcache[TYPE_CACHE];
    tinfo *last_ti;         /* see try_resolve; NULL when its tinfo goes */
    uint64_t tfilter[(1u << TYPE_FILTER_BITS) / 64]; /* a bit per known type's hash */
    tstats **stats;         /* [1..nstats] */
    size_t nstats, capstats;

    site *sites;
    site **site_by_id;      /* [0..nsites) , [0] = NULL */
    size_t nsites, capsites;
    site_cache_entry *scache;
    leaf_entry *leaf;       /* LEAF_CACHE entries */

    uintptr_t deferred[DEFER_N]; /* blocks to resolve later (see resolve_block) */
    uint16_t deferred_tries[DEFER_N];
    int ndeferred;
    int collecting;         /* a collection runs (hl_track_gc_phase, from gc.callbacks) */

    /* 3.9-3.11: a collection runs inside a gc object's allocation, before
     * its header is written (compat.h, "the collector's flag"). The block
     * pending when a collection begins may be that object: it is parked,
     * unread, until the flag says the collection is over. */
    const int *gc_flag;     /* the interpreter's flag, or NULL (3.12+, or unverified) */
    int pending_gc;         /* the flag's value when the pending block was made */
    uintptr_t parked;       /* that block's key, or 0 */

    /* New types (see THE INVARIANT): candidates not verified yet, the
     * records waiting for one, and what was given up. */
    struct {
        uintptr_t type, block;
        uint32_t tries;
    } newtypes[256];
    int nnewtypes;
    uint64_t nfilter[4096 / 64]; /* a bit per candidate's hash */
    uintptr_t *waiting;     /* keys of TYPE_WAIT records (some stale) */
    dead_waiting *deadwait; /* TYPE_WAIT records that died waiting */
    size_t ndeadwait, capdeadwait;
    int learn_scheduled;    /* a pending call to learn is queued */
    size_t nwaiting, capwaiting;
    size_t types_unverified;
    PyObject *subclasses;   /* strong: the C method type.__subclasses__ */

    /* Our own work in C outside the hooks (learn, confirm, a lookup's
     * size) allocates: births of this thread are not recorded then, deaths
     * still are. Always honoured, and needs no slot. */
    PyThreadState *quiet_self;
    /* Threads in a quiet region of the API (hl_track_quiet: the Python
     * calls that make heaplens' results), likewise, except while a
     * collection runs: its finalizers and weakref callbacks are the user's
     * code. A thread may nest (depth). nquiet is what the hooks read first;
     * the table outlives a tracker's stop and start. */
    struct {
        PyThreadState *ts;
        unsigned depth;
    } quiet[HL_QUIET_MAX];
    int nquiet;
    PyInterpreterState *interp; /* the hooks serve this interpreter only */

    size_t dropped, unresolved;
    int probing;
    size_t probe_hits;
} hl_lifetimes__state;

/* The state and the few globals of the hot path, defined in lifetimes.c. */
int hl_lifetimes__quiet_enter(PyThreadState *ts);
void hl_lifetimes__quiet_leave(PyThreadState *ts);

extern hl_lifetimes__state hl_lifetimes__T;
extern int hl_lifetimes__reent;
extern int hl_lifetimes__use_tsc;
extern uint64_t hl_lifetimes__raw0;
extern double hl_lifetimes__ns_per_raw;
#define T hl_lifetimes__T
#define use_tsc hl_lifetimes__use_tsc
#define raw0 hl_lifetimes__raw0
#define ns_per_raw hl_lifetimes__ns_per_raw

/* The re-entrancy guard. Every hook runs with the GIL held and never
 * lets it go, so one thread at a time is inside: a plain global does what
 * a thread-local would, without __tls_get_addr on every allocation of a
 * shared library (measured: 1% of a churn loop). */
#define reent hl_lifetimes__reent

/* Whether `ts` is in a quiet region of the API (T.quiet). */
static inline int
quiet_thread(PyThreadState *ts)
{
    for (int i = 0; i < T.nquiet; i++)
        if (T.quiet[i].ts == ts)
            return 1;
    return 0;
}

/* Whether the births of `ts` are left out now: our own C work, or a quiet
 * region outside a collection. */
static inline int
quiet_now(PyThreadState *ts)
{
    return ts == T.quiet_self || (T.nquiet != 0 && !T.collecting && quiet_thread(ts));
}

static inline uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The clock the hooks read. clock_gettime took 15% of a churn loop under
 * tracking (two reads per object); an invariant TSC read costs a few ns.
 * Raw readings are turned into ns with a factor measured against
 * CLOCK_MONOTONIC (over the whole run once it is long enough). */

static inline uint64_t
raw_now(void)
{
#if defined(__x86_64__)
    if (use_tsc == 1)
        return __rdtsc();
#endif
    return now_ns();
}

static inline uint64_t
ticks_of(uint64_t raw)
{
    uint64_t t = raw > raw0 ? (raw - raw0) >> BT_TICK_SHIFT : 0; /* (skew between cores) */
    return t > BT_TICKS_MASK ? BT_TICKS_MASK : t;
}

static inline uint64_t
ticks_now(void)
{
    return ticks_of(raw_now());
}

static inline uint64_t
raw_to_ns(uint64_t raw)
{
    return (uint64_t)((double)raw * ns_per_raw + 0.5);
}

static inline uint64_t
ticks_to_ns(uint64_t ticks)
{
    return T.start_ns + raw_to_ns(ticks << BT_TICK_SHIFT);
}

static inline size_t
hist_bucket(uint64_t v)
{
    if (v < HIST_SUB)
        return (size_t)v;
    int msb = 63 - __builtin_clzll(v);
    size_t sub = (size_t)(v >> (msb - 4)) & (HIST_SUB - 1);
    return HIST_SUB + (size_t)(msb - 4) * HIST_SUB + sub;
}

/* Names shared between the files of the tracker. */
#define tinfo_find_slow hl_lifetimes__tinfo_find_slow
#define tinfo_add hl_lifetimes__tinfo_add
#define tinfo_forget hl_lifetimes__tinfo_forget
#define tinfo_settle_slow hl_lifetimes__tinfo_settle_slow
#define stats_for hl_lifetimes__stats_for
#define newtype_note hl_lifetimes__newtype_note
#define newtype_forget_block hl_lifetimes__newtype_forget_block
#define waiting_push hl_lifetimes__waiting_push
#define retry_deferred hl_lifetimes__retry_deferred
#define type_died hl_lifetimes__type_died
#define waiting_died hl_lifetimes__waiting_died
#define learn hl_lifetimes__learn
#define settle_all hl_lifetimes__settle_all
#define site_intern_slow hl_lifetimes__site_intern_slow
#define hook_on_top hl_lifetimes__hook_on_top
#define hook_reached hl_lifetimes__hook_reached
#define tracer hl_lifetimes__tracer
#define tracer_slot_free hl_lifetimes__tracer_slot_free
#define clock_setup hl_lifetimes__clock_setup
#define clock_refine hl_lifetimes__clock_refine

enum { RESOLVE_NOT = 0, RESOLVE_DONE = 1, RESOLVE_WAIT = 2 };

/* lifetimes.c */
void clock_setup(void);
void clock_refine(void);

/* lifetimes_types.c (the slow paths of lifetimes_types.h) */
tinfo *tinfo_find_slow(PyTypeObject *tp, size_t c);
tinfo *tinfo_add(PyTypeObject *tp, int hold);
void tinfo_forget(tinfo *ti);
void tinfo_settle_slow(tinfo *ti);
tstats *stats_for(tinfo *ti);
void newtype_note(uintptr_t type, uintptr_t block);
void newtype_forget_block(uintptr_t block);
int waiting_push(uintptr_t key);
void retry_deferred(void);
void type_died(uintptr_t key);
void waiting_died(const record *r, uint64_t now_ticks);
void learn(void);
void settle_all(void);

/* lifetimes_sites.c */
uint32_t site_intern_slow(PyCodeObject *code, int lasti, uint32_t parent,
                          site_cache_entry *ce);

/* lifetimes_hooks.c */
extern PyMemAllocatorEx hl_lifetimes__hook;
int hook_on_top(void);
int hook_reached(void);
#if HL_HAVE_REFTRACER
int tracer(PyObject *op, PyRefTracerEvent event, void *data);
int tracer_slot_free(PyRefTracer *fn, void **data);
#endif
#endif
