/*
 * registry.c - what the walk is told about extension types it cannot see
 * into (heaplens.register_type).
 *
 * tp_traverse and __sizeof__ are the only public ways to ask an object what
 * it holds and how big it is, and some widely used types answer both
 * wrongly for a deep size: numpy's ndarray is no gc object, so its `base`
 * (the buffer a view or np.frombuffer keeps alive) and the items of an
 * object array are invisible to tp_traverse; pandas' __sizeof__ is already
 * deep (memory_usage(deep=True)), so a walk that then reaches the same
 * arrays through the block manager counts them twice.
 *
 * Entries are few (a handful of types), so they live in a plain array and a
 * lookup compares pointers along the type's MRO: no dict lookup, so no
 * metaclass __hash__/__eq__ can run in the middle of a walk. A walk resolves
 * each type once, so the cost is per type, never per object, and nothing at
 * all while the registry is empty.
 *
 * Protected by the GIL: every function here needs it.
 */
#include "registry.h"

#include "compat.h"
#include "error.h"
#include "mem.h"

static hl_registry__entry *entries; /* each field that is an object is a strong reference */
static size_t nentries, capentries;

size_t
hl_registry__count(void)
{
    return nentries;
}

const hl_registry__entry *
hl_registry__find(PyTypeObject *tp)
{
    if (nentries == 0)
        return NULL;
    PyObject *mro = tp->tp_mro; /* NULL only before PyType_Ready */
    if (mro == NULL || !PyTuple_Check(mro)) {
        for (size_t i = 0; i < nentries; i++)
            if (entries[i].type == tp)
                return &entries[i];
        return NULL;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(mro); k++) {
        PyObject *base = PyTuple_GET_ITEM(mro, k);
        for (size_t i = 0; i < nentries; i++)
            if ((PyObject *)entries[i].type == base)
                return &entries[i];
    }
    return NULL;
}

int
hl_register_type(PyTypeObject *tp, PyObject *referents, PyObject *sizeof_fn, unsigned int flags)
{
    if (tp == NULL || !PyType_Check((PyObject *)tp))
        return hl_error__set(HL_EINVAL, "hl_register_type: tp must be a type");
    if (flags & ~(HL_TYPE_INHERITED_SIZEOF | HL_TYPE_NO_TRAVERSE))
        return hl_error__set(HL_EINVAL, "hl_register_type: unknown flags 0x%x", flags);
    if (referents == Py_None)
        referents = NULL;
    if (sizeof_fn == Py_None)
        sizeof_fn = NULL;
    if ((referents != NULL && !PyCallable_Check(referents)) ||
        (sizeof_fn != NULL && !PyCallable_Check(sizeof_fn)))
        return hl_error__set(HL_EINVAL, "hl_register_type: referents and sizeof must be "
                                        "callables or NULL");
    if (sizeof_fn != NULL && (flags & HL_TYPE_INHERITED_SIZEOF))
        return hl_error__set(HL_EINVAL, "hl_register_type: a sizeof function and "
                                        "HL_TYPE_INHERITED_SIZEOF exclude each other");
    hl_registry__entry *e = NULL;
    for (size_t i = 0; i < nentries; i++)
        if (entries[i].type == tp)
            e = &entries[i];
    if (e == NULL) {
        if (nentries == capentries) {
            size_t ncap = capentries ? capentries * 2 : 8;
            hl_registry__entry *p = hl_mem__realloc(entries, ncap * sizeof(*p));
            if (p == NULL)
                return hl_error__set(HL_ENOMEM, "out of memory for the type registry");
            entries = p;
            capentries = ncap;
        }
        e = &entries[nentries++];
        e->type = (PyTypeObject *)Py_NewRef((PyObject *)tp);
        e->referents = e->sizeof_fn = NULL;
    }
    /* Replace the callables last: releasing the old ones may run code. */
    PyObject *old_refs = e->referents, *old_size = e->sizeof_fn;
    e->referents = referents ? Py_NewRef(referents) : NULL;
    e->sizeof_fn = sizeof_fn ? Py_NewRef(sizeof_fn) : NULL;
    e->flags = flags;
    Py_XDECREF(old_refs);
    Py_XDECREF(old_size);
    return 0;
}

int
hl_unregister_type(PyTypeObject *tp)
{
    for (size_t i = 0; i < nentries; i++) {
        if (entries[i].type != tp)
            continue;
        hl_registry__entry gone = entries[i];
        entries[i] = entries[--nentries];
        Py_DECREF(gone.type);
        Py_XDECREF(gone.referents);
        Py_XDECREF(gone.sizeof_fn);
        return 1;
    }
    return 0;
}

int
hl_registry_types(PyObject **out)
{
    PyObject *list = PyList_New((Py_ssize_t)nentries);
    *out = NULL;
    if (list == NULL)
        return HL_EPYTHON;
    for (size_t i = 0; i < nentries; i++) {
        hl_registry__entry *e = &entries[i];
        PyObject *t = Py_BuildValue("(OOOI)", (PyObject *)e->type,
                                    e->referents ? e->referents : Py_None,
                                    e->sizeof_fn ? e->sizeof_fn : Py_None, e->flags);
        if (t == NULL) {
            Py_DECREF(list);
            return HL_EPYTHON;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    *out = list;
    return 0;
}
