/*
 * module.c - the _heaplens extension: creates the module and calls each glue
 * file's hl_py_<file>_init, which adds that file's functions, types and
 * constants. No policy lives here; the Python package (pybind/heaplens)
 * builds the objects users touch.
 */
#include "heaplens/heaplens.h"
#include "census.h"
#include "compat.h"
#include "dominators.h"
#include "dump.h"
#include "graph.h"
#include "lifetimes.h"
#include "registry.h"
#include "sizes.h"
#include "visited.h"
#include "walk.h"

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_heaplens", "heaplens C core bindings (internal).", -1, NULL,
};

/* One line per glue file. */
static int (*const inits[])(PyObject *) = {
    hl_py_walk_init,     hl_py_sizes_init, hl_py_visited_init, hl_py_census_init,
    hl_py_graph_init,    hl_py_registry_init, hl_py_dump_init, hl_py_dominators_init,
#if HL_HAVE_TRACKER /* compat.h: not built in generic mode */
    hl_py_lifetimes_init,
#endif
};

PyMODINIT_FUNC
PyInit__heaplens(void)
{
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(inits) / sizeof(inits[0]); i++) {
        if (inits[i](m) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    }
    /* What this build may rely on; heaplens.capabilities() reads them. */
    if (PyModule_AddIntConstant(m, "KNOWN_LAYOUT", HL_KNOWN_LAYOUT) < 0 ||
        PyModule_AddIntConstant(m, "FREE_THREADED", HL_FREE_THREADED) < 0 ||
        PyModule_AddIntConstant(m, "HAVE_TRACKER", HL_HAVE_TRACKER) < 0 ||
        PyModule_AddStringConstant(m, "LAYOUT_MODE", HL_LAYOUT_MODE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
