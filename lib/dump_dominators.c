/* dump_dominators.c - a dump's dominator tree and retained sizes, computed
 * once on first use by the dominators module (dominators.c). */
#include "dump_read.h"
#include "error.h"
#include <string.h>

#include "mem.h"

/* The peak is while hl_dominators runs: the CSR graph, idom and its
 * scratch. Everything else is dropped first and rebuilt from the mapping
 * afterwards: the object arrays and the address index before, the graph
 * after (it is rebuilt on demand for referents and paths); retained sizes
 * are computed in place over the sizes read back from the file. */
int
hl_dump_dominators(const uint32_t **idom, const uint64_t **retained, hl_dump *d)
{
    if (d->retained == NULL) {
        size_t n = d->n ? d->n : 1;
        int rc;
        if ((rc = hl_dump__load_graph(d)) < 0)
            return rc;
        hl_dump__free_objects(d);
        uint32_t *id = d->idom ? d->idom : hl_mem__malloc(n * sizeof(uint32_t));
        if (id == NULL) {
            rc = hl_error__set(HL_ENOMEM, "out of memory for the dominator tree");
            goto reload;
        }
        d->idom = id;
        hl_digraph g = {d->n, d->first, d->to};
        if ((rc = hl_dominators(id, &g, d->roots, d->nroots)) < 0)
            goto reload;
        hl_dump__free_graph(d);
        uint64_t *ret = hl_mem__malloc(n * sizeof(uint64_t));
        if (ret == NULL) {
            rc = hl_error__set(HL_ENOMEM, "out of memory for the retained sizes");
            goto reload;
        }
        if ((rc = hl_dump__load_sizes(d, ret)) < 0 ||
            (rc = hl_dominators_retained(ret, id, ret, d->n)) < 0) {
            hl_mem__free(ret);
            goto reload;
        }
        d->retained = ret;
        if ((rc = hl_dump__load_objects(d)) < 0)
            return rc;
        goto out;
    reload:
        hl_mem__free(d->idom);
        d->idom = NULL;
        {
            int rc2 = hl_dump__load_objects(d);
            (void)rc2; /* the first error is the one reported */
        }
        return rc;
    }
out:
    *idom = d->idom;
    *retained = d->retained;
    return 0;
}

/* Enter a node of type t on the tree path: its retained size counts for t
 * when no node of type t is above it (saturating). */
static inline void
add_once(uint64_t *out, uint32_t *active, uint32_t t, uint64_t r)
{
    if (active[t]++ == 0)
        out[t] = out[t] > UINT64_MAX - r ? UINT64_MAX : out[t] + r;
}

/* Set-retained size per type: walk the dominator tree depth first keeping,
 * per type, how many objects of that type are on the current tree path; an
 * object adds its retained size to its type only when no ancestor has its
 * type (that ancestor's retained size already holds it). Iterative: the
 * tree of a long linked list is as deep as the list. */
int
hl_dump_type_retained(uint64_t *out, hl_dump *d)
{
    const uint32_t *idom;
    const uint64_t *ret;
    int rc = hl_dump_dominators(&idom, &ret, d);
    if (rc < 0)
        return rc;
    if (d->type == NULL)
        return hl_error__set(HL_EINVAL, "the dump's object table is not loaded");
    uint32_t n = d->n;
    size_t nn = n ? n : 1;
    uint64_t *kfirst = hl_mem__calloc(nn + 1, sizeof(uint64_t));
    uint32_t *kids = hl_mem__malloc(nn * sizeof(uint32_t));
    uint32_t *active = hl_mem__calloc(d->ntypes ? d->ntypes : 1, sizeof(uint32_t));
    uint32_t *stack = hl_mem__malloc(nn * sizeof(uint32_t));
    uint64_t *next = hl_mem__malloc(nn * sizeof(uint64_t)); /* child cursor per stacked node */
    if (!kfirst || !kids || !active || !stack || !next) {
        rc = hl_error__set(HL_ENOMEM, "out of memory for the per-type retained sizes");
        goto done;
    }
    memset(out, 0, (d->ntypes ? d->ntypes : 1) * sizeof(uint64_t));
    /* Children lists of the dominator tree, by counting sort on idom. */
    for (uint32_t v = 0; v < n; v++)
        if (idom[v] < n)
            kfirst[idom[v] + 1]++;
    for (uint32_t v = 0; v < n; v++)
        kfirst[v + 1] += kfirst[v];
    {
        uint64_t *fill = next; /* borrowed as scratch */
        for (uint32_t v = 0; v < n; v++)
            fill[v] = kfirst[v];
        for (uint32_t v = 0; v < n; v++)
            if (idom[v] < n)
                kids[fill[idom[v]]++] = v;
    }
    for (uint32_t r = 0; r < n; r++) {
        if (idom[r] < n)
            continue; /* a tree root: HL_DOM_ROOT or unreachable */
        size_t top = 0;
        stack[top] = r;
        next[r] = kfirst[r];
        top++;
        add_once(out, active, d->type[r] & HL_DUMP_TYPE_MASK, ret[r]);
        while (top > 0) {
            uint32_t v = stack[top - 1];
            if (next[v] < kfirst[v + 1]) {
                uint32_t c = kids[next[v]++];
                next[c] = kfirst[c];
                stack[top++] = c;
                add_once(out, active, d->type[c] & HL_DUMP_TYPE_MASK, ret[c]);
            }
            else {
                active[(d->type[v] & HL_DUMP_TYPE_MASK)]--;
                top--;
            }
        }
    }
    rc = 0;
done:
    hl_mem__free(kfirst);
    hl_mem__free(kids);
    hl_mem__free(active);
    hl_mem__free(stack);
    hl_mem__free(next);
    return rc;
}
