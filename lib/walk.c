/*
 * walk.c - the traversal engine. Every feature that looks at the object
 * graph (asizeof, snapshots, referrer chains) is a visitor on this walk.
 *
 * Shape: an explicit stack (so a million-deep chain is just a deep stack),
 * a visited set of object addresses (ptrset.c, about a byte per object), and
 * per-type information resolved once (sizes.c). The sets a walk shares or
 * hands over live in visited.c and addrset.c.
 *
 * Two orders:
 *  - the default marks an object visited when it is first found, and counts
 *    leaves (objects with no referents whose size needs no Python code: int,
 *    float, str, bytes...) right there in the traverse callback, so they
 *    never touch the stack. Totals are exact; only which parent a shared
 *    object is attributed to may differ from a strict depth-first order.
 *  - HL_WALK_ORDERED pushes every edge and marks objects when popped, which
 *    is pympler's depth-first pre-order exactly; asized(detail=...) uses it
 *    to attribute subtree sizes the way pympler does.
 *
 * Ownership: every stack entry owns a strong reference. A Python __sizeof__
 * may run between two pops and mutate or free anything, so nothing the walk
 * still has to look at can disappear under it. Once Python code has run,
 * objects already counted are kept alive until the end too, so that a freed
 * address reused by a new object is not mistaken for one already seen.
 * tp_traverse itself never runs Python code, so the graph cannot change
 * while one object's referents are being gathered.
 */
#include <string.h>

#include "compat.h"
#include "error.h"
#include "mem.h"
#include "ptrset.h"
#include "sizes.h"
#include "visited.h"
#include "walk.h"

typedef struct {
    PyObject *obj; /* strong reference */
    uint32_t depth;
    uint32_t leave; /* a marker: report obj's subtree size when popped */
} frame_t;

typedef struct {
    hl_sizes__types types;
    hl_ptrset *seen;   /* own_seen, or the shared set's */
    hl_ptrset own_seen;
    hl_visited *shared;
    hl_visited__keeplist own_keep;
    hl_visited__keeplist *keep;    /* own_keep, or the shared set's */
    PyObject *builtins_dict; /* borrowed: a stop sign for the walk */
    const hl_walk_options *opts;
    frame_t *stack;
    size_t top, cap;
    Py_ssize_t *marks; /* running totals at each open leave marker */
    size_t mtop, mcap;
    Py_ssize_t total, root_total;
    uint32_t root;
    uint32_t child_depth;
    PyObject *parent; /* borrowed: whose referents are being gathered */
    int ordered;
    int err; /* error raised inside a traverse callback */
    hl_walk_stats stats;
} walker;

static int
grow_array(void **arr, size_t *cap, size_t elem, const char *what)
{
    size_t ncap = *cap ? *cap * 2 : 256;
    void *p = hl_mem__realloc(*arr, ncap * elem);
    if (p == NULL)
        return hl_error__set(HL_ENOMEM, "out of memory growing the %s to %zu entries", what,
                             ncap);
    *arr = p;
    *cap = ncap;
    return 0;
}

static size_t
bookkeeping_bytes(const walker *w)
{
    return w->seen->peak_bytes + w->cap * sizeof(frame_t) + w->mcap * sizeof(Py_ssize_t) +
           w->keep->cap * sizeof(PyObject *);
}

static int
push(walker *w, PyObject *o, uint32_t depth, uint32_t leave)
{
    if (w->top == w->cap) {
        int rc = grow_array((void **)&w->stack, &w->cap, sizeof(frame_t), "walk stack");
        if (rc < 0)
            return rc;
        size_t b = bookkeeping_bytes(w);
        if (b > w->stats.peak_bytes)
            w->stats.peak_bytes = b;
    }
    Py_INCREF(o);
    w->stack[w->top].obj = o;
    w->stack[w->top].depth = depth;
    w->stack[w->top].leave = leave;
    w->top++;
    return 0;
}

/* Drop our reference to an object we are done with, or keep it alive when
 * Python code has run during this walk (see the file comment). */
static int
release(walker *w, PyObject *o, uint32_t depth)
{
    /* A shared set took its reference to a root when the root was marked. */
    if ((w->shared == NULL && w->types.python_calls == 0) || (w->shared && depth == 0)) {
        Py_DECREF(o);
        return 0;
    }
    return hl_visited__keep_append(w->keep, o);
}

/* Size one object and report it. */
static int
count(walker *w, PyObject *o, hl_sizes__typeinfo *ti, uint32_t depth, Py_ssize_t *flat_out)
{
    Py_ssize_t flat = 0;
    if (o == w->builtins_dict && depth > 0) {
        /* __builtins__ belongs to the interpreter, not to what holds it. */
    }
    else if (w->opts->flags & HL_WALK_NO_SIZES) {
        /* nothing to size */
    }
    else if (ti->policy == HL_POL_COUNT || (ti->policy == HL_POL_ZERO && depth == 0)) {
        int rc = hl_sizes__flat(&flat, &w->types, ti, o);
        if (rc < 0)
            return rc;
    }
    if (flat > PY_SSIZE_T_MAX - w->root_total) {
        /* A whole-heap census has no per-root figures: its per-type rows
         * and total saturate instead. */
        if (!(w->opts->flags & HL_WALK_UNATTRIBUTED))
            return hl_error__set(HL_EOVERFLOW, "the size of one object graph overflows a "
                                               "Py_ssize_t (a __sizeof__ of %zd bytes?)", flat);
        w->root_total = PY_SSIZE_T_MAX - flat;
    }
    /* The grand total over several roots saturates; each root's own figure
     * is exact, and callers add those up in Python. */
    w->total = flat > PY_SSIZE_T_MAX - w->total ? PY_SSIZE_T_MAX : w->total + flat;
    w->root_total += flat;
    w->stats.counted++;
    ti->n_counted++;
    ti->bytes_counted = flat > PY_SSIZE_T_MAX - ti->bytes_counted ? PY_SSIZE_T_MAX
                                                                   : ti->bytes_counted + flat;
    if (depth > w->stats.max_depth)
        w->stats.max_depth = depth;
    *flat_out = flat;
    if (w->opts->on_object != NULL) {
        hl_walk_event ev = {o, flat, 0, depth, w->root};
        if (w->opts->on_object(&ev, w->opts->payload) != 0)
            return PyErr_Occurred() ? HL_EPYTHON : hl_error__set(HL_ESTOP, "walk stopped");
    }
    return 0;
}

static int
visit_child(PyObject *child, void *arg)
{
    walker *w = arg;
    int rc;
    if (child == NULL)
        return 0;
    if (w->opts->on_edge != NULL && w->opts->on_edge(w->parent, child, w->opts->payload) != 0) {
        w->err = hl_error__set(HL_ESTOP, "walk stopped by the edge callback");
        return -1;
    }
    if (w->ordered) {
        rc = push(w, child, w->child_depth, 0);
    }
    else {
        hl_sizes__typeinfo *ti = hl_sizes__get(&w->types, Py_TYPE(child));
        if (ti == NULL) {
            rc = PyErr_Occurred() ? HL_EPYTHON : HL_ENOMEM;
        }
        else {
            rc = hl_ptrset__add(w->seen, child);
            w->stats.repeats += rc == 0;
            if (rc == 1) {
                Py_ssize_t flat;
                if (!ti->leaf)
                    rc = push(w, child, w->child_depth, 0);
                else if ((rc = count(w, child, ti, w->child_depth, &flat)) == 0 && w->shared)
                    rc = hl_visited__keep_append(w->keep, Py_NewRef(child));
            }
        }
    }
    if (rc < 0) {
        w->err = rc;
        return -1;
    }
    return 0;
}

typedef struct {
    PyObject_HEAD
    PyObject *start, *stop, *step, *length;
} range_layout; /* Objects/rangeobject.c, the same on 3.9-3.13 */

#if HL_FRAME_HIDES_LOCALS
/* Append the locals of a frame to `list`: on 3.11+ frame_traverse leaves
 * out those of a running frame (they live in the interpreter's frame, not
 * in the frame object). Returns 0 or -1 with an exception set. */
static int
frame_locals(PyObject *list, PyFrameObject *f)
{
    PyCodeObject *co = PyFrame_GetCode(f); /* new */
    int optimized = (co->co_flags & CO_OPTIMIZED) != 0;
    int rc = 0;
#if HL_HAVE_FRAME_GETVAR
    if (optimized) {
        /* By name: reads the fast locals in place, creates no f_locals. */
        PyObject *groups[3] = {PyCode_GetVarnames(co), PyCode_GetCellvars(co),
                               PyCode_GetFreevars(co)};
        for (int g = 0; g < 3; g++) {
            PyObject *names = groups[g];
            for (Py_ssize_t i = 0; rc == 0 && names && i < PyTuple_GET_SIZE(names); i++) {
                PyObject *v = PyFrame_GetVar(f, PyTuple_GET_ITEM(names, i));
                if (v == NULL) {
                    if (PyErr_ExceptionMatches(PyExc_NameError))
                        PyErr_Clear(); /* unbound: nothing held */
                    else
                        rc = -1;
                    continue;
                }
                rc = PyList_Append(list, v);
                Py_DECREF(v);
            }
            if (names == NULL)
                rc = -1;
        }
        for (int g = 0; g < 3; g++)
            Py_XDECREF(groups[g]);
        Py_DECREF(co);
        return rc;
    }
#endif
    /* A module or class body's namespace is a real dict the frame holds.
     * 3.11 can read an optimized frame's locals only through f_locals,
     * which it builds on the frame (as frame.f_locals does): then only the
     * values are the frame's, not that dict. */
    PyObject *locals = PyFrame_GetLocals(f); /* new */
    Py_DECREF(co);
    if (locals == NULL)
        return -1;
    if (!optimized || !PyDict_Check(locals)) {
        rc = PyList_Append(list, locals);
    }
    else {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (rc == 0 && PyDict_Next(locals, &pos, &k, &v))
            rc = PyList_Append(list, v);
    }
    Py_DECREF(locals);
    return rc;
}
#endif

/* The referents that need Python calls: a registered referents function,
 * or a running frame's locals. Kept out of gather() so that its hot path
 * stays small enough to inline. The list is handed to `keep` (so that
 * what it holds stays alive, and its addresses unique, until the walk
 * ends) or released when `keep` is NULL. */
static int __attribute__((noinline))
gather_called(PyObject *o, hl_sizes__typeinfo *ti, visitproc visit, void *arg,
              hl_sizes__types *types, hl_visited__keeplist *keep)
{
    PyObject *list;
    int rc = 0;
    if (ti->xrefs & HL_X_REGISTERED) {
        list = hl_sizes__registered_referents(types, ti, o);
    }
    else {
#if HL_FRAME_HIDES_LOCALS
        types->python_calls++; /* 3.11 allocates f_locals */
        list = PyList_New(0);
        if (list != NULL && frame_locals(list, (PyFrameObject *)o) < 0)
            Py_CLEAR(list);
#else
        list = NULL;
        PyErr_SetString(PyExc_SystemError, "heaplens: no frame locals to gather");
#endif
    }
    if (list == NULL)
        return -1;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(list); i++)
        rc = visit(PyList_GET_ITEM(list, i), arg);
    if (keep != NULL) {
        if (hl_visited__keep_append(keep, list) < 0 && rc == 0) { /* steals list */
            PyErr_NoMemory();
            return -1;
        }
    }
    else {
        Py_DECREF(list);
    }
    return rc;
}

/* Gather the referents of `o` through `visit`. Returns 0, the nonzero
 * value `visit` returned, or -1 with a Python exception set (the caller
 * tells which from its own error slot). */
static inline int
gather(PyObject *o, hl_sizes__typeinfo *ti, unsigned int xrefs, visitproc visit, void *arg,
       hl_sizes__types *types, hl_visited__keeplist *keep)
{
    int rc;
    if (__builtin_expect(ti->called_refs, 0) &&
        (rc = gather_called(o, ti, visit, arg, types, keep)) != 0)
        return rc;
    if (xrefs & HL_X_DICT) {
        /* dict_traverse skips the keys of all-str dicts. The keys of a
         * split table (3.9/3.10 instance dicts) are the attribute names the
         * class shares; they are objects, counted once, as pympler does. */
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(o, &pos, &key, &value)) {
            if ((rc = visit(key, arg)) != 0)
                return rc;
            if ((rc = visit(value, arg)) != 0)
                return rc;
        }
        if (xrefs & HL_X_DICT_ONLY)
            return 0;
    }
    if (xrefs & HL_X_SEQ) {
        PyObject **items = PyList_Check(o) ? ((PyListObject *)o)->ob_item
                                           : ((PyTupleObject *)o)->ob_item;
        for (Py_ssize_t i = 0, n = Py_SIZE(o); i < n; i++) {
            if (items[i] != NULL && (rc = visit(items[i], arg)) != 0)
                return rc;
        }
        if (xrefs & HL_X_SEQ_ONLY)
            return 0;
    }
    if (xrefs & HL_X_FUNCTION)
        return hl_compat__function_traverse((PyFunctionObject *)o, visit, arg);
    if (ti->type->tp_traverse != NULL && !ti->no_traverse && PyObject_IS_GC(o)) {
        if ((rc = ti->type->tp_traverse(o, visit, arg)) != 0)
            return rc;
    }
    if ((xrefs & HL_X_HEAPTYPE) &&
        (rc = hl_compat__heaptype_traverse((PyTypeObject *)o, visit, arg)) != 0)
        return rc;
    if ((xrefs & HL_X_CODE) && (rc = hl_compat__code_traverse((PyCodeObject *)o, visit, arg)) != 0)
        return rc;
    if (xrefs & HL_X_WEAKREF) {
        PyObject *target = hl_compat__weakref_target(o);
        if (target != NULL && (rc = visit(target, arg)) != 0)
            return rc;
    }
    if (xrefs & HL_X_RANGE) {
        range_layout *r = (range_layout *)o;
        Py_VISIT(r->start);
        Py_VISIT(r->stop);
        Py_VISIT(r->step);
        Py_VISIT(r->length);
    }
    return 0;
}

static void
reverse(frame_t *a, size_t n)
{
    for (size_t i = 0, j = n ? n - 1 : 0; i < j; i++, j--) {
        frame_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Pop and process stack entries until the stack is empty. */
static int
drain(walker *w)
{
    const hl_walk_options *opts = w->opts;
    while (w->top > 0) {
        frame_t f = w->stack[--w->top];
        PyObject *o = f.obj;
        int rc;
        if (f.leave) {
            Py_ssize_t deep = w->total - w->marks[--w->mtop];
            hl_walk_event ev = {o, 0, deep, f.depth, w->root};
            int stop = opts->on_leave(&ev, opts->payload);
            Py_DECREF(o);
            if (stop)
                return PyErr_Occurred() ? HL_EPYTHON : hl_error__set(HL_ESTOP, "walk stopped");
            continue;
        }
        if (w->ordered && f.depth > 0) {
            rc = hl_ptrset__add(w->seen, o);
            w->stats.repeats += rc == 0;
            if (rc <= 0) {
                Py_DECREF(o);
                if (rc < 0)
                    return rc;
                continue;
            }
        }
        hl_sizes__typeinfo *ti = hl_sizes__get(&w->types, Py_TYPE(o));
        if (ti == NULL) {
            Py_DECREF(o);
            return PyErr_Occurred() ? HL_EPYTHON : HL_ENOMEM;
        }
        Py_ssize_t flat;
        rc = count(w, o, ti, f.depth, &flat);
        if (rc < 0) {
            Py_DECREF(o);
            return rc;
        }
        int follow = ti->ref_kind == HL_REF_TRAVERSE && (o != w->builtins_dict || f.depth == 0) &&
                     (!ti->is_module || f.depth == 0 || (opts->flags & HL_WALK_ALL)) &&
                     (ti->policy == HL_POL_COUNT || (ti->policy == HL_POL_ZERO && f.depth == 0)) &&
                     (opts->limit < 0 || (Py_ssize_t)f.depth < opts->limit);
        if (w->ordered && opts->on_leave != NULL && f.depth < opts->leave_depth) {
            if (w->mtop == w->mcap &&
                (rc = grow_array((void **)&w->marks, &w->mcap, sizeof(Py_ssize_t), "marks")) < 0) {
                Py_DECREF(o);
                return rc;
            }
            if ((rc = push(w, o, f.depth, 1)) < 0) {
                Py_DECREF(o);
                return rc;
            }
            w->marks[w->mtop++] = w->total - flat;
        }
        if (follow) {
            size_t base = w->top;
            w->child_depth = f.depth + 1;
            w->parent = o;
            w->err = 0;
            rc = gather(o, ti, ti->xrefs, visit_child, w, &w->types, w->keep);
            if (rc != 0) {
                Py_DECREF(o);
                return w->err ? w->err : (PyErr_Occurred() ? HL_EPYTHON : HL_ESTATE);
            }
            if (w->ordered)
                reverse(w->stack + base, w->top - base);
        }
        if ((rc = release(w, o, f.depth)) < 0)
            return rc;
    }
    return 0;
}

int
hl_walk__check_options(const hl_walk_options *opts)
{
    if (opts->version != HL_WALK_OPTIONS_VERSION)
        return hl_error__set(HL_EINVAL, "hl_walk_options version %u, expected %u", opts->version,
                             HL_WALK_OPTIONS_VERSION);
    if (opts->model != HL_MODEL_GETSIZEOF && opts->model != HL_MODEL_ALLOCATOR)
        return hl_error__set(HL_EINVAL, "unknown size model %d", (int)opts->model);
    if (opts->limit < -1)
        return hl_error__set(HL_EINVAL, "limit must be >= 0 or -1, not %zd", opts->limit);
    if ((opts->seen_out != NULL || opts->seed != NULL) && opts->visited != NULL)
        return hl_error__set(HL_EINVAL, "seen_out and seed cannot be used with a shared "
                                        "visited set");
    if (opts->on_leave != NULL && !(opts->flags & HL_WALK_ORDERED))
        return hl_error__set(HL_EINVAL, "on_leave needs HL_WALK_ORDERED");
    return 0;
}

static void
walker_free(walker *w)
{
    while (w->top > 0) {
        w->top--;
        Py_DECREF(w->stack[w->top].obj);
    }
    hl_mem__free(w->stack);
    hl_mem__free(w->marks);
    hl_ptrset__free(&w->own_seen);
    hl_sizes__types_free(&w->types);
    hl_visited__keep_clear(&w->own_keep);
}

static PyObject *
builtins_dict(void)
{
    PyObject *b = PyEval_GetBuiltins(); /* borrowed; NULL without a frame */
    if (b == NULL) {
        PyObject *mod = PyImport_AddModule("builtins"); /* borrowed */
        if (mod == NULL) {
            PyErr_Clear();
            return NULL;
        }
        b = PyModule_GetDict(mod);
    }
    return b;
}

/* Which roots to walk: 1 for each root to size, 0 for one that counts 0
 * (given twice, counted by an earlier walk sharing the set, excluded). */
static int
mark_roots(walker *w, uint8_t *walk_it, PyObject *const *roots, size_t nroots)
{
    hl_visited *v = w->shared;
    for (size_t i = 0; i < nroots; i++) {
        PyObject *r = roots[i];
        int rc;
        if (r == NULL)
            return hl_error__set(HL_EINVAL, "root %zu is NULL", i);
        if (v != NULL && hl_ptrset__contains(&v->exclude, r)) {
            walk_it[i] = 0;
            continue;
        }
        if ((rc = hl_ptrset__add(w->seen, r)) < 0)
            return rc;
        if (rc == 1 && v != NULL && hl_visited__keep_append(&v->keep, Py_NewRef(r)) < 0)
            return HL_ENOMEM;
        walk_it[i] = rc == 1;
        if (rc == 0 && v != NULL && hl_ptrset__remove(&v->skip_refs, r)) {
            /* Sized now that it is given; from now on it counts 0 like
             * anything else the set has seen. */
            walk_it[i] = 1;
        }
    }
    return 0;
}

int
hl_walk_sizes(Py_ssize_t *sizes, hl_walk_stats *stats, PyObject *const *roots, size_t nroots,
              const hl_walk_options *opts)
{
    static const hl_walk_options defaults = HL_WALK_OPTIONS_INIT;
    walker w;
    hl_ptrset done;
    uint8_t *walk_it = NULL;
    int rc;

    if (opts == NULL)
        opts = &defaults;
    hl_error_clear();
    if ((rc = hl_walk__check_options(opts)) < 0 ||
        (nroots > 0 && roots == NULL && (rc = hl_error__set(HL_EINVAL, "roots is NULL")))) {
        hl_addrset_free(opts->seed);
        return rc;
    }
    memset(&w, 0, sizeof(w));
    memset(&done, 0, sizeof(done));
    w.opts = opts;
    w.ordered = (opts->flags & HL_WALK_ORDERED) != 0;
    w.shared = opts->visited;
    w.seen = w.shared ? &w.shared->seen : &w.own_seen;
    w.keep = w.shared ? &w.shared->keep : &w.own_keep;
    w.builtins_dict = (opts->flags & HL_WALK_ALL) ? NULL : builtins_dict();
    if (opts->seed != NULL) {
        hl_ptrset *seed = (hl_ptrset *)opts->seed;
        w.own_seen = *seed; /* take it over */
        hl_mem__free(seed);
    }
    if ((rc = hl_sizes__types_init(&w.types, opts)) < 0) {
        hl_ptrset__free(&w.own_seen);
        return rc;
    }
    /* About 8 objects share a 1 KiB region on average (measured on the
     * standard workloads: 4 to 60). Growing a big table costs a rehash and
     * page faults on fresh memory: 15% of a census without this hint. */
    if ((!w.shared && !opts->seed &&
         (rc = hl_ptrset__init(&w.own_seen, opts->expected / 8)) < 0) ||
        (!(opts->flags & HL_WALK_UNATTRIBUTED) && (rc = hl_ptrset__init(&done, 0)) < 0))
        goto cleanup;
    if ((opts->flags & HL_WALK_UNATTRIBUTED) && w.shared) {
        rc = hl_error__set(HL_EINVAL, "HL_WALK_UNATTRIBUTED cannot share a visited set");
        goto cleanup;
    }
    walk_it = hl_mem__calloc(nroots ? nroots : 1, 1);
    if (walk_it == NULL) {
        rc = hl_error__set(HL_ENOMEM, "out of memory for %zu roots", nroots);
        goto cleanup;
    }
    /* Every root counts for itself: mark them all before walking any. */
    if (!(opts->flags & HL_WALK_UNATTRIBUTED) &&
        (rc = mark_roots(&w, walk_it, roots, nroots)) < 0)
        goto cleanup;
    for (size_t i = 0; i < nroots; i++) {
        w.root = (uint32_t)i;
        w.root_total = 0;
        if (opts->flags & HL_WALK_UNATTRIBUTED) {
            if (roots[i] == NULL) {
                rc = hl_error__set(HL_EINVAL, "root %zu is NULL", i);
                goto cleanup;
            }
            rc = hl_ptrset__add(w.seen, roots[i]);
            walk_it[i] = 1;
        }
        else {
            rc = hl_ptrset__add(&done, roots[i]);
            /* A root given again in the same call is a repeat reference,
             * as pympler counts it (Asizer.duplicate). */
            w.stats.repeats += rc == 0;
        }
        if (rc < 0)
            goto cleanup;
        if (rc == 1 && walk_it[i]) {
            if ((rc = push(&w, roots[i], 0, 0)) < 0 || (rc = drain(&w)) < 0)
                goto cleanup;
        }
        if (sizes != NULL)
            sizes[i] = w.root_total;
    }
    rc = 0;
    if (opts->census != NULL) {
        hl_sizes__typeinfo *ti, *tmp;
        HASH_ITER(hh, w.types.table, ti, tmp)
        {
            if (ti->n_counted &&
                (rc = hl_census_add_many(opts->census, ti->type, ti->n_counted,
                                         ti->bytes_counted)) < 0)
                goto cleanup;
        }
    }
    if (opts->seen_out != NULL) {
        hl_ptrset *out = hl_mem__malloc(sizeof(hl_ptrset));
        if (out == NULL) {
            rc = hl_error__set(HL_ENOMEM, "out of memory for the visited set");
            goto cleanup;
        }
        *out = w.own_seen; /* hand it over */
        memset(&w.own_seen, 0, sizeof(w.own_seen));
        *opts->seen_out = (hl_addrset *)out;
    }

cleanup:
    w.stats.total = w.total;
    w.stats.python_calls = w.types.python_calls;
    {
        size_t b = bookkeeping_bytes(&w) + done.peak_bytes + (nroots ? nroots : 1);
        if (b > w.stats.peak_bytes)
            w.stats.peak_bytes = b;
    }
    if (stats != NULL)
        *stats = w.stats;
    hl_ptrset__free(&done);
    hl_mem__free(walk_it);
    /* Keep a pending Python exception across the releases below. */
    {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        walker_free(&w);
        if (et != NULL)
            PyErr_Restore(et, ev, tb);
    }
    return rc;
}

typedef struct {
    PyObject *list;
} collect_ctx;

static int
collect_child(PyObject *child, void *arg)
{
    collect_ctx *c = arg;
    if (child == NULL)
        return 0;
    return PyList_Append(c->list, child) < 0 ? -1 : 0;
}

int
hl_walk_referents(PyObject **out, PyObject *obj, const hl_walk_options *opts)
{
    static const hl_walk_options defaults = HL_WALK_OPTIONS_INIT;
    hl_sizes__types types;
    int rc;

    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    hl_error_clear();
    if ((rc = hl_walk__check_options(opts)) < 0)
        return rc;
    if ((rc = hl_sizes__types_init(&types, opts)) < 0)
        return rc;
    hl_sizes__typeinfo *ti = hl_sizes__get(&types, Py_TYPE(obj));
    collect_ctx c = {PyList_New(0)};
    if (ti == NULL || c.list == NULL) {
        rc = PyErr_Occurred() ? HL_EPYTHON : HL_ENOMEM;
        goto done;
    }
    if (ti->ref_kind == HL_REF_TRAVERSE &&
        gather(obj, ti, ti->xrefs, collect_child, &c, &types, NULL) != 0) {
        rc = HL_EPYTHON;
        goto done;
    }
    *out = c.list;
    c.list = NULL;
    rc = 0;
done:
    Py_XDECREF(c.list);
    hl_sizes__types_free(&types);
    return rc;
}

int
hl_walk_options_init(hl_walk_options *opts, unsigned int version)
{
    static const hl_walk_options defaults = HL_WALK_OPTIONS_INIT;
    if (opts == NULL || version != HL_WALK_OPTIONS_VERSION)
        return hl_error__set(HL_EINVAL, "hl_walk_options version %u, expected %u", version,
                             HL_WALK_OPTIONS_VERSION);
    *opts = defaults;
    return 0;
}
