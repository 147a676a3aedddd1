"""``python -m heaplens attach PID (snapshot | dump) -o PATH``: run heaplens
inside a running CPython process (Linux, through gdb; ``sys.remote_exec`` on
3.14+). ``snapshot --every S --count N -o DIR`` samples it into
``DIR/sample-NNNN.snap`` files that ``python -m heaplens diff`` reads.
See docs/attach.md."""

from __future__ import annotations

import argparse
import os
import sys
import time

from heaplens._attach import AttachError, run_in_process

ACTIONS = ("snapshot", "dump")
HELP = "run heaplens inside a running CPython process (Linux, gdb)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("pid", type=int, metavar="PID", help="the process to inspect")
    p.add_argument("action", choices=ACTIONS,
                   help="snapshot: heaplens.snapshot() saved as a .snap file; "
                        "dump: heaplens.dump() into a .hld file")
    p.add_argument("-o", "--output", required=True, metavar="PATH",
                   help="the file to write (with --every: the directory)")
    p.add_argument("--every", type=float, metavar="S",
                   help="snapshot only: take a snapshot every S seconds (one attach each)")
    p.add_argument("--count", type=int, metavar="N",
                   help="with --every: how many snapshots (default 10)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="longest wait for the target to reach a safe point (default 30)")
    p.add_argument("--job-timeout", type=float, default=600.0, metavar="S",
                   help="longest wait for the job itself (default 600)")


def _sample_path(directory: str, i: int) -> str:
    return os.path.join(directory, "sample-%04d.snap" % i)


def _once(args: argparse.Namespace, path: str) -> dict:
    return run_in_process(args.pid, args.action, path, timeout=args.timeout,
                          job_timeout=args.job_timeout)


def _describe(result: dict) -> str:
    return "%.2f s, safe point: %s" % (result["seconds"], result.get("safe_point"))


def attach(args: argparse.Namespace) -> int:
    """Run the attach command; 0 on success, 1 when attaching or the job
    failed, 2 on bad arguments."""
    err = "heaplens attach: "
    if args.every is None and args.count is not None:
        print(err + "--count needs --every", file=sys.stderr)
        return 2
    if args.every is not None:
        if args.action != "snapshot":
            print(err + "--every works with snapshot only", file=sys.stderr)
            return 2
        if not args.every > 0:
            print(err + "--every must be positive", file=sys.stderr)
            return 2
        count = 10 if args.count is None else args.count
        if count < 1:
            print(err + "--count must be >= 1", file=sys.stderr)
            return 2
        try:
            os.makedirs(args.output, exist_ok=True)
        except OSError as e:
            print(err + "cannot create %s: %s" % (args.output, e), file=sys.stderr)
            return 2
        start = time.monotonic()
        for i in range(1, count + 1):
            due = start + (i - 1) * args.every
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            path = _sample_path(args.output, i)
            try:
                result = _once(args, path)
            except AttachError as e:
                print(err + "sample %d: %s" % (i, e), file=sys.stderr)
                return 1
            print("%s (%s)" % (path, _describe(result)), flush=True)
        return 0
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        print(err + "no directory %s" % out_dir, file=sys.stderr)
        return 2
    try:
        result = _once(args, args.output)
    except AttachError as e:
        print(err + str(e), file=sys.stderr)
        return 1
    print("%s (%s)" % (args.output, _describe(result)))
    return 0


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The command's entry point for the dispatcher in heaplens.cli."""
    return attach(args)


__all__ = ["HELP", "add_arguments", "attach", "main"]
