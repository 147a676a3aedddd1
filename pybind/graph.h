/* graph.h - referrer chains for Python. */
#ifndef HL_PYBIND_GRAPH_H
#define HL_PYBIND_GRAPH_H
#include "heaplens/heaplens.h"

/* referrer_chains(targets, exclude=(), max_hops=64) ->
 *     [(root_kind, [root, ..., target], external_refs), ...] */
PyObject *hl_py_referrer_chains(PyObject *self, PyObject *args, PyObject *kwargs);

/* referrers(obj, exclude=()) -> ([referrer, ...], external_refs) */
PyObject *hl_py_referrers(PyObject *self, PyObject *args, PyObject *kwargs);
/* referrer_graph(obj, depth=4, max_nodes=60, exclude=(), too_many=0,
 *                group_functions=False) -> [(parent, child), ...]
 * With too_many > 0 each node follows at most too_many referrers; with
 * group_functions the functions whose __globals__ a node is are counted,
 * not followed. With either, the result is ([(parent, child), ...],
 * [(node, referrers left out), ...], [(node, functions), ...]).
 * Every item of exclude counts, in all three. */
PyObject *hl_py_referrer_graph(PyObject *self, PyObject *args, PyObject *kwargs);

/* Add the three functions above to the module. -1 with an exception on
 * failure. */
int hl_py_graph_init(PyObject *module);
#endif
