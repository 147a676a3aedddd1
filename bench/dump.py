"""Heap dumps: heaplens.dump() against snapshot() of the same heap, the
analysis of the file (open + exact dominators + retained sizes), guppy3
(hpy().heap() and the domisize of the largest container) and a
pyheap-style Python dump (gc.get_objects + gc.get_referents written as
JSON), in one run, on a heap holding W1-W6.

    python bench/dump.py [--repeat N] [--scale S] [--no-peers] [--markdown]

Reports median CPU times (process time: the machine is shared), their ratios, file bytes per object and per
reference, and the analysis' peak memory per object (maximum resident set
(VmHWM) of a child process that only opens the dump and computes the
dominator tree, minus the same child's after importing heaplens).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "bench"))

import heaplens  # noqa: E402
import workloads  # noqa: E402


# CPU time of this process, not wall time: the machine this runs on is
# shared, and waiting for a core is not the tool's cost.
clock = time.process_time_ns


def timed(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        result = None
        gc.collect()
        gc.disable()
        try:
            t = clock()
            result = fn()
            times.append(clock() - t)
        finally:
            gc.enable()
    return statistics.median(times), result


_CHILD = r"""
import sys, time, json
import heaplens

def hwm():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a
    # child of the big benchmark process would start at the parent's peak.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

base = hwm()
if sys.argv[1] != "-":
    t = time.process_time_ns()
    d = heaplens.open_dump(sys.argv[1])
    t1 = time.process_time_ns()
    d.retained_size(d.roots[0])          # the whole dominator tree and retained sizes
    t2 = time.process_time_ns()
    top = d.top_retainers(10)
    print(json.dumps(dict(open_ns=t1 - t, dom_ns=t2 - t1,
                          maxrss=hwm(), base=base, objects=len(d))))
else:
    print(json.dumps(dict(maxrss=base)))
"""


def analyse(path):
    out = subprocess.run([sys.executable, "-c", _CHILD, path], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def pyheap_style(path):
    """What pyheap's dumper does in Python: every object reachable from the
    gc-tracked ones, with type, getsizeof and referent ids, as JSON."""
    seen = set()
    stack = list(gc.get_objects())
    n = 0
    with open(path, "w") as f:
        f.write("[")
        while stack:
            o = stack.pop()
            i = id(o)
            if i in seen:
                continue
            seen.add(i)
            refs = gc.get_referents(o)
            try:
                size = sys.getsizeof(o)
            except Exception:
                size = 0
            f.write(json.dumps([i, type(o).__name__, size, [id(r) for r in refs]]))
            f.write(",\n")
            stack.extend(refs)
            n += 1
        f.write("null]")
    del stack, seen
    return n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="hl-dump-bench-")
    path = os.path.join(tmp, "heap.hld")
    alive = [workloads.build(n, args.scale) for n in sorted(workloads.WORKLOADS)]
    heaplens.dump(path)  # warm-up: imports and caches

    snap_ns, snap = timed(lambda: heaplens.snapshot(addresses=False), args.repeat)
    count = snap.total_count
    del snap
    dump_ns, info = timed(lambda: heaplens.dump(path), args.repeat)
    runs = [analyse(path) for _ in range(args.repeat)]
    open_ns = statistics.median(r["open_ns"] for r in runs)
    dom_ns = statistics.median(r["dom_ns"] for r in runs)
    # the child's peak resident set after the analysis, minus its own after
    # importing heaplens (both in one process)
    peak = statistics.median(r["maxrss"] - r["base"] for r in runs)

    rows = [
        ("heaplens snapshot()", snap_ns, count, ""),
        ("heaplens dump()", dump_ns, info.objects,
         "%.2fx snapshot; %s B file: %.2f B/object, %.2f B/reference (%s references); "
         "%.2f B/object if references cost 4 B" % (
             dump_ns / snap_ns, "{:,}".format(info.bytes), info.bytes / info.objects,
             info.bytes / max(1, info.references), "{:,}".format(info.references),
             (info.bytes - 4 * info.references) / info.objects)),
        ("open_dump()", open_ns, info.objects, ""),
        ("+ dominators + retained sizes", dom_ns, info.objects, ""),
        ("open + dominators + retained", open_ns + dom_ns, info.objects,
         "%.2fx dump; peak %.1f B/object (%s)" % ((open_ns + dom_ns) / dump_ns,
                                                  peak / info.objects,
                                                  heaplens.human_size(int(peak)))),
    ]
    if not args.no_peers:
        try:
            from guppy import hpy
        except ImportError:
            rows.append(("guppy3", 0, 0, "not installed"))
        else:
            h = hpy()
            ns, heap = timed(lambda: h.heap(), 1)
            rows.append(("guppy3 hpy().heap()", ns, heap.count, "%.2fx dump" % (ns / dump_ns)))
            del heap
            biggest = max(alive, key=len)
            ns, dom = timed(lambda: h.iso(biggest).domisize, 1)
            rows.append(("guppy3 domisize (largest container)", ns, 0,
                         "one object's retained size: %s; heaplens: %s" % (
                             heaplens.human_size(dom),
                             heaplens.human_size(
                                 heaplens.open_dump(path).retained_size(id(biggest))))))
            del h
        jpath = os.path.join(tmp, "heap.json")
        ns, n = timed(lambda: pyheap_style(jpath), 1)
        size = os.path.getsize(jpath)
        rows.append(("pyheap-style JSON dump", ns, n,
                     "%.2fx dump; %.1f B/object" % (ns / dump_ns, size / n)))
        os.remove(jpath)
    os.remove(path)
    os.rmdir(tmp)

    print("Python %s, %s objects (W1-W6 x %g alive)" % (
        sys.version.split()[0], "{:,}".format(count), args.scale))
    if args.markdown:
        print("| what | median | objects | notes |")
        print("|---|---:|---:|---|")
        for name, ns, n, note in rows:
            print("| %s | %.3f s | %s | %s |" % (name, ns / 1e9, "{:,}".format(n) if n else "",
                                                 note))
    else:
        for name, ns, n, note in rows:
            print("%-40s %8.3f s  %12s  %s" % (name, ns / 1e9, "{:,}".format(n) if n else "",
                                               note))
    del alive


if __name__ == "__main__":
    main()
