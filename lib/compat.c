/*
 * compat.c - version-dependent object layout, kept out of the rest of lib/.
 * We never include internal/pycore_*.h: where CPython keeps a layout private,
 * we read the few words we need at offsets measured per version
 * (docs/cpython-facts.md sections 3-6), guarded by the type flags that say
 * the words exist.
 */
#include "compat.h"

#define HL_GC_HEAD_SIZE ((Py_ssize_t)(2 * sizeof(void *)))

/* sys.getsizeof, looked up once; the sys module keeps it alive, and so do
 * we (one strong reference, never released: the extension is never
 * unloaded). */
static PyObject *
getsizeof_fn(void)
{
    static PyObject *fn;
    if (fn == NULL) {
        PyObject *sys = PyImport_ImportModule("sys");
        if (sys == NULL)
            return NULL;
        fn = PyObject_GetAttrString(sys, "getsizeof");
        Py_DECREF(sys);
    }
    return fn;
}

/* fn(o) as a size: 0, or -1 with an exception set. */
static int
call_size(Py_ssize_t *out, PyObject *fn, PyObject *o)
{
    PyObject *res = PyObject_CallFunctionObjArgs(fn, o, NULL);
    if (res == NULL)
        return -1;
    Py_ssize_t n = PyLong_AsSsize_t(res);
    Py_DECREF(res);
    if (n == -1 && PyErr_Occurred())
        return -1;
    *out = n;
    return 0;
}

int
hl_compat__getsizeof(Py_ssize_t *out, PyObject *o)
{
    PyObject *fn = getsizeof_fn();
    return fn == NULL ? -1 : call_size(out, fn, o);
}

Py_ssize_t
hl_compat__getsizeof_extra(PyObject *o)
{
#if !HL_KNOWN_LAYOUT
    /* No layout is known: ask getsizeof and __sizeof__ and subtract. */
    Py_ssize_t total;
    if (hl_compat__getsizeof(&total, o) < 0)
        return -1;
    /* type(o).__sizeof__(o), as getsizeof calls it (never CallMethod with
     * "O": a tuple argument would be taken as the argument list). */
    PyObject *meth = PyObject_GetAttrString((PyObject *)Py_TYPE(o), "__sizeof__");
    if (meth == NULL)
        return -1;
    Py_ssize_t n;
    int rc = call_size(&n, meth, o);
    Py_DECREF(meth);
    return rc < 0 ? -1 : total - n;
#elif PY_VERSION_HEX >= 0x030D0000
    /* 3.13 sys.getsizeof: pre-header only for gc objects. */
    if (!PyObject_IS_GC(o))
        return 0;
    return HL_GC_HEAD_SIZE +
           (PyType_HasFeature(Py_TYPE(o), Py_TPFLAGS_PREHEADER) ? HL_GC_HEAD_SIZE : 0);
#elif PY_VERSION_HEX >= 0x030C0000
    /* 3.12: _PyType_PreHeaderSize(type), whether or not the object is gc. */
    PyTypeObject *tp = Py_TYPE(o);
    return (PyType_IS_GC(tp) ? HL_GC_HEAD_SIZE : 0) +
           (PyType_HasFeature(tp, Py_TPFLAGS_PREHEADER) ? HL_GC_HEAD_SIZE : 0);
#elif PY_VERSION_HEX >= 0x030B0000
    PyTypeObject *tp = Py_TYPE(o);
    return (PyType_IS_GC(tp) ? HL_GC_HEAD_SIZE : 0) +
           (PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT) ? HL_GC_HEAD_SIZE : 0);
#else
    return PyObject_IS_GC(o) ? HL_GC_HEAD_SIZE : 0;
#endif
}

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000 && HL_KNOWN_LAYOUT
/* 3.11/3.12 values array: `prefix` bytes of insertion order before the
 * value slots; the byte at values[-1] is the prefix size and values[-2] the
 * number of values used. The capacity is not stored; the prefix was rounded
 * up from capacity + 2, so capacity lies in [prefix - 9, prefix - 2] and for
 * a class whose instances have converged it is used + 1. */
static Py_ssize_t
values_array_bytes(const uint8_t *values)
{
    Py_ssize_t prefix = values[-1];
    Py_ssize_t used = values[-2];
    Py_ssize_t cap = used + 1;
    if (cap < prefix - 9)
        cap = prefix - 9;
    if (cap > prefix - 2)
        cap = prefix - 2;
    if (cap < 0)
        cap = 0;
    return prefix + cap * (Py_ssize_t)sizeof(PyObject *);
}
#endif

Py_ssize_t
hl_compat__hidden_bytes(PyObject *o)
{
#if !HL_KNOWN_LAYOUT
    /* Generic mode: what sys.getsizeof leaves out is not known here, so it
     * is not counted (capabilities()["hidden_memory"] says so). */
    (void)o;
    return 0;
#elif PY_VERSION_HEX >= 0x030D0000
    PyTypeObject *tp = Py_TYPE(o);
    if (!PyType_HasFeature(tp, Py_TPFLAGS_INLINE_VALUES))
        return 0;
    /* struct _dictvalues { uint8_t capacity, size, embedded, valid; values[] }
     * sits right after the basic object. */
    const uint8_t *iv = (const uint8_t *)o + tp->tp_basicsize;
    Py_ssize_t cap = iv[0];
    Py_ssize_t bytes = 8 + cap * (Py_ssize_t)sizeof(PyObject *) + ((cap + 7) & ~(Py_ssize_t)7);
    if (hl_compat__hidden_dict(o) != NULL)
        bytes += (Py_ssize_t)sizeof(PyDictObject) + HL_GC_HEAD_SIZE;
    return bytes;
#elif PY_VERSION_HEX >= 0x030C0000
    if (!PyType_HasFeature(Py_TYPE(o), Py_TPFLAGS_MANAGED_DICT))
        return 0;
    uintptr_t tagged = ((uintptr_t *)o)[-3];
    if (!(tagged & 1))
        return 0;
    return values_array_bytes((const uint8_t *)(tagged + 1));
#elif PY_VERSION_HEX >= 0x030B0000
    if (!PyType_HasFeature(Py_TYPE(o), Py_TPFLAGS_MANAGED_DICT))
        return 0;
    const uint8_t *values = ((const uint8_t **)o)[-4];
    if (values == NULL)
        return 0;
    return values_array_bytes(values);
#else
    (void)o;
    return 0;
#endif
}

PyObject *
hl_compat__hidden_dict(PyObject *o)
{
#if PY_VERSION_HEX >= 0x030D0000 && HL_KNOWN_LAYOUT
    PyTypeObject *tp = Py_TYPE(o);
    if (!PyType_HasFeature(tp, Py_TPFLAGS_INLINE_VALUES))
        return NULL;
    const uint8_t *iv = (const uint8_t *)o + tp->tp_basicsize;
    PyObject *dict = ((PyObject **)o)[-3];
    /* While the inline values are valid, dict traverse is skipped
     * (docs/cpython-facts.md section 4). */
    return (dict != NULL && iv[3]) ? dict : NULL;
#else
    (void)o;
    return NULL;
#endif
}

#if PY_VERSION_HEX >= 0x030B0000 && HL_KNOWN_LAYOUT
/* The shared keys of a class's instances (pycore_dict.h, 3.11-3.13 without
 * Py_GIL_DISABLED): the hash indices, then the entries. */
typedef struct {
    Py_ssize_t dk_refcnt;
    uint8_t dk_log2_size, dk_log2_index_bytes, dk_kind;
    uint32_t dk_version;
    Py_ssize_t dk_usable, dk_nentries;
    char dk_indices[];
} hl_dictkeys;
#define HL_DICT_KEYS_SPLIT 2

typedef struct {
    PyObject *me_key, *me_value;
} hl_unicode_entry;

#if PY_VERSION_HEX >= 0x030D0000
/* struct _dictvalues (3.13): an instance's inline values. */
typedef struct {
    uint8_t capacity, size, embedded, valid;
    PyObject *values[1];
} hl_dictvalues;
#endif
#endif

PyObject *
hl_compat__inline_attr_name(PyObject *o, PyObject *child)
{
#if PY_VERSION_HEX >= 0x030B0000 && HL_KNOWN_LAYOUT
    PyTypeObject *tp = Py_TYPE(o);
    if (!PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT) ||
        !PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE))
        return NULL;
    const hl_dictkeys *keys = (const hl_dictkeys *)((PyHeapTypeObject *)tp)->ht_cached_keys;
    if (keys == NULL || keys->dk_kind != HL_DICT_KEYS_SPLIT)
        return NULL;
    PyObject *const *values;
    const uint8_t *order; /* the used slots, in insertion order */
    Py_ssize_t used;
    int step;
#if PY_VERSION_HEX >= 0x030D0000
    if (!PyType_HasFeature(tp, Py_TPFLAGS_INLINE_VALUES))
        return NULL;
    /* Its insertion order follows values[capacity]. */
    const hl_dictvalues *iv = (const hl_dictvalues *)((const char *)o + tp->tp_basicsize);
    if (!iv->valid)
        return NULL; /* not valid: the dict holds the values */
    values = iv->values;
    order = (const uint8_t *)&values[iv->capacity];
    used = iv->size;
    step = 1;
#else
#if PY_VERSION_HEX >= 0x030C0000
    uintptr_t tagged = ((uintptr_t *)o)[-3];
    if (!(tagged & 1))
        return NULL;
    values = (PyObject *const *)(tagged + 1);
#else
    values = ((PyObject *const **)o)[-4];
    if (values == NULL)
        return NULL;
#endif
    /* The byte at values[-2] counts the used slots; their indices precede
     * it, the first inserted nearest. */
    used = ((const uint8_t *)values)[-2];
    order = (const uint8_t *)values - 3;
    step = -1;
#endif
    const hl_unicode_entry *entries =
        (const hl_unicode_entry *)(keys->dk_indices + ((size_t)1 << keys->dk_log2_index_bytes));
    for (Py_ssize_t k = 0; k < used; k++) {
        Py_ssize_t ix = order[k * step];
        if (ix >= keys->dk_nentries)
            continue;
        if (values[ix] == child) {
            PyObject *name = entries[ix].me_key;
            return name != NULL && PyUnicode_Check(name) ? name : NULL;
        }
    }
    return NULL;
#else
    (void)o;
    (void)child;
    return NULL;
#endif
}

PyObject *
hl_compat__existing_dict(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
#if PY_VERSION_HEX >= 0x030B0000
    if (PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT)) {
#if !HL_KNOWN_LAYOUT
        return NULL;
#elif PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000
        uintptr_t tagged = ((uintptr_t *)o)[-3];
        return (tagged & 1) ? NULL : (PyObject *)tagged;
#else
        return ((PyObject **)o)[-3];
#endif
    }
#endif
    if (tp->tp_dictoffset == 0)
        return NULL;
    PyObject **p = _PyObject_GetDictPtr(o); /* (no managed dict here: makes nothing) */
    return p != NULL ? *p : NULL;
}

int
hl_compat__is_cached_singleton(PyObject *o)
{
    if (o == Py_None || o == Py_True || o == Py_False || o == Py_Ellipsis ||
        o == Py_NotImplemented)
        return 1;
    PyTypeObject *tp = Py_TYPE(o);
    if (tp == &PyLong_Type) {
        int overflow = 0;
        long v = PyLong_AsLongAndOverflow(o, &overflow);
        if (overflow || v < -5 || v > 256)
            return 0;
        PyObject *cached = PyLong_FromLong(v);
        if (cached == NULL) {
            PyErr_Clear();
            return 0;
        }
        int same = cached == o;
        Py_DECREF(cached);
        return same;
    }
    if (tp == &PyTuple_Type)
        return PyTuple_GET_SIZE(o) == 0;
    if (tp == &PyBytes_Type) {
        Py_ssize_t n = PyBytes_GET_SIZE(o);
        if (n == 0)
            return 1;
        if (n != 1)
            return 0;
        PyObject *cached = PyBytes_FromStringAndSize(PyBytes_AS_STRING(o), 1);
        if (cached == NULL) {
            PyErr_Clear();
            return 0;
        }
        int same = cached == o;
        Py_DECREF(cached);
        return same;
    }
    if (tp == &PyUnicode_Type) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(o);
        if (n == 0)
            return 1;
        if (n != 1)
            return 0;
        Py_UCS4 ch = PyUnicode_READ_CHAR(o, 0);
        if (ch >= 256)
            return 0;
        PyObject *cached = PyUnicode_FromOrdinal((int)ch);
        if (cached == NULL) {
            PyErr_Clear();
            return 0;
        }
        int same = cached == o;
        Py_DECREF(cached);
        return same;
    }
    return 0;
}

Py_ssize_t
hl_compat__allocator_adjust(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    Py_ssize_t extra = 0;
#if !HL_KNOWN_LAYOUT
    /* The allocator model is refused in generic mode (these are figures
     * measured per version); nothing is added. */
    (void)tp;
    (void)extra;
    return 0;
#else
#if PY_VERSION_HEX >= 0x030B0000
    /* One-digit ints are allocated as a whole PyLongObject (32 bytes) on
     * 3.11+, while __sizeof__ says 28. */
    if (tp == &PyLong_Type) {
        int overflow = 0;
        long v = PyLong_AsLongAndOverflow(o, &overflow);
        if (!overflow && v > -(1L << 30) && v < (1L << 30))
            return 4;
        if (overflow || v == -1)
            PyErr_Clear();
        return 0;
    }
#else
    /* 3.9/3.10 frames are one pointer larger than their __sizeof__. */
    if (tp == &PyFrame_Type)
        return (Py_ssize_t)sizeof(void *);
#endif
    if (PyType_Check(o)) {
        PyTypeObject *cls = (PyTypeObject *)o;
        if (PyType_HasFeature(cls, Py_TPFLAGS_HEAPTYPE))
            extra += (Py_SIZE(cls) + 1) * Py_TYPE(cls)->tp_itemsize;
        return extra;
    }
    /* A var-sized heap subclass (a namedtuple, say) is allocated with one
     * item more than its size (measured +8 for tuple subclasses). */
    if (tp->tp_itemsize > 0 && PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE) &&
        PyTuple_Check(o))
        extra += tp->tp_itemsize;
    return extra;
#endif
}

#if !HL_KNOWN_LAYOUT
/* Generic mode reads no struct: visit `name` of `o` when it is an object
 * that `o` stores, i.e. when something beyond our own reference holds it
 * after the lookup. A value computed afresh on each access is skipped. Only
 * called with plain member names of exact code objects and heap types, so no
 * user code runs and nothing is created or cached by the lookup. */
static int
visit_stored(PyObject *v, visitproc visit, void *arg)
{
    if (v == NULL) {
        PyErr_Clear();
        return 0;
    }
    int stored = Py_REFCNT(v) > 1;
    Py_DECREF(v);
    return stored ? visit(v, arg) : 0;
}
#endif

int
hl_compat__code_traverse(PyCodeObject *co, visitproc visit, void *arg)
{
#if !HL_KNOWN_LAYOUT
    /* Members (never getters) on every version from 3.11 on; 3.9/3.10 in
     * generic mode add the ones that were still members there. */
    static const char *const names[] = {
        "co_consts", "co_names", "co_filename", "co_name",
#if PY_VERSION_HEX >= 0x030B0000
        "co_qualname", "co_linetable", "co_exceptiontable",
#else
        "co_code", "co_varnames", "co_freevars", "co_cellvars",
#endif
        NULL,
    };
    for (const char *const *n = names; *n != NULL; n++) {
        int rc = visit_stored(PyObject_GetAttrString((PyObject *)co, *n), visit, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
#elif PY_VERSION_HEX >= 0x030B0000
    Py_VISIT(co->co_consts);
    Py_VISIT(co->co_names);
    Py_VISIT(co->co_exceptiontable);
    Py_VISIT(co->co_localsplusnames);
    Py_VISIT(co->co_localspluskinds);
    Py_VISIT(co->co_filename);
    Py_VISIT(co->co_name);
    Py_VISIT(co->co_qualname);
    Py_VISIT(co->co_linetable);
#if PY_VERSION_HEX < 0x030C0000
    Py_VISIT(co->_co_code);
#endif
#else
    Py_VISIT(co->co_code);
    Py_VISIT(co->co_consts);
    Py_VISIT(co->co_names);
    Py_VISIT(co->co_varnames);
    Py_VISIT(co->co_freevars);
    Py_VISIT(co->co_cellvars);
    Py_VISIT(co->co_filename);
    Py_VISIT(co->co_name);
#if PY_VERSION_HEX >= 0x030A0000
    Py_VISIT(co->co_linetable);
#else
    Py_VISIT(co->co_lnotab);
#endif
#endif
    return 0;
}

#if !HL_KNOWN_LAYOUT
typedef struct {
    visitproc visit;
    void *arg;
    PyObject *globals;  /* borrowed */
    PyObject *builtins; /* borrowed, or NULL */
} function_filter;

static int
function_filter_visit(PyObject *o, void *arg)
{
    function_filter *ff = arg;
    if (o == ff->globals || (ff->builtins != NULL && o == ff->builtins))
        return 0;
    return ff->visit(o, ff->arg);
}
#endif

int
hl_compat__function_traverse(PyFunctionObject *f, visitproc visit, void *arg)
{
#if !HL_KNOWN_LAYOUT
    /* The function's own traverse, less the module's globals and builtins
     * (public getters only; __builtins__ may be the module or its dict). */
    function_filter ff = {visit, arg, PyFunction_GetGlobals((PyObject *)f), NULL};
    if (ff.globals != NULL && PyDict_Check(ff.globals)) {
        PyObject *b = PyDict_GetItemString(ff.globals, "__builtins__"); /* borrowed */
        if (b != NULL && PyModule_Check(b))
            b = PyModule_GetDict(b);
        ff.builtins = b;
    }
    traverseproc tp_traverse = Py_TYPE(f)->tp_traverse;
    return tp_traverse != NULL ? tp_traverse((PyObject *)f, function_filter_visit, &ff) : 0;
#else
    Py_VISIT(f->func_code);
    Py_VISIT(f->func_name);
    Py_VISIT(f->func_qualname);
    Py_VISIT(f->func_doc);
    Py_VISIT(f->func_defaults);
    Py_VISIT(f->func_kwdefaults);
    Py_VISIT(f->func_closure);
    Py_VISIT(f->func_dict);
    Py_VISIT(f->func_annotations);
    Py_VISIT(f->func_module);
#if PY_VERSION_HEX >= 0x030C0000
    Py_VISIT(f->func_typeparams);
#endif
    return 0;
#endif
}

int
hl_compat__heaptype_traverse(PyTypeObject *tp, visitproc visit, void *arg)
{
    if (!PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE))
        return 0;
#if !HL_KNOWN_LAYOUT && PY_VERSION_HEX >= 0x030B0000
    /* Public getters; for a heap type they return the stored name. */
    int rc = visit_stored(PyType_GetName(tp), visit, arg);
    return rc != 0 ? rc : visit_stored(PyType_GetQualName(tp), visit, arg);
#endif
    PyHeapTypeObject *ht = (PyHeapTypeObject *)tp;
    Py_VISIT(ht->ht_name);
    Py_VISIT(ht->ht_qualname);
    return 0;
}

#if HL_HAVE_GC_VISIT_OBJECTS
typedef struct {
    hl_gc_visit_fn cb;
    void *arg;
} gc_visit_ctx;

static int
gc_visit_trampoline(PyObject *obj, void *arg)
{
    gc_visit_ctx *ctx = arg;
    return ctx->cb(obj, ctx->arg);
}
#endif

int
hl_compat__gc_visit_objects(hl_gc_visit_fn cb, void *arg)
{
#if HL_HAVE_GC_VISIT_OBJECTS
    gc_visit_ctx ctx = {cb, arg};
    PyUnstable_GC_VisitObjects(gc_visit_trampoline, &ctx);
    return 0;
#else
    /* Before 3.12 there is no visitor: take gc.get_objects() once. */
    PyObject *gc = PyImport_ImportModule("gc");
    if (gc == NULL)
        return -1;
    PyObject *all = PyObject_CallMethod(gc, "get_objects", NULL);
    Py_DECREF(gc);
    if (all == NULL)
        return -1;
    Py_ssize_t n = PyList_GET_SIZE(all);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!cb(PyList_GET_ITEM(all, i), arg))
            break;
    }
    Py_DECREF(all);
    return 0;
#endif
}

#if HL_HAVE_TRACKER
Py_ssize_t
hl_compat__preheader(PyTypeObject *tp)
{
    Py_ssize_t n = PyType_IS_GC(tp) ? HL_GC_HEAD_SIZE : 0;
#if PY_VERSION_HEX >= 0x030C0000
    if (PyType_HasFeature(tp, Py_TPFLAGS_PREHEADER))
        n += HL_GC_HEAD_SIZE;
#elif PY_VERSION_HEX >= 0x030B0000
    if (PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT))
        n += HL_GC_HEAD_SIZE;
#endif
    return n;
}

/* ---- the frame cursor (compat.h holds the reading side) ---------------- */

#if PY_VERSION_HEX >= 0x030B0000
int hl_compat__frames_ok = -1;
#endif

int
hl_compat__frames_selfcheck(void)
{
#if PY_VERSION_HEX >= 0x030B0000
    hl_compat__frames_ok = 1; /* let the cursor run once, then judge it */
#endif
    int ok = 1;
    hl_frame_cursor c;
    hl_compat__frames_begin(&c, PyThreadState_Get());
    PyFrameObject *f = PyEval_GetFrame(); /* borrowed */
    Py_XINCREF(f);
    for (int depth = 0; depth < 2 && f != NULL && ok; depth++) {
        PyCodeObject *code = NULL;
        int lasti = -2;
        PyCodeObject *want = PyFrame_GetCode(f);
#if PY_VERSION_HEX >= 0x030B0000
        int want_lasti = PyFrame_GetLasti(f);
#elif PY_VERSION_HEX >= 0x030A0000
        int want_lasti = f->f_lasti * (int)sizeof(_Py_CODEUNIT);
#else
        int want_lasti = f->f_lasti;
#endif
        if (!hl_compat__frames_next(&c, &code, &lasti) || code != want || lasti != want_lasti)
            ok = 0;
        Py_DECREF(want);
        PyFrameObject *back = PyFrame_GetBack(f);
        Py_DECREF(f);
        f = back;
    }
    Py_XDECREF(f);
#if PY_VERSION_HEX >= 0x030B0000
    hl_compat__frames_ok = ok;
#endif
    return ok ? 0 : -1;
}

/* ---- the thread state's thread-local (compat.h says why) ---------------- */

#if HL_HAVE_FAST_TSTATE
#include <link.h>
#include <pthread.h>
#include <signal.h>

ptrdiff_t hl_compat__tstate_off;
static int tstate_learned = -1; /* -1: not tried; 0: no; 1: yes (under the GIL) */

/* Where the module that holds `fn` keeps this thread's TLS block. */
typedef struct {
    uintptr_t fn;
    char *block; /* this thread's block, NULL if none (yet) */
    size_t size;
    int found;
} tls_query;

static int
find_tls_block(struct dl_phdr_info *info, size_t len, void *arg)
{
    tls_query *q = arg;
    if (len < offsetof(struct dl_phdr_info, dlpi_tls_data) + sizeof(info->dlpi_tls_data))
        return 0; /* (a libc too old to say where the TLS block is) */
    int holds = 0;
    size_t tls_size = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = (uintptr_t)info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && q->fn >= start && q->fn - start < ph->p_memsz)
            holds = 1;
        if (ph->p_type == PT_TLS)
            tls_size = ph->p_memsz;
    }
    if (!holds)
        return 0;
    q->found = 1;
    q->block = tls_size != 0 ? info->dlpi_tls_data : NULL;
    q->size = tls_size;
    return 1;
}

static uintptr_t
getter_address(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return (uintptr_t)&PyThreadState_GetUnchecked;
#else
    return (uintptr_t)&_PyThreadState_UncheckedGet;
#endif
}

/* On a new thread, which has no thread state: is the block at the same
 * distance from its thread pointer, and does the word read NULL? */
typedef struct {
    ptrdiff_t block_off; /* block - thread pointer, on the learning thread */
    ptrdiff_t off;       /* the word - thread pointer */
    int ok;
} tls_probe;

static void *
probe_thread(void *arg)
{
    tls_probe *p = arg;
    tls_query q = {getter_address(), NULL, 0, 0};
    dl_iterate_phdr(find_tls_block, &q);
    char *tp = hl_compat__thread_pointer();
    if (q.found && q.block != NULL && q.block - tp == p->block_off) {
        void *word;
        memcpy(&word, tp + p->off, sizeof(word));
        p->ok = word == NULL;
    }
    return NULL;
}

int
hl_compat__tstate_learn(void)
{
    if (tstate_learned >= 0)
        return tstate_learned;
    tstate_learned = 0;
    PyThreadState *ts = hl_compat__tstate();
    tls_query q = {getter_address(), NULL, 0, 0};
    dl_iterate_phdr(find_tls_block, &q);
    if (ts == NULL || !q.found || q.block == NULL || q.size < sizeof(void *))
        return 0;
    /* The words that hold our thread state now: at most a few. */
    size_t cand[8];
    int ncand = 0;
    for (size_t at = 0; at + sizeof(void *) <= q.size; at += sizeof(void *)) {
        void *word;
        memcpy(&word, q.block + at, sizeof(word));
        if (word == (void *)ts && ncand < 8)
            cand[ncand++] = at;
    }
    /* With the GIL released the interpreter clears its current thread
     * state (3.12+); a word that still holds it is something else. */
    int keep[8] = {0};
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < ncand; i++) {
        void *word;
        memcpy(&word, q.block + cand[i], sizeof(word));
        keep[i] = word == NULL;
    }
    Py_END_ALLOW_THREADS
    int chosen = -1, nkept = 0;
    for (int i = 0; i < ncand; i++) {
        void *word;
        memcpy(&word, q.block + cand[i], sizeof(word));
        if (keep[i] && word == (void *)ts) {
            chosen = i;
            nkept++;
        }
    }
    if (nkept != 1)
        return 0;
    char *tp = hl_compat__thread_pointer();
    tls_probe p = {q.block - tp, q.block + cand[chosen] - tp, 0};
    if (p.off == 0)
        return 0;
    /* The probe thread takes no signal meant for the process. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_t th;
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int made = pthread_create(&th, NULL, probe_thread, &p) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!made || pthread_join(th, NULL) != 0 || !p.ok)
        return 0;
    void *word; /* the word as the hooks will read it */
    memcpy(&word, hl_compat__thread_pointer() + p.off, sizeof(word));
    if (word != (void *)ts)
        return 0;
    __atomic_store_n(&hl_compat__tstate_off, p.off, __ATOMIC_RELEASE);
    tstate_learned = 1;
    return 1;
}
#else
int
hl_compat__tstate_learn(void)
{
    return 0;
}
#endif

/* ---- the collector's flag (compat.h: offsets and why) ------------------- */

#if HL_GC_IN_ALLOCATION
#if PY_VERSION_HEX >= 0x030B0000
#define HL_GCSTATE_AT 648
#else
#define HL_GCSTATE_AT 616
#endif
#define HL_GC_ENABLED 12
#define HL_GC_THRESHOLD(g) (40 + 24 * (g))
#define HL_GC_COLLECTING 200

/* Whether the int at `at` equals the Python int `v` (a borrowed or NULL
 * reference). */
static int
int_matches(const char *at, PyObject *v)
{
    if (v == NULL || !PyLong_Check(v))
        return 0;
    long want = PyLong_AsLong(v);
    if (want == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    int got;
    memcpy(&got, at, sizeof(got));
    return (long)got == want;
}
#endif

const int *
hl_compat__gc_collecting_flag(PyInterpreterState *interp)
{
#if HL_GC_IN_ALLOCATION
    const char *gcs = (const char *)interp + HL_GCSTATE_AT;
    int ok = 0;
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *thr = gc != NULL ? PyObject_CallMethod(gc, "get_threshold", NULL) : NULL;
    PyObject *en = thr != NULL ? PyObject_CallMethod(gc, "isenabled", NULL) : NULL;
    if (thr != NULL && en != NULL && PyTuple_Check(thr) && PyTuple_GET_SIZE(thr) == 3) {
        int collecting;
        memcpy(&collecting, gcs + HL_GC_COLLECTING, sizeof(collecting));
        ok = int_matches(gcs + HL_GC_ENABLED, en) && (collecting == 0 || collecting == 1);
        for (int g = 0; g < 3 && ok; g++)
            ok = int_matches(gcs + HL_GC_THRESHOLD(g), PyTuple_GET_ITEM(thr, g));
    }
    Py_XDECREF(en);
    Py_XDECREF(thr);
    Py_XDECREF(gc);
    PyErr_Clear();
    return ok ? (const int *)(gcs + HL_GC_COLLECTING) : NULL;
#else
    (void)interp;
    return NULL;
#endif
}
#endif /* HL_HAVE_TRACKER */
