/* lifetimes.h - the tracker for Python (functions listed in lifetimes.c). */
#ifndef HL_PYBIND_LIFETIMES_H
#define HL_PYBIND_LIFETIMES_H
#include "heaplens/heaplens.h"

/* Add the track_* functions and the backend constants to the module. -1
 * with an exception on failure. */
int hl_py_lifetimes_init(PyObject *module);
#endif
