/* graph.h - referrer chains for Python. */
#ifndef HL_PYBIND_GRAPH_H
#define HL_PYBIND_GRAPH_H
#include "heaplens/heaplens.h"

/* referrer_chains(targets, exclude=(), max_hops=64) ->
 *     [(root_kind, [root, ..., target], external_refs), ...] */
PyObject *hl_py_referrer_chains(PyObject *self, PyObject *args, PyObject *kwargs);

/* referrers(obj, exclude=()) -> ([referrer, ...], external_refs) */
PyObject *hl_py_referrers(PyObject *self, PyObject *args, PyObject *kwargs);
/* referrer_graph(obj, depth=4, max_nodes=60, exclude=()) -> [(parent, child), ...] */
PyObject *hl_py_referrer_graph(PyObject *self, PyObject *args, PyObject *kwargs);
#endif
