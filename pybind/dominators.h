/* dominators.h - private glue over lib/dominators.c (tests, benchmark). */
#ifndef HL_PYBIND_DOMINATORS_H
#define HL_PYBIND_DOMINATORS_H
#include "heaplens/heaplens.h"

/* Adds the private _dominators/_retained/_path_to_root functions. */
int hl_py_dominators_init(PyObject *module);
#endif
