/*
 * heap.c - whole-heap walks: a census of every live object, and the objects
 * that are new since an earlier census.
 *
 * Roots are the gc-tracked objects (PyUnstable_GC_VisitObjects on 3.12+,
 * gc.get_objects() before); the walk then reaches the untracked objects they
 * hold (ints, strs, floats, bytes, untracked tuples and dicts), which
 * gc.get_objects() alone misses. Roots are first copied into an array with a
 * strong reference each: the walk may run Python code (a __sizeof__), which
 * must not be able to free a root or change the gc lists under our feet.
 * The array is C memory, so the census does not count its own bookkeeping.
 */
#include <string.h>

#include "compat.h"
#include "error.h"
#include "heaplens/heaplens.h"
#include "mem.h"

#include "heap.h"

static int
collect_root(PyObject *obj, void *arg)
{
    hl_heap__rootlist *r = arg;
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 65536;
        PyObject **p = hl_mem__realloc(r->items, ncap * sizeof(PyObject *));
        if (p == NULL) {
            r->err = hl_error__set(HL_ENOMEM, "out of memory for %zu heap roots", ncap);
            return 0; /* stop visiting */
        }
        r->items = p;
        r->cap = ncap;
    }
    Py_INCREF(obj);
    r->items[r->n++] = obj;
    return 1;
}

int
hl_heap__roots(hl_heap__rootlist *r)
{
    memset(r, 0, sizeof(*r));
    if (hl_compat__gc_visit_objects(collect_root, r) < 0) {
        hl_heap__roots_free(r);
        return HL_EPYTHON;
    }
    if (r->err < 0) {
        int rc = r->err;
        hl_heap__roots_free(r);
        return rc;
    }
    return 0;
}

void
hl_heap__roots_free(hl_heap__rootlist *r)
{
    /* Releasing may run finalizers; do it with nothing of ours exposed. */
    PyObject **items = r->items;
    size_t n = r->n;
    r->items = NULL;
    r->n = r->cap = 0;
    for (size_t i = 0; i < n; i++)
        Py_DECREF(items[i]);
    hl_mem__free(items);
}

static int
walk_roots(hl_walk_stats *stats, hl_heap__rootlist *roots, hl_walk_options *o)
{
    /* Each gc object holds a few untracked ones (ints, strs...) on average. */
    if (o->expected == 0)
        o->expected = roots->n * 4;
    int rc = hl_walk_sizes(NULL, stats, roots->items, roots->n, o); /* consumes o->seed */
    if (stats != NULL)
        stats->peak_bytes += roots->cap * sizeof(PyObject *);
    return rc;
}

int
hl_heap_walk(hl_walk_stats *stats, const hl_walk_options *opts, PyObject *const *exclude,
             size_t nexclude)
{
    hl_heap__rootlist roots;
    hl_walk_options o;
    int rc;
    hl_error_clear();
    if (opts == NULL || opts->visited != NULL || opts->seed != NULL)
        return hl_error__set(HL_EINVAL, "hl_heap_walk needs options, no shared set, no seed");
    o = *opts;
    hl_addrset *held = NULL;
    if (nexclude > 0) {
        /* Left out: the excluded objects and what only they hold. The heap
         * walk starts with the excluded objects seen (a walk of depth 0
         * marks them), and skips as roots the gc objects they hold (a walk
         * of everything they reach, counting nothing); what they hold is
         * then counted only when another object reaches it. Marking all
         * they reach as seen, as before, left out what they share with the
         * rest of the heap: a snapshot excluding an earlier one lost None,
         * its class, cached small ints and interned strs. */
        hl_walk_options ex = HL_WALK_OPTIONS_INIT;
        ex.flags = HL_WALK_NO_WEAKREFS | HL_WALK_UNATTRIBUTED;
        ex.seen_out = &held;
        if ((rc = hl_walk_sizes(NULL, NULL, exclude, nexclude, &ex)) < 0)
            return rc;
        ex.seen_out = &o.seed;
        ex.limit = 0;
        if ((rc = hl_walk_sizes(NULL, NULL, exclude, nexclude, &ex)) < 0) {
            hl_addrset_free(held);
            return rc;
        }
    }
    if ((rc = hl_heap__roots(&roots)) < 0) {
        hl_addrset_free(o.seed);
        hl_addrset_free(held);
        return rc;
    }
    if (held != NULL) {
        /* The skipped roots stay in the list (released with it) but after
         * its `n`: moved to the end, the walk sees only the others. */
        size_t keep = 0;
        for (size_t i = 0; i < roots.n; i++) {
            if (!hl_addrset_contains(held, roots.items[i])) {
                PyObject *t = roots.items[keep];
                roots.items[keep++] = roots.items[i];
                roots.items[i] = t;
            }
        }
        hl_addrset_free(held);
        held = NULL;
        size_t all = roots.n;
        roots.n = keep;
        rc = walk_roots(stats, &roots, &o);
        roots.n = all;
    } else {
        rc = walk_roots(stats, &roots, &o);
    }
    {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        hl_heap__roots_free(&roots);
        if (et != NULL)
            PyErr_Restore(et, ev, tb);
    }
    return rc;
}
