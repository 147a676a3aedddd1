#!/usr/bin/env python3
"""numpy and pandas objects: heaplens (both size models) and pympler against
the memory really held, as a markdown table (docs/semantics.md, section 6).

The truth figure is what building the object adds to tracemalloc's traced
memory after a warm-up build (numpy and pandas report their data buffers to
tracemalloc). pandas' own figure, memory_usage(deep=True), is shown beside it.

    python bench/third_party.py [--n 100000]
"""

import argparse
import gc
import sys
import tracemalloc

import numpy as np
import pandas as pd

import heaplens

try:
    from pympler.asizeof import asizeof as pympler_asizeof
except ImportError:  # pragma: no cover
    pympler_asizeof = None


def strs(n):
    return [str(i) * 3 for i in range(n)]


def cases(n):
    return [
        ("ndarray, owning (float64)", lambda: np.arange(n, dtype=np.float64)),
        ("ndarray, view a[::2]", lambda: np.arange(2 * n, dtype=np.float64)[::2]),
        ("np.frombuffer(bytes)", lambda: np.frombuffer(b"\x01" * (8 * n), dtype=np.uint8)),
        ("ndarray of objects (str)", lambda: np.array(strs(n // 10), dtype=object)),
        ("ndarray, structured", lambda: np.zeros(n, dtype=[("x", "f8"), ("y", "i4")])),
        ("DataFrame, numeric", lambda: pd.DataFrame(
            {"a": np.arange(n, dtype=float), "b": np.arange(n)})),
        ("DataFrame, mixed", lambda: pd.DataFrame({
            "a": np.arange(n // 10, dtype=float), "s": strs(n // 10),
            "c": pd.Categorical(["x", "y"] * (n // 20))})),
        ("Series, str", lambda: pd.Series(strs(n // 10))),
        ("Series, categorical", lambda: pd.Series(["x", "y", "z"] * (n // 3),
                                                  dtype="category")),
        ("Index, numeric", lambda: pd.Index(np.arange(n))),
        ("Index, str", lambda: pd.Index(strs(n // 10))),
    ]


def truth_of(build):
    build()
    gc.collect()
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        obj = build()
        gc.collect()
        return obj, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def pct(x, truth):
    return "%+.1f%%" % (100.0 * (x - truth) / truth)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    n = ap.parse_args().n
    print("CPython %s, numpy %s, pandas %s, heaplens %s, n=%d\n" % (
        sys.version.split()[0], np.__version__, pd.__version__, heaplens.__version__, n))
    print("| object | truth (tracemalloc) | heaplens getsizeof | err | heaplens align=1 | err "
          "| heaplens allocator | err | pympler | err | memory_usage(deep=True) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, build in cases(n):
        obj, truth = truth_of(build)
        g = heaplens.asizeof(obj)
        g1 = heaplens.asizeof(obj, align=1)
        a = heaplens.asizeof(obj, model="allocator")
        p = pympler_asizeof(obj) if pympler_asizeof else 0
        mu = ""
        if hasattr(obj, "memory_usage"):
            m = obj.memory_usage(deep=True)
            mu = "{:,}".format(int(m if np.isscalar(m) else m.sum()))
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, "{:,}".format(truth), "{:,}".format(g), pct(g, truth), "{:,}".format(g1),
            pct(g1, truth), "{:,}".format(a), pct(a, truth), "{:,}".format(p), pct(p, truth),
            mu))


if __name__ == "__main__":
    main()
