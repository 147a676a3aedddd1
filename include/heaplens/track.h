/*
 * heaplens/track.h - the lifetime tracker (lib/lifetimes*.c): records of the
 * objects created while it runs, folded into per-type figures when they
 * die. Not built in generic mode (heaplens.capabilities()).
 */
#ifndef HEAPLENS_TRACK_H
#define HEAPLENS_TRACK_H
#include "common.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif


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
#define HL_TRACK_OPTIONS_INIT \
    { .version = HL_TRACK_OPTIONS_VERSION, .backend = HL_BACKEND_ALLOCATOR, .frames = 1 }

/* Fill *opts with the defaults of HL_TRACK_OPTIONS_INIT for the structure
 * of `version`. Returns 0 or HL_EINVAL. Safe without the GIL. */
int hl_track_options_init(hl_track_options *opts, unsigned int version);

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
 * point: classes made since the last one are verified (see lib/lifetimes_types.c,
 * THE INVARIANT), which runs C code of the interpreter. The binding feeds
 * this from gc.callbacks while the allocator backend tracks. */
void hl_track_gc_phase(int collecting);

/* Enter (enter != 0) or leave a quiet region of the calling thread, which
 * must hold the GIL: while it is quiet, its births are not recorded (its
 * frees still are), so heaplens' own results do not show in what it
 * reports. Regions nest, and outlive a tracker's stop and start. Entering
 * returns 1, or 0 when 8 other threads are quiet at once (not entered: the
 * thread's births are recorded as before). Leaving returns 1, or 0 when the
 * thread is not quiet (nothing to leave): so a caller may leave after every
 * enter, whether it was entered or not, as regions are left in the order
 * opposite to their entering. In a fork child, only the forking thread's
 * regions are left (a handler registered with pthread_atfork). */
int hl_track_quiet(int enter);

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
#endif /* HEAPLENS_TRACK_H */
