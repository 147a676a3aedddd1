/*
 * registry.c - the binding of the type registry, and the lazy loading of
 * the built-in entries (heaplens/_registry.py).
 *
 * heaplens never imports numpy or pandas itself: importing them costs
 * 100-300 ms and a user who does not use them must not pay it. Instead,
 * each measurement first asks sys.modules whether one of them has been
 * imported since the last look (one dict lookup per module still absent),
 * and if so asks heaplens._registry to register its entries.
 */
#include "registry.h"

#include "errors.h"

/* Modules with built-in entries, and whether their entries are loaded.
 * Protected by the GIL. */
static struct {
    const char *name;
    PyObject *key; /* interned str, created on first use, never released */
    int loaded;
} builtins_[] = {{"numpy", NULL, 0}, {"pandas", NULL, 0}};
#define NBUILTINS (sizeof(builtins_) / sizeof(builtins_[0]))
static size_t npending = NBUILTINS;

int
hl_py_registry_refresh(void)
{
    if (npending == 0)
        return 0;
    PyObject *modules = PyImport_GetModuleDict(); /* borrowed */
    for (size_t i = 0; i < NBUILTINS; i++) {
        if (builtins_[i].loaded)
            continue;
        if (builtins_[i].key == NULL &&
            (builtins_[i].key = PyUnicode_InternFromString(builtins_[i].name)) == NULL)
            return -1;
        PyObject *mod = PyDict_GetItemWithError(modules, builtins_[i].key); /* borrowed */
        if (mod == NULL) {
            if (PyErr_Occurred())
                return -1;
            continue;
        }
        /* Mark first, so that a loader that measures does not recurse; a
         * loader that finds the module half-imported (heaplens called from
         * inside its import) returns False and is asked again next time. */
        builtins_[i].loaded = 1;
        npending--;
        PyObject *reg = PyImport_ImportModule("heaplens._registry");
        PyObject *res = reg ? PyObject_CallMethod(reg, "_load_builtin", "s", builtins_[i].name)
                            : NULL;
        Py_XDECREF(reg);
        if (res == NULL)
            return -1;
        if (res != Py_True) {
            builtins_[i].loaded = 0;
            npending++;
        }
        Py_DECREF(res);
    }
    return 0;
}

static PyObject *
py_register_type(PyObject *self, PyObject *args)
{
    PyObject *tp, *referents, *sizeof_fn;
    unsigned int flags;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!OOI:register_type", &PyType_Type, &tp, &referents,
                          &sizeof_fn, &flags))
        return NULL;
    int rc = hl_register_type((PyTypeObject *)tp, referents, sizeof_fn, flags);
    if (rc < 0)
        return hl_py_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *
py_unregister_type(PyObject *self, PyObject *tp)
{
    (void)self;
    if (!PyType_Check(tp)) {
        PyErr_Format(PyExc_TypeError, "unregister_type() takes a class, not %.100s",
                     Py_TYPE(tp)->tp_name);
        return NULL;
    }
    return PyBool_FromLong(hl_unregister_type((PyTypeObject *)tp));
}

static PyObject *
py_registered_types(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *out;
    (void)self;
    int rc = hl_registry_types(&out);
    return rc < 0 ? hl_py_raise(rc) : out;
}

static PyObject *
py_registry_refresh(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    (void)self;
    if (hl_py_registry_refresh() < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef registry_methods[] = {
    {"register_type", py_register_type, METH_VARARGS,
     "register_type(cls, referents, sizeof, flags) -> None"},
    {"unregister_type", py_unregister_type, METH_O, "unregister_type(cls) -> bool"},
    {"registered_types", py_registered_types, METH_NOARGS,
     "registered_types() -> [(cls, referents, sizeof, flags)]"},
    {"registry_refresh", py_registry_refresh, METH_NOARGS,
     "registry_refresh() -> None: load the built-in entries of newly imported modules"},
    {NULL, NULL, 0, NULL},
};

int
hl_py_registry_init(PyObject *module)
{
    if (PyModule_AddFunctions(module, registry_methods) < 0 ||
        PyModule_AddIntConstant(module, "TYPE_INHERITED_SIZEOF", HL_TYPE_INHERITED_SIZEOF) < 0 ||
        PyModule_AddIntConstant(module, "TYPE_NO_TRAVERSE", HL_TYPE_NO_TRAVERSE) < 0)
        return -1;
    return 0;
}
