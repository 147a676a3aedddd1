/*
 * heaplens/walk.h - the walk: deep sizes of objects through tp_traverse,
 * and walks of the whole heap. Needs the GIL; not callable from inside an
 * allocator hook.
 */
#ifndef HEAPLENS_WALK_H
#define HEAPLENS_WALK_H
#include "common.h"
#include "errors.h"
#include "sizes.h"
#include "visited.h"
#include "addrset.h"

#ifdef __cplusplus
extern "C" {
#endif

struct hl_census; /* heaplens/census.h */

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

/* The defaults: getsizeof model, align 8, no depth limit, no flags, no
 * callbacks. A designated initialiser, so adding a field keeps it right. */
#define HL_WALK_OPTIONS_INIT                                                         \
    {                                                                                \
        .version = HL_WALK_OPTIONS_VERSION, .model = HL_MODEL_GETSIZEOF, .align = 8, \
        .limit = -1,                                                                 \
    }

/* Fill *opts with the defaults of HL_WALK_OPTIONS_INIT for the structure
 * of `version` (HL_WALK_OPTIONS_VERSION when compiling against this
 * header). Returns 0, or HL_EINVAL (opts NULL or a version this core does
 * not know). Safe without the GIL. */
int hl_walk_options_init(hl_walk_options *opts, unsigned int version);

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
 * hl_walk_sizes returns; stats->peak_bytes includes the roots array.
 * (Defined in lib/heap.c.) */
int hl_heap_walk(hl_walk_stats *stats, const hl_walk_options *opts, PyObject *const *exclude,
                 size_t nexclude);

/* The referents a walk with `opts` would follow from `obj`, in walk order.
 * out: a new reference to a list. Returns 0, HL_ENOMEM or HL_EPYTHON. */
int hl_walk_referents(PyObject **out, PyObject *obj, const hl_walk_options *opts);

#ifdef __cplusplus
}
#endif
#endif /* HEAPLENS_WALK_H */
