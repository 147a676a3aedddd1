/* census.h - the Census type: counts and bytes per type over the whole
 * heap, and the addresses it saw. */
#ifndef HL_PYBIND_CENSUS_H
#define HL_PYBIND_CENSUS_H
#include "heaplens/heaplens.h"

extern PyTypeObject hl_py_census_type;

/* heap_census(model=0, align=8): take a census of the whole heap. */
PyObject *hl_py_heap_census(PyObject *self, PyObject *args, PyObject *kwargs);
/* gc_counts() -> {type: count} of the gc-tracked objects (a cheap census). */
PyObject *hl_py_gc_counts(PyObject *self, PyObject *ignored);
/* Add the Census type, heap_census and gc_counts to the module. -1 with an
 * exception on failure. */
int hl_py_census_init(PyObject *module);
#endif
