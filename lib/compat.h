/*
 * compat.h - every difference between CPython 3.9 and 3.13 that the core
 * depends on. Only this file and compat.c may test PY_VERSION_HEX; the rest
 * of lib/ uses the feature macros and inline wrappers defined here.
 *
 * Layout facts used below were measured on 3.9.18, 3.10.13, 3.11.7, 3.12.1
 * and 3.13.0 (see docs/cpython-facts.md, sections 3-6).
 */
#ifndef HL_COMPAT_H
#define HL_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <stddef.h>
#include <stdint.h>

#if PY_VERSION_HEX < 0x03090000
#error "heaplens needs CPython 3.9 or later"
#endif

/* ---- which layouts this build may rely on ------------------------------- */

/* HL_KNOWN_LAYOUT is 1 only where every internal layout below was checked:
 * a GIL build of CPython 3.9-3.13 that was not configured with the CMake
 * option HEAPLENS_GENERIC. Elsewhere heaplens runs in generic mode: flat
 * sizes come from sys.getsizeof() itself, no pre-header, values array, frame
 * or allocator figure is read or assumed, and the features that need them
 * (lifetime tracking, the allocator model) are refused at run time with
 * heaplens.UnsupportedError. HL_LAYOUT_MODE says why, for capabilities().
 *
 * HL_FREE_THREADED: a Py_GIL_DISABLED build (3.13t+). The tracker's hooks
 * and tables rely on the GIL to serialise them, and the object header and
 * allocator differ, so such a build is always generic.
 *
 * HL_HAVE_TRACKER: the lifetime tracker (lib/lifetimes*.c,
 * pybind/lifetimes.c) may be compiled. CMake leaves those sources out when
 * it is 0 and passes HL_CMAKE_TRACKER so the two decisions cannot differ. */
#ifdef Py_GIL_DISABLED
#define HL_FREE_THREADED 1
#else
#define HL_FREE_THREADED 0
#endif

#if defined(HEAPLENS_GENERIC) && HEAPLENS_GENERIC + 0
#define HL_KNOWN_LAYOUT 0
#define HL_LAYOUT_MODE "generic-option"
#elif HL_FREE_THREADED
#define HL_KNOWN_LAYOUT 0
#define HL_LAYOUT_MODE "free-threaded"
#elif PY_VERSION_HEX >= 0x030E0000
#define HL_KNOWN_LAYOUT 0
#define HL_LAYOUT_MODE "generic-version"
#else
#define HL_KNOWN_LAYOUT 1
#define HL_LAYOUT_MODE "known"
#endif

#define HL_HAVE_TRACKER (HL_KNOWN_LAYOUT && !HL_FREE_THREADED)

#if defined(HL_CMAKE_TRACKER) && HL_CMAKE_TRACKER != HL_HAVE_TRACKER
#error "CMake and compat.h disagree on whether the lifetime tracker is built"
#endif

/* ---- feature macros ---------------------------------------------------- */

/* 3.11+: instances of plain classes may keep attributes in a values array
 * (3.11/3.12: a separate block; 3.13: inline in the object block). Generic
 * mode reads none of it, so it counts none of it. */
#if PY_VERSION_HEX >= 0x030B0000 && HL_KNOWN_LAYOUT
#define HL_HAVE_MANAGED_DICT 1
#else
#define HL_HAVE_MANAGED_DICT 0
#endif

/* 3.11+: a running frame's locals live in the interpreter's frame, which
 * frame_traverse does not visit (only a frame object that owns its frame,
 * e.g. after the function returned). 3.12+ reads one with PyFrame_GetVar
 * without creating f_locals; 3.11 has only PyFrame_GetLocals. */
#if PY_VERSION_HEX >= 0x030B0000
#define HL_FRAME_HIDES_LOCALS 1
#else
#define HL_FRAME_HIDES_LOCALS 0
#endif
#if PY_VERSION_HEX >= 0x030C0000
#define HL_HAVE_FRAME_GETVAR 1
#else
#define HL_HAVE_FRAME_GETVAR 0
#endif

/* 3.12+: visit every gc-tracked object without building a list. */
#if PY_VERSION_HEX >= 0x030C0000
#define HL_HAVE_GC_VISIT_OBJECTS 1
#else
#define HL_HAVE_GC_VISIT_OBJECTS 0
#endif

/* 3.13+: PyRefTracer (DESTROY events are only reliable from 3.13.3). */
#if PY_VERSION_HEX >= 0x030D0000
#define HL_HAVE_REFTRACER 1
#else
#define HL_HAVE_REFTRACER 0
#endif

/* 3.12+: a sub-interpreter may have a GIL of its own, so an allocator hook
 * can run in two threads at once, one per interpreter. */
#if PY_VERSION_HEX >= 0x030C0000
#define HL_HAVE_PER_INTERP_GIL 1
#else
#define HL_HAVE_PER_INTERP_GIL 0
#endif

/* 3.13.3+: PyRefTracer reports DESTROY from the eval loop (gh-130382);
 * a run-time test, as the headers of 3.13.0 and 3.13.3 are alike. */
#define HL_REFTRACER_RELIABLE_HEX 0x030D0300

/* ---- small wrappers missing from old versions --------------------------- */

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *
hl_compat__newref(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
#define Py_NewRef(o) hl_compat__newref((PyObject *)(o))
#endif

/* ---- object layout ------------------------------------------------------ */

/* The extra bytes sys.getsizeof() adds to __sizeof__() for `o`: the GC
 * header and, on 3.11+, the managed-dict / managed-weakref pre-header.
 * 3.11 and 3.12 decide by the type's GC flag, so static types (which are
 * not gc objects) still get 16 there; 3.9, 3.10 and 3.13 ask
 * PyObject_IS_GC(o). Matching this quirk keeps flatsize == getsizeof.
 * Never fails with known layouts. In generic mode it is
 * sys.getsizeof(o) - type(o).__sizeof__(o), which runs Python code and
 * returns -1 with an exception set when either raises. */
Py_ssize_t hl_compat__getsizeof_extra(PyObject *o);

/* Generic mode's flat size: sys.getsizeof(o) itself, called through
 * Python. Returns 0, or -1 with an exception set (whatever getsizeof
 * raised: __sizeof__ raising, returning a negative number or a non-int). */
int hl_compat__getsizeof(Py_ssize_t *out, PyObject *o);

/* Bytes an object owns that are no object and that sys.getsizeof() leaves
 * out: the values array of a plain instance on 3.11/3.12, its inline values
 * on 3.13, the dict that traverse hides on 3.13. 0 when there are none.
 * Borrowed reference; never fails, never runs Python code. */
Py_ssize_t hl_compat__hidden_bytes(PyObject *o);

/* The managed __dict__ of `o` that tp_traverse does not report (3.13 with
 * valid inline values), or NULL. Borrowed reference. */
PyObject *hl_compat__hidden_dict(PyObject *o);

/* The name under which instance `o` holds `child` among the attribute
 * values kept in the object itself (3.11+: its values array or inline
 * values, keyed by its class's shared keys), or NULL. Borrowed reference.
 * Reads the interpreter's own structures, compares `child` by address,
 * makes nothing: asking Python for `o.__dict__` would make the dict there
 * (and change the object's size). NULL on 3.9/3.10 and in generic mode. */
PyObject *hl_compat__inline_attr_name(PyObject *o, PyObject *child);

/* The __dict__ that `o` already has, or NULL when it has none yet (or its
 * attributes are still kept inline, 3.11+). Borrowed; never makes one. */
PyObject *hl_compat__existing_dict(PyObject *o);

/* Bytes the allocator holds for `o` beyond what sys.getsizeof() says,
 * measured per version with tracemalloc (docs/cpython-facts.md, section 5):
 * +4 for one-digit ints on 3.11+, +8 for 3.9/3.10 frames, one extra item
 * for var-sized heap subclasses, the member table of heap types. */
Py_ssize_t hl_compat__allocator_adjust(PyObject *o);

#if HL_KNOWN_LAYOUT
/* int.__sizeof__() of an exact int, without the call. */
static inline Py_ssize_t
hl_compat__int_sizeof(PyObject *o)
{
#if PY_VERSION_HEX >= 0x030C0000
    /* lv_tag holds the digit count above _PyLong_NON_SIZE_BITS flag bits
     * (cpython/longintrepr.h; _PyLong_DigitCount itself is internal). */
    Py_ssize_t n = (Py_ssize_t)(((PyLongObject *)o)->long_value.lv_tag >> _PyLong_NON_SIZE_BITS);
    return (Py_ssize_t)offsetof(PyLongObject, long_value.ob_digit) +
           (n > 1 ? n : 1) * (Py_ssize_t)sizeof(digit);
#elif PY_VERSION_HEX >= 0x030B0000
    Py_ssize_t n = Py_ABS(Py_SIZE(o));
    return (Py_ssize_t)offsetof(PyLongObject, ob_digit) + (n > 1 ? n : 1) * (Py_ssize_t)sizeof(digit);
#else
    return (Py_ssize_t)offsetof(PyLongObject, ob_digit) +
           Py_ABS(Py_SIZE(o)) * (Py_ssize_t)sizeof(digit);
#endif
}

/* str.__sizeof__() of an exact, compact ASCII str without other buffers,
 * or -1 when the string needs the full method. */
static inline Py_ssize_t
hl_compat__str_sizeof(PyObject *o)
{
#if PY_VERSION_HEX < 0x030C0000
    if (!PyUnicode_IS_READY(o) || ((PyASCIIObject *)o)->wstr != NULL)
        return -1;
#endif
    if (!PyUnicode_IS_COMPACT_ASCII(o))
        return -1;
    return (Py_ssize_t)sizeof(PyASCIIObject) + PyUnicode_GET_LENGTH(o) + 1;
}
#endif /* HL_KNOWN_LAYOUT */

/* Nonzero when `o` is a statically allocated or cached singleton that
 * building a structure never allocates: small ints, the empty tuple,
 * bytes and str, one-character latin-1 strings. */
int hl_compat__is_cached_singleton(PyObject *o);

/* Visit what a code object refers to (it has no tp_traverse).
 * Returns what visit returned, or 0. */
int hl_compat__code_traverse(PyCodeObject *co, visitproc visit, void *arg);

/* Visit what tp_traverse hides on a heap type: its __name__ and
 * __qualname__. */
int hl_compat__heaptype_traverse(PyTypeObject *tp, visitproc visit, void *arg);

/* Visit what a function owns, leaving out __globals__ and __builtins__
 * (they belong to the module, not the function). */
int hl_compat__function_traverse(PyFunctionObject *f, visitproc visit, void *arg);

/* A weakref's referent, or NULL when it is dead. Borrowed reference. */
static inline PyObject *
hl_compat__weakref_target(PyObject *ref)
{
#if HL_KNOWN_LAYOUT
    PyObject *o = ((PyWeakReference *)ref)->wr_object;
    return (o == Py_None || o == NULL || Py_REFCNT(o) <= 0) ? NULL : o;
#elif PY_VERSION_HEX >= 0x030D0000
    /* The referent stays alive after the DECREF: whoever kept it alive
     * before the call still does. */
    PyObject *o = NULL;
    if (PyWeakref_GetRef(ref, &o) < 0) {
        PyErr_Clear();
        return NULL;
    }
    Py_XDECREF(o);
    return o;
#else
    PyObject *o = PyWeakref_GetObject(ref); /* borrowed */
    if (o == NULL)
        PyErr_Clear();
    return o == Py_None ? NULL : o;
#endif
}

/* Call `cb(obj, arg)` for every gc-tracked object; stops when cb returns 0.
 * Returns -1 with an exception set on failure. */
typedef int (*hl_gc_visit_fn)(PyObject *obj, void *arg);
int hl_compat__gc_visit_objects(hl_gc_visit_fn cb, void *arg);

/* ---- hooks -------------------------------------------------------------- */

/* Everything from here to the end is used by the lifetime tracker only and
 * reads private layouts; it does not exist in generic mode. */
#if HL_HAVE_TRACKER

/* Bytes in front of an object of type `tp` in its allocation: the GC
 * header and, on 3.11+, the managed dict/weakref pre-header (CPython's
 * _PyType_PreHeaderSize). An object lives at block + this. */
Py_ssize_t hl_compat__preheader(PyTypeObject *tp);

/* 3.12+ on glibc, x86-64 or arm64: the interpreter keeps the calling
 * thread's state in a thread-local variable of libpython, which
 * PyThreadState_GetUnchecked() reads through a call and, from a shared
 * library, a __tls_get_addr() call: about 30 instructions the hooks paid on
 * every allocation, free and resize (3.13's churn under callgrind: 11 per
 * iteration, most of its extra cost over 3.11). When the variable is in
 * static TLS, it sits at one fixed distance from the thread pointer in
 * every thread, and one load reads it.
 *
 * The distance is learned, never assumed: hl_compat__tstate_learn() finds
 * libpython's TLS block for this thread (dl_iterate_phdr), the one word in
 * it that equals PyThreadState_GetUnchecked() while this thread holds the
 * GIL and is NULL while it has released it, and checks on a new thread that
 * the block sits at the same distance there (static TLS) and that the word
 * reads NULL (no thread state). Anything else, and the call stays. */
#if PY_VERSION_HEX >= 0x030C0000 && defined(__GLIBC__) && \
    ((defined(__x86_64__) && !defined(__ILP32__)) || defined(__aarch64__))
#define HL_HAVE_FAST_TSTATE 1
/* From the thread pointer; 0: unknown. Published once with a release store
 * (hooks may run meanwhile, in a sub-interpreter's threads), read relaxed:
 * either value gives the right answer. */
extern ptrdiff_t hl_compat__tstate_off;

static inline char *
hl_compat__thread_pointer(void)
{
    char *tp;
#if defined(__x86_64__)
    __asm__("mov %%fs:0, %0" : "=r"(tp)); /* glibc's TCB points at itself */
#else
    __asm__("mrs %0, tpidr_el0" : "=r"(tp));
#endif
    return tp;
}
#else
#define HL_HAVE_FAST_TSTATE 0
#endif

/* Learn the fast route (once per process; under the GIL, before the hooks
 * are installed). Returns 1 when hl_compat__tstate() uses it, else 0. */
int hl_compat__tstate_learn(void);

/* The calling thread's state, or NULL. Never fails; safe in a hook. */
static inline PyThreadState *
hl_compat__tstate(void)
{
#if HL_HAVE_FAST_TSTATE
    ptrdiff_t off = __atomic_load_n(&hl_compat__tstate_off, __ATOMIC_RELAXED);
    if (off != 0) {
        PyThreadState *ts;
        memcpy(&ts, hl_compat__thread_pointer() + off, sizeof(ts));
        return ts;
    }
#endif
#if PY_VERSION_HEX >= 0x030D0000
    return PyThreadState_GetUnchecked();
#else
    return _PyThreadState_UncheckedGet();
#endif
}

/* A cursor over the calling thread's Python frames that an allocator hook
 * can use: it reads the interpreter's own frame chain and never creates a
 * frame object (PyEval_GetFrame would, on 3.11+, allocating from inside
 * the hook and, on 3.11, possibly running a collection there). Frames the
 * interpreter is still setting up, and C-stack shim frames, are skipped as
 * tracemalloc skips them. The 3.11+ chain is private, so its few fields are
 * read at offsets checked against the debug builds (listed below), and
 * hl_compat__frames_selfcheck() verifies them at run time before use. */
typedef struct {
    void *frame;
} hl_frame_cursor;

/* ---- the frame cursor ----------------------------------------------------
 * 3.9/3.10: tstate->frame and the public PyFrameObject fields.
 * 3.11-3.13: struct _PyInterpreterFrame (internal/pycore_frame.h), offsets
 * from `ptype /o` on the pyenv debug builds:
 *            code          previous  instr          owner  owner values
 *   3.11     f_code @32    @48       prev_instr @56 @69    THREAD 0, GENERATOR 1,
 *                                                          FRAME_OBJECT 2
 *   3.12     f_code @0     @8        prev_instr @56 @70    ... CSTACK 3
 *   3.13     f_executable @0 @8      instr_ptr @56  @70    ... CSTACK 3
 * The current frame is tstate->cframe->current_frame (3.11/3.12) or
 * tstate->current_frame (3.13), both in the public cpython/pystate.h.
 * A frame is incomplete while its instruction pointer is before
 * _co_firsttraceable (unless a generator owns it); prev_instr points at the
 * last instruction run, instr_ptr (3.13) at the one running. */
#if PY_VERSION_HEX >= 0x030B0000
#if PY_VERSION_HEX >= 0x030C0000
#define HL_IF_CODE 0
#define HL_IF_PREVIOUS 8
#define HL_IF_OWNER 70
#else
#define HL_IF_CODE 32
#define HL_IF_PREVIOUS 48
#define HL_IF_OWNER 69
#endif
#define HL_IF_INSTR 56
#define HL_IF_OWNED_BY_GENERATOR 1
#define HL_IF_OWNED_BY_CSTACK 3

extern int hl_compat__frames_ok; /* -1 until the self-check ran, then 0 or 1 */

#define HL_IF_FIELD(f, off, type) (*(type *)((char *)(f) + (off)))
typedef uint16_t hl_codeunit; /* _Py_CODEUNIT, not public in 3.13 */
#endif

static inline void
hl_compat__frames_begin(hl_frame_cursor *c, PyThreadState *ts)
{
    c->frame = NULL;
    if (ts == NULL)
        return;
#if PY_VERSION_HEX >= 0x030D0000
    if (hl_compat__frames_ok == 1)
        c->frame = ts->current_frame;
#elif PY_VERSION_HEX >= 0x030B0000
    if (hl_compat__frames_ok == 1 && ts->cframe != NULL)
        c->frame = ts->cframe->current_frame;
#else
    c->frame = ts->frame;
#endif
}

/* A cheap name for the cursor's next frame position, for a cache in front
 * of hl_compat__frames_next: (a, b) is (instruction address, code) on 3.11+
 * -- the address names the code and offset while that code object lives --
 * and (offset, code) on 3.9/3.10. 0 when there is no frame. Only the slow
 * path knows whether the frame is one to report. */
static inline int
hl_compat__frames_peek(const hl_frame_cursor *c, uintptr_t *a, uintptr_t *b)
{
    if (c->frame == NULL)
        return 0;
#if PY_VERSION_HEX >= 0x030B0000
    *a = (uintptr_t)HL_IF_FIELD(c->frame, HL_IF_INSTR, void *);
    *b = (uintptr_t)HL_IF_FIELD(c->frame, HL_IF_CODE, void *);
#else
    *a = (uintptr_t)(unsigned int)((PyFrameObject *)c->frame)->f_lasti;
    *b = (uintptr_t)((PyFrameObject *)c->frame)->f_code;
#endif
    return 1;
}

/* The frame after the cursor's next one (to tell whether _next used it). */
static inline void *
hl_compat__frames_after(const hl_frame_cursor *c)
{
#if PY_VERSION_HEX >= 0x030B0000
    return c->frame ? HL_IF_FIELD(c->frame, HL_IF_PREVIOUS, void *) : NULL;
#else
    return c->frame ? (void *)((PyFrameObject *)c->frame)->f_back : NULL;
#endif
}

/* The next frame outwards: its code (borrowed) and the byte offset of its
 * current instruction (what PyCode_Addr2Line takes). 0 at the end. */
static inline int
hl_compat__frames_next(hl_frame_cursor *c, PyCodeObject **code, int *lasti)
{
#if PY_VERSION_HEX >= 0x030B0000
    while (c->frame != NULL) {
        void *f = c->frame;
        PyObject *co = HL_IF_FIELD(f, HL_IF_CODE, PyObject *);
        hl_codeunit *instr = HL_IF_FIELD(f, HL_IF_INSTR, hl_codeunit *);
        char owner = HL_IF_FIELD(f, HL_IF_OWNER, char);
        c->frame = HL_IF_FIELD(f, HL_IF_PREVIOUS, void *);
        if (co == NULL || !PyCode_Check(co))
            continue;
        PyCodeObject *pc = (PyCodeObject *)co;
        hl_codeunit *first = (hl_codeunit *)pc->co_code_adaptive;
#if PY_VERSION_HEX >= 0x030C0000
        if (owner == HL_IF_OWNED_BY_CSTACK)
            continue;
#endif
        if (owner != HL_IF_OWNED_BY_GENERATOR && instr < first + pc->_co_firsttraceable)
            continue;
        *code = pc;
        *lasti = (int)(instr - first) * (int)sizeof(hl_codeunit);
        return 1;
    }
    return 0;
#else
    PyFrameObject *f = (PyFrameObject *)c->frame;
    if (f == NULL)
        return 0;
    c->frame = f->f_back;
    *code = f->f_code;
#if PY_VERSION_HEX >= 0x030A0000
    *lasti = f->f_lasti < 0 ? -1 : f->f_lasti * (int)sizeof(_Py_CODEUNIT);
#else
    *lasti = f->f_lasti;
#endif
    return 1;
#endif
}


/* Compare the cursor with the public frame API from the calling frame
 * (needs the GIL, not for hooks): 0 when they agree, -1 when this build
 * lays its frames out differently (then hooks must not use the cursor). */
int hl_compat__frames_selfcheck(void);

/* ---- the collector's "collecting" flag -----------------------------------
 * Before 3.12 a collection runs inside the allocation of a gc object: its
 * block is malloc'd and its gc header zeroed, then the collection runs, and
 * only then are its refcount and type written. Events during that
 * collection must not read the block as an object (its words still hold
 * what the block held before). The interpreter's GCState says when a
 * collection runs; it is private (internal/pycore_gc.h), so its fields are
 * read at offsets measured with offsetof() against the installed internal
 * headers of 3.9.18, 3.10.13 and 3.11.7 (release and Py_DEBUG alike):
 *            GCState in PyInterpreterState   enabled  gen0/1/2 threshold  collecting
 *   3.9      @616                            +12      +40 / +64 / +88     +200
 *   3.10     @616                            +12      +40 / +64 / +88     +200
 *   3.11     @648                            +12      +40 / +64 / +88     +200
 * hl_compat__gc_collecting_flag() checks them against gc.isenabled() and
 * gc.get_threshold() before handing out the flag's address; 3.12+ only
 * schedules a collection from an allocation (NULL there). */
#if PY_VERSION_HEX < 0x030C0000
#define HL_GC_IN_ALLOCATION 1
#else
#define HL_GC_IN_ALLOCATION 0
#endif

/* The address of `interp`'s collecting flag (an int, 1 while a collection
 * runs), or NULL when this version has none to read or this build's layout
 * did not pass the check. Needs the GIL; not for hooks (they read the flag
 * through the address). Clears any exception it meets. */
const int *hl_compat__gc_collecting_flag(PyInterpreterState *interp);
#endif /* HL_HAVE_TRACKER */

#endif /* HL_COMPAT_H */
