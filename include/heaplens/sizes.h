/*
 * heaplens/sizes.h - the size models, and the flat size of one object.
 * Needs the GIL; not callable from inside an allocator hook.
 */
#ifndef HEAPLENS_SIZES_H
#define HEAPLENS_SIZES_H
#include "common.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    /* What sys.getsizeof() reports, rounded up to the alignment: the model
     * of pympler.asizeof, for drop-in figures. */
    HL_MODEL_GETSIZEOF = 0,
    /* The bytes the allocators hold as requested (what tracemalloc sees):
     * no alignment, cached singletons count 0, hidden blocks included. */
    HL_MODEL_ALLOCATOR = 1,
} hl_model;

/* The flat size of `obj` in `model`, rounded up to `align` (a power of two,
 * or 0/1 for none; the allocator model ignores it). Runs the object's
 * __sizeof__, which may be Python code. Returns 0, HL_EINVAL, HL_EPYTHON or
 * HL_EOVERFLOW. */
int hl_size_flat(Py_ssize_t *out, PyObject *obj, hl_model model, Py_ssize_t align);

/* The bytes sys.getsizeof() adds to obj.__sizeof__(): the GC header and, on
 * 3.11+, the pre-header. Never fails in a build that knows the interpreter's
 * layouts; in generic mode (heaplens.capabilities()) it is computed by
 * calling sys.getsizeof and __sizeof__, and returns -1 with a Python
 * exception set when either raises. */
Py_ssize_t hl_size_header(PyObject *obj);

#ifdef __cplusplus
}
#endif
#endif /* HEAPLENS_SIZES_H */
