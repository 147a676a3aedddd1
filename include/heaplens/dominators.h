/*
 * dominators.h - exact dominator trees and retained sizes of a directed graph.
 *
 * The graph is a heap dump's reference graph: nodes are objects numbered
 * 0..n-1, edges are references, and a virtual root points at every root
 * object (held from outside the heap). Object v's immediate dominator is the
 * last node every path from the virtual root to v passes through; v's
 * retained size is the bytes that would be freed if v went: its own size plus
 * the retained sizes of the nodes it immediately dominates.
 *
 * Nothing here touches Python objects: the functions need neither the GIL nor
 * the interpreter, and they are iterative (a million-deep chain is fine).
 * They return 0 (HL_OK) or a negative HL_E* code of heaplens.h (HL_ENOMEM,
 * HL_EINVAL), with the message in hl_error_last().
 */
#ifndef HEAPLENS_DOMINATORS_H
#define HEAPLENS_DOMINATORS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* idom[v] when only the virtual root dominates v (v is a root, or is reached
 * from two roots' subgraphs that share nothing on the way). */
#define HL_DOM_ROOT ((uint32_t)0xFFFFFFFFu)
/* idom[v] when no path from any root reaches v. */
#define HL_DOM_UNREACHABLE ((uint32_t)0xFFFFFFFEu)
/* The largest node count the 32-bit node numbers allow. */
#define HL_DOM_MAX_NODES ((uint32_t)0xFFFFFFFDu)

/* A graph in compressed-sparse-row form: the successors of node v are
 * to[first[v]] .. to[first[v + 1] - 1]. Borrowed: the caller owns the arrays
 * for the duration of the call. Duplicate edges and self-loops are allowed. */
typedef struct hl_digraph {
    uint32_t n;            /* number of nodes */
    const uint64_t *first; /* n + 1 offsets into `to`, non-decreasing */
    const uint32_t *to;    /* first[n] edge targets, each < n */
} hl_digraph;

/* Compute the immediate dominator of every node, into `idom` (n entries, the
 * caller's array): a node index, HL_DOM_ROOT or HL_DOM_UNREACHABLE.
 * `roots` (nroots entries, each < n, duplicates allowed) are the virtual
 * root's successors. HL_EINVAL for an edge or root out of range or offsets
 * that are not non-decreasing (every edge of first[0]..first[n] is checked,
 * reachable or not), and in two unlikely cases the 32-bit scratch arrays
 * cannot represent: a node with 2^32 or more edges, or 2^32 - 1 or more
 * edges from later-visited to earlier-visited nodes.
 * HL_ENOMEM when the scratch arrays cannot be had.
 *
 * Exact: SEMI-NCA, iterative (no recursion, any depth). Scratch memory,
 * freed before returning: 16 B per node plus 4 B per edge that goes from a
 * node to one visited earlier in the depth-first order (at most one per
 * edge; tree and forward edges cost nothing). On error idom's contents are
 * unspecified. Needs neither the GIL nor the interpreter. */
int hl_dominators(uint32_t *idom, const hl_digraph *g, const uint32_t *roots, size_t nroots);

/* Retained sizes from a dominator tree: retained[v] = size[v] plus the
 * retained sizes of every node whose idom is v. Unreachable nodes retain
 * their own size only and add to no other node. Sums saturate at
 * UINT64_MAX. HL_EINVAL when idom is not a tree (a cycle or an index out of
 * range, or a node whose idom is a node marked HL_DOM_UNREACHABLE). Scratch:
 * 4 B per node. On error retained's contents are unspecified. Iterative;
 * needs neither the GIL nor the interpreter. */
int hl_dominators_retained(uint64_t *retained, const uint32_t *idom, const uint64_t *size,
                           uint32_t n);

/* A shortest path (fewest edges) from any of `roots` to `target`, breadth
 * first: *path receives a new array of *len node indices, a root first and
 * `target` last (a single entry when target is itself a root). Release it
 * with hl_dominators_path_free(). When no root reaches target the call
 * succeeds with *path = NULL and *len = 0. HL_EINVAL for a target or root out
 * of range, and for an edge out of range or decreasing offsets met on the
 * way (only the part of the graph the search reads is checked); HL_ENOMEM.
 * On error *path is NULL and *len 0. Scratch: 8 B per node. Needs neither
 * the GIL nor the interpreter. */
int hl_dominators_path_to_root(uint32_t **path, size_t *len, const hl_digraph *g,
                               const uint32_t *roots, size_t nroots, uint32_t target);

/* Release a path of hl_dominators_path_to_root(); NULL is fine. */
void hl_dominators_path_free(uint32_t *path);

#ifdef __cplusplus
}
#endif

#endif /* HEAPLENS_DOMINATORS_H */
