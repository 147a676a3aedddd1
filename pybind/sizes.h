/* sizes.h - flatsize() and header_size() for Python. */
#ifndef HL_PYBIND_SIZES_H
#define HL_PYBIND_SIZES_H
#include "heaplens/heaplens.h"

/* Add flatsize, header_size and the MODEL_* constants to the module. -1
 * with an exception on failure. */
int hl_py_sizes_init(PyObject *module);
#endif
