/* _hlfloor: the "floor" for the asizeof benchmark.
 *
 * The least a deep-size walk has to do: reach every object once and add up a
 * flat size. bench/asizeof.py compiles this file at run time (gcc -O2 -shared
 * -fPIC) and times it next to heaplens and its peers, so that heaplens'
 * ns/object can be read against what a bare C walk costs on the same machine,
 * and so that every tool's time is divided by the same object count.
 *
 * What it does, and no more:
 * - an iterative walk with an explicit stack (a 1,000,000-deep chain is fine);
 * - tp_traverse only where PyObject_IS_GC(o): static types carry
 *   Py_TPFLAGS_HAVE_GC but calling type_traverse on them aborts;
 * - the keys of dicts, because dict_traverse skips them when they are all str
 *   (without this the count would miss a third of W2's objects);
 * - types are neither counted nor entered (a class leads, through its
 *   methods' globals and builtins, to most of the heap; every sizer skips
 *   them too);
 * - flat size = tp_basicsize + |ob_size| * tp_itemsize, + 16 for the GC
 *   header where PyObject_IS_GC. This ignores what __sizeof__ adds (list and
 *   dict storage, 3.11+ inline values and pre-headers): the byte total is a
 *   by-product, not a reference figure;
 * - an open-addressing pointer set (linear probing, load <= 1/2, 8 bytes a slot).
 *
 * The stack and the set hold borrowed references: no Python code runs and
 * nothing is allocated on the Python heap during a walk (tp_traverse and
 * PyDict_Next call no Python code), so nothing reached can be freed under us.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uintptr_t *slots; /* 0 = empty */
    size_t mask;      /* capacity - 1, capacity a power of two */
    unsigned shift;   /* 64 - log2(capacity) */
    size_t used;
} ptrset;

static inline size_t
ptr_hash(uintptr_t p, unsigned shift)
{
    /* Fibonacci hashing of the address less its 4 alignment bits: the top
       log2(capacity) bits of the product. Hashes that keep neighbouring
       addresses in neighbouring slots are 2-4x faster on some workloads (the
       walk then touches the table in order) but pile distant pymalloc arenas
       onto the same slots: measured 1,400 ns/object on W4 with (p >> 4) as
       the hash. A floor must not have such cliffs, so every insert of a big
       walk is a cache miss here; heaplens' region bitmaps avoid that. */
    return (size_t)(((uint64_t)(p >> 4) * UINT64_C(0x9E3779B97F4A7C15)) >> shift);
}

static int
ptrset_init(ptrset *s, unsigned log2cap)
{
    s->slots = calloc((size_t)1 << log2cap, sizeof(uintptr_t));
    s->mask = ((size_t)1 << log2cap) - 1;
    s->shift = 64 - log2cap;
    s->used = 0;
    return s->slots ? 0 : -1;
}

static int
ptrset_grow(ptrset *s)
{
    size_t oldcap = s->mask + 1, newcap = oldcap * 2;
    uintptr_t *old = s->slots;
    uintptr_t *slots = calloc(newcap, sizeof(uintptr_t));
    if (!slots)
        return -1;
    size_t mask = newcap - 1;
    unsigned shift = s->shift - 1;
    for (size_t i = 0; i < oldcap; i++) {
        uintptr_t p = old[i];
        if (!p)
            continue;
        size_t j = ptr_hash(p, shift);
        while (slots[j])
            j = (j + 1) & mask;
        slots[j] = p;
    }
    free(old);
    s->slots = slots;
    s->mask = mask;
    s->shift = shift;
    return 0;
}

/* 1 if p was added, 0 if it was there, -1 on out of memory. */
static inline int
ptrset_add(ptrset *s, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    size_t j = ptr_hash(p, s->shift);
    for (;;) {
        uintptr_t q = s->slots[j];
        if (q == p)
            return 0;
        if (!q)
            break;
        j = (j + 1) & s->mask;
    }
    s->slots[j] = p;
    if (++s->used * 2 > s->mask + 1 && ptrset_grow(s) < 0)
        return -1;
    return 1;
}

typedef struct {
    ptrset seen;
    PyObject **stack;
    size_t top, cap;
    int nomem;
} walker;

static int
push(walker *w, PyObject *o)
{
    if (o == NULL || PyType_Check(o))
        return 0;
    int added = ptrset_add(&w->seen, o);
    if (added <= 0) {
        if (added < 0)
            w->nomem = 1;
        return added;
    }
    if (w->top == w->cap) {
        size_t cap = w->cap * 2;
        PyObject **stack = realloc(w->stack, cap * sizeof(PyObject *));
        if (!stack) {
            w->nomem = 1;
            return -1;
        }
        w->stack = stack;
        w->cap = cap;
    }
    w->stack[w->top++] = o;
    return 0;
}

static int
visit(PyObject *o, void *arg)
{
    return push((walker *)arg, o);
}

static PyObject *
floor_walk(PyObject *module, PyObject *root)
{
    (void)module;
    walker w = {0};
    w.cap = 1024;
    w.stack = malloc(w.cap * sizeof(PyObject *));
    if (!w.stack || ptrset_init(&w.seen, 12) < 0) {
        free(w.stack);
        return PyErr_NoMemory();
    }
    unsigned long long count = 0, bytes = 0;
    if (push(&w, root) < 0)
        goto done;
    while (w.top) {
        PyObject *o = w.stack[--w.top];
        PyTypeObject *tp = Py_TYPE(o);
        size_t size = (size_t)tp->tp_basicsize;
        if (tp->tp_itemsize) {
            /* Not Py_SIZE(): 3.13 asserts there that o is no int. */
            Py_ssize_t n = ((PyVarObject *)o)->ob_size;
#if PY_VERSION_HEX >= 0x030C0000
            /* 3.12+ keeps sign and digit count in lv_tag (ndigits << 3). */
            if (PyLong_Check(o))
                n = (Py_ssize_t)((size_t)n >> 3);
#endif
            size += (size_t)(n < 0 ? -n : n) * (size_t)tp->tp_itemsize;
        }
        count++;
        if (PyObject_IS_GC(o)) {
            size += 16;
            if (PyDict_Check(o)) {
                Py_ssize_t pos = 0;
                PyObject *key, *value;
                while (PyDict_Next(o, &pos, &key, &value))
                    if (push(&w, key) < 0)
                        goto done;
            }
            traverseproc trav = tp->tp_traverse;
            if (trav && trav(o, visit, &w) < 0)
                goto done;
        }
        bytes += size;
    }
done:
    free(w.stack);
    free(w.seen.slots);
    if (w.nomem)
        return PyErr_NoMemory();
    return Py_BuildValue("KK", count, bytes);
}

static PyMethodDef floor_methods[] = {
    {"walk", floor_walk, METH_O,
     "walk(obj) -> (count, bytes): distinct objects reached from obj and the sum of\n"
     "their basicsize + |ob_size| * itemsize (+16 when GC). Types are skipped."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef floor_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_hlfloor",
    .m_doc = "Floor C walk for bench/asizeof.py.",
    .m_size = -1,
    .m_methods = floor_methods,
};

PyMODINIT_FUNC
PyInit__hlfloor(void)
{
    return PyModule_Create(&floor_module);
}
