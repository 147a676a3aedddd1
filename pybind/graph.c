/* graph.c - referrers, referrer chains and the referrer graph for Python
 * (heaplens.why_alive, heaplens.graph): arguments in, lib/graph*.c, lists out. */
#include "graph.h"

#include "compat.h"
#include "errors.h"

static const char *kind_names[] = {"none", "module", "class", "frame", "external"};

/* The objects whose references a graph leaves out: the caller's `exclude`
 * items and tuple, and our own argument tuples (`args`, and `targets` when
 * given), which hold references the caller did not mean. Every item counts.
 * *out is a PyMem array of borrowed references (free it with PyMem_Free);
 * returns its length, or (size_t)-1 with MemoryError set. */
static size_t
exclusions(PyObject ***out, PyObject *args, PyObject *exclude, PyObject *targets)
{
    Py_ssize_t nitems = exclude != NULL ? PyTuple_GET_SIZE(exclude) : 0;
    PyObject **ex = PyMem_Malloc(((size_t)nitems + 3) * sizeof(PyObject *));
    size_t n = 0;
    *out = ex;
    if (ex == NULL) {
        PyErr_NoMemory();
        return (size_t)-1;
    }
    ex[n++] = args;
    if (targets != NULL)
        ex[n++] = targets;
    if (exclude != NULL) {
        ex[n++] = exclude;
        for (Py_ssize_t i = 0; i < nitems; i++)
            ex[n++] = PyTuple_GET_ITEM(exclude, i);
    }
    return n;
}

PyObject *
hl_py_referrer_chains(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"targets", "exclude", "max_hops", NULL};
    PyObject *targets, *exclude = NULL;
    Py_ssize_t max_hops = 64;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!|O!n:referrer_chains", kwlist,
                                     &PyTuple_Type, &targets, &PyTuple_Type, &exclude,
                                     &max_hops))
        return NULL;
    if (max_hops < 0) {
        PyErr_SetString(PyExc_ValueError, "max_hops must be >= 0");
        return NULL;
    }
    PyObject **ex;
    size_t nex = exclusions(&ex, args, exclude, targets);
    if (nex == (size_t)-1)
        return NULL;

    Py_ssize_t nt = PyTuple_GET_SIZE(targets);
    PyObject ***chains = PyMem_Calloc(nt ? nt : 1, sizeof(PyObject **));
    size_t *lens = PyMem_Calloc(nt ? nt : 1, sizeof(size_t));
    hl_root_kind *kinds = PyMem_Calloc(nt ? nt : 1, sizeof(hl_root_kind));
    Py_ssize_t *external = PyMem_Calloc(nt ? nt : 1, sizeof(Py_ssize_t));
    PyObject *result = NULL;
    hl_graph *g = NULL;
    int rc = 0;
    if (chains == NULL || lens == NULL || kinds == NULL || external == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* No Python code may run from here until the graph is freed. */
    rc = hl_graph_build(&g, ex, nex);
    PyMem_Free(ex);
    ex = NULL;
    if (rc < 0) {
        hl_py_raise(rc);
        goto done;
    }
    for (Py_ssize_t i = 0; i < nt && rc == 0; i++) {
        PyObject *t = PyTuple_GET_ITEM(targets, i);
        rc = hl_graph_chain(&chains[i], &lens[i], &kinds[i], g, t, (size_t)max_hops);
        external[i] = hl_graph_external_refs(g, t);
    }
    hl_graph_free(g);
    g = NULL;
    if (rc < 0) {
        hl_py_raise(rc);
        goto done;
    }
    result = PyList_New(nt);
    for (Py_ssize_t i = 0; result != NULL && i < nt; i++) {
        PyObject *list = PyList_New((Py_ssize_t)lens[i]);
        if (list == NULL) {
            Py_CLEAR(result);
            break;
        }
        for (size_t j = 0; j < lens[i]; j++) {
            PyList_SET_ITEM(list, (Py_ssize_t)j, chains[i][j]); /* steals */
            chains[i][j] = NULL;
        }
        PyObject *item = Py_BuildValue("(sNn)", kind_names[kinds[i]], list, external[i]);
        if (item == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, i, item);
    }
done:
    for (Py_ssize_t i = 0; chains && i < nt; i++) {
        for (size_t j = 0; j < lens[i]; j++)
            Py_XDECREF(chains[i][j]);
        hl_graph_free_array(chains[i], 0);
    }
    PyMem_Free(ex);
    PyMem_Free(chains);
    PyMem_Free(lens);
    PyMem_Free(kinds);
    PyMem_Free(external);
    hl_graph_free(g);
    return result;
}

PyObject *
hl_py_referrers(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"obj", "exclude", NULL};
    PyObject *obj, *exclude = NULL;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O!:referrers", kwlist, &obj,
                                     &PyTuple_Type, &exclude))
        return NULL;
    PyObject **ex;
    size_t nex = exclusions(&ex, args, exclude, NULL);
    if (nex == (size_t)-1)
        return NULL;
    hl_graph *g = NULL;
    int rc = hl_graph_build(&g, ex, nex);
    PyMem_Free(ex);
    if (rc < 0)
        return hl_py_raise(rc);
    PyObject **arr = NULL;
    size_t n = 0;
    rc = hl_graph_referrers(&arr, &n, g, obj);
    Py_ssize_t ext = hl_graph_external_refs(g, obj);
    hl_graph_free(g);
    if (rc < 0)
        return hl_py_raise(rc);
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL) {
        hl_graph_free_array(arr, n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        PyList_SET_ITEM(list, (Py_ssize_t)i, arr[i]);
    hl_graph_free_array(arr, 0);
    return Py_BuildValue("(Nn)", list, ext);
}

/* [(nodes[i], counts[i]) for the nodes with a non-zero count]: new reference. */
static PyObject *
counts_list(PyObject **nodes, const size_t *counts, size_t n)
{
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list != NULL && i < n; i++) {
        if (counts[i] == 0)
            continue;
        PyObject *item = Py_BuildValue("(On)", nodes[i], (Py_ssize_t)counts[i]);
        if (item == NULL || PyList_Append(list, item) < 0)
            Py_CLEAR(list);
        Py_XDECREF(item);
    }
    return list;
}

PyObject *
hl_py_referrer_graph(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"obj",      "depth",           "max_nodes", "exclude",
                             "too_many", "group_functions", NULL};
    PyObject *obj, *exclude = NULL;
    Py_ssize_t depth = 4, max_nodes = 60, too_many = 0;
    int group = 0;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|nnO!np:referrer_graph", kwlist, &obj,
                                     &depth, &max_nodes, &PyTuple_Type, &exclude, &too_many,
                                     &group))
        return NULL;
    if (depth < 0 || max_nodes < 1 || too_many < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "depth must be >= 0, max_nodes >= 1 and too_many >= 0");
        return NULL;
    }
    PyObject **ex;
    size_t nex = exclusions(&ex, args, exclude, NULL);
    if (nex == (size_t)-1)
        return NULL;
    hl_graph_neighbourhood_options opts;
    hl_graph_neighbourhood_options_init(&opts, HL_GRAPH_NEIGHBOURHOOD_OPTIONS_VERSION);
    opts.depth = (size_t)depth;
    opts.max_nodes = (size_t)max_nodes;
    opts.too_many = (size_t)too_many;
    opts.group_functions = group;
    hl_graph *g = NULL;
    hl_graph_neighbourhood nb;
    int rc = hl_graph_build(&g, ex, nex);
    PyMem_Free(ex);
    if (rc < 0)
        return hl_py_raise(rc);
    /* No Python code may run from here until the graph is freed. */
    rc = hl_graph_neighbourhood_find(&nb, g, obj, &opts);
    hl_graph_free(g);
    if (rc < 0)
        return hl_py_raise(rc);
    PyObject *result = NULL, *pairs, *drops = NULL, *groups = NULL;
    pairs = PyList_New((Py_ssize_t)nb.nedges);
    for (size_t i = 0; pairs != NULL && i < nb.nedges; i++) {
        PyObject *pair = PyTuple_Pack(2, nb.nodes[nb.parents[i]], nb.nodes[nb.children[i]]);
        if (pair == NULL)
            Py_CLEAR(pairs);
        else
            PyList_SET_ITEM(pairs, (Py_ssize_t)i, pair);
    }
    if (pairs == NULL || (too_many == 0 && !group)) {
        result = pairs; /* the old shape: [(parent, child), ...] */
        goto done;
    }
    drops = counts_list(nb.nodes, nb.dropped, nb.nnodes);
    groups = drops != NULL ? counts_list(nb.nodes, nb.grouped, nb.nnodes) : NULL;
    if (groups != NULL)
        result = PyTuple_Pack(3, pairs, drops, groups);
    Py_DECREF(pairs);
    Py_XDECREF(drops);
    Py_XDECREF(groups);
done:
    hl_graph_neighbourhood_free(&nb);
    return result;
}

/* How instance `obj` holds `child`, for a chain's label, without making
 * anything: (attribute name or None, the __dict__ it already has or None).
 * Python's obj.__dict__ would make the dict on 3.11+ (attributes kept in
 * the object) and on every version for an instance that has none yet. */
static PyObject *
hl_py_instance_holder(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *obj, *child;
    if (!PyArg_ParseTuple(args, "OO:instance_holder", &obj, &child))
        return NULL;
    PyObject *name = hl_compat__inline_attr_name(obj, child);
    PyObject *dict = hl_compat__existing_dict(obj);
    return Py_BuildValue("(OO)", name != NULL ? name : Py_None,
                         dict != NULL && PyDict_Check(dict) ? dict : Py_None);
}

static PyMethodDef graph_methods[] = {
    {"instance_holder", (PyCFunction)hl_py_instance_holder, METH_VARARGS,
     "instance_holder(obj, child) -> (attribute name or None, existing __dict__ or None)"},
    {"referrer_chains", (PyCFunction)(void (*)(void))hl_py_referrer_chains,
     METH_VARARGS | METH_KEYWORDS,
     "referrer_chains(targets, exclude=(), max_hops=64) -> [(kind, chain, external)]"},
    {"referrers", (PyCFunction)(void (*)(void))hl_py_referrers, METH_VARARGS | METH_KEYWORDS,
     "referrers(obj, exclude=()) -> ([referrers], external_refs)"},
    {"referrer_graph", (PyCFunction)(void (*)(void))hl_py_referrer_graph,
     METH_VARARGS | METH_KEYWORDS,
     "referrer_graph(obj, depth=4, max_nodes=60, exclude=(), too_many=0, group_functions=False)"
     " -> [(parent, child)], or ([(parent, child)], [(node, left out)], [(node, functions)])"},
    {NULL, NULL, 0, NULL},
};

int
hl_py_graph_init(PyObject *module)
{
    return PyModule_AddFunctions(module, graph_methods);
}
