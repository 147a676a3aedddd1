"""Lifetime tracking cost: an allocation-heavy loop run plain, under
heaplens.track() (1 and 25 frames), and under tracemalloc.start(1) and
start(25), in one run; then the tracker's memory per live object.

    python bench/lifetimes.py [--repeat N] [--n N] [--live N] [--markdown] [--json PATH]
                              [--progress]

The variants run interleaved, round by round, --repeat rounds. A variant's
slowdown is the median over rounds of its time divided by the plain loop's
time in the same round: the machines are shared, and a round's variants
run within a second of each other, so noise mostly cancels in the ratio.
Times per iteration of the loop are medians too. --progress prints a line
on stderr per round (a run takes about a minute with the defaults).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc

import heaplens


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y


def make(i):
    # Three frames deep from the loop, so that 25-frame sites have a stack.
    return leaf(i)


def leaf(i):
    p = Point(i, i + 100000)          # an instance and a big int
    s = "item-%d" % i                 # a str
    b = [p, s]                        # a list
    return b


def churn(n):
    """About 5 allocations per round; one object in 16 lives to the end."""
    keep = []
    for i in range(n):
        b = make(i)
        if i & 15 == 0:
            keep.append(b)
    return len(keep)


def run_plain(n):
    churn(n)


def run_track(frames):
    def run(n):
        with heaplens.track(frames=frames, backend="allocator") as t:
            churn(n)
        t.clear()
    return run


def run_tracemalloc(frames):
    def run(n):
        tracemalloc.start(frames)
        try:
            churn(n)
        finally:
            tracemalloc.stop()
    return run


def timed(fn, n, repeat):
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter_ns()
        fn(n)
        times.append(time.perf_counter_ns() - t)
    return statistics.median(times)


def memory_per_object(live):
    gc.collect()
    with heaplens.track(frames=1, backend="allocator") as t:
        keep = [Point(i, None) for i in range(live)]
    st = t.status()
    t.clear()
    del keep
    tracemalloc.start(1)
    keep = [Point(i, None) for i in range(live)]
    tm = tracemalloc.get_tracemalloc_memory()
    traces = len(tracemalloc.take_snapshot().traces)
    tracemalloc.stop()
    del keep
    return st["memory"] / st["records"], st["records"], tm / max(traces, 1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--n", type=int, default=100_000, help="iterations of the loop")
    ap.add_argument("--progress", action="store_true", help="a line on stderr per round")
    ap.add_argument("--live", type=int, default=1_000_000,
                    help="objects kept alive for the memory figure")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    if tracemalloc.is_tracing():
        sys.exit("run without PYTHONTRACEMALLOC: tracemalloc is one of the contestants")

    variants = [
        ("plain", run_plain),
        ("heaplens track(frames=1)", run_track(1)),
        ("heaplens track(frames=25)", run_track(25)),
        ("tracemalloc.start(1)", run_tracemalloc(1)),
        ("tracemalloc.start(25)", run_tracemalloc(25)),
    ]
    # Interleave the variants round by round so that machine noise hits
    # them alike; a slowdown is the median of per-round ratios.
    samples = {name: [] for name, _ in variants}
    for k in range(args.repeat):
        for name, fn in variants:
            samples[name].append(timed(fn, args.n, 1))
        if args.progress:
            print("round %d/%d" % (k + 1, args.repeat), file=sys.stderr)
    med = {name: statistics.median(v) for name, v in samples.items()}
    ratio = {name: statistics.median(x / p for x, p in zip(v, samples["plain"]))
             for name, v in samples.items()}
    per_obj, records, tm_per_trace = memory_per_object(args.live)

    results = dict(python=sys.version.split()[0], n=args.n, repeat=args.repeat,
                   ns_per_round={k: v / args.n for k, v in med.items()},
                   slowdown=ratio,
                   tracker_bytes_per_live_object=per_obj, live_records=records,
                   tracemalloc_bytes_per_trace=tm_per_trace)
    if args.markdown:
        print("Python %s, %d iterations, median of %d interleaved rounds\n"
              % (results["python"], args.n, args.repeat))
        print("| variant | ns per iteration | slowdown |")
        print("|---|---:|---:|")
        for name, _ in variants:
            print("| %s | %.0f | %.2fx |" % (name, med[name] / args.n, ratio[name]))
        print("\ntracker memory: %.1f B per live object (%d records); tracemalloc(1): "
              "%.1f B per trace" % (per_obj, records, tm_per_trace))
    else:
        for name, _ in variants:
            print("%-28s %8.0f ns/iter  %5.2fx" % (name, med[name] / args.n, ratio[name]))
        print("tracker memory: %.1f B per live object (%d records); tracemalloc(1): "
              "%.1f B per trace" % (per_obj, records, tm_per_trace))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
