/* dominators.c - private glue over lib/dominators.c, for tests and the
 * benchmark (the dump's HeapDump calls the core directly):
 *
 *   _dominators(n, edges, roots) -> list: idom of each node, None when only
 *       the virtual root dominates it, -1 when no root reaches it;
 *   _retained(idoms, sizes) -> list of retained sizes (idoms as above);
 *   _path_to_root(n, edges, roots, target) -> list of nodes, [] if none;
 *   _dominators_buffers(idom, first, to, roots) and
 *   _retained_buffers(retained, idom, sizes): the same on contiguous
 *       buffers (array.array 'I'/'Q' or numpy) without Python objects per
 *       node, for bench/dominators.py.
 *
 * `edges` is an iterable of (source, target) pairs of ints. */
#include "dominators.h"

#include "errors.h"
#include "heaplens/dominators.h"

/* A uint32 from a Python int, with `what` in the error. */
static int
as_u32(uint32_t *out, PyObject *o, const char *what)
{
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < 0 || v > (long long)UINT32_MAX) {
        PyErr_Format(PyExc_ValueError, "%s %lld does not fit a node number", what, v);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* roots: a new array (PyMem) of *count entries; values are checked by the
 * core. Returns 0 or -1 with an exception. */
static int
roots_array(uint32_t **out, size_t *count, PyObject *roots)
{
    PyObject *seq = PySequence_Fast(roots, "roots must be an iterable of ints");
    if (seq == NULL)
        return -1;
    Py_ssize_t k = PySequence_Fast_GET_SIZE(seq);
    uint32_t *r = PyMem_Malloc((size_t)(k ? k : 1) * sizeof(uint32_t));
    if (r == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        if (as_u32(&r[i], PySequence_Fast_GET_ITEM(seq, i), "root") < 0) {
            PyMem_Free(r);
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    *out = r;
    *count = (size_t)k;
    return 0;
}

typedef struct {
    hl_digraph g;
    uint64_t *first;
    uint32_t *to;
} csr;

static void
csr_clear(csr *c)
{
    PyMem_Free(c->first);
    PyMem_Free(c->to);
    c->first = NULL;
    c->to = NULL;
}

/* The CSR of `edges` over n nodes (a counting sort by source; each source's
 * targets keep their order in `edges`). Targets are checked by the core. */
static int
csr_from_pairs(csr *c, Py_ssize_t n, PyObject *edges)
{
    c->first = NULL;
    c->to = NULL;
    if (n < 0 || (unsigned long long)n > HL_DOM_MAX_NODES) {
        PyErr_Format(PyExc_ValueError, "n = %zd is not a valid node count", n);
        return -1;
    }
    PyObject *seq = PySequence_Fast(edges, "edges must be an iterable of (source, target) pairs");
    if (seq == NULL)
        return -1;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(seq);
    uint32_t *src = PyMem_Malloc((size_t)(m ? m : 1) * sizeof(uint32_t));
    c->to = PyMem_Malloc((size_t)(m ? m : 1) * sizeof(uint32_t));
    uint32_t *dst = PyMem_Malloc((size_t)(m ? m : 1) * sizeof(uint32_t));
    c->first = PyMem_Calloc((size_t)n + 2, sizeof(uint64_t));
    if (src == NULL || dst == NULL || c->to == NULL || c->first == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t e = 0; e < m; e++) {
        PyObject *pair = PySequence_Fast(PySequence_Fast_GET_ITEM(seq, e),
                                         "each edge must be a (source, target) pair");
        if (pair == NULL)
            goto fail;
        int bad = PySequence_Fast_GET_SIZE(pair) != 2;
        if (bad)
            PyErr_SetString(PyExc_ValueError, "each edge must be a (source, target) pair");
        else
            bad = as_u32(&src[e], PySequence_Fast_GET_ITEM(pair, 0), "edge source") < 0 ||
                  as_u32(&dst[e], PySequence_Fast_GET_ITEM(pair, 1), "edge target") < 0;
        Py_DECREF(pair);
        if (bad)
            goto fail;
        if (src[e] >= (uint64_t)n) {
            PyErr_Format(PyExc_ValueError, "edge %zd: source %u is out of range (n = %zd)", e,
                         (unsigned)src[e], n);
            goto fail;
        }
        c->first[src[e] + 2]++;
    }
    /* first[v + 2] counted; prefix sums shifted by one give each source's
     * write position in first[v + 1], which ends as its end offset. */
    for (Py_ssize_t v = 0; v < n; v++)
        c->first[v + 2] += c->first[v + 1];
    for (Py_ssize_t e = 0; e < m; e++)
        c->to[c->first[src[e] + 1]++] = dst[e];
    PyMem_Free(src);
    PyMem_Free(dst);
    Py_DECREF(seq);
    c->g.n = (uint32_t)n;
    c->g.first = c->first;
    c->g.to = c->to;
    return 0;
fail:
    PyMem_Free(src);
    PyMem_Free(dst);
    Py_DECREF(seq);
    csr_clear(c);
    return -1;
}

static PyObject *
node_or_marker(uint32_t d)
{
    if (d == HL_DOM_ROOT)
        Py_RETURN_NONE;
    if (d == HL_DOM_UNREACHABLE)
        return PyLong_FromLong(-1);
    return PyLong_FromUnsignedLong(d);
}

static PyObject *
idom_item(const void *values, Py_ssize_t i)
{
    return node_or_marker(((const uint32_t *)values)[i]);
}

static PyObject *
u32_item(const void *values, Py_ssize_t i)
{
    return PyLong_FromUnsignedLong(((const uint32_t *)values)[i]);
}

static PyObject *
u64_item(const void *values, Py_ssize_t i)
{
    return PyLong_FromUnsignedLongLong(((const uint64_t *)values)[i]);
}

/* The result of a core call as a new list of item(values, i) for i < n, or
 * NULL with an exception (the core's when rc < 0). */
static PyObject *
result_list(int rc, const void *values, Py_ssize_t n,
            PyObject *(*item)(const void *values, Py_ssize_t i))
{
    if (rc < 0)
        return hl_py_raise(rc);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = item(values, i);
        if (v == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, v);
    }
    return out;
}

static PyObject *
py_dominators(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t n;
    PyObject *edges, *roots_obj;
    if (!PyArg_ParseTuple(args, "nOO:_dominators", &n, &edges, &roots_obj))
        return NULL;
    csr c;
    if (csr_from_pairs(&c, n, edges) < 0)
        return NULL;
    uint32_t *roots = NULL, *idom = NULL;
    size_t nroots;
    PyObject *out = NULL;
    if (roots_array(&roots, &nroots, roots_obj) < 0)
        goto done;
    idom = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
    if (idom == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    out = result_list(hl_dominators(idom, &c.g, roots, nroots), idom, n, idom_item);
done:
    PyMem_Free(idom);
    PyMem_Free(roots);
    csr_clear(&c);
    return out;
}

static PyObject *
py_retained(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *idom_obj, *size_obj, *out = NULL;
    if (!PyArg_ParseTuple(args, "OO:_retained", &idom_obj, &size_obj))
        return NULL;
    PyObject *ids = PySequence_Fast(idom_obj, "idoms must be a sequence");
    if (ids == NULL)
        return NULL;
    PyObject *sizes = PySequence_Fast(size_obj, "sizes must be a sequence");
    if (sizes == NULL) {
        Py_DECREF(ids);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(ids);
    uint32_t *idom = NULL;
    uint64_t *size = NULL, *ret = NULL;
    if (PySequence_Fast_GET_SIZE(sizes) != n) {
        PyErr_Format(PyExc_ValueError, "%zd idoms but %zd sizes", n,
                     PySequence_Fast_GET_SIZE(sizes));
        goto done;
    }
    if ((unsigned long long)n > HL_DOM_MAX_NODES) {
        PyErr_Format(PyExc_ValueError, "%zd nodes is too many", n);
        goto done;
    }
    idom = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
    size = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(uint64_t));
    ret = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(uint64_t));
    if (idom == NULL || size == NULL || ret == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t v = 0; v < n; v++) {
        PyObject *d = PySequence_Fast_GET_ITEM(ids, v);
        if (d == Py_None) {
            idom[v] = HL_DOM_ROOT;
        } else {
            long long x = PyLong_AsLongLong(d);
            if (x == -1 && PyErr_Occurred())
                goto done;
            if (x == -1)
                idom[v] = HL_DOM_UNREACHABLE;
            else if (as_u32(&idom[v], d, "idom") < 0)
                goto done;
        }
        size[v] = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(sizes, v));
        if (size[v] == (unsigned long long)-1 && PyErr_Occurred())
            goto done;
    }
    out = result_list(hl_dominators_retained(ret, idom, size, (uint32_t)n), ret, n, u64_item);
done:
    PyMem_Free(idom);
    PyMem_Free(size);
    PyMem_Free(ret);
    Py_DECREF(ids);
    Py_DECREF(sizes);
    return out;
}

static PyObject *
py_path_to_root(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t n;
    PyObject *edges, *roots_obj, *target_obj, *out = NULL;
    if (!PyArg_ParseTuple(args, "nOOO:_path_to_root", &n, &edges, &roots_obj, &target_obj))
        return NULL;
    uint32_t target;
    if (as_u32(&target, target_obj, "target") < 0)
        return NULL;
    csr c;
    if (csr_from_pairs(&c, n, edges) < 0)
        return NULL;
    uint32_t *roots = NULL, *path = NULL;
    size_t nroots, len = 0;
    if (roots_array(&roots, &nroots, roots_obj) < 0)
        goto done;
    int rc = hl_dominators_path_to_root(&path, &len, &c.g, roots, nroots, target);
    out = result_list(rc, path, (Py_ssize_t)len, u32_item);
done:
    hl_dominators_path_free(path);
    PyMem_Free(roots);
    csr_clear(&c);
    return out;
}

/* A C-contiguous buffer of `itemsize`-byte items; `writable` for outputs. */
static int
get_buffer(Py_buffer *view, PyObject *obj, Py_ssize_t itemsize, int writable, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT |
                                          (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (view->itemsize != itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: items of %zd bytes expected, not %zd", what, itemsize,
                     view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *
py_dominators_buffers(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *o[4];
    if (!PyArg_ParseTuple(args, "OOOO:_dominators_buffers", &o[0], &o[1], &o[2], &o[3]))
        return NULL;
    Py_buffer idom, first, to, roots;
    if (get_buffer(&idom, o[0], 4, 1, "idom") < 0)
        return NULL;
    if (get_buffer(&first, o[1], 8, 0, "first") < 0)
        goto release1;
    if (get_buffer(&to, o[2], 4, 0, "to") < 0)
        goto release2;
    if (get_buffer(&roots, o[3], 4, 0, "roots") < 0)
        goto release3;
    PyObject *out = NULL;
    Py_ssize_t n = idom.len / 4;
    if (first.len / 8 != n + 1 || (first.len / 8 > 0 &&
                                   ((const uint64_t *)first.buf)[n] > (uint64_t)(to.len / 4))) {
        PyErr_SetString(PyExc_ValueError, "first must have len(idom) + 1 offsets within `to`");
    } else {
        hl_digraph g = {(uint32_t)n, first.buf, to.buf};
        int rc = hl_dominators(idom.buf, &g, roots.buf, (size_t)(roots.len / 4));
        if (rc < 0) {
            hl_py_raise(rc);
        } else {
            Py_INCREF(Py_None);
            out = Py_None;
        }
    }
    PyBuffer_Release(&roots);
    PyBuffer_Release(&to);
    PyBuffer_Release(&first);
    PyBuffer_Release(&idom);
    return out;
release3:
    PyBuffer_Release(&to);
release2:
    PyBuffer_Release(&first);
release1:
    PyBuffer_Release(&idom);
    return NULL;
}

static PyObject *
py_retained_buffers(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *o[3];
    if (!PyArg_ParseTuple(args, "OOO:_retained_buffers", &o[0], &o[1], &o[2]))
        return NULL;
    Py_buffer ret, idom, size;
    if (get_buffer(&ret, o[0], 8, 1, "retained") < 0)
        return NULL;
    if (get_buffer(&idom, o[1], 4, 0, "idom") < 0)
        goto release1;
    if (get_buffer(&size, o[2], 8, 0, "sizes") < 0)
        goto release2;
    PyObject *out = NULL;
    Py_ssize_t n = ret.len / 8;
    if (idom.len / 4 != n || size.len / 8 != n) {
        PyErr_SetString(PyExc_ValueError, "retained, idom and sizes must have the same length");
    } else {
        int rc = hl_dominators_retained(ret.buf, idom.buf, size.buf, (uint32_t)n);
        if (rc < 0) {
            hl_py_raise(rc);
        } else {
            Py_INCREF(Py_None);
            out = Py_None;
        }
    }
    PyBuffer_Release(&size);
    PyBuffer_Release(&idom);
    PyBuffer_Release(&ret);
    return out;
release2:
    PyBuffer_Release(&idom);
release1:
    PyBuffer_Release(&ret);
    return NULL;
}

static PyMethodDef methods[] = {
    {"_dominators", py_dominators, METH_VARARGS,
     "_dominators(n, edges, roots) -> idoms (None: the virtual root, -1: unreachable)"},
    {"_retained", py_retained, METH_VARARGS, "_retained(idoms, sizes) -> retained sizes"},
    {"_path_to_root", py_path_to_root, METH_VARARGS,
     "_path_to_root(n, edges, roots, target) -> shortest path root..target, [] if none"},
    {"_dominators_buffers", py_dominators_buffers, METH_VARARGS,
     "_dominators_buffers(idom, first, to, roots): hl_dominators on buffers (uint32/uint64)"},
    {"_retained_buffers", py_retained_buffers, METH_VARARGS,
     "_retained_buffers(retained, idom, sizes): hl_dominators_retained on buffers"},
    {NULL, NULL, 0, NULL},
};

int
hl_py_dominators_init(PyObject *module)
{
    return PyModule_AddFunctions(module, methods);
}
