/* check_dominators.c - exact dominators, retained sizes and shortest paths
 * to a root (lib/dominators.c), on hand-built graphs whose answers are known
 * and on random small graphs against the definition. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "heaplens/dominators.h"
#include "heaplens/heaplens.h"
#include "mem.h"
#include "suites.h"

#define R HL_DOM_ROOT
#define U HL_DOM_UNREACHABLE

/* A graph in CSR form built from an edge list (pairs). */
typedef struct {
    hl_digraph g;
    uint64_t *first;
    uint32_t *to;
} csr;

static void
csr_build(csr *c, uint32_t n, const uint32_t *pairs, size_t m)
{
    c->first = calloc((size_t)n + 1, sizeof(uint64_t));
    c->to = malloc((m ? m : 1) * sizeof(uint32_t));
    ck_assert_ptr_nonnull(c->first);
    ck_assert_ptr_nonnull(c->to);
    for (size_t e = 0; e < m; e++)
        c->first[pairs[2 * e] + 1]++;
    for (uint32_t v = 0; v < n; v++)
        c->first[v + 1] += c->first[v];
    uint64_t *pos = malloc(((size_t)n + 1) * sizeof(uint64_t));
    ck_assert_ptr_nonnull(pos);
    memcpy(pos, c->first, ((size_t)n + 1) * sizeof(uint64_t));
    for (size_t e = 0; e < m; e++)
        c->to[pos[pairs[2 * e]]++] = pairs[2 * e + 1];
    free(pos);
    c->g.n = n;
    c->g.first = c->first;
    c->g.to = c->to;
}

static void
csr_free(csr *c)
{
    free(c->first);
    free(c->to);
}

/* Dominators of `pairs` from `roots`, compared with `want`. */
static void
expect_idom(uint32_t n, const uint32_t *pairs, size_t m, const uint32_t *roots, size_t nroots,
            const uint32_t *want)
{
    csr c;
    csr_build(&c, n, pairs, m);
    uint32_t *idom = malloc(n * sizeof(uint32_t));
    ck_assert_int_eq(hl_dominators(idom, &c.g, roots, nroots), HL_OK);
    for (uint32_t v = 0; v < n; v++)
        ck_assert_msg(idom[v] == want[v], "idom[%u] = %u, expected %u", v, idom[v], want[v]);
    free(idom);
    csr_free(&c);
}

START_TEST(diamond)
{
    const uint32_t e[] = {0, 1, 0, 2, 1, 3, 2, 3}, roots[] = {0}, want[] = {R, 0, 0, 0};
    expect_idom(4, e, 4, roots, 1, want);
}
END_TEST

START_TEST(chain_and_cycle)
{
    const uint32_t chain[] = {0, 1, 1, 2, 2, 3}, roots[] = {0}, want[] = {R, 0, 1, 2};
    expect_idom(4, chain, 3, roots, 1, want);
    /* 0 -> 1 -> 2 -> 0 and 2 -> 3: the back edge changes nothing. */
    const uint32_t cyc[] = {0, 1, 1, 2, 2, 0, 2, 3};
    expect_idom(4, cyc, 4, roots, 1, want);
    /* A cycle entered at two places: 0 -> 1, 0 -> 2, 1 <-> 2, 2 -> 3. */
    const uint32_t two[] = {0, 1, 0, 2, 1, 2, 2, 1, 2, 3}, want2[] = {R, 0, 0, 2};
    expect_idom(4, two, 5, roots, 1, want2);
}
END_TEST

START_TEST(self_loops_and_duplicates)
{
    const uint32_t e[] = {0, 0, 0, 1, 0, 1, 1, 1, 1, 2, 1, 2, 2, 2}, roots[] = {0, 0};
    const uint32_t want[] = {R, 0, 1};
    expect_idom(3, e, 7, roots, 2, want);
}
END_TEST

START_TEST(multiple_roots)
{
    /* Two roots sharing node 2: only the virtual root dominates it. */
    const uint32_t e[] = {0, 2, 1, 2, 2, 3}, roots[] = {0, 1}, want[] = {R, R, R, 2};
    expect_idom(4, e, 3, roots, 2, want);
    /* Root 1 is reached from root 0 first, but the virtual root holds it too. */
    const uint32_t e2[] = {0, 1, 1, 2, 0, 3, 3, 2}, want2[] = {R, R, R, 0};
    expect_idom(4, e2, 4, roots, 2, want2);
    /* The same with the roots in the other order. */
    const uint32_t roots2[] = {1, 0};
    expect_idom(4, e2, 4, roots2, 2, want2);
}
END_TEST

START_TEST(unreachable_nodes)
{
    /* 3 and 4 are reached by nobody (4 points into the reachable part). */
    const uint32_t e[] = {0, 1, 1, 2, 4, 1, 3, 4}, roots[] = {0}, want[] = {R, 0, 1, U, U};
    expect_idom(5, e, 4, roots, 1, want);
    /* No roots at all: everything is unreachable. */
    const uint32_t want2[] = {U, U, U, U, U};
    expect_idom(5, e, 4, roots, 0, want2);
}
END_TEST

/* The example of Lengauer and Tarjan's paper (1979), nodes R A B C D E F G
 * H I J K L numbered 0..12; its dominator tree is given in the paper. */
START_TEST(lengauer_tarjan_example)
{
    enum { r, a, b, c, d, e, f, g, h, i, j, k, l };
    const uint32_t pairs[] = {r, a, r, b, r, c, a, d, b, a, b, d, b, e, c, f, c, g, d, l,
                              e, h, f, i, g, i, g, j, h, e, h, k, i, k, j, i, k, i, k, r,
                              l, h};
    const uint32_t roots[] = {r};
    const uint32_t want[] = {R, r, r, r, r, r, c, c, r, r, g, r, d};
    expect_idom(13, pairs, sizeof(pairs) / sizeof(pairs[0]) / 2, roots, 1, want);
}
END_TEST

/* Dominators by their definition, for graphs of at most 64 nodes: d
 * dominates v when v is reachable and removing d makes it unreachable; the
 * immediate one is the strict dominator that all the others dominate. */
static void
reach(uint64_t *seen, const csr *c, const uint32_t *roots, size_t nroots, int removed)
{
    uint32_t stack[64 * 64 + 64];
    size_t top = 0;
    *seen = 0;
    for (size_t r = 0; r < nroots; r++)
        if ((int)roots[r] != removed)
            stack[top++] = roots[r];
    while (top > 0) {
        uint32_t v = stack[--top];
        if (*seen >> v & 1)
            continue;
        *seen |= (uint64_t)1 << v;
        for (uint64_t k = c->first[v]; k < c->first[v + 1]; k++)
            if ((int)c->to[k] != removed && !(*seen >> c->to[k] & 1))
                stack[top++] = c->to[k];
    }
}

static void
naive_idom(uint32_t *idom, const csr *c, const uint32_t *roots, size_t nroots)
{
    uint32_t n = c->g.n;
    uint64_t all, without[64], dom[64]; /* dom[v]: strict dominators of v */
    reach(&all, c, roots, nroots, -1);
    for (uint32_t d = 0; d < n; d++)
        reach(&without[d], c, roots, nroots, (int)d);
    for (uint32_t v = 0; v < n; v++) {
        dom[v] = 0;
        for (uint32_t d = 0; d < n; d++)
            if (d != v && (all >> v & 1) && !(without[d] >> v & 1))
                dom[v] |= (uint64_t)1 << d;
    }
    for (uint32_t v = 0; v < n; v++) {
        if (!(all >> v & 1)) {
            idom[v] = U;
            continue;
        }
        idom[v] = R;
        for (uint32_t d = 0; d < n; d++)
            if ((dom[v] >> d & 1) && (dom[v] & ~((uint64_t)1 << d)) == dom[d])
                idom[v] = d;
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t
rnd(uint32_t below)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % below);
}

START_TEST(random_against_definition)
{
    uint32_t pairs[2 * 64 * 4], roots[4], idom[64], want[64];
    for (int trial = 0; trial < 3000; trial++) {
        uint32_t n = 1 + rnd(40);
        size_t m = rnd(n * 3 + 1);
        for (size_t e = 0; e < 2 * m; e++)
            pairs[e] = rnd(n);
        size_t nroots = rnd(4);
        for (size_t r = 0; r < nroots; r++)
            roots[r] = rnd(n);
        csr c;
        csr_build(&c, n, pairs, m);
        ck_assert_int_eq(hl_dominators(idom, &c.g, roots, nroots), HL_OK);
        naive_idom(want, &c, roots, nroots);
        for (uint32_t v = 0; v < n; v++)
            ck_assert_msg(idom[v] == want[v], "trial %d: idom[%u] = %u, expected %u", trial, v,
                          idom[v], want[v]);
        csr_free(&c);
    }
}
END_TEST

enum { BIG = 1000000 };

/* A million-deep chain 0 -> 1 -> ... with every node v + 1 also pointing
 * back at v / 2 (so path compression climbs long paths): no recursion, no
 * stack, and idom(i) = i - 1; every node retains itself and what follows. */
START_TEST(million_chain)
{
    uint32_t *pairs = malloc(sizeof(uint32_t) * 4 * BIG);
    size_t m = 0;
    for (uint32_t v = 0; v + 1 < BIG; v++) {
        pairs[2 * m] = v, pairs[2 * m + 1] = v + 1, m++;
        pairs[2 * m] = v + 1, pairs[2 * m + 1] = v / 2, m++;
    }
    csr c;
    csr_build(&c, BIG, pairs, m);
    free(pairs);
    uint32_t *idom = malloc(sizeof(uint32_t) * BIG);
    const uint32_t root = 0;
    ck_assert_int_eq(hl_dominators(idom, &c.g, &root, 1), HL_OK);
    size_t bad = idom[0] != R;
    for (uint32_t v = 1; v < BIG; v++)
        bad += idom[v] != v - 1;
    ck_assert_uint_eq(bad, 0);
    uint64_t *size = malloc(sizeof(uint64_t) * BIG), *ret = malloc(sizeof(uint64_t) * BIG);
    for (uint32_t v = 0; v < BIG; v++)
        size[v] = 3;
    ck_assert_int_eq(hl_dominators_retained(ret, idom, size, BIG), HL_OK);
    for (uint32_t v = 0; v < BIG; v++)
        bad += ret[v] != 3 * (uint64_t)(BIG - v);
    ck_assert_uint_eq(bad, 0);
    /* The path to the deepest node is the whole chain. */
    uint32_t *path;
    size_t len;
    ck_assert_int_eq(hl_dominators_path_to_root(&path, &len, &c.g, &root, 1, BIG - 1), HL_OK);
    ck_assert_uint_eq(len, BIG);
    for (uint32_t v = 0; v < BIG; v++)
        bad += path[v] != v;
    ck_assert_uint_eq(bad, 0);
    hl_dominators_path_free(path);
    free(size);
    free(ret);
    free(idom);
    csr_free(&c);
}
END_TEST

/* A million-wide star: the hub dominates every leaf, a second hub reaching
 * the odd leaves takes them from it. */
START_TEST(million_star)
{
    uint32_t *pairs = malloc(sizeof(uint32_t) * 3 * BIG);
    size_t m = 0;
    for (uint32_t v = 2; v < BIG; v++) {
        pairs[2 * m] = 0, pairs[2 * m + 1] = v, m++;
        if (v % 2)
            pairs[2 * m] = 1, pairs[2 * m + 1] = v, m++;
    }
    csr c;
    csr_build(&c, BIG, pairs, m);
    free(pairs);
    uint32_t *idom = malloc(sizeof(uint32_t) * BIG);
    const uint32_t roots[] = {0, 1};
    ck_assert_int_eq(hl_dominators(idom, &c.g, roots, 1), HL_OK);
    size_t bad = idom[0] != R || idom[1] != U;
    for (uint32_t v = 2; v < BIG; v++)
        bad += idom[v] != 0;
    ck_assert_uint_eq(bad, 0);
    uint64_t *size = malloc(sizeof(uint64_t) * BIG), *ret = malloc(sizeof(uint64_t) * BIG);
    for (uint32_t v = 0; v < BIG; v++)
        size[v] = v;
    ck_assert_int_eq(hl_dominators_retained(ret, idom, size, BIG), HL_OK);
    ck_assert_uint_eq(ret[0], (uint64_t)BIG * (BIG - 1) / 2 - 1); /* all but node 1 */
    ck_assert_uint_eq(ret[1], 1);                                 /* unreachable: itself */
    ck_assert_uint_eq(ret[7], 7);
    ck_assert_int_eq(hl_dominators(idom, &c.g, roots, 2), HL_OK);
    bad = idom[0] != R || idom[1] != R;
    for (uint32_t v = 2; v < BIG; v++)
        bad += idom[v] != (v % 2 ? R : 0);
    ck_assert_uint_eq(bad, 0);
    ck_assert_int_eq(hl_dominators_retained(ret, idom, size, BIG), HL_OK);
    ck_assert_uint_eq(ret[0], (uint64_t)(BIG / 2 - 1) * (BIG / 2) ); /* 0 + even leaves 2..BIG-2 */
    ck_assert_uint_eq(ret[1], 1);
    free(size);
    free(ret);
    free(idom);
    csr_free(&c);
}
END_TEST

START_TEST(retained_by_hand)
{
    /* The diamond: the top retains everything, the sides only themselves. */
    const uint32_t idom[] = {R, 0, 0, 0};
    const uint64_t size[] = {1, 2, 4, 8};
    uint64_t ret[4];
    ck_assert_int_eq(hl_dominators_retained(ret, idom, size, 4), HL_OK);
    ck_assert_uint_eq(ret[0], 15);
    ck_assert_uint_eq(ret[1], 2);
    ck_assert_uint_eq(ret[2], 4);
    ck_assert_uint_eq(ret[3], 8);
    /* A tree listed children first, with an unreachable node 5 and a second
     * top 6: 4 -> {2, 3}, 2 -> {0, 1}. */
    const uint32_t idom2[] = {2, 2, 4, 4, R, U, R};
    const uint64_t size2[] = {10, 20, 30, 40, 50, 60, 70};
    uint64_t ret2[7];
    ck_assert_int_eq(hl_dominators_retained(ret2, idom2, size2, 7), HL_OK);
    const uint64_t want2[] = {10, 20, 60, 40, 150, 60, 70};
    for (int v = 0; v < 7; v++)
        ck_assert_uint_eq(ret2[v], want2[v]);
    /* Sums saturate instead of wrapping. */
    const uint64_t huge[] = {UINT64_MAX - 1, 5, UINT64_MAX, 0};
    ck_assert_int_eq(hl_dominators_retained(ret, idom, huge, 4), HL_OK);
    ck_assert_uint_eq(ret[0], UINT64_MAX);
    ck_assert_uint_eq(ret[1], 5);
    ck_assert_uint_eq(ret[2], UINT64_MAX);
}
END_TEST

START_TEST(retained_bad_trees)
{
    const uint64_t size[] = {1, 1, 1, 1};
    uint64_t ret[4];
    const uint32_t cycle[] = {R, 2, 3, 1};
    ck_assert_int_eq(hl_dominators_retained(ret, cycle, size, 4), HL_EINVAL);
    ck_assert_ptr_nonnull(strstr(hl_error_last(), "cycle"));
    const uint32_t self[] = {R, 1, 0, 0};
    ck_assert_int_eq(hl_dominators_retained(ret, self, size, 4), HL_EINVAL);
    const uint32_t range[] = {R, 0, 4, 0};
    ck_assert_int_eq(hl_dominators_retained(ret, range, size, 4), HL_EINVAL);
    ck_assert_ptr_nonnull(strstr(hl_error_last(), "out of range"));
    const uint32_t under_unreachable[] = {R, U, 1, 0};
    ck_assert_int_eq(hl_dominators_retained(ret, under_unreachable, size, 4), HL_EINVAL);
    ck_assert_ptr_nonnull(strstr(hl_error_last(), "unreachable"));
    ck_assert_int_eq(hl_dominators_retained(ret, NULL, size, 4), HL_EINVAL);
    ck_assert_int_eq(hl_dominators_retained(NULL, NULL, NULL, 0), HL_OK);
}
END_TEST

START_TEST(bad_graphs)
{
    uint32_t idom[4];
    const uint32_t root = 0, far = 4;
    uint64_t first[] = {0, 1, 2, 2, 3};
    uint32_t to[] = {1, 2, 9};
    hl_digraph g = {4, first, to};
    ck_assert_int_eq(hl_dominators(idom, &g, &root, 1), HL_EINVAL);
    ck_assert_ptr_nonnull(strstr(hl_error_last(), "edge 2 points to node 9"));
    to[2] = 3;
    ck_assert_int_eq(hl_dominators(idom, &g, &root, 1), HL_OK);
    ck_assert_int_eq(hl_dominators(idom, &g, &far, 1), HL_EINVAL);
    ck_assert_ptr_nonnull(strstr(hl_error_last(), "root 0 is node 4"));
    first[2] = 0; /* 1, 0, 2: decreasing */
    ck_assert_int_eq(hl_dominators(idom, &g, &root, 1), HL_EINVAL);
    ck_assert_ptr_nonnull(strstr(hl_error_last(), "offsets decrease at node 1"));
    first[2] = 2;
    ck_assert_int_eq(hl_dominators(idom, NULL, &root, 1), HL_EINVAL);
    ck_assert_int_eq(hl_dominators(NULL, &g, &root, 1), HL_EINVAL);
    ck_assert_int_eq(hl_dominators(idom, &g, NULL, 1), HL_EINVAL);
    hl_digraph huge = {HL_DOM_MAX_NODES + 1, first, to};
    ck_assert_int_eq(hl_dominators(idom, &huge, &root, 1), HL_EINVAL);
    hl_digraph empty = {0, first, to};
    ck_assert_int_eq(hl_dominators(idom, &empty, NULL, 0), HL_OK);
    ck_assert_int_eq(hl_dominators(idom, &empty, &root, 1), HL_EINVAL);
}
END_TEST

START_TEST(paths)
{
    /* 0 -> 1 -> 2 -> 3 -> 4 and 5 -> 3, roots 0 and 5; 6 alone. */
    const uint32_t e[] = {0, 1, 1, 2, 2, 3, 3, 4, 5, 3, 4, 0};
    csr c;
    csr_build(&c, 7, e, 6);
    const uint32_t roots[] = {0, 5};
    uint32_t *path;
    size_t len;
    ck_assert_int_eq(hl_dominators_path_to_root(&path, &len, &c.g, roots, 2, 4), HL_OK);
    ck_assert_uint_eq(len, 3);
    ck_assert_uint_eq(path[0], 5);
    ck_assert_uint_eq(path[1], 3);
    ck_assert_uint_eq(path[2], 4);
    hl_dominators_path_free(path);
    ck_assert_int_eq(hl_dominators_path_to_root(&path, &len, &c.g, roots, 2, 2), HL_OK);
    ck_assert_uint_eq(len, 3);
    ck_assert_uint_eq(path[0], 0);
    ck_assert_uint_eq(path[2], 2);
    hl_dominators_path_free(path);
    ck_assert_int_eq(hl_dominators_path_to_root(&path, &len, &c.g, roots, 2, 5), HL_OK);
    ck_assert_uint_eq(len, 1);
    ck_assert_uint_eq(path[0], 5);
    hl_dominators_path_free(path);
    /* Unreachable: success, no path. */
    ck_assert_int_eq(hl_dominators_path_to_root(&path, &len, &c.g, roots, 2, 6), HL_OK);
    ck_assert_ptr_null(path);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(hl_dominators_path_to_root(&path, &len, &c.g, roots, 0, 1), HL_OK);
    ck_assert_uint_eq(len, 0);
    /* Bad input. */
    ck_assert_int_eq(hl_dominators_path_to_root(&path, &len, &c.g, roots, 2, 7), HL_EINVAL);
    ck_assert_ptr_nonnull(strstr(hl_error_last(), "target 7"));
    const uint32_t far = 9;
    ck_assert_int_eq(hl_dominators_path_to_root(&path, &len, &c.g, &far, 1, 1), HL_EINVAL);
    c.to[2] = 70; /* the edge 2 -> 3, read on the way to 4 from 0 */
    ck_assert_int_eq(hl_dominators_path_to_root(&path, &len, &c.g, roots, 1, 4), HL_EINVAL);
    ck_assert_ptr_null(path);
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_nonnull(strstr(hl_error_last(), "out of range"));
    csr_free(&c);
}
END_TEST

/* Every allocation failing in turn: HL_ENOMEM with a message, nothing
 * leaked (the sanitizer and valgrind runs check that), and the same call
 * succeeding afterwards. */
START_TEST(allocation_failure)
{
    const uint32_t e[] = {0, 1, 0, 2, 1, 3, 2, 3, 3, 1}, root = 0;
    csr c;
    csr_build(&c, 4, e, 5);
    uint32_t idom[4], *path;
    uint64_t ret[4];
    const uint64_t size[] = {1, 2, 3, 4};
    size_t len;
    for (unsigned long nth = 1; nth <= 5; nth++) {
        hl_mem__fail_every(nth);
        int rc = hl_dominators(idom, &c.g, &root, 1);
        hl_mem__fail_every(0);
        ck_assert_int_eq(rc, HL_ENOMEM);
        ck_assert_ptr_nonnull(strstr(hl_error_last(), "out of memory"));
    }
    for (unsigned long nth = 1; nth <= 3; nth++) {
        hl_mem__fail_every(nth);
        int rc = hl_dominators_path_to_root(&path, &len, &c.g, &root, 1, 3);
        hl_mem__fail_every(0);
        ck_assert_int_eq(rc, HL_ENOMEM);
        ck_assert_ptr_null(path);
    }
    ck_assert_int_eq(hl_dominators(idom, &c.g, &root, 1), HL_OK);
    ck_assert_uint_eq(idom[3], 0);
    hl_mem__fail_every(1);
    ck_assert_int_eq(hl_dominators_retained(ret, idom, size, 4), HL_ENOMEM);
    hl_mem__fail_every(0);
    ck_assert_int_eq(hl_dominators_retained(ret, idom, size, 4), HL_OK);
    ck_assert_uint_eq(ret[0], 10);
    csr_free(&c);
}
END_TEST

Suite *
dominators_suite(void)
{
    Suite *s = suite_create("dominators");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, diamond);
    tcase_add_test(tc, chain_and_cycle);
    tcase_add_test(tc, self_loops_and_duplicates);
    tcase_add_test(tc, multiple_roots);
    tcase_add_test(tc, unreachable_nodes);
    tcase_add_test(tc, lengauer_tarjan_example);
    tcase_add_test(tc, random_against_definition);
    tcase_add_test(tc, million_chain);
    tcase_add_test(tc, million_star);
    tcase_add_test(tc, retained_by_hand);
    tcase_add_test(tc, retained_bad_trees);
    tcase_add_test(tc, bad_graphs);
    tcase_add_test(tc, paths);
    tcase_add_test(tc, allocation_failure);
    suite_add_tcase(s, tc);
    return s;
}
