"""The command line, ``python -m heaplens COMMAND``: one module per command
(``demo``, ``run``, ``diff``, ``attach``, ``show``). Each command module has ``HELP`` (its line in
the command list), optionally ``USAGE``, ``add_arguments(parser)`` and
``main(args, parser) -> exit status``; adding a command is adding its module
and one entry to ``_COMMANDS``. ``main()`` here only dispatches."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from heaplens.cli import demo as _demo, diff as _diff, run as _run
from heaplens.cli import attach as _attach
from heaplens.cli import show as _show

_COMMANDS = {"demo": _demo, "run": _run, "diff": _diff, "attach": _attach, "show": _show}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m heaplens",
        description="heaplens: how much memory Python objects take.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parsers = {}
    for name, command in _COMMANDS.items():
        parsers[name] = sub.add_parser(name, help=command.HELP,
                                       usage=getattr(command, "USAGE", None))
        command.add_arguments(parsers[name])
    argv = list(sys.argv[1:] if argv is None else argv)
    # As python -m: what follows ``run ... -m MODULE`` is the module's.
    argv, module_args = _run.split_module_args(argv)
    args = parser.parse_args(argv)
    if module_args is not None:
        args.args = module_args
    if args.command is None:
        parser.print_help()
        return 2
    return _COMMANDS[args.command].main(args, parsers[args.command])


__all__ = ["main"]
