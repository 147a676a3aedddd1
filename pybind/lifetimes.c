/* lifetimes.c - glue between the core tracker (lib/lifetimes.c) and
 * heaplens/_lifetimes.py, which builds the objects users see. */
#include "lifetimes.h"

#include <time.h>

#include "compat.h"
#include "errors.h"
#include "registry.h"

static PyObject *
py_track_start(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *kw[] = {"backend", "frames", "current_thread", "types", "known_types", NULL};
    hl_track_options opts = HL_TRACK_OPTIONS_INIT;
    int backend = HL_BACKEND_ALLOCATOR, current = 0;
    PyObject *types = Py_None, *known = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|iipOO:track_start", kw, &backend,
                                     &opts.frames, &current, &types, &known))
        return NULL;
    opts.backend = (hl_track_backend)backend;
    opts.current_thread = current;
    if (types != Py_None) {
        if (!PyTuple_Check(types)) {
            PyErr_SetString(PyExc_TypeError, "types must be a tuple of classes");
            return NULL;
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(types); i++) {
            if (!PyType_Check(PyTuple_GET_ITEM(types, i))) {
                PyErr_Format(PyExc_TypeError, "types must hold classes, not %.100s",
                             Py_TYPE(PyTuple_GET_ITEM(types, i))->tp_name);
                return NULL;
            }
        }
        opts.types = types;
    }
    opts.known_types = known == Py_None ? NULL : known;
    int rc = hl_track_start(&opts);
    if (rc < 0)
        return hl_py_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *
py_track_stop(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    int lost = 0;
    int rc = hl_track_stop(&lost);
    if (rc < 0)
        return hl_py_raise(rc);
    return PyBool_FromLong(lost);
}

static PyObject *
py_track_clear(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    int rc = hl_track_clear();
    if (rc < 0)
        return hl_py_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *
py_track_quiet(PyObject *self, PyObject *arg)
{
    (void)self;
    int enter = PyObject_IsTrue(arg);
    if (enter < 0)
        return NULL;
    int rc = hl_track_quiet(enter);
    if (rc < 0)
        return hl_py_raise(rc);
    return PyBool_FromLong(rc);
}

static PyObject *
py_track_active(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(hl_track_active());
}

static PyObject *
py_track_status(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    hl_track_status st;
    int rc = hl_track_get_status(&st);
    if (rc < 0)
        return hl_py_raise(rc);
    return Py_BuildValue("{s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:O,s:i,s:K,s:K}", "records",
                         (Py_ssize_t)st.records, "dropped", (Py_ssize_t)st.dropped, "unresolved",
                         (Py_ssize_t)st.unresolved, "waiting", (Py_ssize_t)st.waiting,
                         "types_unverified", (Py_ssize_t)st.types_unverified, "sites", (Py_ssize_t)st.sites, "types",
                         (Py_ssize_t)st.types, "memory", (Py_ssize_t)st.memory, "lost",
                         st.lost ? Py_True : Py_False, "backend", (int)st.backend, "start_ns",
                         (unsigned long long)st.start_ns, "stop_ns",
                         (unsigned long long)st.stop_ns);
}

static PyObject *
py_track_stats(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    hl_track_type_stats *rows;
    size_t n;
    int rc = hl_track_stats(&rows, &n);
    if (rc < 0)
        return hl_py_raise(rc);
    PyObject *out = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; out != NULL && i < n; i++) {
        const hl_track_type_stats *r = &rows[i];
        PyObject *t = Py_BuildValue("(OKKKKKKK)", r->type, (unsigned long long)r->born,
                                    (unsigned long long)r->died, (unsigned long long)r->alive,
                                    (unsigned long long)r->alive_bytes,
                                    (unsigned long long)r->life_p50,
                                    (unsigned long long)r->life_p90,
                                    (unsigned long long)r->life_max);
        if (t == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, (Py_ssize_t)i, t);
    }
    hl_track_free(rows);
    return out;
}

/* The last counts read by track_grown: born - died per type, in the order
 * of the core's rows (a type keeps its row while the tracker's records
 * last; a row's type is checked anyway). */
static struct {
    PyObject *type; /* borrowed: the tracker holds it */
    int64_t net;
} *grown_marks;
static size_t grown_n;

/* track_grown(mark): the types with more objects born than died since the
 * last call (mark=True: none; only remember the counts), from the hooks'
 * counts without the heap walk. Everything is compared in C: a count read
 * into Python ints would itself be ints born between two reads. */
static PyObject *
py_track_grown(PyObject *self, PyObject *args)
{
    (void)self;
    int mark = 0;
    if (!PyArg_ParseTuple(args, "|p:track_grown", &mark))
        return NULL;
    hl_track_type_stats *rows;
    size_t n;
    int rc = hl_track_counts(&rows, &n);
    if (rc < 0)
        return hl_py_raise(rc);
    PyObject *out = mark ? NULL : PyList_New(0);
    if (!mark && out == NULL) {
        hl_track_free(rows);
        return NULL;
    }
    for (size_t i = 0; out != NULL && i < n; i++) {
        int64_t net = (int64_t)(rows[i].born - rows[i].died), was = 0;
        if (i < grown_n && grown_marks[i].type == rows[i].type) {
            was = grown_marks[i].net;
        } else {
            for (size_t j = 0; j < grown_n; j++)
                if (grown_marks[j].type == rows[i].type) {
                    was = grown_marks[j].net;
                    break;
                }
        }
        if (net > was && PyList_Append(out, rows[i].type) < 0)
            Py_CLEAR(out);
    }
    if (mark || out != NULL) {
        void *marks = n ? PyMem_RawMalloc(n * sizeof(*grown_marks)) : NULL;
        if (n && marks == NULL) {
            Py_XDECREF(out);
            hl_track_free(rows);
            return PyErr_NoMemory();
        }
        PyMem_RawFree(grown_marks);
        grown_marks = marks;
        grown_n = n;
        for (size_t i = 0; i < n; i++) {
            grown_marks[i].type = rows[i].type;
            grown_marks[i].net = (int64_t)(rows[i].born - rows[i].died);
        }
    }
    hl_track_free(rows);
    if (mark)
        Py_RETURN_NONE;
    return out;
}

static PyObject *
record_tuple(const hl_track_record *r)
{
    return Py_BuildValue("(KOKKI)", (unsigned long long)r->address, r->type,
                         (unsigned long long)r->size, (unsigned long long)r->birth,
                         (unsigned int)r->site);
}

static PyObject *
py_track_survivors(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *type = Py_None;
    unsigned long long since = 0;
    if (!PyArg_ParseTuple(args, "|OK:track_survivors", &type, &since))
        return NULL;
    if (type != Py_None && !PyType_Check(type)) {
        PyErr_Format(PyExc_TypeError, "type must be a class or None, not %.100s",
                     Py_TYPE(type)->tp_name);
        return NULL;
    }
    hl_track_record *recs;
    size_t n;
    int rc = hl_track_survivors(&recs, &n, type == Py_None ? NULL : (PyTypeObject *)type);
    if (rc < 0)
        return hl_py_raise(rc);
    /* (born since `since` only: the others need no Python objects) */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (recs[i].birth >= since)
            recs[kept++] = recs[i];
    PyObject *out = PyList_New((Py_ssize_t)kept);
    for (size_t i = 0; out != NULL && i < kept; i++) {
        PyObject *t = record_tuple(&recs[i]);
        if (t == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, (Py_ssize_t)i, t);
    }
    hl_track_free(recs);
    return out;
}

static PyObject *
py_track_site(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned long id = PyLong_AsUnsignedLong(arg);
    if (id == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (id > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "no such site");
        return NULL;
    }
    PyCodeObject **codes;
    int *lastis;
    size_t n;
    int rc = hl_track_site(&codes, &lastis, &n, (uint32_t)id);
    if (rc < 0)
        return hl_py_raise(rc);
    PyObject *out = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; out != NULL && i < n; i++) {
        PyCodeObject *co = codes[i];
        int line = lastis[i] < 0 ? co->co_firstlineno : PyCode_Addr2Line(co, lastis[i]);
        PyObject *t = Py_BuildValue("(OiO)", co->co_filename, line, co->co_name);
        if (t == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, (Py_ssize_t)i, t);
    }
    hl_track_free(codes);
    hl_track_free(lastis);
    return out;
}

static int
cmp_site(const void *a, const void *b)
{
    uint32_t x = ((const hl_track_record *)a)->site, y = ((const hl_track_record *)b)->site;
    return x < y ? -1 : x > y;
}

/* Per allocation site, the tracked objects alive and their flat bytes,
 * summed here: snapshot(by="site") inside a running tracker made a Survivor
 * (and a tuple and four ints) per tracked object, each recorded by that
 * tracker, so its user's born counts grew by the tool's own work (169,605
 * Survivors, +850k ints and +170k tuples for a pandas/json workload of
 * 170k objects). Here a row per site is all that is made. */
static PyObject *
py_track_site_totals(PyObject *self, PyObject *args)
{
    (void)self;
    int model = 0;
    Py_ssize_t align = 8;
    if (!PyArg_ParseTuple(args, "|in:track_site_totals", &model, &align))
        return NULL;
    if (hl_py_registry_refresh() < 0)
        return NULL;
    hl_track_record *recs;
    size_t n;
    int rc = hl_track_survivors(&recs, &n, NULL);
    if (rc < 0)
        return hl_py_raise(rc);
    /* Each record's size becomes its flat size in the model asked for, or
     * UINT64_MAX when its object is gone (a __sizeof__ run by an earlier
     * one may free objects). */
    for (size_t i = 0; i < n; i++) {
        PyObject *o = NULL;
        Py_ssize_t sz = 0;
        rc = hl_track_object(&o, recs[i].address, (PyTypeObject *)recs[i].type, recs[i].birth);
        if (rc < 0) {
            hl_track_free(recs);
            return hl_py_raise(rc);
        }
        if (o == NULL) {
            recs[i].size = UINT64_MAX;
            continue;
        }
        rc = hl_size_flat(&sz, o, (hl_model)model, align);
        Py_DECREF(o);
        if (rc < 0) {
            hl_track_free(recs);
            return hl_py_raise(rc);
        }
        recs[i].size = (uint64_t)sz;
    }
    if (n > 1)
        qsort(recs, n, sizeof(*recs), cmp_site);
    PyObject *out = PyList_New(0);
    for (size_t i = 0; out != NULL && i < n;) {
        uint32_t site = recs[i].site;
        unsigned long long count = 0, bytes = 0;
        for (; i < n && recs[i].site == site; i++) {
            if (recs[i].size == UINT64_MAX)
                continue;
            count++;
            bytes += recs[i].size;
        }
        if (count == 0)
            continue;
        PyObject *t = Py_BuildValue("(kKK)", (unsigned long)site, count, bytes);
        if (t == NULL || PyList_Append(out, t) < 0)
            Py_CLEAR(out);
        Py_XDECREF(t);
    }
    hl_track_free(recs);
    return out;
}

static PyObject *
py_track_lookup(PyObject *self, PyObject *obj)
{
    (void)self;
    hl_track_record r;
    int rc = hl_track_lookup(&r, obj);
    if (rc == HL_EPYTHON)
        return NULL; /* an interruption while sizing the object */
    if (rc < 0)
        Py_RETURN_NONE;
    return record_tuple(&r);
}

static PyObject *
py_track_object(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned long long address, birth;
    PyObject *type;
    if (!PyArg_ParseTuple(args, "KO!K:track_object", &address, &PyType_Type, &type, &birth))
        return NULL;
    PyObject *out;
    int rc = hl_track_object(&out, (uintptr_t)address, (PyTypeObject *)type, birth);
    if (rc < 0)
        return hl_py_raise(rc);
    if (out == NULL)
        Py_RETURN_NONE;
    return out;
}

static PyObject *
py_track_probe_tracer(PyObject *self, PyObject *probe)
{
    (void)self;
    uint64_t creates, destroys;
    int rc = hl_track_probe_tracer(&creates, &destroys, probe);
    if (rc < 0)
        return hl_py_raise(rc);
    return Py_BuildValue("(KK)", (unsigned long long)creates, (unsigned long long)destroys);
}

/* A gc.callbacks entry: callback(phase, info), phase "start" or "stop". */
static PyObject *
py_track_gc_phase(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *phase, *info;
    if (!PyArg_UnpackTuple(args, "track_gc_phase", 2, 2, &phase, &info))
        return NULL;
    if (!PyUnicode_Check(phase)) {
        PyErr_SetString(PyExc_TypeError, "track_gc_phase: phase must be 'start' or 'stop'");
        return NULL;
    }
    hl_track_gc_phase(PyUnicode_CompareWithASCIIString(phase, "start") == 0);
    Py_RETURN_NONE;
}

static PyObject *
py_monotonic_ns(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return PyLong_FromUnsignedLongLong((unsigned long long)ts.tv_sec * 1000000000ull +
                                       (unsigned long long)ts.tv_nsec);
}

/* How the hooks find the calling thread's state: the learned distance from
 * the thread pointer (compat.h), or None when they call the interpreter. */
static PyObject *
py_track_tstate_route(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
#if HL_HAVE_TRACKER && HL_HAVE_FAST_TSTATE
    if (hl_compat__tstate_learn())
        return PyLong_FromSsize_t((Py_ssize_t)hl_compat__tstate_off);
#endif
    Py_RETURN_NONE;
}

static PyMethodDef lifetimes_methods[] = {
    {"track_tstate_route", (PyCFunction)py_track_tstate_route, METH_NOARGS,
     "track_tstate_route() -> the thread state's distance from the thread pointer, "
     "or None when the hooks call the interpreter for it"},
    {"track_start", (PyCFunction)(void (*)(void))py_track_start, METH_VARARGS | METH_KEYWORDS,
     "track_start(backend=1, frames=1, current_thread=False, types=None, known_types=None)"},
    {"track_stop", (PyCFunction)py_track_stop, METH_NOARGS,
     "track_stop() -> True when events were lost (our hook was removed)"},
    {"track_clear", (PyCFunction)py_track_clear, METH_NOARGS, "track_clear()"},
    {"track_active", (PyCFunction)py_track_active, METH_NOARGS, "track_active() -> bool"},
    {"track_quiet", (PyCFunction)py_track_quiet, METH_O,
     "track_quiet(enter) -> bool: enter (True; False when 8 threads are quiet already) or leave (False; False when not quiet) a quiet region of this thread"},
    {"track_status", (PyCFunction)py_track_status, METH_NOARGS, "track_status() -> dict"},
    {"track_stats", (PyCFunction)py_track_stats, METH_NOARGS,
     "track_stats() -> [(type, born, died, alive, alive_bytes, p50_ns, p90_ns, max_ns)]"},
    {"track_grown", (PyCFunction)py_track_grown, METH_VARARGS,
     "track_grown(mark=False) -> [type]: born - died grew since the last call"},
    {"track_survivors", (PyCFunction)py_track_survivors, METH_VARARGS,
     "track_survivors(type=None, since=0) -> [(address, type, size, birth_ns, site)] born at since ns or later"},
    {"track_site_totals", (PyCFunction)py_track_site_totals, METH_VARARGS,
     "track_site_totals(model=0, align=8) -> [(site, objects, bytes)] of the tracked objects alive"},
    {"track_site", (PyCFunction)py_track_site, METH_O,
     "track_site(site) -> [(filename, lineno, name)], innermost first"},
    {"track_lookup", (PyCFunction)py_track_lookup, METH_O,
     "track_lookup(obj) -> (address, type, size, birth_ns, site) or None"},
    {"track_object", (PyCFunction)py_track_object, METH_VARARGS,
     "track_object(address, type, birth_ns) -> the object, or None if it died"},
    {"track_probe_tracer", (PyCFunction)py_track_probe_tracer, METH_O,
     "track_probe_tracer(fn) -> (creates, destroys) seen by a PyRefTracer while fn() ran"},
    {"track_gc_phase", (PyCFunction)py_track_gc_phase, METH_VARARGS,
     "track_gc_phase(phase, info): a gc.callbacks entry telling the tracker "
     "when a collection runs"},
    {"monotonic_ns", (PyCFunction)py_monotonic_ns, METH_NOARGS,
     "monotonic_ns() -> CLOCK_MONOTONIC in ns, the tracker's clock"},
    {NULL, NULL, 0, NULL},
};

int
hl_py_lifetimes_init(PyObject *m)
{
    if (PyModule_AddFunctions(m, lifetimes_methods) < 0 ||
        PyModule_AddIntConstant(m, "BACKEND_ALLOCATOR", HL_BACKEND_ALLOCATOR) < 0 ||
        PyModule_AddIntConstant(m, "BACKEND_REFTRACER", HL_BACKEND_REFTRACER) < 0 ||
        PyModule_AddIntConstant(m, "HAVE_REFTRACER", HL_HAVE_REFTRACER) < 0 ||
        PyModule_AddIntConstant(m, "TRACK_MAX_FRAMES", HL_TRACK_MAX_FRAMES) < 0)
        return -1;
    return 0;
}
