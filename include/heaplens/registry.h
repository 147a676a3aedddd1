/*
 * heaplens/registry.h - the type registry: types that hide references or
 * size deeply, and how walks should size them. Needs the GIL.
 */
#ifndef HEAPLENS_REGISTRY_H
#define HEAPLENS_REGISTRY_H
#include "common.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flags for hl_register_type. */
#define HL_TYPE_INHERITED_SIZEOF (1u << 0) /* the registered class's own __sizeof__
                                     is deep (it counts memory the walk also
                                     reaches through referents): size
                                     instances with the __sizeof__ found
                                     further along their MRO instead */
#define HL_TYPE_NO_TRAVERSE (1u << 1) /* do not follow tp_traverse: only the
                                     registered referents */

/* Tell every later walk how to size instances of `tp` and of its
 * subclasses (the nearest registered class in an object's MRO wins).
 *
 * referents: borrowed; NULL/None or a callable obj -> iterable of the
 *            objects obj keeps alive that tp_traverse does not report. It
 *            must return existing objects, not new ones: each is sized as
 *            memory obj holds. The walk keeps the result alive until it ends.
 * sizeof_fn: borrowed; NULL/None or a callable obj -> int: the flat bytes of
 *            obj as its __sizeof__ would report them if it were flat (the GC
 *            header and pre-header are added by the walk, as getsizeof does).
 * flags:     HL_TYPE_*.
 *
 * Registering a type again replaces its entry. The registry keeps strong
 * references to the type and the callables. The callables run Python code
 * during walks; an exception they raise ends the walk with HL_EPYTHON.
 * Returns 0, HL_EINVAL or HL_ENOMEM. */
int hl_register_type(PyTypeObject *tp, PyObject *referents, PyObject *sizeof_fn,
                     unsigned int flags);

/* Remove tp's own entry (not its bases'). Returns 1 if there was one, else 0. */
int hl_unregister_type(PyTypeObject *tp);

/* The registry as a new list of (type, referents, sizeof, flags) tuples.
 * Returns 0 or HL_EPYTHON. */
int hl_registry_types(PyObject **out);

#ifdef __cplusplus
}
#endif
#endif /* HEAPLENS_REGISTRY_H */
