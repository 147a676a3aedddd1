/*
 * heaplens/visited.h - a visited set that outlives one walk, for callers
 * that size several groups of objects and want each object counted once
 * over all of them (pympler's Asizer). Needs the GIL.
 */
#ifndef HEAPLENS_VISITED_H
#define HEAPLENS_VISITED_H
#include "common.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* It keeps a strong reference to every object it holds, so an address it
 * knows cannot be reused by a new object. */
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

/* For a GC-aware owner of an hl_visited: visit the references it holds
 * (tp_traverse), or drop them all (tp_clear). */
int hl_visited_traverse(hl_visited *v, visitproc visit, void *arg);
void hl_visited_clear(hl_visited *v);

#ifdef __cplusplus
}
#endif
#endif /* HEAPLENS_VISITED_H */
