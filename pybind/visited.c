/* visited.c - the Visited type: an hl_visited shared by several walks. */
#include "visited.h"

#include "errors.h"

static PyObject *
visited_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, ":Visited", kwlist))
        return NULL;
    hl_py_visited *self = (hl_py_visited *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    int rc = hl_visited_new(&self->visited);
    if (rc < 0) {
        Py_DECREF(self);
        return hl_py_raise(rc);
    }
    return (PyObject *)self;
}

/* A Visited keeps references to what it counted, which may include what
 * refers to it (an Asizer that sized itself): it takes part in the cyclic GC. */
static int
visited_traverse(hl_py_visited *self, visitproc visit, void *arg)
{
    return hl_visited_traverse(self->visited, visit, arg);
}

static int
visited_clear(hl_py_visited *self)
{
    hl_visited_clear(self->visited);
    return 0;
}

static void
visited_dealloc(hl_py_visited *self)
{
    PyObject_GC_UnTrack(self);
    hl_visited *v = self->visited;
    self->visited = NULL;
    hl_visited_free(v);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyDoc_STRVAR(mark_doc,
"mark(obj, how=0)\n--\n\n"
"Mark obj: 0 = seen (counts 0 from now on), 1 = skipped when reached as a\n"
"referent but sized when given, 2 = always 0.");

static PyObject *
visited_mark(hl_py_visited *self, PyObject *args)
{
    PyObject *obj;
    int how = 0;
    if (!PyArg_ParseTuple(args, "O|i:mark", &obj, &how))
        return NULL;
    int rc = hl_visited_mark(self->visited, obj, (hl_mark)how);
    if (rc < 0)
        return hl_py_raise(rc);
    Py_RETURN_NONE;
}

static Py_ssize_t
visited_len(hl_py_visited *self)
{
    return (Py_ssize_t)hl_visited_count(self->visited);
}

static PyMethodDef visited_methods[] = {
    {"mark", (PyCFunction)visited_mark, METH_VARARGS, mark_doc},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods visited_as_sequence = {
    .sq_length = (lenfunc)visited_len,
};

PyTypeObject hl_py_visited_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "heaplens._heaplens.Visited",
    .tp_basicsize = sizeof(hl_py_visited),
    .tp_dealloc = (destructor)visited_dealloc,
    .tp_as_sequence = &visited_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)visited_traverse,
    .tp_clear = (inquiry)visited_clear,
    .tp_doc = "A set of objects already counted, shared by several walks. It keeps\n"
              "a reference to each object it holds.",
    .tp_methods = visited_methods,
    .tp_new = visited_new,
};

int
hl_py_visited_init(PyObject *module)
{
    if (PyType_Ready(&hl_py_visited_type) < 0)
        return -1;
    Py_INCREF(&hl_py_visited_type);
    if (PyModule_AddObject(module, "Visited", (PyObject *)&hl_py_visited_type) < 0) {
        Py_DECREF(&hl_py_visited_type);
        return -1;
    }
    return 0;
}
