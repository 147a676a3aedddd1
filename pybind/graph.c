/* graph.c - referrers and referrer chains for Python (heaplens.why_alive). */
#include "graph.h"

#include "errors.h"

static const char *kind_names[] = {"none", "module", "class", "frame", "external"};

#define HL_MAX_EXCLUDE 64

/* The objects whose references a graph leaves out: the caller's `exclude`
 * items and tuple, and our own argument tuples (`args`, and `targets` when
 * given), which hold references the caller did not mean. Borrowed. */
static size_t
exclusions(PyObject **ex, PyObject *args, PyObject *exclude, PyObject *targets)
{
    size_t n = 0;
    ex[n++] = args;
    if (targets != NULL)
        ex[n++] = targets;
    if (exclude != NULL) {
        ex[n++] = exclude;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(exclude) && n < HL_MAX_EXCLUDE; i++)
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
    PyObject *ex[HL_MAX_EXCLUDE];
    size_t nex = exclusions(ex, args, exclude, targets);

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
    if ((rc = hl_graph_build(&g, ex, nex)) < 0) {
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
    PyObject *ex[HL_MAX_EXCLUDE];
    size_t nex = exclusions(ex, args, exclude, NULL);
    hl_graph *g = NULL;
    int rc = hl_graph_build(&g, ex, nex);
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
    /* graph(extra_ignore=..., filter=...) can exclude many objects: no
     * HL_MAX_EXCLUDE cap here, every item counts. */
    Py_ssize_t nitems = exclude != NULL ? PyTuple_GET_SIZE(exclude) : 0;
    PyObject **ex = PyMem_Malloc(((size_t)nitems + 2) * sizeof(PyObject *));
    if (ex == NULL)
        return PyErr_NoMemory();
    size_t nex = 0;
    ex[nex++] = args;
    if (exclude != NULL) {
        ex[nex++] = exclude;
        for (Py_ssize_t i = 0; i < nitems; i++)
            ex[nex++] = PyTuple_GET_ITEM(exclude, i);
    }
    hl_graph *g = NULL;
    int rc = hl_graph_build(&g, ex, nex);
    PyMem_Free(ex);
    if (rc < 0)
        return hl_py_raise(rc);
    /* Breadth-first backwards; nodes[] doubles as the queue. Edges are
     * kept as pairs of node indices, turned into objects at the end. */
    PyObject **nodes = NULL; /* new references */
    size_t nn = 0, cap = 0;
    size_t *epar = NULL, *echi = NULL, ne = 0, ecap = 0;
    uint32_t *level = NULL;
    size_t *dropped = NULL; /* per node: referrers left out by too_many */
    size_t *grouped = NULL; /* per node: functions whose __globals__ it is */
    PyObject *result = NULL, *pairs = NULL, *drops = NULL, *groups = NULL;
    nodes = PyMem_RawMalloc((size_t)max_nodes * sizeof(PyObject *));
    level = PyMem_RawMalloc((size_t)max_nodes * sizeof(uint32_t));
    dropped = PyMem_RawCalloc((size_t)max_nodes, sizeof(size_t));
    grouped = PyMem_RawCalloc((size_t)max_nodes, sizeof(size_t));
    if (nodes == NULL || level == NULL || dropped == NULL || grouped == NULL)
        goto nomem;
    cap = (size_t)max_nodes;
    Py_INCREF(obj);
    nodes[nn] = obj;
    level[nn++] = 0;
    for (size_t head = 0; head < nn; head++) {
        if (level[head] >= (uint32_t)depth)
            continue;
        PyObject **refs;
        size_t nr;
        if ((rc = hl_graph_referrers(&refs, &nr, g, nodes[head])) < 0)
            goto fail;
        size_t taken = 0;
        for (size_t i = 0; i < nr; i++) {
            /* A module's functions all hold its globals dict: counted, and
             * drawn as one node by the caller, not one node each. The check
             * reads the function's own field: no Python code runs. */
            if (group && PyFunction_Check(refs[i]) &&
                PyFunction_GET_GLOBALS(refs[i]) == nodes[head]) {
                grouped[head]++;
                continue;
            }
            if (too_many > 0 && taken >= (size_t)too_many) {
                dropped[head]++; /* objgraph's too_many: a "N more" node */
                continue;
            }
            taken++;
            size_t at = nn;
            for (size_t j = 0; j < nn; j++)
                if (nodes[j] == refs[i]) {
                    at = j;
                    break;
                }
            if (at == nn) {
                if (nn == cap)
                    continue; /* the graph is full: drop the edge */
                Py_INCREF(refs[i]);
                nodes[nn] = refs[i];
                level[nn++] = level[head] + 1;
            }
            if (ne == ecap) {
                size_t nc = ecap ? ecap * 2 : 64;
                size_t *p1 = PyMem_RawRealloc(epar, nc * sizeof(size_t));
                if (p1 == NULL) {
                    hl_graph_free_array(refs, nr);
                    goto nomem;
                }
                epar = p1;
                size_t *p2 = PyMem_RawRealloc(echi, nc * sizeof(size_t));
                if (p2 == NULL) {
                    hl_graph_free_array(refs, nr);
                    goto nomem;
                }
                echi = p2;
                ecap = nc;
            }
            epar[ne] = at;
            echi[ne] = head;
            ne++;
        }
        hl_graph_free_array(refs, nr);
    }
    hl_graph_free(g);
    g = NULL;
    pairs = PyList_New((Py_ssize_t)ne);
    for (size_t i = 0; pairs != NULL && i < ne; i++) {
        PyObject *pair = PyTuple_Pack(2, nodes[epar[i]], nodes[echi[i]]);
        if (pair == NULL)
            Py_CLEAR(pairs);
        else
            PyList_SET_ITEM(pairs, (Py_ssize_t)i, pair);
    }
    if (pairs == NULL || (too_many == 0 && !group)) {
        result = pairs; /* the old shape: [(parent, child), ...] */
        goto done;
    }
    drops = counts_list(nodes, dropped, nn);
    groups = drops != NULL ? counts_list(nodes, grouped, nn) : NULL;
    if (groups != NULL)
        result = PyTuple_Pack(3, pairs, drops, groups);
    Py_DECREF(pairs);
    Py_XDECREF(drops);
    Py_XDECREF(groups);
    goto done;
nomem:
    PyErr_NoMemory();
    goto done;
fail:
    hl_py_raise(rc);
done:
    hl_graph_free(g);
    for (size_t i = 0; i < nn; i++)
        Py_DECREF(nodes[i]);
    PyMem_RawFree(nodes);
    PyMem_RawFree(level);
    PyMem_RawFree(dropped);
    PyMem_RawFree(grouped);
    PyMem_RawFree(epar);
    PyMem_RawFree(echi);
    return result;
}
