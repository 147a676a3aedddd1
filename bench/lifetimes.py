"""Lifetime tracking cost: allocation-heavy work run plain, under
heaplens.track() (1 and 25 frames), under tracemalloc.start(1) and
start(25), and under memray.Tracker(trace_python_allocators=True) when
memray is installed, in one run; then the tracker's memory per live
object.

    python bench/lifetimes.py [--repeat N] [--scale X] [--n N] [--unit-ms MS] [--live N]
                              [--markdown] [--json PATH] [--progress]
                              [--workloads DIR] [--only W1,churn] [--variants 'track(1)']

The work:

- W1..W6, the standard workloads (shared/bench/workloads.py), each built
  at --scale (default 0.25) and dropped, so that every object is born and
  dies, repeated to fill --unit-ms of plain time (default 30);
- churn, a loop three frames deep that makes an instance, a big int, a
  formatted str and a 2-item list per iteration and keeps one iteration in
  16 (--n iterations). It allocates at a higher rate than any workload and
  its 3-deep stack makes 25-frame sites cost: the hardest case here.

The variants run interleaved, round by round, --repeat rounds. A variant's
slowdown on a piece of work is the median over rounds of its time divided
by the plain time in the same round: the machines are shared, and a
round's variants run within seconds of each other, so noise mostly cancels
in the ratio. --progress prints a line on stderr per round (a run takes
about two minutes with the defaults).
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

from asizeof import import_workloads  # bench/asizeof.py: finds shared/bench


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
    """About 5 allocations per iteration; one in 16 lives to the end."""
    keep = []
    for i in range(n):
        b = make(i)
        if i & 15 == 0:
            keep.append(b)
    return len(keep)


def work_items(wl, scale, n, unit_ms, only=None):
    """(name, fn, reps) for each piece of work: build-and-drop of W1..W6,
    and churn. A timed unit repeats the work `reps` times, enough for
    `unit_ms` of plain time, so that a tracker's start and stop (about a
    millisecond: it lists the live types) weigh little."""
    items = []
    for name in sorted(wl.WORKLOADS):
        def build_and_drop(name=name):
            obj = wl.build(name, scale)
            del obj
        items.append((name, build_and_drop))
    items.append(("churn", lambda: churn(n)))
    if only is not None:
        unknown = set(only) - {name for name, _ in items}
        if unknown:
            sys.exit("--only: no work named %s" % ", ".join(sorted(unknown)))
        items = [(name, fn) for name, fn in items if name in only]
    out = []
    for name, fn in items:
        fn()                                    # warm up
        t = time.perf_counter_ns()
        fn()
        ms = (time.perf_counter_ns() - t) / 1e6
        reps = max(1, int(unit_ms / max(ms, 1e-3) + 0.999))

        def unit(fn=fn, reps=reps):
            for _ in range(reps):
                fn()
        out.append((name, unit, reps))
    return out


def variants():
    def plain(fn):
        fn()

    def track(frames):
        def run(fn):
            with heaplens.track(frames=frames, backend="allocator") as t:
                fn()
            t.clear()
        return run

    def tm(frames):
        def run(fn):
            tracemalloc.start(frames)
            try:
                fn()
            finally:
                tracemalloc.stop()
        return run

    out = [("plain", plain), ("track(1)", track(1)), ("track(25)", track(25)),
           ("tracemalloc(1)", tm(1)), ("tracemalloc(25)", tm(25))]
    try:
        import memray
    except ImportError:
        print("(memray is not installed: its column is left out; pip install memray)",
              file=sys.stderr)
        return out
    import os
    import tempfile

    def mr(fn):
        # memray records every allocation, Python allocators included, to a
        # file: the cost of writing it is part of what it costs.
        fd, path = tempfile.mkstemp(suffix=".bin")
        os.close(fd)
        os.unlink(path)
        try:
            with memray.Tracker(path, trace_python_allocators=True):
                fn()
        finally:
            if os.path.exists(path):
                os.unlink(path)
    out.append(("memray(py)", mr))
    return out


def timed(variant, fn):
    gc.collect()
    t = time.perf_counter_ns()
    variant(fn)
    return time.perf_counter_ns() - t


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
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--scale", type=float, default=0.25, help="of the standard workloads")
    ap.add_argument("--n", type=int, default=50_000, help="iterations of the churn loop")
    ap.add_argument("--live", type=int, default=500_000,
                    help="objects kept alive for the memory figure")
    ap.add_argument("--unit-ms", type=float, default=30.0,
                    help="plain time of one timed unit (the work is repeated to fill it)")
    ap.add_argument("--workloads", metavar="DIR", help="where workloads.py is")
    ap.add_argument("--only", metavar="W,..", help="only these pieces of work (e.g. W1,churn)")
    ap.add_argument("--variants", metavar="V,..",
                    help="only these columns besides plain (e.g. 'track(1)'), for quick runs")
    ap.add_argument("--progress", action="store_true", help="a line on stderr per round")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    if tracemalloc.is_tracing():
        sys.exit("run without PYTHONTRACEMALLOC: tracemalloc is one of the contestants")

    items = work_items(import_workloads(args.workloads), args.scale, args.n, args.unit_ms,
                       args.only.split(",") if args.only else None)
    vs = variants()
    if args.variants:
        keep = set(args.variants.split(","))
        unknown = keep - {v for v, _ in vs}
        if unknown:
            sys.exit("--variants: no column named %s" % ", ".join(sorted(unknown)))
        vs = [(v, run) for v, run in vs if v == "plain" or v in keep]
    # samples[work][variant] = [ns, ...], one per round
    samples = {w: {v: [] for v, _ in vs} for w, _, _ in items}
    for k in range(args.repeat):
        for w, fn, _ in items:
            for v, run in vs:
                samples[w][v].append(timed(run, fn))
        if args.progress:
            print("round %d/%d" % (k + 1, args.repeat), file=sys.stderr)
    ratio = {w: {v: statistics.median(x / p for x, p in zip(s[v], s["plain"])) for v in s}
             for w, s in samples.items()}
    plain_ms = {w: statistics.median(s["plain"]) / 1e6 for w, s in samples.items()}
    standard = [w for w, _, _ in items if w != "churn"] or ["churn"]
    summary = {v: (statistics.median(ratio[w][v] for w in standard),
                   max(ratio[w][v] for w in standard)) for v, _ in vs}
    per_obj, records, tm_per_trace = memory_per_object(args.live)

    results = dict(python=sys.version.split()[0], repeat=args.repeat, scale=args.scale,
                   n=args.n, plain_ms=plain_ms, slowdown=ratio,
                   standard_median={v: m for v, (m, _) in summary.items()},
                   standard_max={v: x for v, (_, x) in summary.items()},
                   tracker_bytes_per_live_object=per_obj, live_records=records,
                   tracemalloc_bytes_per_trace=tm_per_trace)
    names = [v for v, _ in vs[1:]]
    if args.markdown:
        print("Python %s, workloads at scale %g, churn %d iterations, median of %d "
              "interleaved rounds\n" % (results["python"], args.scale, args.n, args.repeat))
        print("| work | plain ms (reps) | " + " | ".join(names) + " |")
        print("|---|---:|" + "---:|" * len(names))
        for w, _, reps in items:
            print("| %s | %.1f (%d) | " % (w, plain_ms[w], reps) +
                  " | ".join("%.2fx" % ratio[w][v] for v in names) + " |")
        print("| **W1-W6 median** | | " +
              " | ".join("**%.2fx**" % summary[v][0] for v in names) + " |")
        print("| W1-W6 worst | | " + " | ".join("%.2fx" % summary[v][1] for v in names) + " |")
    else:
        print("%-8s %9s " % ("work", "plain ms") + " ".join("%16s" % v for v in names))
        for w, _, _ in items:
            print("%-8s %9.1f " % (w, plain_ms[w]) +
                  " ".join("%15.2fx" % ratio[w][v] for v in names))
        print("%-18s " % "W1-W6 median" + " ".join("%15.2fx" % summary[v][0] for v in names))
        print("%-18s " % "W1-W6 worst" + " ".join("%15.2fx" % summary[v][1] for v in names))
    print("\ntracker memory: %.1f B per live object (%d records); tracemalloc(1): "
          "%.1f B per trace" % (per_obj, records, tm_per_trace))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
