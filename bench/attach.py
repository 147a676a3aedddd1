"""Attach + snapshot (and dump) of a running process: ``python -m heaplens attach PID
snapshot`` (and ``dump``) on a child holding W1 + W3 (about 1.3 M objects), its main thread
sleeping or in a pure-Python loop, against ``heaplens.snapshot()`` taken
inside the same kind of child, in one run. Wall time of the whole command as
a user runs it (the attaching interpreter's start-up, gdb, symbol loading,
reaching a safe point, the job, detaching).

    python bench/attach.py [--repeat N] [--scale S] [--markdown]

Budget (issue 13): under 10 s wall on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.abspath(os.path.join(HERE, "..", "..", "shared", "bench"))

CHILD = textwrap.dedent("""
    import sys, time, json
    sys.path.insert(0, %(shared)r)
    import workloads
    held = (workloads.w1(int(1000000 * %(scale)r)), workloads.w3(int(100000 * %(scale)r)))
    if "inside" in sys.argv:
        import heaplens
        t = time.perf_counter()
        s = heaplens.snapshot(addresses=False)
        s.save(sys.argv[2])
        print(json.dumps({"seconds": time.perf_counter() - t}), flush=True)
        sys.exit(0)
    print("ready", flush=True)
    if sys.argv[1] == "sleep":
        while True:
            time.sleep(600)
    n = 0
    while True:
        n += 1
""")


def child(script, mode, *extra):
    p = subprocess.Popen([sys.executable, script, mode] + list(extra),
                         stdout=subprocess.PIPE, text=True)
    return p, p.stdout.readline().strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="heaplens-bench-attach-")
    script = os.path.join(tmp, "child.py")
    with open(script, "w") as f:
        f.write(CHILD % {"shared": SHARED, "scale": args.scale})
    rows = []
    breakdown = []
    inside = []
    for _ in range(args.repeat):
        p, line = child(script, "inside", os.path.join(tmp, "in.snap"))
        p.wait()
        inside.append(json.loads(line)["seconds"])
    objects = None
    import heaplens
    jobs = [("sleep", "snapshot"), ("loop", "snapshot")]
    if hasattr(heaplens, "dump"):
        jobs.append(("sleep", "dump"))
    from heaplens._attach import run_in_process
    for mode, action in jobs:
        walls, parts = [], []
        for i in range(args.repeat):
            p, line = child(script, mode)
            assert line == "ready", line
            try:
                out = os.path.join(tmp, "%s-%d.%s" % (mode, i, action))
                t = time.perf_counter()
                r = subprocess.run([sys.executable, "-m", "heaplens", "attach", str(p.pid),
                                    action, "-o", out], capture_output=True, text=True)
                walls.append(time.perf_counter() - t)
                if r.returncode != 0:
                    print(r.stderr, file=sys.stderr)
                    return 1
                # The same again through the API, for where the time goes.
                t = time.perf_counter()
                res = run_in_process(p.pid, action, out)
                ts = res["times"]
                parts.append((ts["call"], ts["job"] - ts["call"], res["job_seconds"],
                              time.perf_counter() - t))
                if objects is None and action == "snapshot":
                    objects = sum(row.count for row in heaplens.load(out).rows)
            finally:
                p.kill()
                p.wait()
        rows.append(("attach + %s, main thread %s" % (action, "in time.sleep" if mode == "sleep"
                                                      else "in a pure-Python loop"),
                     statistics.median(walls), max(walls)))
        breakdown.append((rows[-1][0], [statistics.median(x) for x in zip(*parts)]))
    rows.insert(0, ("heaplens.snapshot() inside the child (no attach)",
                    statistics.median(inside), max(inside)))
    print("Python %s, W1 + W3 x %g (%s objects in the snapshot), median of %d"
          % (sys.version.split()[0], args.scale, format(objects or 0, ","), args.repeat))
    if args.markdown:
        print("\n| what | median wall s | max s |\n|---|---|---|")
        for name, med, mx in rows:
            print("| %s | %.2f | %.2f |" % (name, med, mx))
    else:
        for name, med, mx in rows:
            print("%-58s %6.2f s  (max %.2f)" % (name, med, mx))
    print("\nWhere the time goes (run_in_process, medians, s): gdb start + attach + symbols, "
          "wait for the safe point, the job in the target, the whole call")
    if args.markdown:
        print("\n| what | gdb attach + symbols | to the safe point | job | whole call |\n"
              "|---|---|---|---|---|")
    for name, (a, w, j, whole) in breakdown:
        if args.markdown:
            print("| %s | %.2f | %.2f | %.2f | %.2f |" % (name, a, w, j, whole))
        else:
            print("%-58s %5.2f %5.2f %5.2f %5.2f" % (name, a, w, j, whole))
    return 0


if __name__ == "__main__":
    sys.exit(main())
