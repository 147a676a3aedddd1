"""What generic mode (public API only: sys.getsizeof per object) costs against
a known-layout build, on the standard workloads W1-W6.

    python bench/generic_mode.py KNOWN_PYTHON GENERIC_PYTHON [--rounds 3]

KNOWN_PYTHON and GENERIC_PYTHON are the interpreters of two virtual
environments of the same CPython, one with heaplens built normally and one
built with `-C cmake.define.HEAPLENS_GENERIC=ON`. Each round runs one child
per build, alternating, so that both see the same machine load; a child
times `heaplens.asizeof(obj)` (median of 5) per workload. The table gives the
median over rounds of ns per counted object, the ratio, and both byte
figures (generic mode does not count what sys.getsizeof leaves out).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import heaplens, workloads
out = {"mode": heaplens._heaplens.LAYOUT_MODE}
for key, (fn, n) in workloads.WORKLOADS.items():
    obj = fn(n)
    counted = heaplens._heaplens.walk((obj,))[1]["counted"]
    ts = []
    for _ in range(5):
        t = time.perf_counter()
        size = heaplens.asizeof(obj)
        ts.append(time.perf_counter() - t)
    out[key] = (statistics.median(ts) * 1e9 / counted, size)
    del obj
print(json.dumps(out))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("known")
    ap.add_argument("generic")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workloads", default=os.environ.get("HEAPLENS_WORKLOADS") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
    a = ap.parse_args()
    a.known, a.generic = os.path.abspath(a.known), os.path.abspath(a.generic)
    a.workloads = os.path.abspath(a.workloads)
    runs = {"known": [], "generic": []}
    for _ in range(a.rounds):
        for which in ("known", "generic"):
            res = subprocess.run([getattr(a, which), "-c", CHILD, a.workloads], check=True,
                                 capture_output=True, text=True, cwd="/")
            runs[which].append(json.loads(res.stdout))
    modes = {w: runs[w][0]["mode"] for w in runs}
    if modes["known"] != "known" or modes["generic"] == "known":
        sys.exit("expected a known-layout and a generic build, got %r" % (modes,))
    print("| workload | known ns/object | generic ns/object | ratio | known bytes | generic bytes |")
    print("|---|---:|---:|---:|---:|---:|")
    for key in (k for k in runs["known"][0] if k != "mode"):
        k = statistics.median(r[key][0] for r in runs["known"])
        g = statistics.median(r[key][0] for r in runs["generic"])
        print("| %s | %.0f | %.0f | %.1fx | %s | %s |" % (
            key, k, g, g / k, format(runs["known"][0][key][1], ","),
            format(runs["generic"][0][key][1], ",")))


if __name__ == "__main__":
    main()
