/*
 * sizes.c - flatsize() and header_size() for Python, and the size-model
 * constants.
 */
#include "sizes.h"

#include "errors.h"
#include "registry.h"

PyDoc_STRVAR(flatsize_doc,
"flatsize(obj, align=8, model=0)\n"
"--\n\n"
"The flat size of obj in bytes.");

static PyObject *
py_flatsize(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"obj", "align", "model", NULL};
    PyObject *obj;
    Py_ssize_t align = 8, out = 0;
    int model = 0;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|ni:flatsize", kwlist, &obj, &align,
                                     &model))
        return NULL;
    if (hl_py_registry_refresh() < 0)
        return NULL;
    int rc = hl_size_flat(&out, obj, (hl_model)model, align);
    return rc < 0 ? hl_py_raise(rc) : PyLong_FromSsize_t(out);
}

static PyObject *
py_header_size(PyObject *self, PyObject *obj)
{
    (void)self;
    Py_ssize_t n = hl_size_header(obj);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static PyMethodDef sizes_methods[] = {
    {"header_size", (PyCFunction)py_header_size, METH_O,
     "header_size(obj) -> bytes sys.getsizeof adds to __sizeof__ (GC header, pre-header)"},
    {"flatsize", (PyCFunction)(void (*)(void))py_flatsize, METH_VARARGS | METH_KEYWORDS,
     flatsize_doc},
    {NULL, NULL, 0, NULL},
};

int
hl_py_sizes_init(PyObject *module)
{
    if (PyModule_AddFunctions(module, sizes_methods) < 0 ||
        PyModule_AddIntConstant(module, "MODEL_GETSIZEOF", HL_MODEL_GETSIZEOF) < 0 ||
        PyModule_AddIntConstant(module, "MODEL_ALLOCATOR", HL_MODEL_ALLOCATOR) < 0)
        return -1;
    return 0;
}
