/*
 * heaplens/graph.h - a reverse-edge index of the heap: who refers to an
 * object, the shortest chain from a root down to it, what counts as a root,
 * and the neighbourhood of referrers around it. Needs the GIL; nothing here
 * runs Python code once the index is built.
 */
#ifndef HEAPLENS_GRAPH_H
#define HEAPLENS_GRAPH_H
#include "common.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

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
 * its __dict__); *kind says what the root is. `target` is never its own
 * root unless it is held from outside the heap: a class or module target
 * gets the chain of what holds it. When no root is found within
 * max_hops, the chain is just [target] and *kind is HL_ROOT_NONE. Returns 0
 * or HL_ENOMEM. */
int hl_graph_chain(PyObject ***out, size_t *n, hl_root_kind *kind, const hl_graph *g,
                   PyObject *target, size_t max_hops);

/* How many references to `obj` come from outside the heap (0 if none).
 * References the graph itself handed out (in chains and referrer arrays
 * not yet released) are not counted as outside. */
Py_ssize_t hl_graph_external_refs(const hl_graph *g, PyObject *obj);

/* Release an array from hl_graph_referrers or hl_graph_chain: the first
 * `n` entries are released (pass 0 after taking them over), then the
 * array. NULL is accepted. */
void hl_graph_free_array(PyObject **arr, size_t n);

/* Release the index. NULL is accepted. */
void hl_graph_free(hl_graph *g);

/* What kind of root `obj` is, as hl_graph_chain decides: a module (or the
 * __dict__ of a module the index knows, *head then being the module), a
 * class, a frame, an object held from outside the heap
 * (hl_graph_external_refs > 0), or HL_ROOT_NONE. *head (borrowed) is the
 * object that stands for the root at the head of a chain: `obj` itself
 * except for a module's dict. A heap-dump writer marks its GC roots with
 * this. Never runs Python code; cannot fail. */
hl_root_kind hl_graph_root_kind(const hl_graph *g, PyObject *obj, PyObject **head);

/* ---- the neighbourhood of an object: who holds it, a few hops back ----- */

typedef struct {
    unsigned int version; /* HL_GRAPH_NEIGHBOURHOOD_OPTIONS_VERSION */
    size_t depth;         /* hops followed back from the object (default 4) */
    size_t max_nodes;     /* nodes kept, the object included (default 60,
                             >= 1); edges to nodes past it are dropped */
    size_t too_many;      /* 0: follow every referrer; else at most this
                             many per node, the others counted in dropped[]
                             (objgraph's too_many) */
    int group_functions;  /* nonzero: the functions whose __globals__ a node
                             is are counted in grouped[], not followed */
} hl_graph_neighbourhood_options;

#define HL_GRAPH_NEIGHBOURHOOD_OPTIONS_VERSION 1
#define HL_GRAPH_NEIGHBOURHOOD_OPTIONS_INIT \
    { .version = HL_GRAPH_NEIGHBOURHOOD_OPTIONS_VERSION, .depth = 4, .max_nodes = 60 }

/* Fill *opts with the defaults above for the structure of `version`.
 * Returns 0 or HL_EINVAL. Safe without the GIL. */
int hl_graph_neighbourhood_options_init(hl_graph_neighbourhood_options *opts,
                                        unsigned int version);

/* The result of hl_graph_neighbourhood_find. Arrays are allocated by the
 * core; release everything with hl_graph_neighbourhood_free. */
typedef struct {
    PyObject **nodes;  /* new references, in breadth-first order: nodes[0]
                          is the object asked about */
    size_t nnodes;
    size_t *parents;   /* nedges node indices: nodes[parents[i]] refers to */
    size_t *children;  /*   nodes[children[i]] */
    size_t nedges;
    size_t *dropped;   /* nnodes counts: referrers left out by too_many */
    size_t *grouped;   /* nnodes counts: functions whose __globals__ it is */
} hl_graph_neighbourhood;

/* The referrers of `obj`, theirs, and so on: a breadth-first search
 * backwards over the index, at most opts->depth hops and opts->max_nodes
 * nodes (the graph behind heaplens.graph()). Objects the index was built
 * to exclude never appear. opts may be NULL for the defaults. Never runs
 * Python code. Returns 0, HL_EINVAL (bad options) or HL_ENOMEM; on error
 * *out is empty. */
int hl_graph_neighbourhood_find(hl_graph_neighbourhood *out, const hl_graph *g, PyObject *obj,
                                const hl_graph_neighbourhood_options *opts);

/* Release the nodes' references and the arrays. NULL is accepted. Releasing
 * may run finalizers: call it after the index is freed. */
void hl_graph_neighbourhood_free(hl_graph_neighbourhood *nb);


#ifdef __cplusplus
}
#endif
#endif /* HEAPLENS_GRAPH_H */
