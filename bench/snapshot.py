"""Whole-heap snapshot cost: heaplens.snapshot() against guppy3's
hpy().heap() and objgraph's typestats(), in one run, on a heap of more than
a million objects (workloads W1 and W3 kept alive).

    python bench/snapshot.py [--repeat N] [--scale S] [--markdown] [--json PATH]

Reports the median time per call, the objects each tool sees, ns per object
seen, and heaplens' peak bookkeeping bytes per object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "bench"))

import heaplens  # noqa: E402
import workloads  # noqa: E402


def timed(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        previous = result  # the last run's result is freed after the clock stops
        gc.collect()
        gc.disable()
        try:
            t = time.perf_counter_ns()
            result = fn()
            times.append(time.perf_counter_ns() - t)
        finally:
            gc.enable()
        del previous
    return statistics.median(times), result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)

    alive = [workloads.build("W1", args.scale), workloads.build("W3", args.scale)]
    results = {}

    ns, snap = timed(lambda: heaplens.snapshot(addresses=False), args.repeat)
    results["heaplens snapshot()"] = dict(ns=ns, objects=snap.total_count,
                                         peak_per_object=snap.peak_bytes / snap.total_count)
    ns, snap = timed(heaplens.snapshot, args.repeat)
    results["heaplens snapshot(addresses=True)"] = dict(
        ns=ns, objects=snap.total_count, peak_per_object=snap.peak_bytes / snap.total_count)
    del snap

    try:
        import guppy
        hp = guppy.hpy()
        s0 = heaplens.snapshot(addresses=False)
        ns, h = timed(hp.heap, max(1, args.repeat // 2))
        # guppy3 reads each instance's __dict__, which creates one per
        # instance on 3.11+; count what measuring added to the heap.
        count = h.count
        del h
        s1 = heaplens.snapshot(addresses=False)
        results["guppy3 hpy().heap()"] = dict(ns=ns, objects=count,
                                             created=s1.total_count - s0.total_count)
        del hp, s0, s1
    except ImportError:
        print("guppy3 is not installed: pip install guppy3", file=sys.stderr)
    try:
        import objgraph
        ns, stats = timed(lambda: objgraph.typestats(), args.repeat)
        results["objgraph typestats()"] = dict(ns=ns, objects=sum(stats.values()))
    except ImportError:
        print("objgraph is not installed: pip install objgraph", file=sys.stderr)
    ns, objs = timed(gc.get_objects, args.repeat)
    results["gc.get_objects() (floor, tracked only)"] = dict(ns=ns, objects=len(objs))
    del objs

    rows = []
    for name, r in results.items():
        rows.append((name, "%.1f" % (r["ns"] / 1e6), "{:,}".format(r["objects"]),
                     "%.1f" % (r["ns"] / r["objects"]),
                     "%.2f" % r["peak_per_object"] if "peak_per_object" in r else ""))
    hl = results["heaplens snapshot()"]
    lines = []
    header = ("tool", "ms (median)", "objects seen", "ns/object", "peak B/object")
    if args.markdown:
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    else:
        from heaplens._format import table
        lines.append(table(header, rows))
    print("\n".join(lines))
    print()
    print("CPython %s, %d CPUs, scale %g, %d repeats" % (
        sys.version.split()[0], os.cpu_count(), args.scale, args.repeat))
    gp = results.get("guppy3 hpy().heap()")
    if gp:
        per = (gp["ns"] / gp["objects"]) / (hl["ns"] / hl["objects"])
        print("heaplens vs guppy3: %.1fx faster per object; guppy3 saw %s objects, %s of which "
              "it created while measuring; heaplens saw %.2fx the rest"
              % (per, "{:,}".format(gp["objects"]), "{:,}".format(gp["created"]),
                 hl["objects"] / max(1, gp["objects"] - gp["created"])))
    print("targets: <= 60 ns/object: %s; >= 3x guppy3 per object: %s; <= 16 B/object peak: %s"
          % ("met" if hl["ns"] / hl["objects"] <= 60 else "MISSED",
             ("met" if gp and per >= 3 else "MISSED") if gp else "n/a",
             "met" if hl["peak_per_object"] <= 16 else "MISSED"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(python=sys.version, results=results), f, indent=2)
    assert alive


if __name__ == "__main__":
    main()
