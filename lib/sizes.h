/*
 * sizes.h - flat sizes, resolved once per type and dispatched in C.
 *
 * A walk keeps an hl_sizes__types cache: for each type it meets, how to size its
 * instances (object.__sizeof__ arithmetic, a direct call of a C __sizeof__,
 * or a call of a Python __sizeof__), what getsizeof adds on top, and what
 * the walk's policy says about the type (count it, count it 0 and stop, or
 * count it with no referents to follow). The cache holds a strong reference
 * to each type, so no type it knows can be freed and its address reused by
 * another type while the walk runs.
 */
#ifndef HL_SIZES_H
#define HL_SIZES_H
#include "compat.h"
#include "hash.h"
#include "heaplens/heaplens.h"

enum {
    HL_SZ_BASIC = 0, /* object.__sizeof__: basicsize + |ob_size| * itemsize */
    HL_SZ_LIST,      /* list.__sizeof__ without the call */
    HL_SZ_INT,       /* int.__sizeof__ without the call (exact int) */
    HL_SZ_STR,       /* str.__sizeof__ without the call where it can */
    HL_SZ_CMETH,     /* a METH_NOARGS C function, called directly */
    HL_SZ_PYCALL,    /* anything else: looked up and called like getsizeof */
    HL_SZ_GETSIZEOF, /* generic mode: sys.getsizeof() itself, header included */
    HL_SZ_REGCALL,   /* a sizeof function from the type registry, called with obj */
};

enum {
    HL_REF_NONE = 0, /* owns no object references we follow */
    HL_REF_TRAVERSE, /* tp_traverse (where PyObject_IS_GC) + the gaps */
};

enum {
    HL_POL_COUNT = 0, /* counted and followed */
    HL_POL_ZERO,      /* counted 0 and not followed (unless given as a root) */
    HL_POL_IGNORE,    /* counted 0 and not followed, even as a root */
};

/* Extra referent sources beyond tp_traverse, as bit flags. */
#define HL_X_DICT (1u << 0)     /* dict: keys and values from the table */
#define HL_X_DICT_ONLY (1u << 1) /* exact dict: the table is all there is */
#define HL_X_HEAPTYPE (1u << 2) /* heap type: __name__, __qualname__ */
#define HL_X_CODE (1u << 3)     /* code object fields */
#define HL_X_WEAKREF (1u << 4)  /* weakref referent */
#define HL_X_RANGE (1u << 5)    /* range start/stop/step */
#define HL_X_FUNCTION (1u << 6) /* function fields, without __globals__/__builtins__ */
#define HL_X_SEQ (1u << 7)      /* list/tuple items, first to last */
#define HL_X_SEQ_ONLY (1u << 8) /* exact list/tuple: the items are all there is */
#define HL_X_REGISTERED (1u << 9) /* referents from the type registry */

typedef struct hl_sizes__typeinfo {
    PyTypeObject *type;      /* strong reference */
    PyObject *sizeof_descr;  /* strong reference, HL_SZ_PYCALL only */
    PyCFunction sizeof_fn;   /* HL_SZ_CMETH only */
    PyObject *reg_sizeof;    /* strong reference, HL_SZ_REGCALL only */
    PyObject *reg_referents; /* strong reference, HL_X_REGISTERED only */
    Py_ssize_t extra;        /* what getsizeof adds, when constant */
    uint8_t size_kind;
    uint8_t ref_kind;
    uint8_t policy;
    uint8_t leaf;            /* no referents, sized without Python code */
    uint8_t extra_dynamic;   /* getsizeof's extra depends on the object */
    uint8_t has_hidden;      /* may own memory getsizeof leaves out */
    uint8_t alloc_special;   /* allocator model: singleton or adjusted */
    uint8_t is_frame;
    uint8_t is_module;       /* modules met inside a graph are never entered */
    uint8_t no_traverse;     /* the registry says: do not call tp_traverse */
    uint8_t called_refs;     /* referents that need Python calls (walk.c) */
    unsigned int xrefs;      /* HL_X_* */
    size_t n_counted;        /* objects of this type counted by the walk */
    Py_ssize_t bytes_counted;
    UT_hash_handle hh;
} hl_sizes__typeinfo;

#define HL_TYPES_FRONT 256

typedef struct {
    hl_sizes__typeinfo *table;                   /* uthash head */
    hl_sizes__typeinfo *front[HL_TYPES_FRONT];   /* direct-mapped cache in front */
    hl_model model;
    Py_ssize_t align;
    unsigned int flags;                   /* HL_WALK_* */
    PyObject *ignored;                    /* strong reference or NULL */
    size_t python_calls;
} hl_sizes__types;

/* Prepare a cache for a walk with these options. Returns 0 or HL_EINVAL. */
int hl_sizes__types_init(hl_sizes__types *types, const hl_walk_options *opts);

/* Release the cache and the references it holds. */
void hl_sizes__types_free(hl_sizes__types *types);

/* Look up or resolve `tp`. Returns NULL with hl_error set (HL_ENOMEM) or a
 * Python exception set. */
hl_sizes__typeinfo *hl_sizes__resolve(hl_sizes__types *types, PyTypeObject *tp);

static inline hl_sizes__typeinfo *
hl_sizes__get(hl_sizes__types *types, PyTypeObject *tp)
{
    hl_sizes__typeinfo *ti = types->front[((uintptr_t)tp >> 4) & (HL_TYPES_FRONT - 1)];
    if (ti != NULL && ti->type == tp)
        return ti;
    return hl_sizes__resolve(types, tp);
}

/* The flat size of `o` (whose type info is `ti`) in the cache's model and
 * alignment, including the hidden memory it owns. May run Python code
 * (HL_SZ_PYCALL). Returns 0, HL_EPYTHON or HL_EOVERFLOW. */
int hl_sizes__flat(Py_ssize_t *out, hl_sizes__types *types, hl_sizes__typeinfo *ti, PyObject *o);

/* Call the registered referents function of `ti` on `o`. Returns a new
 * reference to a list, or NULL with a Python exception set. Counts a Python
 * call in `types`. */
PyObject *hl_sizes__registered_referents(hl_sizes__types *types, hl_sizes__typeinfo *ti,
                                          PyObject *o);

/* Whether a type counts as "code" for the walk policy: classes, modules,
 * functions, methods, code objects and builtin functions. */
int hl_sizes__is_code_type(PyTypeObject *tp);
#endif
