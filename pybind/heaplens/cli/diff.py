"""``python -m heaplens diff older.snap newer.snap``: what changed between
two saved snapshots."""

from __future__ import annotations

import argparse
import sys

import heaplens

HELP = "print the difference of two saved snapshots"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("older")
    p.add_argument("newer")
    p.add_argument("--top", type=int, default=30,
                   help="rows to print (default 30); the total is always the whole diff's")
    p.add_argument("--type", help="only types whose name contains this")
    p.add_argument("--module", help="only types of this module")


def diff(args: argparse.Namespace) -> int:
    """Print the diff of two saved snapshots."""
    if args.top < 0:
        print("heaplens diff: --top must be >= 0", file=sys.stderr)
        return 2
    try:
        older, newer = heaplens.load(args.older), heaplens.load(args.newer)
    except (OSError, heaplens.SnapshotFormatError) as e:
        print("heaplens diff: %s" % e, file=sys.stderr)
        return 2
    try:
        d = newer.diff(older)
    except ValueError as e:
        print("heaplens diff: %s" % e, file=sys.stderr)
        return 2
    if args.type or args.module:
        d = d.filter(type=args.type, module=args.module)
    print(d.changed().format(limit=args.top))
    return 0


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``python -m heaplens diff``."""
    return diff(args)
