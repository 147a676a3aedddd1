/* dominators.h - private glue over lib/dominators.c (tests, benchmark). */
#ifndef HL_PYBIND_DOMINATORS_H
#define HL_PYBIND_DOMINATORS_H
#include "heaplens/heaplens.h"

extern PyMethodDef hl_py_dominators_methods[];
#endif
