/* visited.h - the Visited Python type. */
#ifndef HL_PYBIND_VISITED_H
#define HL_PYBIND_VISITED_H
#include "heaplens/heaplens.h"

typedef struct {
    PyObject_HEAD
    hl_visited *visited; /* owned */
} hl_py_visited;

extern PyTypeObject hl_py_visited_type;
#endif
