/*
 * lifetimes.c - the birth, death, type, size and allocation site of every
 * object created while tracking (heaplens.h, "lifetimes").
 *
 * Two backends feed one set of tables:
 *
 * - allocator: our functions wrap PYMEM_DOMAIN_OBJ (every object and gc
 *   allocation goes there). At malloc time a block has no type yet, so the
 *   newest block stays "pending" and is resolved at the next hook event,
 *   when its header has been written: a block is an object of type T when
 *   the word at preheader(T) + 8 is T, T is a type we know to be alive, and
 *   the refcount before it is sane. Blocks that are no object (dict keys
 *   tables, buffers) or whose type we do not know are dropped and counted.
 *   The smallest pre-header that fits wins (see try_resolve).
 * - tracer (3.13+): PyRefTracer CREATE gives the object with its type set;
 *   DESTROY comes before tp_dealloc.
 *
 * Hooks run with the GIL held (the OBJ domain and the tracer are always
 * called with it), so the tables need no lock. They never run Python code
 * and never fail the user's allocation: they allocate only from the C
 * library (mem.h explains why not from the saved RAW allocator), take a
 * re-entrancy guard (see `reent`), and count what they drop on
 * out-of-memory.
 *
 * Records are born in a small nursery and move to a big table only if they
 * outlive it (see "the nursery"): most objects die young, and then cost a
 * few cache-resident stores.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>
#include <time.h>
#if defined(__x86_64__)
#include <cpuid.h>
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

/* ---- records: an open-addressing table keyed by address ----------------
 * 24 bytes a slot. Capacities are not powers of two: a slot is picked with
 * a multiply-shift over the hashed key (home_of), which lets the table
 * grow by ~1.5x and keep its load between 0.55 and 0.85, so a live object
 * costs 28-44 bytes. Deletion shifts the following run back (no
 * tombstones). */

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
    record *slots;
    size_t cap, count;
} rtable;

#define HOME_PAGE_BITS 9

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

static size_t
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

static void
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

static int
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
static size_t
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

static void
rt_maybe_shrink(rtable *t)
{
    if (t->cap > 4096 && t->count * 4 < t->cap)
        (void)rt_rehash(t, t->count * 20 / 11 + 64); /* failure: stay big */
}

/* ---- the nursery ----------------------------------------------------------
 * Every record is born in a small direct-mapped table (2,048 slots, 48
 * KiB: it stays in the L2 cache) at the slot its address hashes to. Most
 * objects die young, and pymalloc hands a freed block out again soon, so a
 * birth usually finds its slot empty or holding the record of a block
 * freed since; a death finds its record there and empties the slot with
 * one store. A record still alive when another birth wants its slot moves
 * to the big table (evict), so only the objects that live a while ever
 * touch it. */

#define MOVE_N 8 /* evicted records waiting for their big-table slot */
#define NURSERY_BITS 11
#define NURSERY_N (1u << NURSERY_BITS)

static inline size_t
nursery_of(uintptr_t key)
{
    return (size_t)(((uint64_t)key * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - NURSERY_BITS));
}

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

/* frames=1: the site of a frame position (see hl_compat_frames_peek). */
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

static struct {
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
    int mv_head, nmoving;   /* a ring, oldest at mv_head */
    int has_pending;
    record *pending;        /* the newest record (in the nursery), not resolved yet */

    tinfo *tinfos;
    size_t ntinfos;
    tinfo *tcache[TYPE_CACHE];
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
    int collecting;         /* a collection runs (3.9-3.11: see hl_track_gc_phase) */

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

    /* Our own work outside the hooks (learn, confirm) allocates: births of
     * this thread are not recorded then, deaths still are. */
    PyThreadState *quiet;
    PyInterpreterState *interp; /* the hooks serve this interpreter only */

    size_t dropped, unresolved;
    int probing;
    size_t probe_hits;
} T;

/* The re-entrancy guard. Every hook runs with the GIL held and never
 * lets it go, so one thread at a time is inside: a plain global does what
 * a thread-local would, without __tls_get_addr on every allocation of a
 * shared library (measured: 1% of a churn loop). */
static int reent;

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
static int use_tsc = -1;
static uint64_t raw0;        /* raw reading at start */
static double ns_per_raw = 1.0;

static inline uint64_t
raw_now(void)
{
#if defined(__x86_64__)
    if (use_tsc == 1)
        return __rdtsc();
#endif
    return now_ns();
}

static void
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
static void
clock_refine(void)
{
    if (use_tsc != 1)
        return;
    uint64_t n = now_ns() - T.start_ns, r = raw_now() - raw0;
    if (n > 20000000 && r > 0) /* 20 ms */
        ns_per_raw = (double)n / (double)r;
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

/* -- types -- */

static inline size_t
tfilter_bit(PyTypeObject *tp)
{
    return (size_t)(((uint64_t)(uintptr_t)tp * UINT64_C(0x9E3779B97F4A7C15)) >>
                    (64 - TYPE_FILTER_BITS));
}

/* The hash-table lookup behind tinfo_find. */
static tinfo *
tinfo_find_slow(PyTypeObject *tp, size_t c)
{
    tinfo *ti;
    HASH_FIND_PTR(T.tinfos, &tp, ti);
    if (ti != NULL)
        T.tcache[c] = ti;
    return ti;
}

/* The known type at `tp`, or NULL. Most misses are words that are no type
 * pointer at all (a gc header read as an object, a buffer): the filter
 * turns those away before the hash table walks a bucket chain. */
static inline tinfo *
tinfo_find(PyTypeObject *tp)
{
    size_t c = ((uintptr_t)tp >> 4) & (TYPE_CACHE - 1);
    tinfo *ti = T.tcache[c];
    if (ti != NULL && ti->type == tp)
        return ti;
    size_t b = tfilter_bit(tp);
    if (!(T.tfilter[b / 64] & (UINT64_C(1) << (b % 64))))
        return NULL;
    return tinfo_find_slow(tp, c);
}

static tinfo *
tinfo_add(PyTypeObject *tp, int hold)
{
    tinfo *ti = hl_mem__sys_calloc(1, sizeof(tinfo));
    if (ti == NULL)
        return NULL;
    ti->type = tp;
    ti->preheader = -1;
    ti->wanted = -1;
    hl_hash__oom = 0;
    HASH_ADD_PTR(T.tinfos, type, ti);
    if (hl_hash__oom) {
        hl_mem__sys_free(ti);
        return NULL;
    }
    if (hold) {
        Py_INCREF(tp);
        ti->held = 1;
    }
    size_t b = tfilter_bit(tp);
    T.tfilter[b / 64] |= UINT64_C(1) << (b % 64); /* never cleared until release_all */
    T.ntinfos++;
    return ti;
}

static void
tinfo_forget(tinfo *ti)
{
    HASH_DEL(T.tinfos, ti);
    memset(T.tcache, 0, sizeof(T.tcache)); /* its filter bit stays: a false hit at worst */
    T.ntinfos--;
    hl_mem__sys_free(ti);
}

/* The smallest block an instance of a type may have. Compact strs are
 * shorter than str's tp_basicsize (that of a non-compact str): an ASCII
 * str of n characters takes sizeof(PyASCIIObject) + n + 1 bytes, so 3.11's
 * "12" is a 51-byte block where tp_basicsize says 80. */
static size_t
tinfo_min_size_of(PyTypeObject *tp)
{
    if (tp == &PyUnicode_Type)
        return sizeof(PyASCIIObject) + 1;
    return (size_t)tp->tp_basicsize;
}

/* Reads the type (alive: we know it). */
static void
tinfo_settle_slow(tinfo *ti)
{
    PyTypeObject *tp = ti->type;
    if (ti->preheader < 0)
        ti->preheader = (int16_t)hl_compat_preheader(tp);
    ti->min_size = (uint32_t)tinfo_min_size_of(tp);
    if (ti->wanted < 0) {
        int w = T.types == NULL;
        for (Py_ssize_t i = 0; !w && i < PyTuple_GET_SIZE(T.types); i++)
            w = PyType_IsSubtype(tp, (PyTypeObject *)PyTuple_GET_ITEM(T.types, i));
        ti->wanted = (int8_t)w;
        ti->is_meta = PyType_IsSubtype(tp, &PyType_Type) != 0;
    }
}

static inline void
tinfo_settle(tinfo *ti)
{
    if (ti->preheader < 0 || ti->wanted < 0)
        tinfo_settle_slow(ti);
}

/* Figures for the type, taking a reference to it. NULL on OOM. */
static tstats *
stats_for(tinfo *ti)
{
    if (ti->idx != 0)
        return T.stats[ti->idx];
    if (T.nstats >= TYPE_MAX)
        return NULL;
    if (T.nstats + 1 >= T.capstats) {
        size_t cap = T.capstats ? T.capstats * 2 : 64;
        tstats **a = hl_mem__sys_calloc(cap, sizeof(tstats *));
        if (a == NULL)
            return NULL;
        if (T.stats != NULL)
            memcpy(a, T.stats, T.capstats * sizeof(tstats *));
        hl_mem__sys_free(T.stats);
        T.stats = a;
        T.capstats = cap;
    }
    tstats *s = hl_mem__sys_calloc(1, sizeof(tstats));
    if (s == NULL)
        return NULL;
    s->ti = ti;
    s->is_meta = ti->is_meta;
    if (!ti->held) {
        Py_INCREF(ti->type);
        ti->held = 1;
    }
    T.stats[++T.nstats] = s;
    ti->idx = (uint16_t)T.nstats;
    return s;
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

/* -- sites -- */

static uint32_t
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

/* The site of the allocation happening now: up to T.frames frames. */
static HOT uint32_t
site_now(void)
{
    if (T.frames == 0)
        return 0;
    hl_frame_cursor cur;
    hl_compat_frames_begin(&cur, hl_compat_tstate());
    PyCodeObject *codes[HL_TRACK_MAX_FRAMES];
    int lastis[HL_TRACK_MAX_FRAMES];
    if (T.frames == 1) {
        /* The common case: one frame, looked up by its position first. */
        uintptr_t a, b;
        if (!hl_compat_frames_peek(&cur, &a, &b))
            return 0;
        leaf_entry *e = &T.leaf[((a >> 1) ^ (b >> 4) ^ (a >> 11)) & (LEAF_CACHE - 1)];
        if (e->a == a && e->b == b)
            return e->id;
        void *after = hl_compat_frames_after(&cur);
        if (!hl_compat_frames_next(&cur, &codes[0], &lastis[0]))
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
    while (n < T.frames && hl_compat_frames_next(&cur, &codes[n], &lastis[n]))
        n++;
    uint32_t id = 0;
    while (n-- > 0)
        id = site_intern(codes[n], lastis[n], id);
    return id;
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

static void
died(record *r, uint64_t now_ticks)
{
    uint32_t t = BT_TYPE(r->bt);
    if (!type_real(t))
        return;
    count_death(T.stats[t], r, now_ticks);
}

/* A record that is lost (out of memory) takes its birth back with it, so
 * that the figures never count as alive what will never be seen to die. */
static void
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
static void
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
static void
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
static void
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

static void
move_in_all(void)
{
    while (T.nmoving > 0)
        move_in();
}

/* Move a nursery record towards the big table, emptying its slot. Its slot
 * there is most likely not in the cache (a build of a big structure evicts
 * at every allocation): the record waits in a ring of MOVE_N while its slot
 * is prefetched, and goes in when the ring is full. */
static void
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
static void
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

/* ---- new types: learned only through a route that cannot lie ------------
 *
 * THE INVARIANT. The hooks read the first words of every block, and a
 * block may be anything: a bytearray's payload, a pickle, a dict's keys.
 * So a word read from a block is never followed. A word is taken as a type
 * only when it is the address of a type in the `tinfos` table, and a type
 * enters that table only through a route that does not read blocks:
 *
 * - at start, every type alive (the Python side finds them through
 *   type.__subclasses__ from object);
 * - later, at a safe point (learn: an API call, or our gc.callbacks entry,
 *   never inside a hook), a candidate is verified by asking its base class,
 *   itself a known type, for its subclasses through type.__subclasses__ (C
 *   code that reads the interpreter's own subclass registry).
 *
 * A candidate is a block that reads as an instance of a known metatype
 * (`type`, or a metaclass): a class made while tracking, or bytes laid out
 * like one. Nothing dereferences a candidate before it is verified: blocks
 * whose type word is a candidate wait (TYPE_WAIT) and are resolved at the
 * next safe point, or dropped and counted. A type that dies leaves the
 * table before its address can be reused (type_died).
 *
 * Even a verified type word can sit in a payload that only looks like an
 * object of that type; such a record is counted born and dead like any
 * other, but nothing is ever read through it: figures about live objects,
 * and objects handed to Python, come from a heap walk that reaches real
 * objects only (confirm). */

#define NEWTYPE_TRIES 64 /* safe points a candidate may stay unverified */
#define WAITING_MAX (1u << 20)

static inline size_t
nfilter_bit(uintptr_t a)
{
    return (size_t)(((uint64_t)a * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - 12));
}

static int learn_pending(void *arg);
static void learn(void);
static void waiting_died(const record *r, uint64_t now_ticks);

static int
newtype_index(uintptr_t a)
{
    size_t b = nfilter_bit(a);
    if (!(T.nfilter[b / 64] & (UINT64_C(1) << (b % 64))))
        return -1;
    for (int i = 0; i < T.nnewtypes; i++)
        if (T.newtypes[i].type == a)
            return i;
    return -1;
}

/* A block at `block` reads as a type object at `type`: remember it as a
 * candidate (nothing is read through it here). */
static void
newtype_note(uintptr_t type, uintptr_t block)
{
    if (tinfo_find((PyTypeObject *)type) != NULL || newtype_index(type) >= 0)
        return;
    if (T.nnewtypes == (int)(sizeof(T.newtypes) / sizeof(T.newtypes[0]))) {
        T.types_unverified++;
        return;
    }
    T.newtypes[T.nnewtypes].type = type;
    T.newtypes[T.nnewtypes].block = block;
    T.newtypes[T.nnewtypes++].tries = 0;
    size_t b = nfilter_bit(type);
    T.nfilter[b / 64] |= UINT64_C(1) << (b % 64);
    /* Ask the eval loop for a safe point soon (a few bytecodes on, in the
     * main thread): Py_AddPendingCall takes a lock and fills a slot of a
     * fixed array, allocating nothing. When its queue is full, the next
     * collection or API call is the safe point instead. */
    if (!T.learn_scheduled && Py_AddPendingCall(learn_pending, NULL) == 0)
        T.learn_scheduled = 1;
}

static void
newtype_remove(int i)
{
    T.newtypes[i] = T.newtypes[--T.nnewtypes];
    if (T.nnewtypes == 0)
        memset(T.nfilter, 0, sizeof(T.nfilter));
}

/* A block is freed: a candidate made of it is gone. */
static void
newtype_forget_block(uintptr_t block)
{
    for (int i = 0; i < T.nnewtypes; i++)
        if (T.newtypes[i].block == block) {
            newtype_remove(i);
            return;
        }
}

static int
waiting_push(uintptr_t key)
{
    if (T.nwaiting == T.capwaiting) {
        if (T.capwaiting >= WAITING_MAX)
            return -1;
        size_t cap = T.capwaiting ? T.capwaiting * 2 : 1024;
        uintptr_t *a = hl_mem__sys_calloc(cap, sizeof(uintptr_t));
        if (a == NULL)
            return -1;
        if (T.waiting != NULL)
            memcpy(a, T.waiting, T.nwaiting * sizeof(uintptr_t));
        hl_mem__sys_free(T.waiting);
        T.waiting = a;
        T.capwaiting = cap;
    }
    T.waiting[T.nwaiting++] = key;
    return 0;
}

enum { RESOLVE_NOT = 0, RESOLVE_DONE = 1, RESOLVE_WAIT = 2 };

/* Give a type to the allocation of record r (allocator backend).
 * RESOLVE_DONE when it is an object (the record now has its type, or was
 * dropped as unwanted); RESOLVE_WAIT when its type word is a candidate
 * type not verified yet (the record is marked TYPE_WAIT; the caller keeps
 * its key); RESOLVE_NOT when it is no object of a type we know, leaving the
 * record alone. `freeing`: the block is being freed now, its object
 * already finalised (refcount 0). Only words of the block are read, and
 * only known types are dereferenced (see THE INVARIANT). */
static HOT int
try_resolve(record *r, int freeing)
{
    char *block = (char *)r->key;
    size_t size = r->size;
    /* Pre-headers are 0, 16 or 32 bytes. The smallest that fits wins: an
     * object's own fields can look like an object further in (a tuple whose
     * item 0 is a class reads, 16 bytes on, as an instance of it). */
    for (size_t off = 0; off <= 32; off += 16) {
        if (off + sizeof(PyObject) > size)
            break;
        PyObject *op = (PyObject *)(block + off);
        Py_ssize_t rc = op->ob_refcnt;
        if (rc < (freeing ? 0 : 1) || rc > ((Py_ssize_t)1 << 60))
            continue;
        tinfo *ti = tinfo_find(Py_TYPE(op));
        if (ti == NULL) {
            if (T.nnewtypes != 0 && !freeing && newtype_index((uintptr_t)Py_TYPE(op)) >= 0) {
                r->bt = BT_TICKS(r->bt) | ((uint64_t)(TYPE_WAIT + off / 16) << 48);
                return RESOLVE_WAIT;
            }
            continue;
        }
        tinfo_settle(ti);
        if ((size_t)ti->preheader != off || ti->min_size > size - off)
            continue;
        if (ti->is_meta && !freeing && size - off >= sizeof(PyTypeObject))
            newtype_note((uintptr_t)op, (uintptr_t)block);
        if (!ti->wanted) {
            if (ti->is_meta) {
                r->bt = BT_TICKS(r->bt) | ((uint64_t)TYPE_HIDDEN << 48);
                return RESOLVE_DONE;
            }
            rec_drop(r);
            return RESOLVE_DONE;
        }
        tstats *s = stats_for(ti);
        if (s == NULL) {
            T.dropped++;
            rec_drop(r);
            return RESOLVE_DONE;
        }
        r->bt = BT_TICKS(r->bt) | ((uint64_t)ti->idx << 48);
        s->born++;
        s->alive_bytes += r->size;
        return RESOLVE_DONE;
    }
    return RESOLVE_NOT;
}

/* Whether a block that is no object yet may still become one: its first
 * two words (where a gc header goes) are zero. On 3.9-3.11 a gc object's
 * header is zeroed and then, before its refcount and type are written,
 * the allocation may run a whole collection whose events would find it
 * half made. Only the header is zero then: the words after it still hold
 * whatever the block held before (pointers, when it was a buffer), so
 * they prove nothing. Zero-headed buffers look the same; they wait a
 * bounded number of events and are then dropped. */
static int
may_become_object(const record *r)
{
    const uintptr_t *w = (const uintptr_t *)r->key;
    if (r->size < sizeof(PyObject) + 2 * sizeof(uintptr_t))
        return 0;
    return w[0] == 0 && (w[1] & ~(uintptr_t)3) == 0;
}

/* r: the pending record, in the nursery. */
static HOT void
resolve_block(record *r, int freeing)
{
    int res = try_resolve(r, freeing);
    if (res == RESOLVE_DONE)
        return;
    if (res == RESOLVE_WAIT) {
        if (waiting_push(r->key) < 0) {
            T.unresolved++;
            rec_drop(r);
        }
        return;
    }
    if (!freeing && may_become_object(r)) {
        if (T.ndeferred == DEFER_N && T.collecting) {
            /* The oldest may be the object whose allocation runs this
             * collection: the newcomer gives up instead. */
            T.unresolved++;
            rec_drop(r);
            return;
        }
        if (T.ndeferred == DEFER_N) { /* full: the oldest gives up */
            record *o = rec_find(T.deferred[0]);
            if (o != NULL && o != r && BT_TYPE(o->bt) == 0) {
                T.unresolved++;
                rec_drop(o); /* r is in the nursery: it does not move */
            }
            memmove(&T.deferred[0], &T.deferred[1], (DEFER_N - 1) * sizeof(uintptr_t));
            memmove(&T.deferred_tries[0], &T.deferred_tries[1], (DEFER_N - 1) * sizeof(uint16_t));
            T.ndeferred--;
        }
        T.deferred[T.ndeferred] = r->key;
        T.deferred_tries[T.ndeferred++] = 0;
        return;
    }
    T.unresolved++;
    rec_drop(r);
}

/* Try the deferred blocks again (at a malloc, never inside a free). */
static void
retry_deferred(void)
{
    int k = 0;
    for (int j = 0; j < T.ndeferred; j++) {
        record *r = rec_find(T.deferred[j]);
        if (r == NULL || BT_TYPE(r->bt) != 0 || (T.has_pending && r == T.pending))
            continue; /* freed, or the address now holds a newer record */
        int res = try_resolve(r, 0);
        if (res == RESOLVE_DONE)
            continue;
        if (res == RESOLVE_WAIT) {
            if (waiting_push(r->key) < 0) {
                T.unresolved++;
                rec_drop(r);
            }
            continue;
        }
        /* While a collection runs, a half-made object may wait for as long
         * as the collection takes (finalizers allocate): no try counts. */
        if (!T.collecting)
            T.deferred_tries[j]++;
        if (T.deferred_tries[j] >= DEFER_TRIES || !may_become_object(r)) {
            T.unresolved++;
            rec_drop(r);
            continue;
        }
        T.deferred[k] = T.deferred[j];
        T.deferred_tries[k++] = T.deferred_tries[j];
    }
    T.ndeferred = k;
}

/* The type of a tracer record is known at birth; its size is read now,
 * when a var-sized object has its length. */
static void
resolve_object(record *r)
{
    PyObject *op = (PyObject *)r->key;
    uint32_t t = BT_TYPE(r->bt);
    if (!type_real(t))
        return;
    PyTypeObject *tp = Py_TYPE(op);
    uint64_t size = (uint64_t)tp->tp_basicsize;
    if (PyLong_CheckExact(op))
        size = (uint64_t)hl_compat_int_sizeof(op);
    else if (tp->tp_itemsize != 0 && Py_REFCNT(op) > 0)
        size += (uint64_t)tp->tp_itemsize * (uint64_t)Py_ABS(Py_SIZE(op));
    size += (uint64_t)hl_compat_preheader(tp);
    if (size > UINT32_MAX)
        size = UINT32_MAX;
    T.stats[t]->alive_bytes += size - r->size;
    r->size = (uint32_t)size;
}

static inline void
settle_pending(uintptr_t freeing)
{
    if (!T.has_pending)
        return;
    T.has_pending = 0;
    if (T.backend == HL_BACKEND_ALLOCATOR)
        resolve_block(T.pending, T.pending->key == freeing);
    else
        resolve_object(T.pending);
}

/* Whether the hooks record a birth now: tracking, not inside ourselves, in
 * the tracked interpreter, on a tracked thread, and not our own quiet work. */
static inline int
watching(void)
{
    if (!T.active || reent)
        return 0;
#if !HL_HAVE_PER_INTERP_GIL
    /* (one GIL: the thread needs looking at only to leave some out) */
    if (T.only == NULL && T.quiet == NULL)
        return 1;
#endif
    PyThreadState *ts = hl_compat_tstate();
    return ts != NULL && ts != T.quiet && (T.only == NULL || ts == T.only)
#if HL_HAVE_PER_INTERP_GIL
           && ts->interp == T.interp
#endif
        ;
}

/* Whether a free or resize may touch the tables: on 3.12+ a sub-interpreter
 * with a GIL of its own runs the hooks concurrently with us; its blocks are
 * never ours (each such interpreter has its own object allocator state). */
static inline int
ours(void)
{
#if HL_HAVE_PER_INTERP_GIL
    PyThreadState *ts = hl_compat_tstate();
    return ts != NULL && ts->interp == T.interp;
#else
    return 1;
#endif
}

static HOT void
on_alloc(void *p, size_t size, uint64_t raw)
{
    settle_pending(0);
    if (T.ndeferred)
        retry_deferred();
    record *r = rec_birth((uintptr_t)p);
    r->bt = ticks_of(raw);
    r->size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
    r->site = site_now(); /* may add sites, never records: r stays put */
    T.pending = r;
    T.has_pending = 1;
}

/* A type object dies (its record is at block `key`): forget it before its
 * address is reused. Its pre-header is that of its metatype, a gc type: 16
 * bytes, plus 16 on 3.11+ if the metatype manages dicts (none does). */
static void
type_died(uintptr_t key)
{
    if (T.nnewtypes != 0)
        newtype_forget_block(key);
    for (size_t off = 16; off <= 32; off += 16) {
        tinfo *ti = tinfo_find((PyTypeObject *)(key + off));
        if (ti != NULL && !ti->held) {
            tinfo_forget(ti);
            break;
        }
    }
}

static HOT void
on_free(void *p, uint64_t raw)
{
    uintptr_t key = (uintptr_t)p;
    record *r = &T.nursery[nursery_of(key)];
    if (r->key != key && T.rt.cap != 0) /* an older object: fetch its slot meanwhile */
        __builtin_prefetch(&T.rt.slots[home_of(key, T.rt.cap)], 0, 3);
    settle_pending(key);
    int young = r->key == key;
    if (!young) {
        record *m = moving_find(key);
        if (m != NULL) {
            r = m;
        } else {
            size_t i = rt_find(&T.rt, key);
            if (i == SIZE_MAX)
                return;
            r = &T.rt.slots[i];
        }
    }
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
    if (young) {
        r->key = 0;
        T.nn--;
    } else if (in_moving(r)) {
        moving_remove(r);
    } else {
        rec_drop(r);
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
}

/* ---- the safe point: verify new types, resolve what waits for them --------
 * Called outside the hooks, with the GIL, in a consistent interpreter: from
 * the API below and from our gc.callbacks entry (a collection is running
 * then, so the list __subclasses__ allocates cannot start another). */

/* Whether the candidate `c` is a real type: its base (read from the
 * candidate's block, which is alive: a word read, not followed) must be a
 * known type that lists it among its subclasses. 1 yes, 0 not (yet), -1 the
 * candidate is gone. Runs C code of the interpreter, which allocates. */
static int
newtype_verify(int i)
{
    uintptr_t type = T.newtypes[i].type, block = T.newtypes[i].block;
    record *r = rec_find(block);
    if (r == NULL || r->size < (type - block) + sizeof(PyTypeObject))
        return -1; /* freed (or now a smaller block) */
    tinfo *meta = tinfo_find(Py_TYPE((PyObject *)type));
    if (meta == NULL || !meta->is_meta)
        return -1; /* the block no longer reads as a type */
    PyTypeObject *base = ((PyTypeObject *)type)->tp_base;
    if (base == NULL || tinfo_find(base) == NULL || T.subclasses == NULL)
        return 0; /* not readied yet, or its base is new too */
    PyObject *subs = PyObject_CallOneArg(T.subclasses, (PyObject *)base);
    if (subs == NULL) {
        PyErr_Clear();
        return 0;
    }
    int found = 0;
    if (PyList_Check(subs))
        for (Py_ssize_t k = 0; k < PyList_GET_SIZE(subs) && !found; k++)
            found = (uintptr_t)PyList_GET_ITEM(subs, k) == type;
    Py_DECREF(subs);
    return found;
}

/* A record that waited for a candidate died: keep what is needed to count
 * its birth and death once the candidate is verified. `off`: where its
 * header is (the block is being freed; its words are still there). */
static void
waiting_died(const record *r, uint64_t now_ticks)
{
    uint32_t off = (BT_TYPE(r->bt) - TYPE_WAIT) * 16;
    if (T.ndeadwait == T.capdeadwait) {
        size_t cap = T.capdeadwait ? T.capdeadwait * 2 : 256;
        if (cap > 65536) {
            T.unresolved++;
            return;
        }
        dead_waiting *a = hl_mem__sys_calloc(cap, sizeof(dead_waiting));
        if (a == NULL) {
            T.unresolved++;
            return;
        }
        if (T.deadwait != NULL)
            memcpy(a, T.deadwait, T.ndeadwait * sizeof(dead_waiting));
        hl_mem__sys_free(T.deadwait);
        T.deadwait = a;
        T.capdeadwait = cap;
    }
    dead_waiting *d = &T.deadwait[T.ndeadwait++];
    d->type = (uintptr_t)Py_TYPE((PyObject *)(r->key + off));
    d->bt = r->bt;
    d->death = now_ticks;
    d->size = r->size;
}

/* Count the births and deaths of records that died waiting, whose type is
 * now known; forget those whose candidate is gone. */
static void
settle_dead_waiting(void)
{
    size_t k = 0;
    for (size_t i = 0; i < T.ndeadwait; i++) {
        dead_waiting *d = &T.deadwait[i];
        tinfo *ti = tinfo_find((PyTypeObject *)d->type);
        if (ti == NULL) {
            if (newtype_index(d->type) >= 0)
                T.deadwait[k++] = *d; /* its candidate is still pending */
            else
                T.unresolved++;
            continue;
        }
        tinfo_settle(ti);
        if (!ti->wanted)
            continue;
        tstats *s = stats_for(ti);
        if (s == NULL) {
            T.dropped++;
            continue;
        }
        record tmp = {0, d->bt, 0, d->size};
        s->born++;
        s->alive_bytes += d->size;
        count_death(s, &tmp, d->death);
    }
    T.ndeadwait = k;
}

static int
learn_pending(void *arg)
{
    (void)arg;
    T.learn_scheduled = 0;
    if (T.active && !reent)
        learn();
    return 0;
}

static void
learn(void)
{
    if (!T.active || T.backend != HL_BACKEND_ALLOCATOR ||
        (T.nnewtypes == 0 && T.nwaiting == 0 && T.ndeadwait == 0))
        return;
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    PyThreadState *was_quiet = T.quiet;
    T.quiet = hl_compat_tstate();
    /* A base may itself be a candidate: go on while something is learned.
     * Downwards, as a removal moves the last candidate into the gap. */
    for (int progress = 1; progress && T.nnewtypes > 0;) {
        progress = 0;
        for (int i = T.nnewtypes - 1; i >= 0; i--) {
            if (i >= T.nnewtypes)
                continue;
            uintptr_t type = T.newtypes[i].type;
            int v = newtype_verify(i);
            int j = newtype_index(type); /* verify may have run frees */
            if (j < 0)
                continue;
            if (v == 0 && ++T.newtypes[j].tries < NEWTYPE_TRIES)
                continue;
            newtype_remove(j);
            if (v == 1) {
                tinfo *ti = tinfo_find((PyTypeObject *)type);
                if (ti == NULL)
                    ti = tinfo_add((PyTypeObject *)type, 0);
                if (ti == NULL)
                    T.dropped++;
                else
                    tinfo_settle(ti);
                progress = 1;
            } else if (v == 0) {
                T.types_unverified++;
            }
        }
    }
    /* The records waiting for a candidate: resolve them now, or go on
     * waiting for a candidate still pending, or give up. */
    reent = 1;
    size_t k = 0;
    for (size_t i = 0; i < T.nwaiting; i++) {
        uintptr_t key = T.waiting[i];
        record *r = rec_find(key);
        if (r == NULL || !type_waiting(BT_TYPE(r->bt)))
            continue; /* died meanwhile, or an older entry of a reused address */
        r->bt = BT_TICKS(r->bt);
        int res = try_resolve(r, 0);
        if (res == RESOLVE_WAIT) {
            T.waiting[k++] = key;
        } else if (res == RESOLVE_NOT) {
            T.unresolved++;
            rec_drop(r);
        }
    }
    T.nwaiting = k;
    settle_dead_waiting();
    reent = 0;
    T.quiet = was_quiet;
    PyErr_Restore(et, ev, tb);
}

/* Outside any allocation (the API calls below): every object is whole, and
 * every record goes to the big table, where the API reads them. */
static void
settle_all(void)
{
    if (!T.active)
        return;
    reent = 1;
    settle_pending(0);
    if (T.backend == HL_BACKEND_ALLOCATOR && T.ndeferred)
        retry_deferred();
    reent = 0;
    learn();
    reent = 1;
    nursery_flush();
    reent = 0;
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
    if (p != NULL && watching()) {
        reent = 1;
        on_alloc(p, size, raw);
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
    if (p != NULL && watching()) {
        reent = 1;
        on_alloc(p, nelem * elsize, raw);
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

static PyMemAllocatorEx hook = {NULL, hook_malloc, hook_calloc, hook_realloc, hook_free};

static int
hook_on_top(void)
{
    PyMemAllocatorEx cur;
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &cur);
    return cur.malloc == hook_malloc;
}

/* Whether an allocation reaches our hook (it may sit under another one). */
static int
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
static int
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
        PyThreadState *ts = hl_compat_tstate();
        if ((T.only == NULL || ts == T.only) && ts != T.quiet) {
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
                        s = stats_for(ti);
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
static int
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
    hl_mem__sys_free(T.nursery);
    T.nursery = NULL;
    T.nn = 0;
    T.mv_head = T.nmoving = 0;
    PyObject *types = T.types;
    T.types = NULL;
    T.tinfos = NULL;
    T.ntinfos = 0;
    memset(T.tcache, 0, sizeof(T.tcache));
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

int
hl_track_start(const hl_track_options *opts)
{
    if (opts == NULL || opts->version != HL_TRACK_OPTIONS_VERSION)
        return hl_error__set(HL_EINVAL, "bad hl_track_options version");
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
    if (opts->frames > 0 && hl_compat_frames_selfcheck() < 0)
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
    T.quiet = NULL;
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
            PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &hook);
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

/* At stop: objects that died into a freelist (refcount 0, block still
 * held) are counted dead now, while their blocks are sure to be ours to
 * read. Only a word of a live block is read. */
static void
purge_freelist_dead(void)
{
    if (T.backend != HL_BACKEND_ALLOCATOR)
        return;
    size_t i = 0;
    while (i < T.rt.cap) {
        record *r = &T.rt.slots[i];
        uint32_t t = BT_TYPE(r->bt);
        if (r->key == 0 || !type_real(t) ||
            Py_REFCNT((PyObject *)(r->key + (uintptr_t)T.stats[t]->ti->preheader)) > 0) {
            i++;
            continue;
        }
        tstats *s = T.stats[t];
        s->died++;
        s->alive_bytes -= r->size;
        rt_remove(&T.rt, i); /* a later record may move into slot i: look again */
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
        key -= (uintptr_t)hl_compat_preheader(tp);
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
    hl_walk_options opts = HL_WALK_OPTIONS_INIT;
    opts.model = HL_MODEL_GETSIZEOF;
    opts.align = 1;
    opts.flags = HL_WALK_ALL | HL_WALK_NO_WEAKREFS | HL_WALK_UNATTRIBUTED;
    opts.on_object = confirm_on_object;
    confirm_ctx c = {0};
    opts.payload = &c;
    PyThreadState *was_quiet = T.quiet;
    T.quiet = hl_compat_tstate(); /* the walk's own objects are not ours to count */
    int rc = hl_heap_walk(NULL, &opts, NULL, 0);
    T.quiet = was_quiet;
    /* A __sizeof__ run by the walk may have made objects in another thread. */
    reent = 1;
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
    out->records = T.rt.count + T.nn + (size_t)T.nmoving;
    out->dropped = T.dropped;
    out->unresolved = T.unresolved;
    out->waiting = T.nwaiting + T.ndeadwait;
    out->types_unverified = T.types_unverified + (size_t)T.nnewtypes;
    out->sites = T.nsites ? T.nsites - 1 : 0;
    out->types = T.nstats;
    out->memory = T.rt.cap * sizeof(record) + (T.nursery ? NURSERY_N * sizeof(record) : 0) +
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
    *out = hl_mem__sys_calloc(T.rt.count ? T.rt.count : 1, sizeof(hl_track_record));
    if (*out == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for the survivors");
    for (size_t i = 0; i < T.rt.cap; i++) {
        const record *r = &T.rt.slots[i];
        uint32_t t = BT_TYPE(r->bt);
        if (r->key == 0 || !type_real(t) || !(r->site & SITE_CONFIRMED))
            continue;
        if (type != NULL && !PyType_IsSubtype(T.stats[t]->ti->type, type))
            continue;
        fill_record(&(*out)[(*n)++], r);
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
        key -= (uintptr_t)hl_compat_preheader(Py_TYPE(obj));
    size_t i = rt_find(&T.rt, key);
    if (i == SIZE_MAX)
        return HL_EINVAL;
    const record *r = &T.rt.slots[i];
    uint32_t t = BT_TYPE(r->bt);
    if (!type_real(t) || T.stats[t]->ti->type != Py_TYPE(obj))
        return HL_EINVAL;
    fill_record(out, r);
    /* `obj` is a real object (the caller has it): its size is read from it,
     * in the model of the figures. */
    Py_ssize_t flat;
    if (!(r->site & SITE_CONFIRMED)) {
        PyThreadState *was_quiet = T.quiet;
        T.quiet = hl_compat_tstate();
        if (hl_size_flat(&flat, obj, HL_MODEL_GETSIZEOF, 1) == 0)
            out->size = (uint64_t)flat;
        else
            PyErr_Clear();
        T.quiet = was_quiet;
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
        key -= (uintptr_t)hl_compat_preheader(type);
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
