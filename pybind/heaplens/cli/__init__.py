"""The command line, ``python -m heaplens COMMAND``: one module per command
(``demo``, ``run``, ``diff``)."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from heaplens.cli import demo as _demo, diff as _diff, run as _run
from heaplens.cli import show as _show


_RUN_VALUED = {"--interval", "-o", "--output", "--top", "--keep", "--baseline", "--snapshots",
               "--frames"}


def _split_module_args(argv: List[str]):
    """As ``python -m``: everything after ``run ... -m MODULE`` is the
    module's (``--x`` included), not ours."""
    if "run" not in argv:
        return argv, None
    i = argv.index("run") + 1
    while i < len(argv):
        a = argv[i]
        if a == "-m" and i + 1 < len(argv):
            return argv[:i + 2], argv[i + 2:]
        if a.startswith("-m") and len(a) > 2 and not a.startswith("--"):
            return argv[:i + 1], argv[i + 1:]       # -mmodule
        if a in _RUN_VALUED:
            i += 2
        elif a.startswith("-"):
            i += 1
        else:
            return argv, None                        # a script: argparse splits
    return argv, None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m heaplens",
        description="heaplens: how much memory Python objects take.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="show asizeof on sample structures next to sys.getsizeof")
    run_parser = sub.add_parser(
        "run", help="run a script (or -m module) under a heap monitor and report what grew",
        usage="python -m heaplens run [options] (script.py | -m module) [args ...]")
    _run.add_arguments(run_parser)
    _diff.add_arguments(sub.add_parser("diff", help="print the difference of two saved "
                                                    "snapshots"))
    _show.add_arguments(sub.add_parser("show", help="print a heap dump's top retainers and types (--html: a report)"))
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, module_args = _split_module_args(argv)
    args = parser.parse_args(argv)
    if module_args is not None:
        args.args = module_args
    if args.command == "demo":
        return _demo.demo()
    if args.command == "run":
        if args.interval <= 0:
            run_parser.error("--interval must be positive")
        if args.top < 0:
            run_parser.error("--top must be >= 0")
        if args.keep is not None and args.keep < 1:
            run_parser.error("--keep must be >= 1")
        return _run.run(args, run_parser)
    if args.command == "diff":
        return _diff.diff(args)
    if args.command == "show":
        return _show.show(args)
    parser.print_help()
    return 2


__all__ = ["main"]
