"""What `pytest --leaks` adds to a trivial test on a heap of a million
objects (warmups 2, runs 3), measured in one run against plain pytest.

    python bench/leaks.py [--tests N] [--repeat R] [--objects M]

Writes a throwaway test module whose import builds a list of M ints and
M/10 small instances (about 1.2 M objects), runs it with and without
--leaks, and reports the median extra time per test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

TEMPLATE = textwrap.dedent('''
    class Item:
        def __init__(self, i):
            self.i = i
            self.name = "item-%d" % i

    BIG = list(range(10**6, 10**6 + {objects}))
    ITEMS = [Item(i) for i in range({objects} // 10)]

''')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tests", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--objects", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    src = TEMPLATE.format(objects=args.objects)
    src += "".join("def test_trivial_%d():\n    assert 1 + 1 == 2\n\n" % i
                   for i in range(args.tests))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "test_trivial.py")
        with open(path, "w") as f:
            f.write(src)
        def run(*extra):
            t = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                *extra, path], capture_output=True, text=True, cwd=d)
            dt = time.perf_counter() - t
            if r.returncode != 0:
                sys.exit("pytest failed:\n" + r.stdout + r.stderr)
            return dt
        plain, leaks = [], []
        for _ in range(args.repeat):
            plain.append(run())
            leaks.append(run("--leaks=2:3"))
    p, l = statistics.median(plain), statistics.median(leaks)
    per_test = (l - p) / args.tests
    import heaplens
    snap = heaplens.snapshot()
    print("CPython %s, %d tests, heap of the test process: about %s objects"
          % (sys.version.split()[0], args.tests,
             "{:,}".format(int(args.objects * 1.2) + snap.total_count)))
    print("plain pytest:        %.2f s (median of %d)" % (p, args.repeat))
    print("pytest --leaks=2:3:  %.2f s" % l)
    print("added per test:      %.3f s   (target <= 0.5 s: %s)"
          % (per_test, "met" if per_test <= 0.5 else "MISSED"))


if __name__ == "__main__":
    main()
