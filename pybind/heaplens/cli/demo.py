"""``python -m heaplens demo``: asizeof on sample structures next to
sys.getsizeof, asized and track() at work."""

from __future__ import annotations

import argparse
import sys

import heaplens
from heaplens._format import human_size, table

HELP = "show asizeof on sample structures next to sys.getsizeof"


class _Record:
    def __init__(self, i: int) -> None:
        self.id = i
        self.name = "customer-%05d" % i
        self.tags = ["t%d" % (i % 7), "t%d" % (i % 11)]
        self.scores = {"q1": i * 0.5, "q2": i * 0.25}


def _samples():
    return [
        ("list of 1,000 ints", [i * 1000 for i in range(1000)]),
        ("dict of 1,000 str keys -> [3 floats]",
         {"key%d" % i: [i * 1.0, i + 0.5, i + 0.25] for i in range(1000)}),
        ("1,000 instances with 4 attributes", [_Record(i) for i in range(1000)]),
        ("set of 1,000 strs", {"item-%d" % i for i in range(1000)}),
        ("tuple of 100 bytes(100)", tuple(bytes(100) + bytes([i]) for i in range(100))),
        ("list nested 10,000 deep", _nested(10000)),
    ]


def _nested(n: int) -> list:
    x: list = []
    for _ in range(n):
        x = [x]
    return x


def demo(out=sys.stdout) -> int:
    print("heaplens %s on CPython %s" % (heaplens.__version__, sys.version.split()[0]), file=out)
    print("", file=out)
    print("sys.getsizeof sees one object; heaplens.asizeof follows everything it\n"
          "holds and counts each object once (pympler's figures, far faster);\n"
          "model='allocator' gives the bytes the allocators really hold.\n", file=out)
    rows = []
    caps = heaplens.capabilities()  # generic mode refuses the allocator model and track()
    for label, obj in _samples():
        rows.append((label, human_size(sys.getsizeof(obj)), human_size(heaplens.asizeof(obj)),
                     human_size(heaplens.asizeof(obj, model="allocator"))
                     if caps["allocator_model"] is True else "n/a"))
    print(table(("object", "sys.getsizeof", "asizeof", "allocator model"), rows), file=out)
    print("", file=out)
    rec = _Record(42)
    print("asized(record, detail=2) - where the bytes of one instance are:", file=out)
    a = heaplens.asized(rec, detail=2)
    print(a.format("%(name)s  %(size)d bytes (flat %(flat)d)", depth=2), file=out)
    print("", file=out)
    print("track() - which objects a phase made, which died, and where the rest came from:",
          file=out)
    if caps["track"] is not True:
        print("not available here: %s" % caps["track"], file=out)
        return 0
    with heaplens.track(types=_Record) as t:
        made = [_Record(i) for i in range(1000)]
        del made[::2]
    t.report(limit=5, file=out)
    s = t.survivors()[0]
    print("first survivor: %r" % (s,), file=out)
    del made
    t.clear()
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``demo`` takes no options."""


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``python -m heaplens demo``."""
    return demo()
