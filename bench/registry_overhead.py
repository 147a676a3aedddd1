#!/usr/bin/env python3
"""The cost of the type registry on the zero-cost path: heaplens.asizeof on
the standard workloads W1-W6, in ns per object counted, median of --repeat
runs (CPU time of the thread, so that other jobs on a shared machine weigh less). Run it with two interpreters (e.g. a venv with the build before the
registry and one with it) alternately and compare the medians; the ratio in
the same run is the figure.

    python bench/registry_overhead.py [--repeat 11] [--numpy]

--numpy imports numpy first, so that the built-in numpy entry is loaded and
every type resolution looks at a non-empty registry.
"""

import argparse
import gc
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "bench"))

import heaplens  # noqa: E402
import workloads  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=11)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--numpy", action="store_true")
    ap.add_argument("--small", type=int, default=0,
                    help="also time N calls of asizeof on a 3-item list (per-call cost)")
    a = ap.parse_args()
    if a.numpy:
        import numpy  # noqa: F401
        heaplens.asizeof(numpy.arange(3))
    out = []
    for name in sorted(workloads.WORKLOADS):
        obj = workloads.build(name, a.scale)
        _, st, _ = heaplens._heaplens.walk((obj,))
        n = st["counted"]
        times = []
        gc.disable()
        for _ in range(a.repeat):
            t = time.thread_time_ns()
            heaplens.asizeof(obj)
            times.append(time.thread_time_ns() - t)
        gc.enable()
        out.append((name, statistics.median(times) / n))
        del obj
        gc.collect()
    if a.small:
        x = [1, 2, 3]
        times = []
        for _ in range(a.repeat):
            t = time.thread_time_ns()
            for _ in range(a.small):
                heaplens.asizeof(x)
            times.append((time.thread_time_ns() - t) / a.small)
        out.append(("small call", statistics.median(times)))
    print(" ".join("%s=%.1f" % r for r in out))


if __name__ == "__main__":
    main()
