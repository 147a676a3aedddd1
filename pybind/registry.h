/* registry.h - glue for the type registry (heaplens.register_type). */
#ifndef HL_PYBIND_REGISTRY_H
#define HL_PYBIND_REGISTRY_H
#include "heaplens/heaplens.h"

/* Load the built-in entries (numpy, pandas) of every module that has been
 * imported since the last call. Call at the start of every measurement.
 * Costs one dict lookup per module not yet imported. Returns 0, or -1 with
 * a Python exception set. */
int hl_py_registry_refresh(void);

/* Add register_type and friends and the TYPE_* flags to the module. -1
 * with an exception on failure. */
int hl_py_registry_init(PyObject *module);
#endif
