"""The exact dominators of lib/dominators.c against an independent
implementation (networkx's immediate_dominators, Cooper-Harvey-Kennedy) on
random graphs and on a real Python object graph, retained sizes against
their definition, and shortest paths to a root against breadth-first search.

The core is reached through the private binding heaplens._heaplens._dominators
(idoms as a list: None when only the virtual root dominates a node, -1 when
no root reaches it), _retained and _path_to_root.
"""

import collections
import gc
import random
import sys

import pytest

nx = pytest.importorskip("networkx", reason="networkx is in the [test] extra")

from heaplens import _heaplens  # noqa: E402

SEED = 20261130


def reference_idoms(n, edges, roots):
    """networkx's dominators over the graph plus a virtual root node n."""
    g = nx.DiGraph()
    g.add_nodes_from(range(n + 1))
    g.add_edges_from(edges)
    g.add_edges_from((n, r) for r in roots)
    dom = nx.immediate_dominators(g, n)  # older networkx maps n to itself
    return [-1 if v not in dom else (None if dom[v] == n else dom[v]) for v in range(n)]


def random_graph(rng, n, density, nroots):
    m = int(n * density)
    edges = [(rng.randrange(n), rng.randrange(n)) for _ in range(m)]
    if edges and rng.random() < 0.5:  # duplicates and self-loops on purpose
        edges += rng.sample(edges, min(len(edges), 3))
        edges += [(v, v) for v in rng.sample(range(n), min(n, 2))]
    roots = [rng.randrange(n) for _ in range(nroots)]
    return edges, roots


def test_random_graphs_against_networkx():
    rng = random.Random(SEED)
    checked = unreachable = multi = 0
    for trial in range(3000):
        n = rng.randint(1, 60)
        density = rng.choice([0.3, 0.8, 1.2, 2.0, 4.0])
        edges, roots = random_graph(rng, n, density, rng.choice([0, 1, 1, 2, 3, 5]))
        got = _heaplens._dominators(n, edges, roots)
        want = reference_idoms(n, edges, roots)
        assert got == want, (trial, n, edges, roots)
        checked += 1
        unreachable += -1 in got
        multi += len(set(roots)) > 1
    # The draw exercised the cases it is meant to.
    assert checked == 3000 and unreachable > 1000 and multi > 1000


def test_larger_random_graphs_against_networkx():
    """Thousands of nodes: long compressed paths in eval, deep DFS trees."""
    rng = random.Random(SEED + 1)
    for trial in range(12):
        n = rng.randint(1000, 5000)
        density = rng.choice([1.0, 1.5, 2.5])
        edges, roots = random_graph(rng, n, density, rng.randint(1, 20))
        # A long chain through part of the graph, with edges back into it.
        chain = rng.sample(range(n), n // 3)
        edges += list(zip(chain, chain[1:]))
        edges += [(chain[i], chain[rng.randrange(i + 1)]) for i in range(0, len(chain), 7)]
        assert _heaplens._dominators(n, edges, roots) == reference_idoms(n, edges, roots), trial


def test_real_object_graph_against_networkx():
    """The referent graph of real objects: the modules of a few packages."""
    import email.message  # a few thousand objects of real code
    import json

    roots_objs = [json, email.message, sys.modules["collections"]]
    index, order, edges = {}, [], []
    for o in roots_objs:
        if id(o) not in index:
            index[id(o)] = len(order)
            order.append(o)
    i = 0
    while i < len(order) and len(order) < 20000:
        o = order[i]
        for r in gc.get_referents(o):
            if id(r) not in index:
                index[id(r)] = len(order)
                order.append(r)
            edges.append((i, index[id(r)]))
        i += 1
    n = len(order)
    roots = [index[id(o)] for o in roots_objs]
    got = _heaplens._dominators(n, edges, roots)
    assert got == reference_idoms(n, edges, roots)
    assert n > 2000 and sum(1 for d in got if d not in (None, -1)) > 1000


def brute_retained(n, edges, roots, sizes):
    succ = collections.defaultdict(list)
    for a, b in edges:
        succ[a].append(b)

    def reach(removed):
        seen, stack = set(), [r for r in roots if r != removed]
        while stack:
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            stack.extend(x for x in succ[v] if x != removed and x not in seen)
        return seen

    everything = reach(None)
    out = []
    for v in range(n):
        if v not in everything:
            out.append(sizes[v])
        else:
            out.append(sum(sizes[x] for x in everything - reach(v)))
    return out


def test_retained_against_definition():
    rng = random.Random(SEED + 2)
    nonzero = 0
    for trial in range(600):
        n = rng.randint(1, 25)
        edges, roots = random_graph(rng, n, rng.choice([0.5, 1.0, 2.0, 3.0]), rng.randint(0, 3))
        sizes = [rng.choice([0, 16, 56, 1 << 20, rng.randrange(1 << 40)]) for _ in range(n)]
        idoms = _heaplens._dominators(n, edges, roots)
        got = _heaplens._retained(idoms, sizes)
        assert got == brute_retained(n, edges, roots, sizes), (trial, n, edges, roots)
        nonzero += any(g > s for g, s in zip(got, sizes))
    assert nonzero > 300


def test_retained_by_hand_and_bad_trees():
    # A dict holding two lists, one shared with a second root.
    #   0 dict -> 1 list -> 3 str ; 0 -> 2 list -> 4 str ; 5 root -> 2
    edges = [(0, 1), (0, 2), (1, 3), (2, 4), (5, 2)]
    sizes = [232, 72, 88, 50, 60, 1000]
    idoms = _heaplens._dominators(6, edges, [0, 5])
    assert idoms == [None, 0, None, 1, 2, None]
    assert _heaplens._retained(idoms, sizes) == [232 + 72 + 50, 122, 148, 50, 60, 1000]
    # Saturating, never wrapping.
    assert _heaplens._retained([None, 0], [2**64 - 2, 5]) == [2**64 - 1, 5]
    with pytest.raises(ValueError, match="cycle"):
        _heaplens._retained([None, 2, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="out of range"):
        _heaplens._retained([None, 7], [1, 1])
    with pytest.raises(ValueError, match="unreachable"):
        _heaplens._retained([None, -1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="2 idoms but 1 sizes"):
        _heaplens._retained([None, 0], [1])


def test_bad_graphs_are_clear_errors():
    with pytest.raises(ValueError, match="edge 1 points to node 9, out of range"):
        _heaplens._dominators(3, [(0, 1), (1, 9)], [0])
    with pytest.raises(ValueError, match="root 1 is node 3, out of range"):
        _heaplens._dominators(3, [(0, 1)], [0, 3])
    with pytest.raises(ValueError, match="source 4 is out of range"):
        _heaplens._dominators(3, [(4, 1)], [0])
    with pytest.raises(ValueError, match="does not fit"):
        _heaplens._dominators(3, [(0, -1)], [0])
    with pytest.raises(ValueError, match="decrease"):
        import array

        idom = array.array("I", [0, 0])
        first = array.array("Q", [0, 1, 0])
        _heaplens._dominators_buffers(idom, first, array.array("I", [1]), array.array("I", [0]))
    assert _heaplens._dominators(0, [], []) == []


def test_buffers_agree_with_lists():
    import array

    rng = random.Random(SEED + 3)
    n = 3000
    edges, roots = random_graph(rng, n, 2.5, 10)
    edges.sort(key=lambda e: e[0])  # CSR order; a stable sort keeps targets' order
    first = array.array("Q", [0] * (n + 1))
    for a, _ in edges:
        first[a + 1] += 1
    for v in range(n):
        first[v + 1] += first[v]
    to = array.array("I", [b for _, b in edges])
    idom = array.array("I", [0] * n)
    _heaplens._dominators_buffers(idom, first, to, array.array("I", roots))
    marks = {0xFFFFFFFF: None, 0xFFFFFFFE: -1}
    assert [marks.get(d, d) for d in idom] == _heaplens._dominators(n, edges, roots)
    sizes = array.array("Q", [rng.randrange(1000) for _ in range(n)])
    ret = array.array("Q", [0] * n)
    _heaplens._retained_buffers(ret, idom, sizes)
    assert list(ret) == _heaplens._retained([marks.get(d, d) for d in idom], list(sizes))


def test_path_to_root_is_a_shortest_path():
    rng = random.Random(SEED + 4)
    found = missing = 0
    for trial in range(400):
        n = rng.randint(1, 40)
        edges, roots = random_graph(rng, n, rng.choice([0.5, 1.0, 2.0]), rng.randint(0, 3))
        target = rng.randrange(n)
        path = _heaplens._path_to_root(n, edges, roots, target)
        g = nx.DiGraph()
        g.add_nodes_from(range(n + 1))
        g.add_edges_from(edges)
        g.add_edges_from((n, r) for r in roots)
        if not nx.has_path(g, n, target):
            assert path == []
            missing += 1
            continue
        found += 1
        assert len(path) == nx.shortest_path_length(g, n, target), (trial, edges, roots)
        assert path[0] in roots and path[-1] == target
        assert all(g.has_edge(a, b) for a, b in zip(path, path[1:]))
    assert found > 100 and missing > 50
    with pytest.raises(ValueError, match="target 5 is out of range"):
        _heaplens._path_to_root(3, [], [0], 5)
