/*
 * walk.c - walk() and referents() for Python: deep sizes, asized(detail=)
 * records and per-type profiles, converted from the core's walk.
 */
#include "walk.h"

#include "errors.h"
#include "registry.h"
#include "visited.h"

/* Fill walk options from the keyword arguments shared by the functions
 * below. `ignored` is borrowed from the caller's arguments. */
static int
walk_options(hl_walk_options *opts, Py_ssize_t align, Py_ssize_t limit, int code, int frames,
             PyObject *ignored, int model)
{
    hl_walk_options_init(opts, HL_WALK_OPTIONS_VERSION); /* cannot fail */
    opts->align = align;
    opts->limit = limit;
    opts->model = (hl_model)model;
    opts->flags = (code ? HL_WALK_CODE : 0) | (frames ? HL_WALK_FRAMES : 0) |
                  (model == HL_MODEL_ALLOCATOR ? HL_WALK_NO_WEAKREFS : 0);
    opts->ignored = ignored == Py_None ? NULL : ignored;
    return 0;
}

/* asized(detail=N) bookkeeping: one record [obj, depth, flat, deep] per
 * object above the detail depth, in depth-first pre-order. */
typedef struct {
    PyObject *records; /* list, strong */
    Py_ssize_t *open;  /* indices of records whose subtree is still open */
    size_t nopen, capopen;
    uint32_t detail;
    hl_census *census; /* per-type profile, or NULL */
} detail_ctx;

static int
detail_on_object(const hl_walk_event *ev, void *payload)
{
    detail_ctx *d = payload;
    if (d->census != NULL && hl_census_on_object(ev, d->census) != 0) {
        PyErr_NoMemory();
        return -1;
    }
    if (d->records == NULL || ev->depth > d->detail)
        return 0;
    PyObject *rec = Py_BuildValue("[OInn]", ev->obj, (unsigned int)ev->depth, ev->flat, ev->flat);
    if (rec == NULL)
        return -1;
    int rc = PyList_Append(d->records, rec);
    Py_DECREF(rec);
    if (rc < 0)
        return -1;
    {
        if (d->nopen == d->capopen) {
            size_t ncap = d->capopen ? d->capopen * 2 : 64;
            Py_ssize_t *p = PyMem_Realloc(d->open, ncap * sizeof(Py_ssize_t));
            if (p == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            d->open = p;
            d->capopen = ncap;
        }
        d->open[d->nopen++] = PyList_GET_SIZE(d->records) - 1;
    }
    return 0;
}

static int
detail_on_leave(const hl_walk_event *ev, void *payload)
{
    detail_ctx *d = payload;
    if (d->nopen == 0) {
        PyErr_SetString(PyExc_SystemError, "heaplens: unbalanced walk events");
        return -1;
    }
    PyObject *rec = PyList_GET_ITEM(d->records, d->open[--d->nopen]);
    PyObject *deep = PyLong_FromSsize_t(ev->deep);
    if (deep == NULL)
        return -1;
    /* Replaces the placeholder (the flat size) and releases it. */
    return PyList_SetItem(rec, 3, deep); /* steals deep */
}

static PyObject *
stats_dict(const hl_walk_stats *st)
{
    return Py_BuildValue("{s:n,s:n,s:n,s:n,s:n,s:n}", "total", st->total, "counted",
                         (Py_ssize_t)st->counted, "max_depth", (Py_ssize_t)st->max_depth,
                         "python_calls", (Py_ssize_t)st->python_calls, "peak_bytes",
                         (Py_ssize_t)st->peak_bytes, "repeats", (Py_ssize_t)st->repeats);
}

/* The census as a list of (type, count, size) tuples. New reference. */
static PyObject *
census_list(const hl_census *c)
{
    hl_census_row *rows;
    size_t n;
    int rc = hl_census_rows(&rows, &n, c);
    if (rc < 0)
        return hl_py_raise(rc);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list != NULL && i < n; i++) {
        PyObject *t = Py_BuildValue("(Onn)", (PyObject *)rows[i].type, (Py_ssize_t)rows[i].count,
                                    rows[i].size);
        if (t == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    hl_census_rows_free(rows);
    return list;
}

PyDoc_STRVAR(walk_doc,
"walk(objs, align=8, limit=-1, code=False, frames=False, ignored=None, model=0, detail=-1,\n"
"     visited=None)\n"
"--\n\n"
"Deep sizes of the objects in the tuple objs, each object counted once.\n"
"Returns (sizes, stats, records); records is None unless detail >= 0.");

static PyObject *
py_walk(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"objs", "align", "limit", "code", "frames", "ignored", "model",
                             "detail", "visited", "profile", NULL};
    PyObject *objs, *ignored = Py_None, *visited = Py_None;
    Py_ssize_t align = 8, limit = -1, detail = -1;
    int code = 0, frames = 0, model = 0, profile = 0;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!|nnppOinOp:walk", kwlist, &PyTuple_Type,
                                     &objs, &align, &limit, &code, &frames, &ignored, &model,
                                     &detail, &visited, &profile))
        return NULL;
    if (hl_py_registry_refresh() < 0)
        return NULL;
    if (visited != Py_None && !PyObject_TypeCheck(visited, &hl_py_visited_type)) {
        PyErr_SetString(PyExc_TypeError, "visited must be a Visited or None");
        return NULL;
    }
    if (detail > 1000000) {
        PyErr_SetString(PyExc_ValueError, "detail is too large");
        return NULL;
    }
    hl_walk_options opts;
    walk_options(&opts, align, limit, code, frames, ignored, model);
    if (visited != Py_None)
        opts.visited = ((hl_py_visited *)visited)->visited;
    /* A depth limit depends on the depth at which each object is met:
     * walk in pympler's order so that asizeof and asized agree. */
    if (limit >= 0)
        opts.flags |= HL_WALK_ORDERED;
    detail_ctx d = {NULL, NULL, 0, 0, 0, NULL};
    if (profile) {
        int rc = hl_census_new(&d.census);
        if (rc < 0)
            return hl_py_raise(rc);
        opts.on_object = detail_on_object;
        opts.payload = &d;
    }
    if (detail >= 0) {
        d.records = PyList_New(0);
        if (d.records == NULL) {
            hl_census_free(d.census);
            return NULL;
        }
        d.detail = (uint32_t)detail;
        opts.flags |= HL_WALK_ORDERED;
        opts.on_object = detail_on_object;
        opts.on_leave = detail_on_leave;
        opts.leave_depth = (uint32_t)detail + 1;
        opts.payload = &d;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(objs);
    Py_ssize_t *sizes = PyMem_Calloc(n ? n : 1, sizeof(Py_ssize_t));
    PyObject *result = NULL, *tuple = NULL, *stats = NULL, *prof = NULL;
    hl_walk_stats st;
    if (sizes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int rc = hl_walk_sizes(sizes, &st, &PyTuple_GET_ITEM(objs, 0), (size_t)n, &opts);
    if (rc < 0) {
        hl_py_raise(rc);
        goto done;
    }
    tuple = PyTuple_New(n);
    if (tuple == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyLong_FromSsize_t(sizes[i]);
        if (v == NULL)
            goto done;
        PyTuple_SET_ITEM(tuple, i, v);
    }
    stats = stats_dict(&st);
    if (stats == NULL)
        goto done;
    if (d.census != NULL) {
        if ((prof = census_list(d.census)) == NULL || PyDict_SetItemString(stats, "profile", prof) < 0)
            goto done;
    }
    result = PyTuple_Pack(3, tuple, stats, d.records ? d.records : Py_None);
done:
    Py_XDECREF(prof);
    hl_census_free(d.census);
    Py_XDECREF(tuple);
    Py_XDECREF(stats);
    Py_XDECREF(d.records);
    PyMem_Free(d.open);
    PyMem_Free(sizes);
    return result;
}

PyDoc_STRVAR(referents_doc,
"referents(obj, code=False, frames=False, ignored=None, model=0)\n"
"--\n\n"
"The objects a walk follows from obj, in walk order (duplicates kept).");

static PyObject *
py_referents(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"obj", "code", "frames", "ignored", "model", NULL};
    PyObject *obj, *ignored = Py_None, *out;
    int code = 0, frames = 0, model = 0;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|ppOi:referents", kwlist, &obj, &code,
                                     &frames, &ignored, &model))
        return NULL;
    if (hl_py_registry_refresh() < 0)
        return NULL;
    hl_walk_options opts;
    walk_options(&opts, 1, -1, code, frames, ignored, model);
    int rc = hl_walk_referents(&out, obj, &opts);
    return rc < 0 ? hl_py_raise(rc) : out;
}

static PyMethodDef walk_methods[] = {
    {"walk", (PyCFunction)(void (*)(void))py_walk, METH_VARARGS | METH_KEYWORDS, walk_doc},
    {"referents", (PyCFunction)(void (*)(void))py_referents, METH_VARARGS | METH_KEYWORDS,
     referents_doc},
    {NULL, NULL, 0, NULL},
};

int
hl_py_walk_init(PyObject *module)
{
    return PyModule_AddFunctions(module, walk_methods);
}
