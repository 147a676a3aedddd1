/*
 * visited.c - hl_visited, a visited set shared by several walks (pympler's
 * Asizer), and the keep lists that hold a reference to everything a walk
 * has marked once Python code may have run (see walk.c).
 */
#include "error.h"
#include "mem.h"
#include "visited.h"

int
hl_visited__keep_grow(hl_visited__keeplist *k)
{
    size_t ncap = k->cap ? k->cap * 2 : 256;
    void *p = hl_mem__realloc(k->items, ncap * sizeof(PyObject *));
    if (p == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory growing the keep list to %zu entries",
                             ncap);
    k->items = p;
    k->cap = ncap;
    return 0;
}

void
hl_visited__keep_clear(hl_visited__keeplist *k)
{
    /* Releasing may run finalizers, which may run a walk: detach first. */
    PyObject **items = k->items;
    size_t n = k->n;
    k->items = NULL;
    k->n = k->cap = 0;
    for (size_t i = 0; i < n; i++)
        Py_DECREF(items[i]);
    hl_mem__free(items);
}

int
hl_visited_new(hl_visited **out)
{
    hl_visited *v = hl_mem__calloc(1, sizeof(*v));
    *out = NULL;
    if (v == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory for a visited set");
    int rc;
    if ((rc = hl_ptrset__init(&v->seen, 0)) < 0 || (rc = hl_ptrset__init(&v->skip_refs, 0)) < 0 ||
        (rc = hl_ptrset__init(&v->exclude, 0)) < 0) {
        hl_visited_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int
hl_visited_mark(hl_visited *v, PyObject *obj, hl_mark how)
{
    int rc;
    if (v == NULL || obj == NULL)
        return hl_error__set(HL_EINVAL, "hl_visited_mark: NULL argument");
    if (how == HL_MARK_SKIP_REF && (rc = hl_ptrset__add(&v->skip_refs, obj)) < 0)
        return rc;
    if (how == HL_MARK_EXCLUDE && (rc = hl_ptrset__add(&v->exclude, obj)) < 0)
        return rc;
    if (how != HL_MARK_SEEN && how != HL_MARK_SKIP_REF && how != HL_MARK_EXCLUDE)
        return hl_error__set(HL_EINVAL, "hl_visited_mark: unknown mark %d", (int)how);
    rc = hl_ptrset__add(&v->seen, obj);
    if (rc == 1)
        rc = hl_visited__keep_append(&v->keep, Py_NewRef(obj));
    return rc < 0 ? rc : 0;
}

int
hl_visited_traverse(hl_visited *v, visitproc visit, void *arg)
{
    for (size_t i = 0; v != NULL && i < v->keep.n; i++)
        Py_VISIT(v->keep.items[i]);
    return 0;
}

static void
visited_release(hl_visited *v)
{
    hl_ptrset__free(&v->seen);
    hl_ptrset__free(&v->skip_refs);
    hl_ptrset__free(&v->exclude);
    hl_visited__keep_clear(&v->keep);
}

void
hl_visited_clear(hl_visited *v)
{
    /* Forget the addresses with the references: a freed object's address
     * may be reused. The emptied sets allocate again when next used. */
    if (v != NULL)
        visited_release(v);
}

size_t
hl_visited_count(const hl_visited *v)
{
    return v ? v->seen.count : 0;
}

void
hl_visited_free(hl_visited *v)
{
    if (v == NULL)
        return;
    visited_release(v);
    hl_mem__free(v);
}
