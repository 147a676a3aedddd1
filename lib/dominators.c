/*
 * dominators.c - exact immediate dominators (SEMI-NCA) and retained sizes.
 *
 * SEMI-NCA (Georgiadis, Tarjan; the algorithm LLVM and LeakCanary's Shark
 * use): a depth-first numbering from the virtual root, semi-dominators by
 * Lengauer-Tarjan's eval with path compression over the nodes in reverse
 * preorder, then each idom as the nearest ancestor of the DFS parent whose
 * number is at most the semi-dominator. Everything is a loop: the DFS stack is
 * the DFS tree's parent chain, and path compression reverses the pointers it
 * climbs instead of recursing, so a million-deep chain needs no stack.
 *
 * Memory (why it is shaped this way: the dump, its graph and these arrays
 * must fit in 48 B per object together). Nodes are numbered 1..nr in
 * preorder, 0 being the virtual root. Four uint32 arrays of n + 1 entries
 * (16 B per node) serve several purposes in turn, and the caller's idom
 * array holds the preorder numbers and then the dominators by number:
 *
 *   phase         A            B            C              D            idom[]
 *   DFS           parent       vertex       pred count     cursor/bound number
 *   predecessors  parent       vertex       offset in P    semi bound   number
 *   semi          ancestor     vertex       semi           best         parent
 *   NCA           -            vertex       semi           -            dominator
 *   output        -            vertex       dominator      -            result
 *
 * The predecessor list P keeps only the edges that the semi-dominator step
 * cannot settle while it is being built: an edge v -> w with number(v) <
 * number(w) comes from an ancestor of w (a DFS property), so its candidate is
 * number(v) itself and is folded into D at once; tree edges, self-loops and
 * edges into a root (whose semi-dominator is the virtual root) need nothing.
 * P holds the rest, 4 B each: edges from later-visited nodes to earlier ones.
 *
 * On a big heap every phase is bound by cache misses (a random access per
 * edge), so the passes over the edges are few: the DFS also counts the
 * predecessors and settles forward edges, and the fill pass streams the
 * edges in memory order with a prefetch.
 *
 * The NCA step walks up the partly built dominator tree; its worst case is
 * quadratic, but it is linear on chains, stars and the graphs of real heaps
 * (the choice LLVM made too), and it needs no extra array.
 */
#include <string.h>

#include "error.h"
#include "heaplens/dominators.h"
#include "mem.h"

#define NONE UINT32_MAX

/* Offsets non-decreasing, every edge target in range. Sequential: about a
 * tenth of the time of the DFS that follows. */
static int
check_graph(const hl_digraph *g)
{
    if (g == NULL)
        return hl_error__set(HL_EINVAL, "dominators: the graph is NULL");
    if (g->n > HL_DOM_MAX_NODES)
        return hl_error__set(HL_EINVAL, "dominators: %u nodes is more than the %u allowed",
                             (unsigned)g->n, (unsigned)HL_DOM_MAX_NODES);
    if (g->n == 0)
        return HL_OK;
    if (g->first == NULL)
        return hl_error__set(HL_EINVAL, "dominators: the graph has no offsets");
    for (uint32_t v = 0; v < g->n; v++) {
        if (g->first[v + 1] < g->first[v])
            return hl_error__set(HL_EINVAL,
                                 "dominators: offsets decrease at node %u (%llu then %llu)",
                                 (unsigned)v, (unsigned long long)g->first[v],
                                 (unsigned long long)g->first[v + 1]);
        if (g->first[v + 1] - g->first[v] > UINT32_MAX)
            return hl_error__set(HL_EINVAL, "dominators: node %u has more than 2^32 - 1 edges",
                                 (unsigned)v);
    }
    if (g->first[g->n] > g->first[0] && g->to == NULL)
        return hl_error__set(HL_EINVAL, "dominators: the graph has edges but no targets");
    for (uint64_t k = g->first[0]; k < g->first[g->n]; k++) {
        if (g->to[k] >= g->n)
            return hl_error__set(HL_EINVAL,
                                 "dominators: edge %llu points to node %u, out of range (n = %u)",
                                 (unsigned long long)k, (unsigned)g->to[k], (unsigned)g->n);
    }
    return HL_OK;
}

static int
check_roots(const uint32_t *roots, size_t nroots, uint32_t n)
{
    if (nroots > 0 && roots == NULL)
        return hl_error__set(HL_EINVAL, "dominators: %zu roots but no array", nroots);
    for (size_t i = 0; i < nroots; i++) {
        if (roots[i] >= n)
            return hl_error__set(HL_EINVAL, "dominators: root %zu is node %u, out of range (n = %u)",
                                 i, (unsigned)roots[i], (unsigned)n);
    }
    return HL_OK;
}

/* Lengauer-Tarjan's eval for a linked node v while node w is processed: the
 * smallest semi-dominator on the forest path from v up to (excluding) its
 * forest root, the first ancestor numbered <= w. Compresses the path so that
 * every node on it points at that root. The climb reverses the ancestor
 * pointers (each one then names the node below it) and the descent restores
 * them, so no stack is needed however long the path. */
static inline uint32_t
eval(uint32_t *anc, uint32_t *best, uint32_t v, uint32_t w)
{
    uint32_t a = anc[v];
    if (a <= w) /* already compressed: v hangs from the root */
        return best[v];
    uint32_t below = NONE, x = v;
    while ((a = anc[x]) > w) {
        anc[x] = below;
        below = x;
        x = a;
    }
    /* x is the top linked node; a = anc[x] is the root. */
    uint32_t root = a, b = best[x];
    while (below != NONE) {
        uint32_t next = anc[below];
        if (best[below] > b)
            best[below] = b;
        else
            b = best[below];
        anc[below] = root;
        below = next;
    }
    return best[v];
}

int
hl_dominators(uint32_t *idom, const hl_digraph *g, const uint32_t *roots, size_t nroots)
{
    int rc = check_graph(g);
    if (rc < 0)
        return rc;
    const uint32_t n = g->n;
    if ((rc = check_roots(roots, nroots, n)) < 0)
        return rc;
    if (n == 0)
        return HL_OK;
    if (idom == NULL)
        return hl_error__set(HL_EINVAL, "dominators: the output array is NULL");
    const uint64_t *first = g->first;
    const uint32_t *to = g->to;

    size_t entries = (size_t)n + 1;
    uint32_t *A = hl_mem__malloc(entries * sizeof(uint32_t));
    uint32_t *B = hl_mem__malloc(entries * sizeof(uint32_t));
    uint32_t *C = hl_mem__malloc(entries * sizeof(uint32_t));
    uint32_t *D = hl_mem__malloc(entries * sizeof(uint32_t));
    uint32_t *P = NULL;
    if (A == NULL || B == NULL || C == NULL || D == NULL) {
        rc = hl_error__set(HL_ENOMEM, "dominators: out of memory for %u nodes", (unsigned)n);
        goto done;
    }

    /* 1. Depth-first preorder from the virtual root (number 0). idom[v] is
     * v's number, HL_DOM_UNREACHABLE while unvisited; A the DFS parent, B
     * the vertex of a number; D the position in an active node's edges
     * (relative: check_graph bounds the out-degree), then, once the node is
     * finished, its semi-dominator bound. The path back up is A itself, so a
     * deep graph costs no stack.
     *
     * The scan also does the first pass over the predecessors, as it reads
     * every edge's target number anyway (each edge costs a cache miss on a
     * big heap; a separate pass took a fifth of the time): an edge i -> j to
     * an earlier node (j < i) is counted in C[j]; one to a later, hence
     * finished, descendant (a forward edge) lowers j's bound D[j] to i. */
    for (uint32_t v = 0; v < n; v++)
        idom[v] = HL_DOM_UNREACHABLE;
    uint32_t nr = 0;
    uint64_t total = 0;
    for (size_t r = 0; r < nroots; r++) {
        uint32_t root = roots[r];
        if (idom[root] != HL_DOM_UNREACHABLE) {
            /* Already reached from another root: the virtual root's edge to
             * it is a forward edge, its semi-dominator is 0. */
            D[idom[root]] = 0;
            continue;
        }
        idom[root] = ++nr;
        B[nr] = root;
        A[nr] = 0;
        C[nr] = 0;
        D[nr] = 0;
        uint32_t u = nr;
        while (u != 0) {
            const uint64_t base = first[B[u]], end = first[B[u] + 1];
            uint64_t k = base + D[u];
            uint32_t j = HL_DOM_UNREACHABLE;
            for (; k < end; k++) {
                j = idom[to[k]];
                if (j == HL_DOM_UNREACHABLE)
                    break;
                if (j < u) {
                    C[j]++;
                    total++;
                } else if (j > u && u < D[j]) {
                    D[j] = u;
                }
            }
            if (k == end) {
                D[u] = A[u]; /* finished: D becomes the semi bound */
                u = A[u];
                continue;
            }
            D[u] = (uint32_t)(k + 1 - base);
            uint32_t x = to[k];
            idom[x] = ++nr;
            B[nr] = x;
            A[nr] = u;
            C[nr] = 0;
            D[nr] = 0;
            u = nr;
        }
    }
    if (total >= NONE) {
        rc = hl_error__set(HL_EINVAL,
                           "dominators: %llu back edges is more than the 32-bit offsets allow",
                           (unsigned long long)total);
        goto done;
    }

    /* 2. The predecessor list P: C[w] becomes the start of w's run. Filled
     * in the graph's own order, so that `to` streams and the target numbers
     * can be prefetched; the order within a run does not matter. */
    P = hl_mem__malloc((total ? total : 1) * sizeof(uint32_t));
    if (P == NULL) {
        rc = hl_error__set(HL_ENOMEM, "dominators: out of memory for %llu edges",
                           (unsigned long long)total);
        goto done;
    }
    uint32_t sum = 0;
    for (uint32_t i = 1; i <= nr; i++) {
        sum += C[i];
        C[i] = sum;
    }
    const uint64_t last = first[n];
    for (uint32_t v = 0; v < n; v++) {
        const uint32_t i = idom[v];
        if (i == HL_DOM_UNREACHABLE)
            continue;
        for (uint64_t k = first[v]; k < first[v + 1]; k++) {
            if (k + 16 < last)
                __builtin_prefetch(&idom[to[k + 16]]);
            uint32_t j = idom[to[k]];
            if (j < i)
                P[--C[j]] = i;
        }
    }

    /* 3. Semi-dominators in reverse preorder. The numbers in idom[] are no
     * longer needed (B maps back), so it keeps the DFS parents for step 4:
     * A turns into the forest's ancestor links (a node is linked to its
     * parent once processed, which A already says) and is compressed. */
    for (uint32_t i = 1; i <= nr; i++)
        idom[i - 1] = A[i];
    uint32_t end = (uint32_t)total;
    for (uint32_t w = nr; w >= 1; w--) {
        const uint32_t start = C[w];
        uint32_t s = D[w];
        for (uint32_t k = start; k < end; k++) {
            uint32_t b = eval(A, D, P[k], w);
            if (b < s)
                s = b;
        }
        end = start;
        C[w] = s;
        D[w] = s;
    }
    hl_mem__free(P);
    P = NULL;

    /* 4. NCA: idom(w) is the nearest ancestor of parent(w) in the dominator
     * tree built so far whose number is <= semi(w). dom(i) is idom[i - 1]. */
    for (uint32_t w = 1; w <= nr; w++) {
        uint32_t d = idom[w - 1];
        const uint32_t s = C[w];
        while (d > s)
            d = idom[d - 1];
        idom[w - 1] = d;
    }

    /* 5. Back to vertices: C[i] = the dominator's number, then idom[] by
     * vertex. */
    for (uint32_t i = 1; i <= nr; i++)
        C[i] = idom[i - 1];
    for (uint32_t v = 0; v < n; v++)
        idom[v] = HL_DOM_UNREACHABLE;
    for (uint32_t i = 1; i <= nr; i++)
        idom[B[i]] = C[i] == 0 ? HL_DOM_ROOT : B[C[i]];
    rc = HL_OK;
done:
    hl_mem__free(P);
    hl_mem__free(A);
    hl_mem__free(B);
    hl_mem__free(C);
    hl_mem__free(D);
    return rc;
}

#define DONE UINT32_MAX

int
hl_dominators_retained(uint64_t *retained, const uint32_t *idom, const uint64_t *size, uint32_t n)
{
    if (n > HL_DOM_MAX_NODES)
        return hl_error__set(HL_EINVAL, "retained: %u nodes is more than the %u allowed",
                             (unsigned)n, (unsigned)HL_DOM_MAX_NODES);
    if (n == 0)
        return HL_OK;
    if (retained == NULL || idom == NULL || size == NULL)
        return hl_error__set(HL_EINVAL, "retained: an array is NULL");
    for (uint32_t v = 0; v < n; v++) {
        uint32_t d = idom[v];
        if (d == HL_DOM_ROOT || d == HL_DOM_UNREACHABLE)
            continue;
        if (d >= n)
            return hl_error__set(HL_EINVAL, "retained: idom[%u] = %u is out of range (n = %u)",
                                 (unsigned)v, (unsigned)d, (unsigned)n);
        if (idom[d] == HL_DOM_UNREACHABLE)
            return hl_error__set(HL_EINVAL,
                                 "retained: idom[%u] = %u, a node marked unreachable",
                                 (unsigned)v, (unsigned)d);
    }
    /* children[v]: v's children in the tree not yet added to it, DONE once
     * v's own total is final. A node is finished when its last child is,
     * so the climb goes on from there without a queue. */
    uint32_t *children = hl_mem__calloc((size_t)n, sizeof(uint32_t));
    if (children == NULL)
        return hl_error__set(HL_ENOMEM, "retained: out of memory for %u nodes", (unsigned)n);
    for (uint32_t v = 0; v < n; v++) {
        retained[v] = size[v];
        uint32_t d = idom[v];
        if (d != HL_DOM_ROOT && d != HL_DOM_UNREACHABLE)
            children[d]++;
    }
    for (uint32_t v = 0; v < n; v++) {
        if (children[v] != 0)
            continue;
        uint32_t u = v;
        for (;;) {
            children[u] = DONE;
            uint32_t d = idom[u];
            if (d == HL_DOM_ROOT || d == HL_DOM_UNREACHABLE)
                break;
            uint64_t s = retained[d] + retained[u];
            retained[d] = s < retained[u] ? UINT64_MAX : s;
            if (--children[d] != 0)
                break;
            u = d;
        }
    }
    int rc = HL_OK;
    for (uint32_t v = 0; v < n; v++) {
        if (children[v] != DONE) {
            rc = hl_error__set(HL_EINVAL, "retained: idom is not a tree (node %u is on a cycle)",
                               (unsigned)v);
            break;
        }
    }
    hl_mem__free(children);
    return rc;
}

int
hl_dominators_path_to_root(uint32_t **path, size_t *len, const hl_digraph *g,
                           const uint32_t *roots, size_t nroots, uint32_t target)
{
    if (path == NULL || len == NULL)
        return hl_error__set(HL_EINVAL, "path_to_root: the output pointers are NULL");
    *path = NULL;
    *len = 0;
    if (g == NULL)
        return hl_error__set(HL_EINVAL, "path_to_root: the graph is NULL");
    const uint32_t n = g->n;
    if (n > HL_DOM_MAX_NODES)
        return hl_error__set(HL_EINVAL, "path_to_root: %u nodes is more than the %u allowed",
                             (unsigned)n, (unsigned)HL_DOM_MAX_NODES);
    if (target >= n)
        return hl_error__set(HL_EINVAL, "path_to_root: target %u is out of range (n = %u)",
                             (unsigned)target, (unsigned)n);
    int rc = check_roots(roots, nroots, n);
    if (rc < 0)
        return rc;
    if (g->first == NULL)
        return hl_error__set(HL_EINVAL, "path_to_root: the graph has no offsets");
    /* from[v]: the node v was first reached from (v itself for a root), or
     * NONE; queue: the breadth-first frontier, every node entering once. */
    uint32_t *from = hl_mem__malloc((size_t)n * sizeof(uint32_t));
    uint32_t *queue = hl_mem__malloc((size_t)n * sizeof(uint32_t));
    if (from == NULL || queue == NULL) {
        rc = hl_error__set(HL_ENOMEM, "path_to_root: out of memory for %u nodes", (unsigned)n);
        goto done;
    }
    for (uint32_t v = 0; v < n; v++)
        from[v] = NONE;
    size_t head = 0, tail = 0;
    for (size_t r = 0; r < nroots; r++) {
        if (from[roots[r]] == NONE) {
            from[roots[r]] = roots[r];
            queue[tail++] = roots[r];
        }
    }
    int found = from[target] != NONE;
    while (!found && head < tail) {
        uint32_t v = queue[head++];
        uint64_t lo = g->first[v], hi = g->first[v + 1];
        if (hi < lo) {
            rc = hl_error__set(HL_EINVAL, "path_to_root: offsets decrease at node %u", (unsigned)v);
            goto done;
        }
        if (hi > lo && g->to == NULL) {
            rc = hl_error__set(HL_EINVAL, "path_to_root: the graph has edges but no targets");
            goto done;
        }
        for (uint64_t k = lo; k < hi; k++) {
            uint32_t x = g->to[k];
            if (x >= n) {
                rc = hl_error__set(HL_EINVAL,
                                   "path_to_root: edge %llu points to node %u, out of range (n = %u)",
                                   (unsigned long long)k, (unsigned)x, (unsigned)n);
                goto done;
            }
            if (from[x] == NONE) {
                from[x] = v;
                queue[tail++] = x;
                if (x == target) {
                    found = 1;
                    break;
                }
            }
        }
    }
    if (!found) {
        rc = HL_OK; /* unreachable: *path NULL, *len 0 */
        goto done;
    }
    size_t count = 1;
    for (uint32_t v = target; from[v] != v; v = from[v])
        count++;
    uint32_t *out = hl_mem__malloc(count * sizeof(uint32_t));
    if (out == NULL) {
        rc = hl_error__set(HL_ENOMEM, "path_to_root: out of memory for a path of %zu nodes", count);
        goto done;
    }
    size_t i = count;
    for (uint32_t v = target;; v = from[v]) {
        out[--i] = v;
        if (from[v] == v)
            break;
    }
    *path = out;
    *len = count;
    rc = HL_OK;
done:
    hl_mem__free(from);
    hl_mem__free(queue);
    return rc;
}

void
hl_dominators_path_free(uint32_t *path)
{
    hl_mem__free(path);
}
