/* walk.h - walk() and referents() for Python. */
#ifndef HL_PYBIND_WALK_H
#define HL_PYBIND_WALK_H
#include "heaplens/heaplens.h"

/* Add walk and referents to the module. -1 with an exception on failure. */
int hl_py_walk_init(PyObject *module);
#endif
