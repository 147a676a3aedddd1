"""Exact dominators and retained sizes (lib/dominators.c) on a synthetic
graph shaped like a Python heap: time per node and the core's peak extra
memory per node.

    python bench/dominators.py [--nodes N] [--repeat R] [--seed S] [--markdown] [--json PATH]

The graph (built with numpy, --nodes 3.3 M by default, about 2.5 edges per
node) imitates what a heap dump of W1-W6 holds:

- a few hundred roots (modules, frames, objects held from C);
- an ownership forest: each non-root object is held by one container
  created before it, most containers holding 2-4 objects, so most of the
  heap hangs from the roots in shallow, bushy trees;
- wide dicts: five containers own 5 % of all objects between them (a
  cache dict, a big list);
- long chains: linked lists of 200,000 nodes each (1 node -> the next),
  10 % of the objects;
- shared references (about 1.4 per object), half of them to 500 "type" and
  interned-string hubs, half to random objects: the edges that make
  dominators differ from the ownership tree;
- 1 % of the objects unreachable (cycles awaiting collection).

It times hl_dominators and hl_dominators_retained through the private
buffer binding (heaplens._heaplens._dominators_buffers, _retained_buffers:
no Python object per node), the median of --repeat runs each, and measures
the core's peak extra memory with tracemalloc in a separate run (the core
allocates through PyMem_RawMalloc, which tracemalloc traces). Inputs and
outputs (the graph, idom, sizes, retained) are the caller's and are not
counted.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np

from heaplens import _heaplens


def synthetic_heap(nodes: int, seed: int):
    rng = np.random.default_rng(seed)
    nroots = 300
    n = nodes
    idx = np.arange(n, dtype=np.int64)
    # Which objects are containers (30 %) - roots always are.
    is_container = rng.random(n) < 0.30
    is_container[:nroots] = True
    containers = np.flatnonzero(is_container)
    # Ownership: every non-root object is held by a container created
    # before it (a random recursive forest: shallow and bushy).
    before = np.searchsorted(containers, idx, side="left")  # containers < i
    owner = containers[(rng.random(n) * before).astype(np.int64)]
    owner[:nroots] = -1
    # Wide dicts: five containers own 5 % of the objects.
    wide = containers[nroots : nroots + 5]
    pick = np.flatnonzero((rng.random(n) < 0.05) & (idx > wide.max()))
    owner[pick] = wide[rng.integers(0, 5, pick.size)]
    # Long chains: runs of 200,000 objects, each held by the one before.
    chain_len = 200_000
    nchains = max(1, n // 10 // chain_len)
    starts = rng.choice(np.arange(n // 10, n - chain_len, chain_len), nchains, replace=False)
    for s in starts:
        owner[s + 1 : s + chain_len] = np.arange(s, s + chain_len - 1)
        is_container[s : s + chain_len] = True
    # 1 % unreachable: no owner.
    lost = rng.random(n) < 0.01
    lost[:nroots] = False
    owner[lost] = -1
    tree_src = owner[owner >= 0]
    tree_dst = idx[owner >= 0]
    # Shared references: 1.4 per object, from containers, half to hubs.
    nshared = int(1.4 * n)
    containers = np.flatnonzero(is_container & ~lost)
    src = containers[rng.integers(0, containers.size, nshared)]
    hubs = rng.integers(nroots, n, 500)
    dst = np.where(rng.random(nshared) < 0.5, hubs[rng.integers(0, 500, nshared)],
                   rng.integers(0, n, nshared))
    src = np.concatenate([tree_src, src])
    dst = np.concatenate([tree_dst, dst])
    order = np.argsort(src, kind="stable")
    to = dst[order].astype(np.uint32)
    first = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(np.bincount(src, minlength=n), out=first[1:])
    roots = np.arange(nroots, dtype=np.uint32)
    sizes = rng.choice(np.array([16, 28, 56, 64, 72, 104, 232, 640], dtype=np.uint64), n)
    return first, to, roots, sizes


def run(args):
    t0 = time.perf_counter()
    first, to, roots, sizes = synthetic_heap(args.nodes, args.seed)
    build = time.perf_counter() - t0
    n, m = len(first) - 1, len(to)
    idom = np.zeros(n, dtype=np.uint32)
    retained = np.zeros(n, dtype=np.uint64)
    t_dom, t_ret = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        _heaplens._dominators_buffers(idom, first, to, roots)
        t_dom.append(time.perf_counter() - t)
        t = time.perf_counter()
        _heaplens._retained_buffers(retained, idom, sizes)
        t_ret.append(time.perf_counter() - t)
    reachable = int(np.count_nonzero(idom != 0xFFFFFFFE))
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    _heaplens._dominators_buffers(idom, first, to, roots)
    peak_dom = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.reset_peak()
    _heaplens._retained_buffers(retained, idom, sizes)
    peak_ret = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    dom, ret = statistics.median(t_dom), statistics.median(t_ret)
    top = int(np.argmax(np.where(idom == 0xFFFFFFFF, retained, 0)))
    return {
        "python": platform.python_version(),
        "nodes": n,
        "edges": m,
        "edges_per_node": m / n,
        "reachable": reachable,
        "repeat": args.repeat,
        "build_graph_s": build,
        "dominators_s": dom,
        "retained_s": ret,
        "dominators_ns_per_node": dom / n * 1e9,
        "retained_ns_per_node": ret / n * 1e9,
        "total_ns_per_node": (dom + ret) / n * 1e9,
        "peak_extra_dominators_bytes_per_node": peak_dom / n,
        "peak_extra_retained_bytes_per_node": peak_ret / n,
        "inputs_bytes_per_node": (first.nbytes + to.nbytes + roots.nbytes + sizes.nbytes) / n,
        "outputs_bytes_per_node": (idom.nbytes + retained.nbytes) / n,
        "largest_retainer": {"node": top, "retained": int(retained[top])},
        "all_dominators_s": t_dom,
        "all_retained_s": t_ret,
    }


def markdown(r):
    return "\n".join([
        f"| graph | {r['nodes']:,} nodes, {r['edges']:,} edges ({r['edges_per_node']:.2f}/node), "
        f"{r['reachable']:,} reachable |",
        "|---|---|",
        f"| `hl_dominators` | {r['dominators_s']:.2f} s, {r['dominators_ns_per_node']:.0f} ns/node |",
        f"| `hl_dominators_retained` | {r['retained_s']:.3f} s, {r['retained_ns_per_node']:.0f} ns/node |",
        f"| both | {r['total_ns_per_node']:.0f} ns/node |",
        f"| peak extra memory, dominators | {r['peak_extra_dominators_bytes_per_node']:.1f} B/node |",
        f"| peak extra memory, retained | {r['peak_extra_retained_bytes_per_node']:.1f} B/node |",
        f"| caller's arrays: graph + sizes / idom + retained | "
        f"{r['inputs_bytes_per_node']:.1f} / {r['outputs_bytes_per_node']:.1f} B/node |",
    ])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=int, default=3_300_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--json")
    args = p.parse_args(argv)
    r = run(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=2)
    if args.markdown:
        print(markdown(r))
    else:
        json.dump(r, sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
