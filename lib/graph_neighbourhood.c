/*
 * graph_neighbourhood.c - the referrers of an object, theirs, and so on, a
 * few hops back: the graph heaplens.graph() draws (objgraph's
 * show_backrefs), found over the reverse-edge index of graph.c.
 *
 * Breadth-first, so the nearest referrers are kept when max_nodes cuts the
 * search short; nodes[] doubles as the queue. Edges are kept as pairs of
 * node indices and only turned into objects by the caller. Nothing here
 * runs Python code: the index's addresses stay valid throughout.
 */
#include <string.h>

#include "error.h"
#include "heaplens/graph.h"
#include "mem.h"

int
hl_graph_neighbourhood_options_init(hl_graph_neighbourhood_options *opts, unsigned int version)
{
    static const hl_graph_neighbourhood_options defaults = HL_GRAPH_NEIGHBOURHOOD_OPTIONS_INIT;
    if (opts == NULL || version != HL_GRAPH_NEIGHBOURHOOD_OPTIONS_VERSION)
        return hl_error__set(HL_EINVAL, "hl_graph_neighbourhood_options version %u, expected %u",
                             version, HL_GRAPH_NEIGHBOURHOOD_OPTIONS_VERSION);
    *opts = defaults;
    return 0;
}

void
hl_graph_neighbourhood_free(hl_graph_neighbourhood *nb)
{
    if (nb == NULL)
        return;
    PyObject **nodes = nb->nodes;
    size_t n = nb->nnodes;
    hl_mem__free(nb->parents);
    hl_mem__free(nb->children);
    hl_mem__free(nb->dropped);
    hl_mem__free(nb->grouped);
    memset(nb, 0, sizeof(*nb));
    /* Releasing may run finalizers: with nothing of ours left exposed. */
    for (size_t i = 0; i < n; i++)
        Py_DECREF(nodes[i]);
    hl_mem__free(nodes);
}

static int
add_edge(hl_graph_neighbourhood *nb, size_t *cap, size_t parent, size_t child)
{
    if (nb->nedges == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        size_t *p1 = hl_mem__realloc(nb->parents, nc * sizeof(size_t));
        if (p1 == NULL)
            return hl_error__set(HL_ENOMEM, "out of memory for %zu graph edges", nc);
        nb->parents = p1;
        size_t *p2 = hl_mem__realloc(nb->children, nc * sizeof(size_t));
        if (p2 == NULL)
            return hl_error__set(HL_ENOMEM, "out of memory for %zu graph edges", nc);
        nb->children = p2;
        *cap = nc;
    }
    nb->parents[nb->nedges] = parent;
    nb->children[nb->nedges] = child;
    nb->nedges++;
    return 0;
}

int
hl_graph_neighbourhood_find(hl_graph_neighbourhood *out, const hl_graph *g, PyObject *obj,
                            const hl_graph_neighbourhood_options *opts)
{
    static const hl_graph_neighbourhood_options defaults = HL_GRAPH_NEIGHBOURHOOD_OPTIONS_INIT;
    hl_graph_neighbourhood nb;
    uint32_t *level = NULL;
    size_t ecap = 0, max;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    memset(&nb, 0, sizeof(nb));
    hl_error_clear();
    if (opts == NULL)
        opts = &defaults;
    if (opts->version != HL_GRAPH_NEIGHBOURHOOD_OPTIONS_VERSION)
        return hl_error__set(HL_EINVAL, "hl_graph_neighbourhood_options version %u, expected %u",
                             opts->version, HL_GRAPH_NEIGHBOURHOOD_OPTIONS_VERSION);
    if (g == NULL || obj == NULL || opts->max_nodes < 1)
        return hl_error__set(HL_EINVAL, "hl_graph_neighbourhood_find needs a graph, an object "
                                        "and max_nodes >= 1");
    max = opts->max_nodes;
    nb.nodes = hl_mem__malloc(max * sizeof(PyObject *));
    level = hl_mem__malloc(max * sizeof(uint32_t));
    nb.dropped = hl_mem__calloc(max, sizeof(size_t));
    nb.grouped = hl_mem__calloc(max, sizeof(size_t));
    if (nb.nodes == NULL || level == NULL || nb.dropped == NULL || nb.grouped == NULL) {
        rc = hl_error__set(HL_ENOMEM, "out of memory for a graph of %zu nodes", max);
        goto done;
    }
    Py_INCREF(obj);
    nb.nodes[nb.nnodes] = obj;
    level[nb.nnodes++] = 0;
    for (size_t head = 0; head < nb.nnodes; head++) {
        if (level[head] >= opts->depth)
            continue;
        PyObject **refs;
        size_t nr;
        if ((rc = hl_graph_referrers(&refs, &nr, g, nb.nodes[head])) < 0)
            goto done;
        size_t taken = 0;
        for (size_t i = 0; i < nr; i++) {
            /* A module's functions all hold its globals dict: counted, and
             * drawn as one node by the caller, not one node each. The check
             * reads the function's own field: no Python code runs. */
            if (opts->group_functions && PyFunction_Check(refs[i]) &&
                PyFunction_GET_GLOBALS(refs[i]) == nb.nodes[head]) {
                nb.grouped[head]++;
                continue;
            }
            if (opts->too_many > 0 && taken >= opts->too_many) {
                nb.dropped[head]++; /* objgraph's too_many: a "N more" node */
                continue;
            }
            taken++;
            size_t at = nb.nnodes;
            for (size_t j = 0; j < nb.nnodes; j++)
                if (nb.nodes[j] == refs[i]) {
                    at = j;
                    break;
                }
            if (at == nb.nnodes) {
                if (nb.nnodes == max)
                    continue; /* the graph is full: drop the edge */
                Py_INCREF(refs[i]);
                nb.nodes[nb.nnodes] = refs[i];
                level[nb.nnodes++] = level[head] + 1;
            }
            if ((rc = add_edge(&nb, &ecap, at, head)) < 0) {
                hl_graph_free_array(refs, nr);
                goto done;
            }
        }
        hl_graph_free_array(refs, nr);
    }
done:
    hl_mem__free(level);
    if (rc < 0) {
        hl_graph_neighbourhood_free(&nb);
        return rc;
    }
    *out = nb;
    return 0;
}
