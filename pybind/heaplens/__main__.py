"""Command line: ``python -m heaplens demo | run | diff``."""

from __future__ import annotations

import argparse
import os
import runpy
import sys
from typing import List, Optional

import heaplens
from heaplens._format import human_size, table


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


class _Progress:
    """A one-line status on stderr, redrawn in place; silent unless stderr
    is a terminal."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.width = 0

    def show(self, text: str) -> None:
        if self.enabled:
            pad = max(0, self.width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
            self.width = len(text)

    def done(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def run(args: argparse.Namespace) -> int:
    """Run a script under a Monitor, print its growth, write the report."""
    script = args.script
    if not os.path.isfile(script):
        print("heaplens run: no such script: %s" % script, file=sys.stderr)
        return 2
    progress = _Progress()
    def on_sample(s) -> None:
        progress.show("heaplens: %.1fs, %d samples, %s objects, %s" % (
            s.t, len(monitor.samples), "{:,}".format(s.total_count), human_size(s.total_size)))
    monitor = heaplens.Monitor(interval=args.interval, top=args.keep, on_sample=on_sample)
    old_argv, old_path0 = sys.argv, sys.path[0]
    sys.argv = [script] + list(args.args)
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    status = 0
    namespace = None
    monitor.start()
    try:
        # Keep the script's globals until the last sample: what it built is
        # what the report is about.
        namespace = runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv, sys.path[0] = old_argv, old_path0
        monitor.stop()
        progress.done()
        del namespace
    print("heaplens: %d samples over %.1f s; growth from the first to the last:" % (
        len(monitor.samples), monitor.samples[-1].t), file=sys.stderr)
    print(monitor.growth().changed().format(limit=args.top), file=sys.stderr)
    if args.output:
        monitor.report_html(args.output, title="heaplens: %s" % os.path.basename(script))
        print("heaplens: report written to %s" % args.output, file=sys.stderr)
    return status


def diff(args: argparse.Namespace) -> int:
    """Print the diff of two saved snapshots."""
    try:
        older, newer = heaplens.load(args.older), heaplens.load(args.newer)
    except (OSError, heaplens.SnapshotFormatError) as e:
        print("heaplens diff: %s" % e, file=sys.stderr)
        return 2
    d = newer.diff(older)
    if args.type or args.module:
        d = d.filter(type=args.type, module=args.module)
    print(d.changed().format(limit=args.top))
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m heaplens",
        description="heaplens: how much memory Python objects take.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="show asizeof on sample structures next to sys.getsizeof")
    p = sub.add_parser("run", help="run a script under a heap monitor and report what grew")
    p.add_argument("--interval", type=float, default=1.0, metavar="S",
                   help="seconds between snapshots (default 1)")
    p.add_argument("-o", "--output", metavar="REPORT.html",
                   help="write a self-contained HTML report with charts")
    p.add_argument("--top", type=int, default=20, help="rows in the growth table")
    p.add_argument("--keep", type=int, default=None, metavar="N",
                   help="keep only the N largest types of each sample")
    p.add_argument("script")
    p.add_argument("args", nargs=argparse.REMAINDER)
    p = sub.add_parser("diff", help="print the difference of two saved snapshots")
    p.add_argument("older")
    p.add_argument("newer")
    p.add_argument("--top", type=int, default=30, help="rows to print")
    p.add_argument("--type", help="only types whose name contains this")
    p.add_argument("--module", help="only types of this module")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    if args.command == "run":
        if args.interval <= 0:
            parser.error("--interval must be positive")
        return run(args)
    if args.command == "diff":
        return diff(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
