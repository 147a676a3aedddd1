/*
 * census.c - the Census type behind heaplens.snapshot().
 *
 * A Census is deliberately not a gc object and has no tp_traverse: its rows
 * (type names, counts, sizes) and its address set live behind it in C, so a
 * later census walking the heap sees one small Census object and none of its
 * bookkeeping.
 */
#include "census.h"

#include "compat.h"
#include "errors.h"
#include "registry.h"

typedef struct {
    PyObject *name; /* str, strong */
    Py_ssize_t count;
    Py_ssize_t size;
} row_t;

typedef struct {
    PyObject_HEAD
    row_t *rows;
    Py_ssize_t nrows;
    Py_ssize_t total_count;
    Py_ssize_t total_size;
    Py_ssize_t peak_bytes;
    hl_addrset *seen; /* owned; NULL after release_addresses() */
} census_obj;

static void
census_dealloc(census_obj *self)
{
    for (Py_ssize_t i = 0; i < self->nrows; i++)
        Py_XDECREF(self->rows[i].name);
    PyMem_Free(self->rows);
    hl_addrset_free(self->seen);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* a + b for byte counts (both >= 0), saturating at PY_SSIZE_T_MAX rather
 * than wrapping negative. */
static Py_ssize_t
sat_add(Py_ssize_t a, Py_ssize_t b)
{
    return b > PY_SSIZE_T_MAX - a ? PY_SSIZE_T_MAX : a + b;
}

/* After a failed lookup made only to name something: 1 when the error may
 * be dropped (an ordinary Exception), 0 when it must propagate
 * (KeyboardInterrupt, SystemExit, MemoryError: the user or the machine
 * asked to stop, and swallowing it would hide that). */
static int
clear_name_error(void)
{
    if (PyErr_ExceptionMatches(PyExc_Exception) && !PyErr_ExceptionMatches(PyExc_MemoryError)) {
        PyErr_Clear();
        return 1;
    }
    return 0;
}

/* "module.qualname", or the qualname alone for builtins. New reference,
 * or NULL with an exception that must propagate. */
static PyObject *
type_name(PyTypeObject *tp)
{
    PyObject *mod = PyObject_GetAttrString((PyObject *)tp, "__module__");
    /* Never call into Python with an exception pending. */
    PyObject *qual = mod ? PyObject_GetAttrString((PyObject *)tp, "__qualname__") : NULL;
    PyObject *name = NULL;
    if (mod != NULL && qual != NULL && PyUnicode_Check(mod) && PyUnicode_Check(qual)) {
        if (PyUnicode_CompareWithASCIIString(mod, "builtins") == 0)
        {
            Py_INCREF(qual);
            name = qual;
        }
        else
            name = PyUnicode_FromFormat("%U.%U", mod, qual);
    }
    Py_XDECREF(mod);
    Py_XDECREF(qual);
    if (name == NULL) {
        if (PyErr_Occurred() && !clear_name_error())
            return NULL;
        name = PyUnicode_FromString(tp->tp_name);
    }
    return name;
}

static int
fill_rows(census_obj *self, hl_census *c)
{
    hl_census_row *rows;
    size_t n;
    int rc = hl_census_rows(&rows, &n, c);
    if (rc < 0) {
        hl_py_raise(rc);
        return -1;
    }
    PyObject *index = PyDict_New(); /* name -> row number, to merge namesakes */
    self->rows = PyMem_Calloc(n ? n : 1, sizeof(row_t));
    if (index == NULL || self->rows == NULL) {
        Py_XDECREF(index);
        hl_census_rows_free(rows);
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        PyObject *name = type_name(rows[i].type);
        if (name == NULL)
            goto fail;
        PyObject *at = PyDict_GetItemWithError(index, name); /* borrowed */
        if (at == NULL && PyErr_Occurred()) {
            Py_DECREF(name);
            goto fail;
        }
        if (at != NULL) {
            row_t *r = &self->rows[PyLong_AsSsize_t(at)];
            r->count += (Py_ssize_t)rows[i].count;
            r->size = sat_add(r->size, rows[i].size);
            Py_DECREF(name);
        }
        else {
            PyObject *pos = PyLong_FromSsize_t(self->nrows);
            if (pos == NULL || PyDict_SetItem(index, name, pos) < 0) {
                Py_XDECREF(pos);
                Py_DECREF(name);
                goto fail;
            }
            Py_DECREF(pos);
            self->rows[self->nrows].name = name; /* steals */
            self->rows[self->nrows].count = (Py_ssize_t)rows[i].count;
            self->rows[self->nrows].size = rows[i].size;
            self->nrows++;
        }
        self->total_count += (Py_ssize_t)rows[i].count;
        self->total_size = sat_add(self->total_size, rows[i].size);
    }
    Py_DECREF(index);
    hl_census_rows_free(rows);
    return 0;
fail:
    Py_DECREF(index);
    hl_census_rows_free(rows);
    return -1;
}

static void
heap_options(hl_walk_options *opts, int model, Py_ssize_t align)
{
    hl_walk_options_init(opts, HL_WALK_OPTIONS_VERSION); /* cannot fail */
    opts->model = (hl_model)model;
    opts->align = align;
    /* Every object is real memory here; weakref referents are reached from
     * their own holders when anything holds them. */
    opts->flags = HL_WALK_ALL | HL_WALK_NO_WEAKREFS | HL_WALK_UNATTRIBUTED;
}

PyObject *
hl_py_heap_census(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"model", "align", "addresses", "exclude", NULL};
    int model = 0, addresses = 1;
    Py_ssize_t align = 8;
    PyObject *exclude = NULL;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|inpO!:heap_census", kwlist, &model, &align,
                                     &addresses, &PyTuple_Type, &exclude))
        return NULL;
    if (hl_py_registry_refresh() < 0)
        return NULL;
    hl_census *c = NULL;
    int rc = hl_census_new(&c);
    if (rc < 0)
        return hl_py_raise(rc);
    census_obj *out = PyObject_New(census_obj, &hl_py_census_type);
    if (out == NULL) {
        hl_census_free(c);
        return NULL;
    }
    out->rows = NULL;
    out->nrows = out->total_count = out->total_size = out->peak_bytes = 0;
    out->seen = NULL;
    /* Leave out what the caller excludes, the tuple naming it and the
     * keyword dict passing it (as dump() leaves out its own: the census and
     * a dump then count the same objects). */
    PyObject **ex = NULL;
    size_t nex = 0;
    if (exclude != NULL && PyTuple_GET_SIZE(exclude) > 0) {
        ex = PyMem_Calloc((size_t)PyTuple_GET_SIZE(exclude) + 2, sizeof(PyObject *));
        if (ex == NULL) {
            hl_census_free(c);
            Py_DECREF(out);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(exclude); i++)
            ex[nex++] = PyTuple_GET_ITEM(exclude, i);
        ex[nex++] = exclude;
        if (kwargs != NULL)
            ex[nex++] = kwargs;
    }
    hl_walk_options opts;
    heap_options(&opts, model, align);
    opts.census = c;
    if (addresses)
        opts.seen_out = &out->seen;
    hl_walk_stats st;
    rc = hl_heap_walk(&st, &opts, ex, nex);
    PyMem_Free(ex);
    if (rc < 0) {
        hl_census_free(c);
        Py_DECREF(out);
        return hl_py_raise(rc);
    }
    out->peak_bytes = (Py_ssize_t)st.peak_bytes;
    int ok = fill_rows(out, c);
    hl_census_free(c);
    if (ok < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return (PyObject *)out;
}

static int
gc_count_one(PyObject *obj, void *arg)
{
    return hl_census_add(arg, Py_TYPE(obj), 0) == 0; /* 0 stops the visit */
}

PyObject *
hl_py_gc_counts(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    hl_census *c = NULL;
    int rc = hl_census_new(&c);
    if (rc < 0)
        return hl_py_raise(rc);
    if (hl_compat__gc_visit_objects(gc_count_one, c) < 0) {
        hl_census_free(c);
        return NULL;
    }
    hl_census_row *rows;
    size_t n;
    rc = hl_census_rows(&rows, &n, c);
    PyObject *dict = rc < 0 ? hl_py_raise(rc) : PyDict_New();
    for (size_t i = 0; dict != NULL && i < n; i++) {
        PyObject *count = PyLong_FromSize_t(rows[i].count);
        if (count == NULL || PyDict_SetItem(dict, (PyObject *)rows[i].type, count) < 0)
            Py_CLEAR(dict);
        Py_XDECREF(count);
    }
    if (rc == 0)
        hl_census_rows_free(rows);
    hl_census_free(c);
    return dict;
}

static PyObject *
census_rows(census_obj *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New(self->nrows);
    for (Py_ssize_t i = 0; list != NULL && i < self->nrows; i++) {
        PyObject *t = Py_BuildValue("(Onn)", self->rows[i].name, self->rows[i].count,
                                    self->rows[i].size);
        if (t == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, i, t);
    }
    return list;
}

static PyObject *
census_contains(census_obj *self, PyObject *obj)
{
    return PyBool_FromLong(hl_addrset_contains(self->seen, obj));
}

typedef struct {
    const hl_addrset *old;
    PyObject *type;    /* borrowed: a type, a str name, or NULL */
    PyObject *exclude; /* borrowed */
    PyObject **found;
    size_t n, cap;
    int failed;
} new_ctx;

static int
match_type(new_ctx *n, PyObject *obj)
{
    if (n->type == NULL)
        return 1;
    if (PyType_Check(n->type))
        return Py_TYPE(obj) == (PyTypeObject *)n->type;
    /* A name: "module.qualname" or the bare tp_name/qualname. */
    PyObject *name = type_name(Py_TYPE(obj));
    if (name == NULL)
        return -1; /* KeyboardInterrupt, MemoryError...: stop the walk */
    int eq = PyUnicode_Compare(name, n->type) == 0 ||
             PyUnicode_CompareWithASCIIString(n->type, Py_TYPE(obj)->tp_name) == 0;
    Py_DECREF(name);
    return eq;
}

static int
new_on_object(const hl_walk_event *ev, void *payload)
{
    new_ctx *n = payload;
    PyObject *obj = ev->obj;
    if (obj == n->exclude || hl_addrset_contains(n->old, obj))
        return 0;
    int m = match_type(n, obj);
    if (m <= 0)
        return m < 0; /* nonzero stops the walk; the exception stays set */
    if (n->n == n->cap) {
        size_t ncap = n->cap ? n->cap * 2 : 1024;
        PyObject **p = PyMem_RawRealloc(n->found, ncap * sizeof(PyObject *));
        if (p == NULL) {
            n->failed = 1;
            return 1;
        }
        n->found = p;
        n->cap = ncap;
    }
    Py_INCREF(obj);
    n->found[n->n++] = obj;
    return 0;
}

static PyObject *
census_new_objects(census_obj *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"type", "exclude", NULL};
    PyObject *type = Py_None, *exclude = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO!:new_objects", kwlist, &type,
                                     &PyTuple_Type, &exclude))
        return NULL;
    if (self->seen == NULL) {
        PyErr_SetString(PyExc_ValueError, "this snapshot kept no object addresses (it was "
                                          "loaded from a file or taken with addresses=False)");
        return NULL;
    }
    if (type != Py_None && !PyType_Check(type) && !PyUnicode_Check(type)) {
        PyErr_SetString(PyExc_TypeError, "type must be a type, a type name or None");
        return NULL;
    }
    if (hl_py_registry_refresh() < 0)
        return NULL;
    new_ctx n = {self->seen, type == Py_None ? NULL : type, (PyObject *)self, NULL, 0, 0, 0};
    hl_walk_options opts;
    heap_options(&opts, 0, 1);
    opts.on_object = new_on_object;
    opts.payload = &n;
    /* Leave out what the caller excludes, and our own argument tuples. */
    Py_ssize_t nex = exclude ? PyTuple_GET_SIZE(exclude) : 0;
    PyObject **ex = PyMem_Calloc((size_t)nex + 2, sizeof(PyObject *));
    if (ex == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < nex; i++)
        ex[i] = PyTuple_GET_ITEM(exclude, i);
    ex[nex++] = args;
    if (exclude != NULL)
        ex[nex++] = exclude;
    int rc = hl_heap_walk(NULL, &opts, ex, (size_t)nex);
    PyMem_Free(ex);
    PyObject *list = NULL;
    if (n.failed) {
        PyErr_NoMemory();
    }
    else if (rc < 0) {
        hl_py_raise(rc);
    }
    else if ((list = PyList_New((Py_ssize_t)n.n)) != NULL) {
        for (size_t i = 0; i < n.n; i++)
            PyList_SET_ITEM(list, (Py_ssize_t)i, n.found[i]); /* steals */
        n.n = 0;
    }
    for (size_t i = 0; i < n.n; i++)
        Py_DECREF(n.found[i]);
    PyMem_RawFree(n.found);
    return list;
}

static PyObject *
census_release(census_obj *self, PyObject *Py_UNUSED(ignored))
{
    hl_addrset_free(self->seen);
    self->seen = NULL;
    Py_RETURN_NONE;
}

static PyObject *
census_get(census_obj *self, void *which)
{
    switch ((intptr_t)which) {
    case 0:
        return PyLong_FromSsize_t(self->total_count);
    case 1:
        return PyLong_FromSsize_t(self->total_size);
    case 2:
        return PyLong_FromSsize_t(self->peak_bytes);
    default:
        return PyLong_FromSize_t(hl_addrset_bytes(self->seen));
    }
}

static PyMethodDef census_methods[] = {
    {"rows", (PyCFunction)census_rows, METH_NOARGS, "rows() -> [(type_name, count, size)]"},
    {"contains", (PyCFunction)census_contains, METH_O,
     "contains(obj) -> whether an object lived at obj's address at census time"},
    {"new_objects", (PyCFunction)(void (*)(void))census_new_objects,
     METH_VARARGS | METH_KEYWORDS, "new_objects(type=None, exclude=()) -> live objects not in the census, leaving out\n"
     "what the objects in exclude hold"},
    {"release_addresses", (PyCFunction)census_release, METH_NOARGS,
     "Free the address set (new_objects() then fails)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef census_getset[] = {
    {"total_count", (getter)census_get, NULL, "objects counted", (void *)0},
    {"total_size", (getter)census_get, NULL, "bytes counted", (void *)1},
    {"peak_bytes", (getter)census_get, NULL, "peak bookkeeping bytes while walking", (void *)2},
    {"address_bytes", (getter)census_get, NULL, "bytes held by the address set", (void *)3},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject hl_py_census_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "heaplens._heaplens.Census",
    .tp_basicsize = sizeof(census_obj),
    .tp_dealloc = (destructor)census_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Counts and bytes per type of every live object, from heap_census().",
    .tp_methods = census_methods,
    .tp_getset = census_getset,
};

/* quiet_call(fn, *args, **kwargs): fn(*args, **kwargs) in a quiet region
 * of this thread. Entered and left here, in C: no signal handler can run
 * between entering and the call, or between its return and leaving, so an
 * exception (a KeyboardInterrupt) never leaves the thread quiet. The
 * arguments are passed on as they came: no tuple holds them (a snapshot
 * taken inside would count it). Here, with the census glue, as generic
 * builds call it too. */
static PyObject *
py_quiet_call(PyObject *self, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    (void)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "quiet_call needs a function to call");
        return NULL;
    }
#if HL_HAVE_TRACKER
    int entered = hl_track_quiet(1);
    PyObject *r = PyObject_Vectorcall(args[0], args + 1, nargs - 1, kwnames);
    if (entered)
        (void)hl_track_quiet(0);
    return r;
#else
    /* (generic builds: no tracker to be quiet for; the call is the same) */
    return PyObject_Vectorcall(args[0], args + 1, nargs - 1, kwnames);
#endif
}

static PyMethodDef census_module_methods[] = {
    {"gc_counts", (PyCFunction)hl_py_gc_counts, METH_NOARGS,
     "gc_counts() -> {type: count} of the gc-tracked objects only"},
    {"heap_census", (PyCFunction)(void (*)(void))hl_py_heap_census, METH_VARARGS | METH_KEYWORDS,
     "heap_census(model=0, align=8, addresses=True) -> Census of every live object"},
    {"quiet_call", (PyCFunction)(void (*)(void))py_quiet_call, METH_FASTCALL | METH_KEYWORDS,
     "quiet_call(fn, *args, **kwargs): fn(*args, **kwargs), this thread quiet meanwhile"},
    {NULL, NULL, 0, NULL},
};

int
hl_py_census_init(PyObject *module)
{
    if (PyType_Ready(&hl_py_census_type) < 0 ||
        PyModule_AddFunctions(module, census_module_methods) < 0)
        return -1;
    Py_INCREF(&hl_py_census_type);
    if (PyModule_AddObject(module, "Census", (PyObject *)&hl_py_census_type) < 0) {
        Py_DECREF(&hl_py_census_type);
        return -1;
    }
    return 0;
}
