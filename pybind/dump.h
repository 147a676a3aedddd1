/* dump.h - heap dump glue: dump(), open_dump_data(), DumpData,
 * DumpFormatError. */
#ifndef HL_PYBIND_DUMP_H
#define HL_PYBIND_DUMP_H
#include "heaplens/heaplens.h"

extern PyTypeObject hl_py_dumpdata_type;

/* Add the dump functions, DumpData and DumpFormatError to the module.
 * Returns 0 or -1 with an exception set. */
int hl_py_dump_init(PyObject *m);
#endif
