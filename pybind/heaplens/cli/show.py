"""``python -m heaplens show heap.hld [--html report.html]``: read a heap
dump and print its top retainers and by-type table; with ``--html``, write
one self-contained page with sortable tables, the dominator tree (the part
above a retained-size threshold) and each row's path to a root."""

from __future__ import annotations

import argparse
import heapq
import math
import os
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import heaplens
from heaplens._format import clip_text, human_size, table

#: The tree's embedding rule (stated in the page and in docs/dumps.md).
TREE_SHARE = 0.001     # a node is embedded when it retains >= 0.1% of the heap,
TREE_NODES = 2000      # the 2,000 largest such nodes at most,
TREE_LEAVES = 5        # plus, under each, its 5 largest smaller children as leaves.
TYPE_ROWS = 50         # the HTML by-type table: the 50 largest types (a path each)

HELP = "print a heap dump's top retainers and types (--html: a report)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dump", help="a heap dump written by heaplens.dump() or attach ... dump")
    p.add_argument("-n", "--top", type=int, default=20,
                   help="retainers to list (default 20)")
    p.add_argument("--types", type=int, default=20,
                   help="types to print (default 20; the rest on one line)")
    p.add_argument("--html", metavar="REPORT.html",
                   help="also write a self-contained HTML report (sortable tables, "
                        "the dominator tree, paths to a root)")
    p.add_argument("--tree-share", type=float, default=TREE_SHARE * 100, metavar="PERCENT",
                   help="HTML tree: embed objects retaining at least this share of the "
                        "heap (default 0.1)")
    p.add_argument("--tree-nodes", type=int, default=TREE_NODES, metavar="N",
                   help="HTML tree: at most this many such objects (default 2000)")


def _text(t: Optional[str]) -> str:
    return "" if t is None else clip_text(repr(t), 40)


def summary(d: Any, total: int) -> str:
    return "%s: %s objects, %s references, %s (Python %s, dumped %s)" % (
        d.path, "{:,}".format(len(d)), "{:,}".format(d.nreferences), human_size(total),
        d.python, time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(d.timestamp)))


def format_text(d: Any, top: int, ntypes: int) -> str:
    """What ``show`` prints: a summary line, the top retainers, the by-type
    table."""
    types = d.by_type()
    total = sum(r.size for r in types)
    ret = d.top_retainers(top)
    out = [summary(d, total), ""]
    out.append("Top %d retainers (retained: what would be freed if the object went)" % len(ret))
    out.append(table(("id", "type", "size", "retained", "text"),
                     [("%#x" % r.id, r.type_name, human_size(r.size), human_size(r.retained),
                       _text(r.text)) for r in ret], align="<<>><"))
    out.append("")
    out.append("By type (%s types, largest retained first)" % "{:,}".format(len(types)))
    out.append(table(("type", "objects", "size", "retained"), types._table_rows(ntypes)))
    return "\n".join(out)


# -- the HTML report's data ----------------------------------------------------

def _tree(d: Any, share: float, max_nodes: int, leaves: int = TREE_LEAVES
          ) -> Tuple[Dict[str, Any], List[int], int]:
    """The dominator tree's embedded part: the objects retaining at least
    ``share`` of the heap (the ``max_nodes`` largest), each with its
    children in it, up to ``leaves`` of its smaller children as leaves, and
    a line for the rest (count, bytes, commonest types). One pass over every
    object's immediate dominator."""
    dd, names = d._d, d._types
    n = len(dd)
    total = sum(s for _c, s, _a in dd.type_totals())
    threshold = max(1, int(math.ceil(total * share)))
    shown = [i for i in dd.top(max_nodes) if dd.retained(i) >= threshold]
    inside = set(shown)
    for i in list(shown):      # a dominator retains more than what it dominates,
        p = dd.idom(i)         # so this only matters for zero-size ties
        while p >= 0 and p not in inside:
            inside.add(p)
            shown.append(p)
            p = dd.idom(p)
    kids: Dict[int, List[int]] = {-1: []}
    rest: Dict[int, List[Any]] = {-1: [0, 0, {}, []]}
    for i in shown:
        kids[i] = []
        rest[i] = [0, 0, {}, []]
    idom, retained, record = dd.idom, dd.retained, dd.record
    for i in range(n):
        p = idom(i)
        if p < 0:
            p = -1             # the virtual root (and unreachable objects)
        elif p not in inside:
            continue
        if i in inside:
            kids[p].append(i)
            continue
        r = rest[p]
        b = retained(i)
        r[0] += 1
        r[1] += b
        t = record(i)[1]
        r[2][t] = r[2].get(t, 0) + 1
        if leaves:
            if len(r[3]) < leaves:
                heapq.heappush(r[3], (b, -i))
            elif b > r[3][0][0]:
                heapq.heapreplace(r[3], (b, -i))
    nodes: List[Any] = [["(heap)", "", 0, total, None, [], 0, 0, ""]]
    slot: Dict[int, int] = {}

    def node(i: int) -> int:
        addr, t, _l, size, _a, _r, text = record(i)
        nodes.append(["%#x" % addr, names[t], size, retained(i),
                      None if text is None else clip_text(repr(text), 60), [], 0, 0, ""])
        slot[i] = len(nodes) - 1
        return slot[i]

    def fill(k: int, i: int) -> None:
        r = rest[i]
        small = [-neg for _b, neg in sorted(r[3], reverse=True)]
        order = sorted(kids[i], key=lambda j: -retained(j))
        nodes[k][5] = [node(j) for j in order] + [node(j) for j in small]
        nodes[k][6] = r[0] - len(small)
        nodes[k][7] = r[1] - sum(retained(j) for j in small)
        counts = dict(r[2])
        for j in small:       # the leaves are no longer "the rest"
            counts[record(j)[1]] -= 1
        common = sorted(((tt, c) for tt, c in counts.items() if c > 0),
                        key=lambda kv: (-kv[1], names[kv[0]]))[:3]
        nodes[k][8] = ", ".join("%s %s" % ("{:,}".format(c), names[tt]) for tt, c in common)
        if sum(c for _t, c in common) < nodes[k][6]:
            nodes[k][8] += ", ..."

    fill(0, -1)
    stack = list(kids[-1])
    while stack:
        i = stack.pop()
        fill(slot[i], i)
        stack.extend(kids[i])
    return {"nodes": nodes}, shown, total


def report_data(d: Any, top: int = 20, share: float = TREE_SHARE,
                max_nodes: int = TREE_NODES, type_rows: int = TYPE_ROWS) -> Dict[str, Any]:
    """Plain data for heaplens._dump_html.render_dump_html."""
    dd, names = d._d, d._types
    tree, _shown, total = _tree(d, share, max_nodes)
    retainers = [{"id": "%#x" % r.id, "type": r.type_name, "size": r.size,
                  "retained": r.retained, "text": _text(r.text)} for r in d.top_retainers(top)]
    types = d.by_type()
    trows = []
    for row in types.rows[:type_rows]:
        want = [t for t, nm in enumerate(names) if nm == row.type_name]
        best = max(dd.of_types(want), key=dd.retained)
        trows.append({"id": "%#x" % dd.record(best)[0], "what": "largest " + row.type_name,
                      "type": row.type_name, "count": row.count, "size": row.size,
                      "retained": row.retained})
    left = types.rows[type_rows:]
    types_rest = None
    if left:
        types_rest = "%s more types (%s objects, %s) are left out of this table." % (
            "{:,}".format(len(left)), "{:,}".format(sum(r.count for r in left)),
            human_size(sum(r.size for r in left)))
    paths = {}
    for r in retainers + trows:
        if r["id"] not in paths:
            paths[r["id"]] = str(d.path_to_root(int(r["id"], 16)))
    rule = ("The tree embeds the objects retaining at least %s of the heap (%s), at most the "
            "%s largest; under each, up to %d of its smaller children are listed as leaves "
            "and the rest are summarised on one line (\"N smaller objects, X bytes\")." % (
                ("%g%%" % (share * 100)), human_size(max(1, int(math.ceil(total * share)))),
                "{:,}".format(max_nodes), TREE_LEAVES))
    return {"title": "heaplens dump: %s" % d.path, "summary": summary(d, total),
            "retainers": retainers, "types": trows, "types_rest": types_rest, "paths": paths,
            "tree": tree, "rule": rule}


def show(args: argparse.Namespace) -> int:
    """Print the dump's top retainers and types; write the HTML report."""
    for name, low in (("--top", 0), ("--types", 0), ("--tree-nodes", 1)):
        v = getattr(args, name[2:].replace("-", "_"))
        if v < low:
            print("heaplens show: %s must be >= %d" % (name, low), file=sys.stderr)
            return 2
    if not 0 <= args.tree_share <= 100 or args.tree_share != args.tree_share:
        print("heaplens show: --tree-share must be a percentage (0-100)", file=sys.stderr)
        return 2
    try:
        d = heaplens.open_dump(args.dump)
    except heaplens.DumpFormatError as e:
        print("heaplens show: %s" % e, file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print("heaplens show: cannot read %s: %s" % (args.dump, e), file=sys.stderr)
        return 2
    out = [format_text(d, args.top, args.types)]
    if args.html:
        from heaplens._dump_html import render_dump_html
        page = render_dump_html(report_data(d, max(args.top, 20), args.tree_share / 100,
                                            args.tree_nodes))
        try:
            with open(args.html, "w", encoding="utf-8") as f:
                f.write(page)
        except OSError as e:
            print("heaplens show: cannot write %s: %s" % (args.html, e), file=sys.stderr)
            return 2
        out.append("\nwrote %s (%s)" % (args.html, human_size(len(page.encode("utf-8")))))
    try:
        print("\n".join(out))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (``| head``): not an error, and no
        # traceback at exit either (the report, if any, is written).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The command's entry point for the dispatcher in heaplens.cli."""
    return show(args)
