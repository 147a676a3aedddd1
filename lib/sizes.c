/*
 * sizes.c - per-type flat-size resolution (see sizes.h).
 *
 * sys.getsizeof() costs ~110 ns per object when called through Python. Here
 * the __sizeof__ slot is looked up once per type: object.__sizeof__ becomes
 * arithmetic, a C method is called directly (its small-int result is cached
 * by CPython, so nothing is allocated), and only a __sizeof__ written in
 * Python is called the slow way, with its result checked as getsizeof does.
 */
#include "sizes.h"
#include "walk.h"

#include "error.h"
#include "mem.h"
#include "registry.h"

static PyObject *sizeof_name;        /* interned "__sizeof__", immortal here */
static PyObject *object_sizeof;      /* object.__sizeof__ descriptor */
static PyObject *list_sizeof;        /* list.__sizeof__ descriptor */

static int
init_statics(void)
{
    if (sizeof_name != NULL)
        return 0;
    PyObject *name = PyUnicode_InternFromString("__sizeof__");
    if (name == NULL)
        return HL_EPYTHON;
    /* Borrowed from the static types' dicts, which live as long as the
     * interpreter. */
    object_sizeof = _PyType_Lookup(&PyBaseObject_Type, name);
    list_sizeof = _PyType_Lookup(&PyList_Type, name);
    if (object_sizeof == NULL || list_sizeof == NULL) {
        Py_DECREF(name);
        PyErr_SetString(PyExc_SystemError, "heaplens: object.__sizeof__ not found");
        return HL_EPYTHON;
    }
    sizeof_name = name;
    return 0;
}

int
hl_sizes__is_code_type(PyTypeObject *tp)
{
    return PyType_IsSubtype(tp, &PyType_Type) || PyType_IsSubtype(tp, &PyModule_Type) ||
           PyType_IsSubtype(tp, &PyFunction_Type) || tp == &PyMethod_Type ||
           tp == &PyCode_Type || tp == &PyCFunction_Type ||
           PyType_IsSubtype(tp, &PyCFunction_Type) || tp == &PyMethodDescr_Type ||
           tp == &PyClassMethodDescr_Type || tp == &PyWrapperDescr_Type ||
           PyType_IsSubtype(tp, &PyStaticMethod_Type) ||
           PyType_IsSubtype(tp, &PyClassMethod_Type) ||
           tp == &PyGetSetDescr_Type || tp == &PyMemberDescr_Type;
}

int
hl_sizes__types_init(hl_sizes__types *types, const hl_walk_options *opts)
{
    memset(types, 0, sizeof(*types));
    int rc = init_statics();
    if (rc < 0)
        return rc;
    Py_ssize_t align = opts->align;
    if (align <= 0)
        align = 1;
    if ((align & (align - 1)) != 0)
        return hl_error__set(HL_EINVAL, "align must be a power of 2, not %zd", opts->align);
    if (opts->ignored != NULL) {
        if (!PyTuple_Check(opts->ignored))
            return hl_error__set(HL_EINVAL, "ignored must be a tuple of types");
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(opts->ignored); i++) {
            if (!PyType_Check(PyTuple_GET_ITEM(opts->ignored, i)))
                return hl_error__set(HL_EINVAL, "ignored must hold types only");
        }
        Py_INCREF(opts->ignored);
        types->ignored = opts->ignored;
    }
    types->model = opts->model;
    types->align = opts->model == HL_MODEL_ALLOCATOR ? 1 : align;
    types->flags = opts->flags;
    if (opts->flags & HL_WALK_ALL)
        types->flags |= HL_WALK_CODE | HL_WALK_FRAMES;
    return 0;
}

void
hl_sizes__types_free(hl_sizes__types *types)
{
    hl_sizes__typeinfo *ti, *tmp;
    HASH_ITER(hh, types->table, ti, tmp)
    {
        HASH_DEL(types->table, ti);
        Py_DECREF(ti->type);
        Py_XDECREF(ti->sizeof_descr);
        Py_XDECREF(ti->reg_sizeof);
        Py_XDECREF(ti->reg_referents);
        hl_mem__free(ti);
    }
    Py_CLEAR(types->ignored);
    memset(types->front, 0, sizeof(types->front));
}

static int
is_ignored(hl_sizes__types *types, PyTypeObject *tp)
{
    if (types->ignored == NULL)
        return 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(types->ignored); i++) {
        if (PyType_IsSubtype(tp, (PyTypeObject *)PyTuple_GET_ITEM(types->ignored, i)))
            return 1;
    }
    return 0;
}

/* The __sizeof__ tp inherits when the one `skip` (a class in tp's MRO)
 * defines itself does not count. Borrowed, or NULL.
 *
 * A class between tp and skip that defines its own wins as usual. After
 * skip, heap classes are asked for their own dict only (a mixin's MRO
 * would jump to object and miss a list base further along, as in pandas'
 * FrozenList(PandasObject, list)); a static class is asked through
 * _PyType_Lookup, since 3.12 keeps static types' dicts outside tp_dict. */
static PyObject *
inherited_sizeof(PyTypeObject *tp, PyTypeObject *skip)
{
    PyObject *own = _PyType_Lookup(skip, sizeof_name);
    PyObject *d = _PyType_Lookup(tp, sizeof_name);
    PyObject *mro = tp->tp_mro;
    if (d != own || mro == NULL || !PyTuple_Check(mro))
        return d;
    Py_ssize_t k = 0, n = PyTuple_GET_SIZE(mro);
    while (k < n && PyTuple_GET_ITEM(mro, k) != (PyObject *)skip)
        k++;
    for (k++; k < n; k++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, k);
        if (!PyType_HasFeature(base, Py_TPFLAGS_HEAPTYPE))
            return _PyType_Lookup(base, sizeof_name);
        if (base->tp_dict == NULL)
            continue;
        /* An exact str key in a type dict: no Python code runs. */
        PyObject *e = PyDict_GetItemWithError(base->tp_dict, sizeof_name);
        if (e != NULL)
            return e;
        if (PyErr_Occurred())
            PyErr_Clear(); /* cannot happen with a str key */
    }
    return object_sizeof;
}

static void
resolve_sizeof(hl_sizes__typeinfo *ti, PyTypeObject *tp, PyObject *descr)
{
#if !HL_KNOWN_LAYOUT
    /* Generic mode (compat.h): no layout is assumed; getsizeof says. */
    ti->size_kind = HL_SZ_GETSIZEOF;
    (void)tp;
    return;
#endif
    if (descr == object_sizeof) {
        ti->size_kind = HL_SZ_BASIC;
    }
    else if (descr != NULL && Py_TYPE(descr) == &PyMethodDescr_Type &&
             !PyType_IsSubtype(tp, PyDescr_TYPE(descr))) {
        /* A C __sizeof__ taken from another type (`__sizeof__ =
         * dict.__sizeof__`): binding refuses it with a TypeError, as
         * getsizeof does; calling it directly would read the wrong layout. */
        ti->size_kind = HL_SZ_PYCALL;
        Py_INCREF(descr);
        ti->sizeof_descr = descr;
    }
    else if (descr == list_sizeof) {
        ti->size_kind = HL_SZ_LIST;
    }
    else if (tp == &PyLong_Type) {
        ti->size_kind = HL_SZ_INT;
    }
    else if (tp == &PyUnicode_Type) {
        /* Exact str only: the full method is the fallback for the rest. */
        ti->size_kind = HL_SZ_STR;
        ti->sizeof_fn = ((PyMethodDescrObject *)descr)->d_method->ml_meth;
    }
    else if (descr != NULL && Py_TYPE(descr) == &PyMethodDescr_Type &&
             (((PyMethodDescrObject *)descr)->d_method->ml_flags &
              (METH_VARARGS | METH_KEYWORDS | METH_NOARGS | METH_O | METH_FASTCALL)) ==
                 METH_NOARGS) {
        ti->size_kind = HL_SZ_CMETH;
        ti->sizeof_fn = ((PyMethodDescrObject *)descr)->d_method->ml_meth;
    }
    else {
        /* A Python __sizeof__, or none at all (getsizeof then raises
         * TypeError, and so do we). */
        ti->size_kind = HL_SZ_PYCALL;
        Py_XINCREF(descr);
        ti->sizeof_descr = descr;
    }
}

hl_sizes__typeinfo *
hl_sizes__resolve(hl_sizes__types *types, PyTypeObject *tp)
{
    hl_sizes__typeinfo *ti = NULL;
    HASH_FIND_PTR(types->table, &tp, ti);
    if (ti == NULL) {
        ti = hl_mem__calloc(1, sizeof(*ti));
        if (ti == NULL) {
            hl_error__set(HL_ENOMEM, "out of memory for type information");
            return NULL;
        }
        ti->type = (PyTypeObject *)Py_NewRef(tp);
        /* One branch per type while nothing is registered. */
        const hl_registry__entry *reg = hl_registry__count() ? hl_registry__find(tp) : NULL;
        if (reg != NULL && reg->sizeof_fn != NULL) {
            ti->size_kind = HL_SZ_REGCALL;
            ti->reg_sizeof = Py_NewRef(reg->sizeof_fn);
        }
        else if (reg != NULL && (reg->flags & HL_TYPE_INHERITED_SIZEOF)) {
            resolve_sizeof(ti, tp, inherited_sizeof(tp, reg->type));
        }
        else {
            resolve_sizeof(ti, tp, _PyType_Lookup(tp, sizeof_name));
        }
        if (reg != NULL && reg->referents != NULL)
            ti->reg_referents = Py_NewRef(reg->referents);
        ti->no_traverse = reg != NULL && (reg->flags & HL_TYPE_NO_TRAVERSE);

        /* 3.9/3.10/3.13 ask PyObject_IS_GC(o), which differs from the type
         * flag only where the type has tp_is_gc (type objects). */
        ti->extra_dynamic = tp->tp_is_gc != NULL;
        if (!ti->extra_dynamic) {
            /* Any instance will do to compute a per-type constant, but we
             * have none here: derive it from the flags the same way. */
            ti->extra = -1;
        }
#if !HL_KNOWN_LAYOUT
        ti->extra_dynamic = 0; /* getsizeof's figure already holds it */
        ti->extra = 0;
#endif
#if HL_HAVE_MANAGED_DICT
        ti->has_hidden = PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT);
#else
        ti->has_hidden = 0;
#endif
        ti->is_frame = tp == &PyFrame_Type;
        ti->is_module = PyType_IsSubtype(tp, &PyModule_Type);
        ti->alloc_special = tp == &PyLong_Type || tp == &PyTuple_Type || tp == &PyBytes_Type ||
                            tp == &PyUnicode_Type || tp == Py_TYPE(Py_None) ||
                            tp == &PyBool_Type || tp == Py_TYPE(Py_Ellipsis) ||
                            tp == Py_TYPE(Py_NotImplemented) || tp == &PyFrame_Type ||
                            PyType_IsSubtype(tp, &PyType_Type) ||
                            (tp->tp_itemsize > 0 &&
                             PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE) &&
                             PyType_IsSubtype(tp, &PyTuple_Type));

        /* Referents. */
        unsigned int x = 0;
        if (PyType_IsSubtype(tp, &PyDict_Type))
            x |= HL_X_DICT | (tp == &PyDict_Type ? HL_X_DICT_ONLY : 0);
        if (PyType_IsSubtype(tp, &PyType_Type))
            x |= HL_X_HEAPTYPE;
        /* list and tuple traverse visit their items last to first; we
         * visit them in order, so that asized() attributes shared objects
         * to the first item that reaches them, as pympler does. */
        if (PyType_IsSubtype(tp, &PyList_Type) || PyType_IsSubtype(tp, &PyTuple_Type))
            x |= HL_X_SEQ | ((tp == &PyList_Type || tp == &PyTuple_Type) ? HL_X_SEQ_ONLY : 0);
        if (tp == &PyCode_Type)
            x |= HL_X_CODE;
#if HL_KNOWN_LAYOUT /* walk.c reads rangeobject's private layout */
        if (tp == &PyRange_Type)
            x |= HL_X_RANGE;
#endif
        /* pympler follows weakref.ref (but not proxies) to its referent;
         * the allocator model follows neither (the referent is not owned). */
        if (PyType_IsSubtype(tp, &_PyWeakref_RefType) && !(types->flags & HL_WALK_NO_WEAKREFS))
            x |= HL_X_WEAKREF;
        /* Whole-heap walks want every reference, __globals__ included. */
        if (PyType_IsSubtype(tp, &PyFunction_Type) && !(types->flags & HL_WALK_ALL))
            x |= HL_X_FUNCTION;
        if (ti->no_traverse)
            x = 0; /* only what the registry says, none of the gaps either */
        if (ti->reg_referents != NULL)
            x |= HL_X_REGISTERED;
        ti->xrefs = x;
        /* A running frame's locals: for the asizeof family only. On 3.11
         * reading them builds an f_locals dict on the frame, and a
         * whole-heap walk must not change the heap it counts (what only a
         * running function's locals hold is a known gap of snapshots on
         * 3.11+, docs/semantics.md section 5). */
        ti->called_refs = (x & HL_X_REGISTERED) ||
                          (HL_FRAME_HIDES_LOCALS && ti->is_frame &&
                           !(types->flags & HL_WALK_ALL));
        ti->ref_kind = ((PyType_IS_GC(tp) && !ti->no_traverse) || x) ? HL_REF_TRAVERSE
                                                                      : HL_REF_NONE;
        ti->leaf = ti->ref_kind == HL_REF_NONE && ti->size_kind != HL_SZ_PYCALL &&
                   ti->size_kind != HL_SZ_REGCALL && reg == NULL &&
                   !PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE);

        /* Policy. */
        if (is_ignored(types, tp))
            ti->policy = HL_POL_IGNORE;
        else if (!(types->flags & HL_WALK_CODE) && hl_sizes__is_code_type(tp))
            ti->policy = HL_POL_ZERO;
        else if (!(types->flags & HL_WALK_FRAMES) && tp == &PyFrame_Type)
            ti->policy = HL_POL_ZERO;
        else
            ti->policy = HL_POL_COUNT;

        hl_hash__oom = 0;
        HASH_ADD_PTR(types->table, type, ti);
        if (hl_hash__oom) {
            Py_DECREF(ti->type);
            Py_XDECREF(ti->sizeof_descr);
            Py_XDECREF(ti->reg_sizeof);
            Py_XDECREF(ti->reg_referents);
            hl_mem__free(ti);
            hl_error__set(HL_ENOMEM, "out of memory for the type table");
            return NULL;
        }
    }
    types->front[((uintptr_t)tp >> 4) & (HL_TYPES_FRONT - 1)] = ti;
    return ti;
}

static int
sizeof_result(Py_ssize_t *out, PyObject *res, PyTypeObject *tp)
{
    if (res == NULL)
        return HL_EPYTHON;
    if (!PyLong_Check(res)) {
        PyErr_Format(PyExc_TypeError, "%.100s.__sizeof__() returned %.100s, not an int",
                     tp->tp_name, Py_TYPE(res)->tp_name);
        Py_DECREF(res);
        return HL_EPYTHON;
    }
    Py_ssize_t n = PyLong_AsSsize_t(res);
    Py_DECREF(res);
    if (n == -1 && PyErr_Occurred()) {
        PyErr_Format(PyExc_OverflowError, "%.100s.__sizeof__() returned a value too large "
                                          "for a size", tp->tp_name);
        return HL_EPYTHON;
    }
    if (n < 0) {
        PyErr_Format(PyExc_ValueError, "%.100s.__sizeof__() returned %zd; it should "
                                       "return >= 0", tp->tp_name, n);
        return HL_EPYTHON;
    }
    *out = n;
    return 0;
}

static int
call_sizeof(Py_ssize_t *out, hl_sizes__types *types, hl_sizes__typeinfo *ti, PyObject *o)
{
    PyTypeObject *tp = ti->type;
    switch (ti->size_kind) {
    case HL_SZ_BASIC: {
        Py_ssize_t n = tp->tp_basicsize;
        if (tp->tp_itemsize > 0) {
            Py_ssize_t items = Py_SIZE(o);
            n += (items < 0 ? -items : items) * tp->tp_itemsize;
        }
        *out = n;
        return 0;
    }
    case HL_SZ_LIST:
        *out = tp->tp_basicsize + ((PyListObject *)o)->allocated * (Py_ssize_t)sizeof(void *);
        return 0;
#if HL_KNOWN_LAYOUT
    case HL_SZ_INT:
        *out = hl_compat__int_sizeof(o);
        return 0;
    case HL_SZ_STR: {
        Py_ssize_t n = hl_compat__str_sizeof(o);
        if (n >= 0) {
            *out = n;
            return 0;
        }
        return sizeof_result(out, ti->sizeof_fn(o, NULL), tp);
    }
#endif
    case HL_SZ_GETSIZEOF:
        types->python_calls++;
        return hl_compat__getsizeof(out, o) < 0 ? HL_EPYTHON : 0;
    case HL_SZ_CMETH:
        return sizeof_result(out, ti->sizeof_fn(o, NULL), tp);
    case HL_SZ_REGCALL:
        types->python_calls++;
        return sizeof_result(out, PyObject_CallFunctionObjArgs(ti->reg_sizeof, o, NULL), tp);
    default: {
        if (ti->sizeof_descr == NULL) {
            PyErr_Format(PyExc_TypeError, "type %.100s has no __sizeof__", tp->tp_name);
            return HL_EPYTHON;
        }
        /* Bind the way special-method lookup does: through the type, never
         * through the instance's __getattribute__. */
        PyObject *descr = ti->sizeof_descr;
        descrgetfunc get = Py_TYPE(descr)->tp_descr_get;
        PyObject *bound = get ? get(descr, o, (PyObject *)tp) : Py_NewRef(descr);
        if (bound == NULL)
            return HL_EPYTHON;
        types->python_calls++;
        PyObject *res = PyObject_CallNoArgs(bound);
        Py_DECREF(bound);
        return sizeof_result(out, res, tp);
    }
    }
}

int
hl_sizes__flat(Py_ssize_t *out, hl_sizes__types *types, hl_sizes__typeinfo *ti, PyObject *o)
{
    Py_ssize_t n;
    if (types->model == HL_MODEL_ALLOCATOR && ti->alloc_special &&
        hl_compat__is_cached_singleton(o)) {
        *out = 0;
        return 0;
    }
    int rc = call_sizeof(&n, types, ti, o);
    if (rc < 0)
        return rc;
    Py_ssize_t extra;
    if (ti->extra_dynamic || ti->extra < 0) {
        extra = hl_compat__getsizeof_extra(o);
        if (!ti->extra_dynamic)
            ti->extra = extra;
    }
    else {
        extra = ti->extra;
    }
    if (ti->has_hidden)
        extra += hl_compat__hidden_bytes(o);
    if (types->model == HL_MODEL_ALLOCATOR && ti->alloc_special)
        extra += hl_compat__allocator_adjust(o);
    if (n > PY_SSIZE_T_MAX - extra - types->align) {
        PyErr_Format(PyExc_OverflowError, "the size of a %.100s overflows", ti->type->tp_name);
        return HL_EPYTHON;
    }
    n += extra;
    *out = (n + types->align - 1) & ~(types->align - 1);
    return 0;
}

PyObject *
hl_sizes__registered_referents(hl_sizes__types *types, hl_sizes__typeinfo *ti, PyObject *o)
{
    types->python_calls++;
    PyObject *res = PyObject_CallFunctionObjArgs(ti->reg_referents, o, NULL);
    if (res == NULL)
        return NULL;
    PyObject *list = PySequence_List(res);
    Py_DECREF(res);
    return list;
}

Py_ssize_t
hl_size_header(PyObject *obj)
{
    return hl_compat__getsizeof_extra(obj);
}

int
hl_size_flat(Py_ssize_t *out, PyObject *obj, hl_model model, Py_ssize_t align)
{
    hl_walk_options opts = HL_WALK_OPTIONS_INIT;
    hl_sizes__types types;
    int rc;

    opts.model = model;
    opts.align = align;
    opts.flags = HL_WALK_CODE | HL_WALK_FRAMES;
    hl_error_clear();
    if ((rc = hl_walk__check_options(&opts)) < 0 || (rc = hl_sizes__types_init(&types, &opts)) < 0)
        return rc;
    hl_sizes__typeinfo *ti = hl_sizes__get(&types, Py_TYPE(obj));
    rc = ti == NULL ? (PyErr_Occurred() ? HL_EPYTHON : HL_ENOMEM)
                    : hl_sizes__flat(out, &types, ti, obj);
    hl_sizes__types_free(&types);
    return rc;
}
