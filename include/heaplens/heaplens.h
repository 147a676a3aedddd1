/*
 * heaplens.h - the public C API of the heaplens core.
 *
 * Everything here needs the GIL (an attached thread state) unless a function
 * says otherwise. Nothing here may be called from inside an allocator hook.
 *
 * Conventions (as in libgit2): functions return 0 on success or a negative
 * HL_E* code; the output parameter comes first; options are passed as a
 * struct initialised with its HL_*_OPTIONS_INIT macro; callbacks take their
 * `void *payload` last. References follow CPython's vocabulary: "borrowed"
 * means the caller keeps ownership, "new" means the caller must release it.
 */
#ifndef HEAPLENS_H
#define HEAPLENS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------- */

enum {
    HL_OK = 0,
    HL_ENOMEM = -1,    /* the core could not allocate its own bookkeeping */
    HL_EINVAL = -2,    /* an argument or option is invalid */
    HL_ESTATE = -3,    /* called in the wrong state */
    HL_EPYTHON = -4,   /* a Python exception is set (e.g. __sizeof__ raised) */
    HL_EOVERFLOW = -5, /* a size does not fit in Py_ssize_t */
    HL_ESTOP = -6,     /* a callback asked the walk to stop */
};

/* The message describing the last error raised by the core in this thread,
 * or NULL when there is none. The string stays valid until the next core
 * call in this thread. Safe without the GIL. */
const char *hl_error_last(void);

/* Forget the last error of this thread. Safe without the GIL. */
void hl_error_clear(void);

/* ---- size models -------------------------------------------------------- */

typedef enum {
    /* What sys.getsizeof() reports, rounded up to the alignment: the model
     * of pympler.asizeof, for drop-in figures. */
    HL_MODEL_GETSIZEOF = 0,
    /* The bytes the allocators hold as requested (what tracemalloc sees):
     * no alignment, cached singletons count 0, hidden blocks included. */
    HL_MODEL_ALLOCATOR = 1,
} hl_model;

/* ---- the walk ----------------------------------------------------------- */

/* A visited set that outlives one walk, for callers that size several
 * groups of objects and want each object counted once over all of them
 * (pympler's Asizer). It keeps a strong reference to every object it holds,
 * so an address it knows cannot be reused by a new object. */
typedef struct hl_visited hl_visited;

/* How hl_visited_mark marks an object. */
typedef enum {
    HL_MARK_SEEN = 0,     /* as if counted: 0 when reached or given again */
    HL_MARK_SKIP_REF = 1, /* 0 when reached as a referent, sized when given */
    HL_MARK_EXCLUDE = 2,  /* always 0, even when given */
} hl_mark;

/* Create an empty visited set. out: the new set. Returns 0 or HL_ENOMEM. */
int hl_visited_new(hl_visited **out);

/* Mark `obj` (borrowed; the set takes its own reference). Returns 0,
 * HL_EINVAL or HL_ENOMEM. */
int hl_visited_mark(hl_visited *v, PyObject *obj, hl_mark how);

/* Objects in the set. */
size_t hl_visited_count(const hl_visited *v);

/* Release the set and the references it holds (which may run finalizers).
 * NULL is accepted. */
void hl_visited_free(hl_visited *v);

typedef struct hl_census hl_census;

/* Walk flags. */
#define HL_WALK_CODE (1u << 0)    /* size classes, functions, code and modules
                                     reached from inside the graph */
#define HL_WALK_FRAMES (1u << 1)  /* size frame objects reached in the graph */
#define HL_WALK_ORDERED (1u << 2) /* strict depth-first pre-order, as pympler
                                     attributes sizes; needed for on_leave */
#define HL_WALK_NO_WEAKREFS (1u << 3) /* do not follow weakref referents */
#define HL_WALK_ALL (1u << 4)     /* count every object: code, frames and the
                                     builtins dict too (whole-heap walks) */
#define HL_WALK_NO_SIZES (1u << 6) /* size nothing (every flat size is 0): no
                                     __sizeof__ runs, so no Python code runs
                                     and the heap cannot change mid-walk */
#define HL_WALK_UNATTRIBUTED (1u << 5) /* roots are not pre-marked: a root
                                     reached from an earlier root counts
                                     there, and a root given twice is just
                                     seen again. Faster for many roots. */

/* A set of object addresses that holds no references: what a walk visited,
 * kept to ask later whether an object existed then. */
typedef struct hl_addrset hl_addrset;

/* 1 when `addr` is in the set, else 0. Safe without the GIL. */
int hl_addrset_contains(const hl_addrset *s, const void *addr);

/* Addresses in the set, and bytes the set holds. */
size_t hl_addrset_count(const hl_addrset *s);
size_t hl_addrset_bytes(const hl_addrset *s);

/* Release the set. NULL is accepted. Safe without the GIL. */
void hl_addrset_free(hl_addrset *s);

/* What a walk callback sees. All pointers are borrowed for the duration of
 * the call. */
typedef struct {
    PyObject *obj;       /* the object */
    Py_ssize_t flat;     /* its flat size in the walk's model (0 if ignored) */
    Py_ssize_t deep;     /* on_leave only: bytes counted in its subtree */
    uint32_t depth;      /* 0 for a root */
    uint32_t root;       /* index of the root whose walk reached it */
} hl_walk_event;

/* A walk callback returns 0 to go on, or a nonzero value to stop the walk;
 * the walk then returns HL_ESTOP (or HL_EPYTHON if a Python error is set). */
typedef int (*hl_walk_cb)(const hl_walk_event *ev, void *payload);

/* An edge callback sees every reference the walk follows, repeats included:
 * `parent` refers to `child` (both borrowed). Called from inside
 * tp_traverse: it must not run Python code or touch the objects' refcounts.
 * Returns 0 to go on, nonzero to stop the walk. */
typedef int (*hl_edge_cb)(PyObject *parent, PyObject *child, void *payload);

typedef struct {
    unsigned int version;  /* HL_WALK_OPTIONS_VERSION */
    hl_model model;
    unsigned int flags;    /* HL_WALK_* */
    Py_ssize_t align;      /* power of two (1 = none); getsizeof model only */
    Py_ssize_t limit;      /* deepest depth followed; -1 = no limit */
    PyObject *ignored;     /* borrowed: a tuple of types whose instances are
                              counted 0 and not followed, or NULL */
    hl_walk_cb on_object;  /* optional: each object counted, in walk order */
    hl_walk_cb on_leave;   /* optional: needs HL_WALK_ORDERED; after the
                              subtree of each object with depth < leave_depth */
    uint32_t leave_depth;
    void *payload;         /* passed to the callbacks */
    hl_visited *visited;   /* optional: a set shared with earlier walks */
    hl_addrset **seen_out; /* optional out: on success, the set of every
                              object visited (not with `visited`) */
    struct hl_census *census; /* optional: counts and bytes per type are
                              added to it (cheaper than an on_object census) */
    hl_addrset *seed;      /* optional, consumed: the walk starts with these
                              addresses already seen (not with `visited`) */
    size_t expected;       /* optional: objects the walk will likely see, to
                              size the visited set once instead of growing it */
    hl_edge_cb on_edge;    /* optional: every reference followed */
} hl_walk_options;

#define HL_WALK_OPTIONS_VERSION 1
#define HL_WALK_OPTIONS_INIT \
    { HL_WALK_OPTIONS_VERSION, HL_MODEL_GETSIZEOF, 0, 8, -1, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, NULL }

/* Figures about one walk. */
typedef struct {
    Py_ssize_t total;      /* bytes counted over all roots */
    size_t counted;        /* objects counted (each once) */
    size_t max_depth;      /* deepest depth reached */
    size_t python_calls;   /* __sizeof__ methods written in Python that ran */
    size_t peak_bytes;     /* peak memory of the walk's own bookkeeping */
    size_t repeats;        /* references that reached an object already counted */
} hl_walk_stats;

/* Deep sizes of `nroots` objects, each object counted once over all of them.
 * An object given as a root is counted for that root, never for another
 * root that also reaches it; a root given twice counts 0 the second time.
 *
 * sizes:  out, nroots entries (may be NULL): the deep size of each root.
 * stats:  out, may be NULL.
 * roots:  borrowed references.
 * opts:   may be NULL for the defaults.
 *
 * With opts->visited, objects the set already holds count 0 (see hl_mark)
 * and every object this walk counts is added to it.
 *
 * Returns 0, HL_EINVAL (bad options), HL_ENOMEM, HL_EPYTHON (a __sizeof__
 * raised or returned a bad value; the exception is set), HL_EOVERFLOW or
 * HL_ESTOP. The walk is iterative: any depth works. It may run Python code
 * (a __sizeof__ written in Python); it holds strong references to whatever it
 * has yet to visit, so such code may mutate the graph without crashing it. */
int hl_walk_sizes(Py_ssize_t *sizes, hl_walk_stats *stats, PyObject *const *roots,
                  size_t nroots, const hl_walk_options *opts);

/* Walk the whole heap: every gc-tracked object is a root, and the walk
 * reaches the untracked objects they hold. Use opts->on_object or
 * opts->census to see the objects; opts->visited and opts->seed must be
 * NULL. What is reachable from the `nexclude` objects in `exclude`
 * (borrowed; e.g. the caller's own bookkeeping) is left out, except classes,
 * functions and modules, which are only left out themselves. Returns what
 * hl_walk_sizes returns; stats->peak_bytes includes the roots array. */
int hl_heap_walk(hl_walk_stats *stats, const hl_walk_options *opts, PyObject *const *exclude,
                 size_t nexclude);

/* The referents a walk with `opts` would follow from `obj`, in walk order.
 * out: a new reference to a list. Returns 0, HL_ENOMEM or HL_EPYTHON. */
int hl_walk_referents(PyObject **out, PyObject *obj, const hl_walk_options *opts);

/* The flat size of `obj` in `model`, rounded up to `align` (a power of two,
 * or 0/1 for none; the allocator model ignores it). Runs the object's
 * __sizeof__, which may be Python code. Returns 0, HL_EINVAL, HL_EPYTHON or
 * HL_EOVERFLOW. */
int hl_size_flat(Py_ssize_t *out, PyObject *obj, hl_model model, Py_ssize_t align);

/* The bytes sys.getsizeof() adds to obj.__sizeof__(): the GC header and, on
 * 3.11+, the pre-header. Never fails in a build that knows the interpreter's
 * layouts; in generic mode (heaplens.capabilities()) it is computed by
 * calling sys.getsizeof and __sizeof__, and returns -1 with a Python
 * exception set when either raises. */
Py_ssize_t hl_size_header(PyObject *obj);

/* For a GC-aware owner of an hl_visited: visit the references it holds
 * (tp_traverse), or drop them all (tp_clear). */
int hl_visited_traverse(hl_visited *v, visitproc visit, void *arg);
void hl_visited_clear(hl_visited *v);

/* ---- the type registry: types that hide references or size deeply ----- */

/* Flags for hl_register_type. */
#define HL_TYPE_INHERITED_SIZEOF (1u << 0) /* the registered class's own __sizeof__
                                     is deep (it counts memory the walk also
                                     reaches through referents): size
                                     instances with the __sizeof__ found
                                     further along their MRO instead */
#define HL_TYPE_NO_TRAVERSE (1u << 1) /* do not follow tp_traverse: only the
                                     registered referents */

/* Tell every later walk how to size instances of `tp` and of its
 * subclasses (the nearest registered class in an object's MRO wins).
 *
 * referents: borrowed; NULL/None or a callable obj -> iterable of the
 *            objects obj keeps alive that tp_traverse does not report. It
 *            must return existing objects, not new ones: each is sized as
 *            memory obj holds. The walk keeps the result alive until it ends.
 * sizeof_fn: borrowed; NULL/None or a callable obj -> int: the flat bytes of
 *            obj as its __sizeof__ would report them if it were flat (the GC
 *            header and pre-header are added by the walk, as getsizeof does).
 * flags:     HL_TYPE_*.
 *
 * Registering a type again replaces its entry. The registry keeps strong
 * references to the type and the callables. The callables run Python code
 * during walks; an exception they raise ends the walk with HL_EPYTHON.
 * Returns 0, HL_EINVAL or HL_ENOMEM. */
int hl_register_type(PyTypeObject *tp, PyObject *referents, PyObject *sizeof_fn,
                     unsigned int flags);

/* Remove tp's own entry (not its bases'). Returns 1 if there was one, else 0. */
int hl_unregister_type(PyTypeObject *tp);

/* The registry as a new list of (type, referents, sizeof, flags) tuples.
 * Returns 0 or HL_EPYTHON. */
int hl_registry_types(PyObject **out);

/* ---- census: counts and bytes per type ---------------------------------- */

typedef struct {
    PyTypeObject *type; /* borrowed from the census */
    size_t count;
    Py_ssize_t size;
} hl_census_row;

/* Create an empty census. Returns 0 or HL_ENOMEM. */
int hl_census_new(hl_census **out);

/* Count one object of type `tp` with `size` bytes. The census keeps a
 * reference to each type it has seen. Returns 0 or HL_ENOMEM. */
int hl_census_add(hl_census *c, PyTypeObject *tp, Py_ssize_t size);

/* Count `count` objects of type `tp` with `size` bytes in all. */
int hl_census_add_many(hl_census *c, PyTypeObject *tp, size_t count, Py_ssize_t size);

/* A walk callback that adds each counted object to the census given as
 * payload (hl_walk_options.on_object = hl_census_on_object). */
int hl_census_on_object(const hl_walk_event *ev, void *payload);

/* The rows of the census, in no particular order. *rows is allocated by the
 * core and released with hl_census_rows_free. Returns 0 or HL_ENOMEM. */
int hl_census_rows(hl_census_row **rows, size_t *nrows, const hl_census *c);
void hl_census_rows_free(hl_census_row *rows);

/* Release the census and its type references. NULL is accepted. */
void hl_census_free(hl_census *c);

/* ---- referrers: who holds an object ------------------------------------ */

/* What a referrer chain starts at. */
typedef enum {
    HL_ROOT_NONE = 0,     /* no root within the hop limit */
    HL_ROOT_MODULE = 1,   /* a module (its globals) */
    HL_ROOT_CLASS = 2,    /* a class (its attributes) */
    HL_ROOT_FRAME = 3,    /* a frame (its locals) */
    HL_ROOT_EXTERNAL = 4, /* an object referenced from outside the Python heap:
                             its refcount exceeds its references from heap
                             objects, as the cyclic GC computes it */
} hl_root_kind;

/* A reverse-edge index of the whole heap, built in one walk. It holds
 * addresses, not references: it is valid only until Python code runs, so
 * build it, query it and free it without returning to Python in between. */
typedef struct hl_graph hl_graph;

/* Build the index. References held by the `nexclude` objects in `exclude`
 * (borrowed: the caller's own containers, e.g. the list of objects it asks
 * about) are left out, as if those objects did not exist. Returns 0,
 * HL_ENOMEM or HL_EPYTHON. */
int hl_graph_build(hl_graph **out, PyObject *const *exclude, size_t nexclude);

/* The objects that refer to `obj`, each once. *out is an array of new
 * references, allocated by the core: release each and hl_graph_free_array
 * it. Returns 0 or HL_ENOMEM. */
int hl_graph_referrers(PyObject ***out, size_t *n, const hl_graph *g, PyObject *obj);

/* The shortest chain of references from a root down to `target`, found by
 * a breadth-first search backwards, at most `max_hops` long. *out gets
 * [root, ..., target] as new references (the root is a module rather than
 * its __dict__); *kind says what the root is. When no root is found within
 * max_hops, the chain is just [target] and *kind is HL_ROOT_NONE. Returns 0
 * or HL_ENOMEM. */
int hl_graph_chain(PyObject ***out, size_t *n, hl_root_kind *kind, const hl_graph *g,
                   PyObject *target, size_t max_hops);

/* How many references to `obj` come from outside the heap (0 if none).
 * References the graph itself handed out (in chains and referrer arrays
 * not yet released) are not counted as outside. */
Py_ssize_t hl_graph_external_refs(const hl_graph *g, PyObject *obj);

void hl_graph_free_array(PyObject **arr, size_t n);
void hl_graph_free(hl_graph *g);

/* ---- lifetimes ---------------------------------------------------------- */

/* One tracker per process: the allocator and PyRefTracer slots it hooks are
 * process-wide. While it runs, every object created (in the threads it
 * watches) gets a record: its type, size, birth time and allocation site;
 * when the object dies the record is folded into its type's figures.
 * Except where said, the functions below need the GIL and must not be
 * called from inside an allocator hook. */

typedef enum {
    HL_BACKEND_ALLOCATOR = 1, /* PyMem_SetAllocator on PYMEM_DOMAIN_OBJ */
    HL_BACKEND_REFTRACER = 2, /* PyRefTracer_SetTracer (3.13+) */
} hl_track_backend;

#define HL_TRACK_MAX_FRAMES 64

typedef struct {
    unsigned int version;      /* HL_TRACK_OPTIONS_VERSION */
    hl_track_backend backend;
    int frames;                /* frames of allocation site kept, 0..HL_TRACK_MAX_FRAMES */
    int current_thread;        /* nonzero: only the calling thread's objects */
    PyObject *types;           /* borrowed: a tuple of types to track (their
                                  subclasses too), or NULL for all */
    PyObject *known_types;     /* borrowed: a sequence of every type that exists
                                  now (allocator backend: how a block is told
                                  to be an object), or NULL */
} hl_track_options;

#define HL_TRACK_OPTIONS_VERSION 1
#define HL_TRACK_OPTIONS_INIT { HL_TRACK_OPTIONS_VERSION, HL_BACKEND_ALLOCATOR, 1, 0, NULL, NULL }

/* Start tracking, dropping the records of an earlier run. Returns 0,
 * HL_ESTATE (already tracking, or the PyRefTracer slot is taken), HL_EINVAL
 * or HL_ENOMEM. */
int hl_track_start(const hl_track_options *opts);

/* Stop tracking and put back the allocator (or tracer) that was there at
 * start. When another hook was installed on top of ours since (and is still
 * there), ours stays in its chain and only forwards calls; *lost is set when
 * someone removed our hook while we ran (events were missed). The records
 * stay readable until the next start or hl_track_clear. Returns 0 or
 * HL_ESTATE when not tracking. */
int hl_track_stop(int *lost);

/* Nonzero while tracking. */
int hl_track_active(void);

/* Tell the tracker that a collection starts (1) or ends (0). On 3.9-3.11 a
 * collection can run inside an object's allocation, after its gc header is
 * zeroed and before its type is written; while one runs, such half-made
 * blocks wait to be resolved for as long as it takes. It is also a safe
 * point: classes made since the last one are verified (see lib/lifetimes.c,
 * THE INVARIANT), which runs C code of the interpreter. The binding feeds
 * this from gc.callbacks while the allocator backend tracks. */
void hl_track_gc_phase(int collecting);

/* Drop every record and release the references the tracker keeps (the code
 * objects of sites and the types of tracked objects). HL_ESTATE while
 * tracking. */
int hl_track_clear(void);

typedef struct {
    size_t records;        /* tracked objects alive (records held) */
    size_t dropped;        /* records lost to out-of-memory in the hooks */
    size_t unresolved;     /* blocks that could not be told to be an object of
                              a known type (non-object memory, or a static
                              type readied after start) */
    size_t waiting;        /* blocks waiting for a new type to be verified */
    size_t types_unverified; /* blocks that read like a type object made while
                              tracking but were not (yet) found among the
                              subclasses of their base */
    size_t sites;          /* distinct (code, instruction, caller) sites */
    size_t types;          /* types with tracked objects */
    size_t memory;         /* bytes the tracker holds for all of it */
    int lost;              /* events were missed: our hook or tracer was
                              removed by someone else while we ran */
    hl_track_backend backend;
    uint64_t start_ns, stop_ns; /* CLOCK_MONOTONIC; stop_ns 0 while running */
} hl_track_status;

/* Fill *out. Also checks that our hook is still in place. */
int hl_track_get_status(hl_track_status *out);

typedef struct {
    PyObject *type;        /* borrowed (the tracker holds it) */
    uint64_t born, died;
    uint64_t alive;        /* found alive by a heap walk (see hl_track_stats) */
    uint64_t alive_bytes;  /* their flat sizes: getsizeof model, unrounded */
    uint64_t life_p50, life_p90, life_max; /* ns, over the objects that died;
                              p50/p90 from a log histogram (within 6%) */
} hl_track_type_stats;

/* Per-type figures. born and died come from the hooks; alive and
 * alive_bytes from a walk of the whole heap that looks up every object it
 * reaches among the records (while tracking, the walk runs now; after stop,
 * the one made at stop is used). A record is never dereferenced unless that
 * walk found its object, so a block that only reads like an object (a
 * payload) is never counted alive. *out is an array of *n rows allocated
 * by the core; release it with hl_track_free. Returns 0, HL_ENOMEM or what
 * hl_heap_walk returns (HL_EPYTHON when a __sizeof__ raised). May run
 * Python code (a __sizeof__ written in Python); needs the GIL. */
int hl_track_stats(hl_track_type_stats **out, size_t *n);

/* born and died per type only, from the hooks, without the heap walk
 * (alive, alive_bytes and the lifetimes are left 0): cheap enough to read
 * after every run of a leak check. Release *out with hl_track_free. Returns
 * 0 or HL_ENOMEM. Needs the GIL. */
int hl_track_counts(hl_track_type_stats **out, size_t *n);

typedef struct {
    uintptr_t address;     /* the object's address (id()) */
    PyObject *type;        /* borrowed (the tracker holds it) */
    uint64_t size;         /* the object's flat size (getsizeof model, not
                              rounded: what flatsize() gives) */
    uint64_t birth;        /* CLOCK_MONOTONIC ns */
    uint32_t site;         /* pass to hl_track_site */
} hl_track_record;

/* Records of tracked objects still alive (of `type` and its subclasses, or
 * all when NULL), oldest first: those the heap walk of hl_track_stats found.
 * Release *out with hl_track_free. Returns as hl_track_stats. */
int hl_track_survivors(hl_track_record **out, size_t *n, PyTypeObject *type);

/* The frames of a site, innermost first: (code, lasti in bytes) pairs,
 * codes borrowed (the tracker holds them). *n is 0 for an allocation made
 * with no Python frame. Release *codes and *lastis with hl_track_free. */
int hl_track_site(PyCodeObject ***codes, int **lastis, size_t *n, uint32_t site);

/* The record of `obj` if it was created while tracked and is alive (0), or
 * HL_EINVAL when there is none; HL_EPYTHON when sizing `obj` was interrupted
 * (KeyboardInterrupt, MemoryError: the exception is set). While tracking this proves the object
 * alive; after stop it only says what the records said at stop. */
int hl_track_lookup(hl_track_record *out, PyObject *obj);

/* The object of `type` at `address` if a record with that birth time is
 * still held, as a new reference in *out, else *out = NULL. Only while
 * tracking (HL_ESTATE otherwise): then a held record proves the object
 * alive, as long as the backend sees every death (see docs/lifetimes.md). */
int hl_track_object(PyObject **out, uintptr_t address, PyTypeObject *type, uint64_t birth);

void hl_track_free(void *p);

/* 3.13+: run `probe` (a callable) with a counting tracer installed and
 * report the CREATE and DESTROY events it saw, to find out whether this
 * interpreter delivers DESTROY (3.13.0-3.13.2 mostly do not). HL_ESTATE if
 * the tracer slot is taken or there is no PyRefTracer; HL_EPYTHON if
 * probe raised. */
int hl_track_probe_tracer(uint64_t *creates, uint64_t *destroys, PyObject *probe);

#ifdef __cplusplus
}
#endif
#endif /* HEAPLENS_H */
