/*
 * visited.h - internals of hl_visited shared by visited.c and walk.c.
 */
#ifndef HL_VISITED_H
#define HL_VISITED_H
#include "compat.h"
#include "heaplens/visited.h"
#include "ptrset.h"

typedef struct {
    PyObject **items; /* strong references */
    size_t n, cap;
} hl_visited__keeplist;

struct hl_visited {
    hl_ptrset seen;       /* counted or marked */
    hl_ptrset skip_refs;  /* HL_MARK_SKIP_REF */
    hl_ptrset exclude;    /* HL_MARK_EXCLUDE */
    hl_visited__keeplist keep; /* a reference to everything in `seen` */
};

/* Grow k by doubling. Returns 0 or HL_ENOMEM. */
int hl_visited__keep_grow(hl_visited__keeplist *k);

/* Release every reference in k and its array. */
void hl_visited__keep_clear(hl_visited__keeplist *k);

/* Append a reference we own to a keep list; on failure it is released.
 * Inline: the walk calls it for every object once Python code has run. */
static inline int
hl_visited__keep_append(hl_visited__keeplist *k, PyObject *o)
{
    if (k->n == k->cap) {
        int rc = hl_visited__keep_grow(k);
        if (rc < 0) {
            Py_DECREF(o);
            return rc;
        }
    }
    k->items[k->n++] = o;
    return 0;
}
#endif
