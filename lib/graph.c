/*
 * graph.c - a reverse-edge index of the heap and referrer chains over it.
 *
 * One whole-heap walk records every reference as a (child, parent) pair;
 * sorting the pairs by child gives, for any object, its referrers (a binary
 * search) and its in-degree. A referrer chain is a breadth-first search
 * backwards from an object until it meets a root: a module, a class, a
 * frame, or an object whose refcount exceeds its references from the heap
 * (held from C, a running frame's locals on 3.11+, or an extension's
 * statics), which is how the cyclic GC tells what is reachable from outside.
 *
 * The walk sizes nothing (HL_WALK_NO_SIZES), so no Python code runs between
 * building the index and answering from it, and the addresses stay valid.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hash.h"
#include "heap.h"
#include "heaplens/heaplens.h"
#include "mem.h"
#include "ptrset.h"

typedef struct {
    uintptr_t child;
    uintptr_t parent;
} edge_t;

typedef struct {
    edge_t *items;
    size_t n, cap;
} edges_t;

/* References the graph has handed out (in chains and referrer lists): they
 * raise refcounts, and must not make an object look held from outside. */
typedef struct {
    PyObject *obj;
    Py_ssize_t n;
    UT_hash_handle hh;
} given_t;

struct hl_graph {
    given_t *given;
    edges_t edges;      /* sorted by child */
    edges_t own;        /* references from the excluded objects, sorted */
    hl_ptrset excluded; /* their addresses */
    PyObject **mod_dicts; /* borrowed: module dicts, parallel to mods */
    PyObject **mods;
    size_t nmods;
};

typedef struct {
    hl_graph *g;
    int err;
} build_ctx;

static int
edges_add(edges_t *e, uintptr_t child, uintptr_t parent)
{
    if (e->n == e->cap) {
        size_t ncap = e->cap ? e->cap * 2 : 1 << 16;
        edge_t *p = hl_mem__realloc(e->items, ncap * sizeof(edge_t));
        if (p == NULL)
            return hl_error__set(HL_ENOMEM, "out of memory for %zu heap references", ncap);
        e->items = p;
        e->cap = ncap;
    }
    e->items[e->n].child = child;
    e->items[e->n].parent = parent;
    e->n++;
    return 0;
}

static int
on_edge(PyObject *parent, PyObject *child, void *payload)
{
    build_ctx *b = payload;
    edges_t *e = hl_ptrset__contains(&b->g->excluded, parent) ? &b->g->own : &b->g->edges;
    int rc = edges_add(e, (uintptr_t)child, (uintptr_t)parent);
    if (rc < 0) {
        b->err = rc;
        return 1;
    }
    return 0;
}

static int
edge_cmp(const void *a, const void *b)
{
    const edge_t *x = a, *y = b;
    if (x->child != y->child)
        return x->child < y->child ? -1 : 1;
    return (x->parent > y->parent) - (x->parent < y->parent);
}

/* [lo, hi) of the edges whose child is `child`. */
static void
edge_range(const edges_t *e, uintptr_t child, size_t *lo, size_t *hi)
{
    size_t a = 0, b = e->n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (e->items[m].child < child)
            a = m + 1;
        else
            b = m;
    }
    *lo = a;
    b = e->n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (e->items[m].child <= child)
            a = m + 1;
        else
            b = m;
    }
    *hi = a;
}

void
hl_graph_free(hl_graph *g)
{
    if (g == NULL)
        return;
    given_t *e, *tmp;
    HASH_ITER(hh, g->given, e, tmp)
    {
        HASH_DEL(g->given, e);
        hl_mem__free(e);
    }
    hl_mem__free(g->edges.items);
    hl_mem__free(g->own.items);
    hl_ptrset__free(&g->excluded);
    hl_mem__free(g->mod_dicts);
    hl_mem__free(g->mods);
    hl_mem__free(g);
}

static int
find_modules(hl_graph *g)
{
    PyObject *modules = PyImport_GetModuleDict(); /* borrowed */
    Py_ssize_t pos = 0, cap = PyDict_Size(modules);
    PyObject *key, *mod;
    g->mods = hl_mem__calloc(cap ? cap : 1, sizeof(PyObject *));
    g->mod_dicts = hl_mem__calloc(cap ? cap : 1, sizeof(PyObject *));
    if (g->mods == NULL || g->mod_dicts == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for the module table");
    while (PyDict_Next(modules, &pos, &key, &mod) && (Py_ssize_t)g->nmods < cap) {
        if (!PyModule_Check(mod))
            continue;
        g->mods[g->nmods] = mod;
        g->mod_dicts[g->nmods] = PyModule_GetDict(mod);
        g->nmods++;
    }
    return 0;
}

int
hl_graph_build(hl_graph **out, PyObject *const *exclude, size_t nexclude)
{
    hl_heap__rootlist roots;
    int rc;
    *out = NULL;
    hl_error_clear();
    hl_graph *g = hl_mem__calloc(1, sizeof(*g));
    if (g == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for a heap graph");
    if ((rc = hl_ptrset__init(&g->excluded, nexclude)) < 0) {
        hl_graph_free(g);
        return rc;
    }
    for (size_t i = 0; i < nexclude; i++) {
        if ((rc = hl_ptrset__add(&g->excluded, exclude[i])) < 0) {
            hl_graph_free(g);
            return rc;
        }
    }
    if ((rc = hl_heap__roots(&roots)) < 0) {
        hl_graph_free(g);
        return rc;
    }
    build_ctx b = {g, 0};
    hl_walk_options opts = HL_WALK_OPTIONS_INIT;
    opts.flags = HL_WALK_ALL | HL_WALK_NO_SIZES | HL_WALK_UNATTRIBUTED;
    opts.on_edge = on_edge;
    opts.payload = &b;
    opts.expected = roots.n * 4;
    rc = hl_walk_sizes(NULL, NULL, roots.items, roots.n, &opts);
    if (b.err < 0)
        rc = b.err;
    if (rc < 0 || (rc = find_modules(g)) < 0)
        goto fail;
    if (g->edges.n > 1)
        qsort(g->edges.items, g->edges.n, sizeof(edge_t), edge_cmp);
    if (g->own.n > 1)
        qsort(g->own.items, g->own.n, sizeof(edge_t), edge_cmp);
    /* Give back the references to the roots: refcounts are then what they
     * were, which external_refs relies on. None of these objects can die
     * here (each was alive before we took our reference), and no Python
     * code runs until the caller is done with the graph. */
    for (size_t i = 0; i < roots.n; i++)
        Py_DECREF(roots.items[i]);
    hl_mem__free(roots.items);
    *out = g;
    return 0;
fail:
    hl_heap__roots_free(&roots);
    hl_graph_free(g);
    return rc;
}

Py_ssize_t
hl_graph_external_refs(const hl_graph *g, PyObject *obj)
{
    size_t lo, hi, olo, ohi;
    edge_range(&g->edges, (uintptr_t)obj, &lo, &hi);
    edge_range(&g->own, (uintptr_t)obj, &olo, &ohi);
    Py_ssize_t ext = Py_REFCNT(obj) - (Py_ssize_t)(hi - lo) - (Py_ssize_t)(ohi - olo);
    given_t *e = NULL;
    HASH_FIND_PTR(g->given, &obj, e);
    if (e != NULL)
        ext -= e->n;
    return ext > 0 ? ext : 0;
}

static int
give(const hl_graph *cg, PyObject *o)
{
    hl_graph *g = (hl_graph *)cg; /* the record of given references is ours */
    given_t *e = NULL;
    HASH_FIND_PTR(g->given, &o, e);
    if (e == NULL) {
        e = hl_mem__calloc(1, sizeof(*e));
        if (e == NULL)
            return hl_error__set(HL_ENOMEM, "out of memory for a referrer list");
        e->obj = o;
        hl_hash__oom = 0;
        HASH_ADD_PTR(g->given, obj, e);
        if (hl_hash__oom) {
            hl_mem__free(e);
            return hl_error__set(HL_ENOMEM, "out of memory for a referrer list");
        }
    }
    e->n++;
    return 0;
}

static int
push_ref(const hl_graph *g, PyObject ***arr, size_t *n, size_t *cap, PyObject *o)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        PyObject **p = hl_mem__realloc(*arr, ncap * sizeof(PyObject *));
        if (p == NULL)
            return hl_error__set(HL_ENOMEM, "out of memory for a referrer list");
        *arr = p;
        *cap = ncap;
    }
    int rc = give(g, o);
    if (rc < 0)
        return rc;
    Py_INCREF(o);
    (*arr)[(*n)++] = o;
    return 0;
}

void
hl_graph_free_array(PyObject **arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        Py_DECREF(arr[i]);
    hl_mem__free(arr);
}

int
hl_graph_referrers(PyObject ***out, size_t *n, const hl_graph *g, PyObject *obj)
{
    size_t lo, hi, cap = 0;
    *out = NULL;
    *n = 0;
    edge_range(&g->edges, (uintptr_t)obj, &lo, &hi);
    for (size_t i = lo; i < hi; i++) {
        if (i > lo && g->edges.items[i].parent == g->edges.items[i - 1].parent)
            continue; /* the same referrer twice (a list holding it twice) */
        int rc = push_ref(g, out, n, &cap, (PyObject *)g->edges.items[i].parent);
        if (rc < 0) {
            hl_graph_free_array(*out, *n);
            *out = NULL;
            *n = 0;
            return rc;
        }
    }
    return 0;
}

static PyObject *
module_of_dict(const hl_graph *g, PyObject *o)
{
    for (size_t i = 0; i < g->nmods; i++)
        if (g->mod_dicts[i] == o)
            return g->mods[i];
    return NULL;
}

hl_root_kind
hl_graph_root_kind(const hl_graph *g, PyObject *o, PyObject **head)
{
    *head = o;
    if (PyModule_Check(o))
        return HL_ROOT_MODULE;
    if (PyDict_CheckExact(o) && (*head = module_of_dict(g, o)) != NULL)
        return HL_ROOT_MODULE;
    *head = o;
    if (PyType_Check(o))
        return HL_ROOT_CLASS;
    if (PyFrame_Check(o))
        return HL_ROOT_FRAME;
    if (hl_graph_external_refs(g, o) > 0)
        return HL_ROOT_EXTERNAL;
    return HL_ROOT_NONE;
}

typedef struct {
    uintptr_t obj;
    size_t prev; /* index in the queue of the node it was reached from */
    uint32_t hops;
} bfs_node;

int
hl_graph_chain(PyObject ***out, size_t *n, hl_root_kind *kind, const hl_graph *g,
               PyObject *target, size_t max_hops)
{
    bfs_node *q = NULL;
    size_t qn = 0, qcap = 0, head = 0, cap = 0;
    hl_ptrset seen;
    int rc;
    *out = NULL;
    *n = 0;
    *kind = HL_ROOT_NONE;
    if ((rc = hl_ptrset__init(&seen, 0)) < 0)
        return rc;
#define QPUSH(o, p, h)                                                                \
    do {                                                                              \
        if (qn == qcap) {                                                             \
            size_t nc = qcap ? qcap * 2 : 256;                                        \
            bfs_node *np = hl_mem__realloc(q, nc * sizeof(bfs_node));                 \
            if (np == NULL) {                                                         \
                rc = hl_error__set(HL_ENOMEM, "out of memory for a referrer search"); \
                goto done;                                                            \
            }                                                                         \
            q = np;                                                                   \
            qcap = nc;                                                                \
        }                                                                             \
        q[qn].obj = (uintptr_t)(o);                                                   \
        q[qn].prev = (p);                                                             \
        q[qn].hops = (h);                                                             \
        qn++;                                                                         \
    } while (0)

    QPUSH(target, (size_t)-1, 0);
    if ((rc = hl_ptrset__add(&seen, target)) < 0)
        goto done;
    /* A module or class makes the most telling chain; the nearest frame,
     * then the nearest object held from outside, are remembered and used
     * only when no such root is within reach. Their referrers are still
     * searched. */
    size_t found = (size_t)-1, external = (size_t)-1, frame = (size_t)-1;
    PyObject *root_head = NULL;
    while (head < qn) {
        bfs_node cur = q[head];
        PyObject *o = (PyObject *)cur.obj;
        PyObject *h;
        hl_root_kind k = hl_graph_root_kind(g, o, &h);
        /* The target is not its own root: a chain "<type>" for a leaked
         * class (toolz's suite leaks one into a registry keyed by class on
         * 3.11.7) or "<module>" for a module says nothing of what holds it.
         * Its holders are searched like anyone's. Held from outside stays:
         * it is an answer when nothing in the heap holds it. */
        if (head == 0 && k != HL_ROOT_EXTERNAL)
            k = HL_ROOT_NONE;
        if (k == HL_ROOT_EXTERNAL && external == (size_t)-1)
            external = head;
        /* A frame holds things for the time of a call; a module or class
         * for the life of the program: prefer those, as with outsiders. */
        if (k == HL_ROOT_FRAME && frame == (size_t)-1)
            frame = head;
        if (k == HL_ROOT_MODULE || k == HL_ROOT_CLASS) {
            found = head;
            *kind = k;
            root_head = h;
            break;
        }
        if (cur.hops < max_hops) {
            size_t lo, hi;
            edge_range(&g->edges, cur.obj, &lo, &hi);
            for (size_t i = lo; i < hi; i++) {
                uintptr_t p = g->edges.items[i].parent;
                rc = hl_ptrset__add(&seen, (void *)p);
                if (rc < 0)
                    goto done;
                if (rc == 1)
                    QPUSH(p, head, cur.hops + 1);
            }
        }
        head++;
    }
    rc = 0;
    if (found == (size_t)-1 && frame != (size_t)-1) {
        found = frame;
        *kind = HL_ROOT_FRAME;
        root_head = (PyObject *)q[found].obj;
    }
    if (found == (size_t)-1 && external != (size_t)-1) {
        found = external;
        *kind = HL_ROOT_EXTERNAL;
        root_head = (PyObject *)q[found].obj;
    }
    if (found == (size_t)-1) {
        rc = push_ref(g, out, n, &cap, target);
        goto done;
    }
    /* Walk back from the root to the target: the queue links point toward
     * the target. */
    if (root_head != (PyObject *)q[found].obj && (rc = push_ref(g, out, n, &cap, root_head)) < 0)
        goto done;
    for (size_t i = found; i != (size_t)-1; i = q[i].prev) {
        if ((rc = push_ref(g, out, n, &cap, (PyObject *)q[i].obj)) < 0)
            goto done;
    }
done:
#undef QPUSH
    if (rc < 0) {
        hl_graph_free_array(*out, *n);
        *out = NULL;
        *n = 0;
    }
    hl_mem__free(q);
    hl_ptrset__free(&seen);
    return rc;
}
