/*
 * dump.c - glue for heap dumps: dump() writes one, DumpData is a loaded
 * dump (lib/dump_read.c) that the package's HeapDump wraps. DumpData is not
 * a gc object and keeps everything in C, so a later dump or snapshot of
 * this process sees one small object, not the loaded graph.
 */
#include "heaplens/dump.h"

#include "compat.h"
#include "dump.h"
#include "errors.h"
#include "registry.h"

static PyObject *dump_format_error; /* heaplens.DumpFormatError, strong */

typedef struct {
    PyObject_HEAD
    hl_dump *d;
    PyObject *path; /* str, strong: for messages */
} dumpdata_obj;

static PyObject *
raise_rc(int rc, PyObject *path)
{
    if (rc == HL_EFORMAT) {
        const char *msg = hl_error_last();
        PyErr_Format(dump_format_error, "%S: %s", path, msg ? msg : "not a valid heap dump");
        return NULL;
    }
    return hl_py_raise(rc);
}

/* -1 with an exception once the file was changed since it was opened:
 * reading its mapping then could fault (hl_dump_check). */
static int
intact(dumpdata_obj *self)
{
    int rc = hl_dump_check(self->d);
    if (rc < 0) {
        raise_rc(rc, self->path);
        return -1;
    }
    return 0;
}

static PyObject *
py_dump(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    /* Fast-call: no argument tuple is made, so the dump has nothing of
     * this call in it (the path's bytes are held only from C). */
    PyObject *path = NULL, *exclude = NULL;
    (void)self;
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "dump(path, exclude=()) takes 1 or 2 arguments");
        return NULL;
    }
    if (nargs == 2) {
        exclude = args[1];
        if (!PyTuple_Check(exclude)) {
            PyErr_SetString(PyExc_TypeError, "exclude must be a tuple");
            return NULL;
        }
    }
    if (!PyUnicode_FSConverter(args[0], &path))
        return NULL;
    if (hl_py_registry_refresh() < 0) {
        Py_DECREF(path);
        return NULL;
    }
    /* Leave out what the caller excludes, and the tuple naming it. */
    Py_ssize_t nex = exclude ? PyTuple_GET_SIZE(exclude) : 0;
    PyObject **ex = PyMem_Calloc((size_t)nex + 1, sizeof(PyObject *));
    if (ex == NULL) {
        Py_DECREF(path);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < nex; i++)
        ex[i] = PyTuple_GET_ITEM(exclude, i);
    if (nex > 0)
        ex[nex++] = exclude;
    hl_dump_stats st;
    int rc = hl_dump_write(&st, PyBytes_AS_STRING(path), ex, (size_t)nex);
    PyMem_Free(ex);
    Py_DECREF(path);
    if (rc < 0)
        return hl_py_raise(rc);
    return Py_BuildValue("{sKsKsKsKsKsn}", "objects", (unsigned long long)st.objects,
                         "references", (unsigned long long)st.references, "types",
                         (unsigned long long)st.types, "bytes", (unsigned long long)st.bytes,
                         "size", (unsigned long long)st.size, "peak_bytes",
                         (Py_ssize_t)st.peak_bytes);
}

static void
dumpdata_dealloc(dumpdata_obj *self)
{
    hl_dump_close(self->d);
    Py_XDECREF(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
py_open_dump(PyObject *self, PyObject *arg)
{
    PyObject *bpath = NULL;
    (void)self;
    if (!PyUnicode_FSConverter(arg, &bpath))
        return NULL;
    hl_dump *d = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = hl_dump_open(&d, PyBytes_AS_STRING(bpath));
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyObject *name = PyUnicode_DecodeFSDefault(PyBytes_AS_STRING(bpath));
        Py_DECREF(bpath);
        if (name == NULL)
            return NULL;
        raise_rc(rc, name);
        Py_DECREF(name);
        return NULL;
    }
    dumpdata_obj *out = PyObject_New(dumpdata_obj, &hl_py_dumpdata_type);
    if (out == NULL) {
        hl_dump_close(d);
        Py_DECREF(bpath);
        return NULL;
    }
    out->d = d;
    out->path = PyUnicode_DecodeFSDefault(PyBytes_AS_STRING(bpath));
    Py_DECREF(bpath);
    if (out->path == NULL) {
        Py_DECREF(out);
        return NULL;
    }
    return (PyObject *)out;
}

static Py_ssize_t
dumpdata_len(dumpdata_obj *self)
{
    return (Py_ssize_t)hl_dump_count(self->d);
}

/* An object index from a Python int, or -1 with IndexError set. */
static int64_t
index_arg(dumpdata_obj *self, PyObject *arg)
{
    Py_ssize_t i = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (i == -1 && PyErr_Occurred())
        return -1;
    if (i < 0 || (uint64_t)i >= hl_dump_count(self->d)) {
        PyErr_Format(PyExc_IndexError, "object index %zd out of range", i);
        return -1;
    }
    return i;
}

static PyObject *
text_of(const char *p, size_t n)
{
    if (p == NULL)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, "replace");
}

static PyObject *
dumpdata_record(dumpdata_obj *self, PyObject *arg)
{
    int64_t i = index_arg(self, arg);
    if (i < 0)
        return NULL;
    if (intact(self) < 0) /* (after the argument: its __index__ ran) */
        return NULL;
    hl_dump_object o;
    int rc = hl_dump_get(&o, self->d, (uint32_t)i);
    if (rc < 0)
        return raise_rc(rc, self->path);
    PyObject *text;
    if (o.text_kind == HL_TEXT_KIND_INT || o.text_kind == HL_TEXT_KIND_FLOAT) {
        PyObject *v = o.text_kind == HL_TEXT_KIND_INT ? PyLong_FromLongLong(o.ival)
                                                      : PyFloat_FromDouble(o.fval);
        text = v ? PyObject_Repr(v) : NULL;
        Py_XDECREF(v);
    }
    else {
        text = text_of(o.text, o.text_len);
    }
    if (text == NULL)
        return NULL;
    return Py_BuildValue("(KIiKKKN)", (unsigned long long)o.addr, (unsigned int)o.type,
                         (int)o.labels, (unsigned long long)o.size,
                         (unsigned long long)o.alloc_size, (unsigned long long)o.refcount, text);
}

static PyObject *
index_list(const uint32_t *a, size_t n)
{
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t k = 0; list != NULL && k < n; k++) {
        PyObject *v = PyLong_FromUnsignedLong(a[k]);
        if (v == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)k, v);
    }
    return list;
}

static PyObject *
dumpdata_referents(dumpdata_obj *self, PyObject *arg)
{
    int64_t i = index_arg(self, arg);
    if (i < 0)
        return NULL;
    if (intact(self) < 0) /* (after the argument: its __index__ ran) */
        return NULL;
    size_t n;
    const uint32_t *a;
    int rc = hl_dump_referents(&a, &n, self->d, (uint32_t)i);
    if (rc < 0)
        return raise_rc(rc, self->path);
    return index_list(a, n);
}

static PyObject *
dumpdata_roots(dumpdata_obj *self, PyObject *Py_UNUSED(ignored))
{
    if (intact(self) < 0)
        return NULL;
    size_t n;
    const uint32_t *a = hl_dump_roots(self->d, &n);
    return index_list(a, n);
}

static PyObject *
dumpdata_types(dumpdata_obj *self, PyObject *Py_UNUSED(ignored))
{
    if (intact(self) < 0)
        return NULL;
    uint32_t nt = hl_dump_ntypes(self->d);
    PyObject *list = PyList_New(nt);
    for (uint32_t t = 0; list != NULL && t < nt; t++) {
        size_t len;
        uint64_t addr;
        const char *name = hl_dump_type_name(self->d, t, &len, &addr);
        PyObject *tup = Py_BuildValue("(NK)", text_of(name, len), (unsigned long long)addr);
        if (tup == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, t, tup);
    }
    return list;
}

static PyObject *
dumpdata_find(dumpdata_obj *self, PyObject *arg)
{
    if (intact(self) < 0)
        return NULL;
    unsigned long long a = PyLong_AsUnsignedLongLong(arg);
    if (a == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromLongLong(hl_dump_find(self->d, a));
}

static PyObject *
dumpdata_of_types(dumpdata_obj *self, PyObject *arg)
{
    /* Indices of the objects whose type index is in the given set. */
    PyObject *list = PyList_New(0);
    uint32_t nt = hl_dump_ntypes(self->d);
    uint8_t *want = PyMem_Calloc(nt ? nt : 1, 1);
    PyObject *it = PyObject_GetIter(arg), *item;
    if (list == NULL || want == NULL || it == NULL)
        goto fail;
    while ((item = PyIter_Next(it)) != NULL) {
        long t = PyLong_AsLong(item);
        Py_DECREF(item);
        if (t == -1 && PyErr_Occurred())
            goto fail;
        if (t >= 0 && (unsigned long)t < nt)
            want[t] = 1;
    }
    if (PyErr_Occurred())
        goto fail;
    if (intact(self) < 0) /* (after the iterable: it ran Python code) */
        goto fail;
    uint32_t n = hl_dump_count(self->d);
    for (uint32_t i = 0; i < n; i++) {
        hl_dump_object o;
        int rc = hl_dump_get(&o, self->d, i);
        if (rc < 0) {
            raise_rc(rc, self->path);
            goto fail;
        }
        if (want[o.type]) {
            PyObject *v = PyLong_FromUnsignedLong(i);
            if (v == NULL || PyList_Append(list, v) < 0) {
                Py_XDECREF(v);
                goto fail;
            }
            Py_DECREF(v);
        }
    }
    Py_DECREF(it);
    PyMem_Free(want);
    return list;
fail:
    Py_XDECREF(it);
    Py_XDECREF(list);
    PyMem_Free(want);
    return NULL;
}

static PyObject *
dumpdata_path(dumpdata_obj *self, PyObject *arg)
{
    int64_t i = index_arg(self, arg);
    if (i < 0)
        return NULL;
    if (intact(self) < 0) /* (after the argument: its __index__ ran) */
        return NULL;
    uint32_t *path;
    size_t n, nroots;
    int rc;
    hl_digraph g;
    if ((rc = hl_dump_graph(&g, self->d)) < 0)
        return raise_rc(rc, self->path);
    const uint32_t *roots = hl_dump_roots(self->d, &nroots);
    /* The GIL stays held: hl_dump_dominators drops and rebuilds the
     * arrays the other methods read (lib/dump_read.h). */
    rc = hl_dominators_path_to_root(&path, &n, &g, roots, nroots, (uint32_t)i);
    if (rc < 0)
        return raise_rc(rc, self->path);
    PyObject *list = index_list(path, n);
    hl_dominators_path_free(path);
    return list;
}

/* Per type: (count, size, alloc_size). */
static PyObject *
dumpdata_type_totals(dumpdata_obj *self, PyObject *Py_UNUSED(ignored))
{
    if (intact(self) < 0)
        return NULL;
    uint32_t nt = hl_dump_ntypes(self->d), n = hl_dump_count(self->d);
    uint64_t *acc = PyMem_Calloc((size_t)(nt ? nt : 1) * 3, sizeof(uint64_t));
    if (acc == NULL)
        return PyErr_NoMemory();
    for (uint32_t i = 0; i < n; i++) {
        hl_dump_object o;
        int rc = hl_dump_get(&o, self->d, i);
        if (rc < 0) {
            PyMem_Free(acc);
            return raise_rc(rc, self->path);
        }
        acc[3 * o.type] += 1;
        acc[3 * o.type + 1] += o.size;
        acc[3 * o.type + 2] += o.alloc_size;
    }
    PyObject *list = PyList_New(nt);
    for (uint32_t t = 0; list != NULL && t < nt; t++) {
        PyObject *tup = Py_BuildValue("(KKK)", (unsigned long long)acc[3 * t],
                                      (unsigned long long)acc[3 * t + 1],
                                      (unsigned long long)acc[3 * t + 2]);
        if (tup == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, t, tup);
    }
    PyMem_Free(acc);
    return list;
}

/* The dominator tree, computed on first use (the GIL held: see above). */
static int
dominators(dumpdata_obj *self, const uint32_t **idom, const uint64_t **ret)
{
    if (intact(self) < 0)
        return -1;
    int rc;
    rc = hl_dump_dominators(idom, ret, self->d);
    if (rc < 0) {
        raise_rc(rc, self->path);
        return -1;
    }
    return 0;
}

static PyObject *
dumpdata_dominators(dumpdata_obj *self, PyObject *Py_UNUSED(ignored))
{
    if (intact(self) < 0)
        return NULL;
    const uint32_t *idom;
    const uint64_t *ret;
    if (dominators(self, &idom, &ret) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
dumpdata_idom(dumpdata_obj *self, PyObject *arg)
{
    /* (dominators() checks the file, after the argument's __index__ ran) */
    const uint32_t *idom;
    const uint64_t *ret;
    int64_t i = index_arg(self, arg);
    if (i < 0 || dominators(self, &idom, &ret) < 0)
        return NULL;
    if (idom[i] == HL_DOM_ROOT)
        return PyLong_FromLong(-1);
    if (idom[i] == HL_DOM_UNREACHABLE)
        return PyLong_FromLong(-2);
    return PyLong_FromUnsignedLong(idom[i]);
}

static PyObject *
dumpdata_retained(dumpdata_obj *self, PyObject *arg)
{
    /* (dominators() checks the file, after the argument's __index__ ran) */
    const uint32_t *idom;
    const uint64_t *ret;
    int64_t i = index_arg(self, arg);
    if (i < 0 || dominators(self, &idom, &ret) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(ret[i]);
}

/* top()'s order: a retains less than b, or as much with a larger index. */
#define LESS(a, b) (ret[a] < ret[b] || (ret[a] == ret[b] && (a) > (b)))

/* Place v in the min-heap heap[0..size) whose root was just vacated: move
 * it down past its smaller children. */
static void
sift_down(uint32_t *heap, Py_ssize_t size, uint32_t v, const uint64_t *ret)
{
    Py_ssize_t j = 0;
    for (;;) {
        Py_ssize_t c = 2 * j + 1;
        if (c >= size)
            break;
        if (c + 1 < size && LESS(heap[c + 1], heap[c]))
            c++;
        if (!LESS(heap[c], v))
            break;
        heap[j] = heap[c];
        j = c;
    }
    heap[j] = v;
}

/* The indices of the n objects retaining most, largest first (ties by
 * index), through a min-heap of n entries. */
static PyObject *
dumpdata_top(dumpdata_obj *self, PyObject *arg)
{
    const uint32_t *idom;
    const uint64_t *ret;
    Py_ssize_t k = PyLong_AsSsize_t(arg);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    if (k < 0) {
        PyErr_SetString(PyExc_ValueError, "n must be >= 0");
        return NULL;
    }
    if (dominators(self, &idom, &ret) < 0)
        return NULL;
    uint32_t n = hl_dump_count(self->d);
    if ((uint64_t)k > n)
        k = n;
    uint32_t *heap = PyMem_Malloc((size_t)(k ? k : 1) * sizeof(uint32_t));
    if (heap == NULL)
        return PyErr_NoMemory();
    Py_ssize_t size = 0;
    for (uint32_t v = 0; v < n && k > 0; v++) {
        if (size < k) {
            Py_ssize_t j = size++;
            while (j > 0 && LESS(v, heap[(j - 1) / 2])) {
                heap[j] = heap[(j - 1) / 2];
                j = (j - 1) / 2;
            }
            heap[j] = v;
        }
        else if (LESS(heap[0], v)) {
            sift_down(heap, size, v, ret);
        }
    }
    /* Pop smallest first into the list's tail. */
    PyObject *list = PyList_New(size);
    for (Py_ssize_t out = size - 1; list != NULL && out >= 0; out--) {
        uint32_t top = heap[0], last = heap[--size];
        sift_down(heap, size, last, ret);
        PyObject *v = PyLong_FromUnsignedLong(top);
        if (v == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, out, v);
    }
    PyMem_Free(heap);
    return list;
}
#undef LESS

static PyObject *
dumpdata_type_retained(dumpdata_obj *self, PyObject *Py_UNUSED(ignored))
{
    if (intact(self) < 0)
        return NULL;
    const uint32_t *idom;
    const uint64_t *ret;
    if (dominators(self, &idom, &ret) < 0)
        return NULL;
    uint32_t nt = hl_dump_ntypes(self->d);
    uint64_t *out = PyMem_Calloc(nt ? nt : 1, sizeof(uint64_t));
    if (out == NULL)
        return PyErr_NoMemory();
    int rc;
    rc = hl_dump_type_retained(out, self->d);
    if (rc < 0) {
        PyMem_Free(out);
        return raise_rc(rc, self->path);
    }
    PyObject *list = PyList_New(nt);
    for (uint32_t t = 0; list != NULL && t < nt; t++) {
        PyObject *v = PyLong_FromUnsignedLongLong(out[t]);
        if (v == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, t, v);
    }
    PyMem_Free(out);
    return list;
}

static PyMethodDef dumpdata_methods[] = {
    {"dominators", (PyCFunction)dumpdata_dominators, METH_NOARGS,
     "dominators() -> None: compute the dominator tree now (it is kept)"},
    {"idom", (PyCFunction)dumpdata_idom, METH_O,
     "idom(i) -> index of i's immediate dominator; -1: only the virtual root; -2: unreachable"},
    {"retained", (PyCFunction)dumpdata_retained, METH_O, "retained(i) -> bytes i retains"},
    {"top", (PyCFunction)dumpdata_top, METH_O,
     "top(n) -> indices of the n objects retaining most, largest first"},
    {"type_retained", (PyCFunction)dumpdata_type_retained, METH_NOARGS,
     "type_retained() -> [bytes the objects of each type index retain together]"},
    {"record", (PyCFunction)dumpdata_record, METH_O,
     "record(i) -> (address, type index, label kind, size, alloc_size, refcount, text)"},
    {"referents", (PyCFunction)dumpdata_referents, METH_O, "referents(i) -> [object index]"},
    {"roots", (PyCFunction)dumpdata_roots, METH_NOARGS, "roots() -> [object index]"},
    {"types", (PyCFunction)dumpdata_types, METH_NOARGS, "types() -> [(name, address)]"},
    {"find", (PyCFunction)dumpdata_find, METH_O, "find(address) -> object index or -1"},
    {"of_types", (PyCFunction)dumpdata_of_types, METH_O,
     "of_types(type indices) -> [object index]"},
    {"path", (PyCFunction)dumpdata_path, METH_O,
     "path(i) -> [object index] from a root to i, shortest ([] when unreachable)"},
    {"type_totals", (PyCFunction)dumpdata_type_totals, METH_NOARGS,
     "type_totals() -> [(count, size, alloc_size)] per type index"},
    {NULL, NULL, 0, NULL},
};

static PyObject *
dumpdata_get(dumpdata_obj *self, void *which)
{
    switch ((intptr_t)which) {
    case 0:
        return PyFloat_FromDouble(hl_dump_timestamp(self->d));
    case 1:
        return PyUnicode_DecodeUTF8(hl_dump_python(self->d), (Py_ssize_t)strlen(hl_dump_python(self->d)), "replace");
    case 2:
        return PyLong_FromUnsignedLongLong(hl_dump_nreferences(self->d));
    default:
        return Py_NewRef(self->path);
    }
}

static PyGetSetDef dumpdata_getset[] = {
    {"timestamp", (getter)dumpdata_get, NULL, "seconds since the epoch", (void *)0},
    {"python", (getter)dumpdata_get, NULL, "the dumped interpreter's version", (void *)1},
    {"nreferences", (getter)dumpdata_get, NULL, "references in the dump", (void *)2},
    {"filename", (getter)dumpdata_get, NULL, "the file", (void *)3},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods dumpdata_seq = {
    .sq_length = (lenfunc)dumpdata_len,
};

PyTypeObject hl_py_dumpdata_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "heaplens._heaplens.DumpData",
    .tp_basicsize = sizeof(dumpdata_obj),
    .tp_dealloc = (destructor)dumpdata_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A loaded heap dump (open_dump_data()); heaplens.HeapDump wraps it.",
    .tp_methods = dumpdata_methods,
    .tp_getset = dumpdata_getset,
    .tp_as_sequence = &dumpdata_seq,
};

static PyMethodDef dump_methods[] = {
    {"dump", (PyCFunction)(void (*)(void))py_dump, METH_FASTCALL,
     "dump(path, exclude=()) -> {objects, references, types, bytes, size, peak_bytes}"},
    {"open_dump_data", (PyCFunction)py_open_dump, METH_O,
     "open_dump_data(path) -> DumpData (raises DumpFormatError)"},
    {NULL, NULL, 0, NULL},
};

int
hl_py_dump_init(PyObject *m)
{
    if (PyType_Ready(&hl_py_dumpdata_type) < 0)
        return -1;
    if (dump_format_error == NULL) {
        dump_format_error = PyErr_NewExceptionWithDoc(
            "heaplens.DumpFormatError",
            "A heap dump file heaplens cannot read: truncated, corrupted, of another format "
            "version, or not a dump at all.",
            PyExc_ValueError, NULL);
        if (dump_format_error == NULL)
            return -1;
    }
    if (PyModule_AddFunctions(m, dump_methods) < 0)
        return -1;
    Py_INCREF(dump_format_error);
    if (PyModule_AddObject(m, "DumpFormatError", dump_format_error) < 0) {
        Py_DECREF(dump_format_error);
        return -1;
    }
    Py_INCREF(&hl_py_dumpdata_type);
    if (PyModule_AddObject(m, "DumpData", (PyObject *)&hl_py_dumpdata_type) < 0) {
        Py_DECREF(&hl_py_dumpdata_type);
        return -1;
    }
    return 0;
}
