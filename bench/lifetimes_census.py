"""Tracker against census, type by type: for each kind of object, make
5,000 of them under heaplens.track() and compare the tracker's alive count
with a snapshot diff of the same block (what docs/lifetimes.md tabulates).

    python bench/lifetimes_census.py [--n N] [--markdown]

The makers are those of tests/python/integration/test_lifetimes_truth.py, which holds
each row to 2%.
"""

import argparse
import gc
import os
import sys

import heaplens

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
import test_lifetimes_truth as truth  # noqa: E402  (the makers, one list)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    for name, type_name, maker in truth.MAKERS:
        gc.collect()
        before = heaplens.snapshot()
        with heaplens.track(frames=0) as t:
            keep = truth._make(name, maker)
        after = heaplens.snapshot()
        census = truth._census_count(after, type_name) - truth._census_count(before, type_name)
        seen = {r.type_name: r.alive for r in t.stats()}.get(type_name, 0)
        t.clear()
        del keep
        rows.append((name, type_name, census, seen))
    py = sys.version.split()[0]
    if args.markdown:
        print("Python %s, %d objects made per row\n" % (py, truth.N))
        print("| made | type | census diff | tracker alive | difference |")
        print("|---|---|---:|---:|---:|")
        for name, tn, c, s in rows:
            print("| %s | %s | %d | %d | %+.2f%% |" % (name, tn.rsplit(".", 1)[-1], c, s,
                                                   100.0 * (s - c) / max(c, 1)))
    else:
        for name, tn, c, s in rows:
            print("%-20s %-12s census %6d tracker %6d  %+.2f%%" % (
                name, tn.rsplit(".", 1)[-1], c, s, 100.0 * (s - c) / max(c, 1)))


if __name__ == "__main__":
    main()
