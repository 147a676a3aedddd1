/* visited.h - the Visited Python type. */
#ifndef HL_PYBIND_VISITED_H
#define HL_PYBIND_VISITED_H
#include "heaplens/heaplens.h"

typedef struct {
    PyObject_HEAD
    hl_visited *visited; /* owned */
} hl_py_visited;

extern PyTypeObject hl_py_visited_type;

/* Add the Visited type to the module. -1 with an exception on failure. */
int hl_py_visited_init(PyObject *module);
#endif
