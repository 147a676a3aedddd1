/* errors.h - the one place where core error codes become Python exceptions. */
#ifndef HL_PYBIND_ERRORS_H
#define HL_PYBIND_ERRORS_H
#include "heaplens/heaplens.h"

/* Set the exception for core return code `rc` (< 0) and return NULL. For
 * HL_EPYTHON the exception is already set and is passed on. */
PyObject *hl_py_raise(int rc);
#endif
