"""heaplens.graph(): the DOT graph around an object, with objgraph-style
options to keep real graphs readable (a node filter, objects to ignore, a cap
on each object's fan-out, module functions grouped)."""

from __future__ import annotations

import sys
import types
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from heaplens import _heaplens as _c
from heaplens._asizeof import asizeof, flatsize
from heaplens._format import human_size
from heaplens._chains import _frames, _is_ours, _label
from heaplens._dot import _dot_escape, _node_title, _render
from heaplens._quiet import quietly

# Each round of a backward search with a filter or grouping rebuilds the
# heap's reverse-edge index; rounds stop when nothing new is left out.
_MAX_ROUNDS = 8


def _search_back(obj: Any, depth: int, max_nodes: int, too_many: int, group: bool,
                 skip: Sequence[Any]) -> Tuple[List[Tuple[Any, Any]], List[Tuple[Any, int]],
                                               List[Tuple[Any, int]]]:
    """One backward search from ``obj`` (in C), leaving out the references
    held by ``skip`` and by heaplens' own frames: (pairs, [(node, referrers
    left out by too_many)], [(node, functions whose __globals__ it is)])."""
    user, ours = _frames()
    try:
        res = _c.referrer_graph(obj, depth, max_nodes, (user, ours, *ours, *skip), too_many,
                                group)
    finally:
        # The finished frame of _frames() holds these lists, which hold it:
        # left as a cycle, it and this frame (with the result) would show
        # as referrers in the next round.
        user.clear()
        ours.clear()
        del user, ours
    return res if (too_many or group) else (res, [], [])


def _module_globals() -> Dict[int, str]:
    """id(module.__dict__) -> module name, for the modules imported now."""
    out = {}
    for name, m in list(sys.modules.items()):
        d = getattr(m, "__dict__", None) if isinstance(m, types.ModuleType) else None
        if isinstance(d, dict):
            out[id(d)] = name
    return out


def build_graph(obj: Any, direction: str, depth: int, max_nodes: int, output: Optional[str],
                keep: Optional[Callable[[Any], bool]], extra_ignore: Iterable[Any],
                too_many: int, group_functions: bool) -> str:
    if direction not in ("back", "forward"):
        raise ValueError("direction must be 'back' or 'forward', not %r" % (direction,))
    for name, v, low in (("depth", depth, 0), ("max_nodes", max_nodes, 1),
                         ("too_many", too_many, 0)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError("%s must be an int, not %s" % (name, type(v).__name__))
        if v < low:
            raise ValueError("%s must be >= %d, not %d" % (name, low, v))
    if keep is not None and not callable(keep):
        raise TypeError("filter must be a callable (object -> bool), not %s"
                        % type(keep).__name__)
    try:
        ignored = list(extra_ignore)
    except TypeError:
        raise TypeError("extra_ignore must be an iterable of objects, not %s"
                        % type(extra_ignore).__name__) from None
    skip: Dict[int, Any] = {id(o): o for o in ignored if o is not obj}
    del ignored
    drops: List[Tuple[Any, int]] = []
    groups: List[Tuple[Any, int]] = []
    pairs: List[Tuple[Any, Any]] = []
    if direction == "back":
        for _ in range(_MAX_ROUNDS if keep is not None else 1):
            pairs, drops, groups = _search_back(obj, depth, max_nodes, too_many,
                                                group_functions, tuple(skip.values()))
            more = False
            if keep is not None:
                for parent, _child in pairs:
                    if parent is not obj and id(parent) not in skip and not keep(parent):
                        skip[id(parent)] = parent
                        more = True
            if not more:
                break
            # This round's results hold references to the nodes: they must
            # not show as referrers in the next one.
            del pairs, drops, groups
            pairs, drops, groups = [], [], []
        # Past the last round, a node the filter rejects is dropped here, and
        # so is what heaplens keeps for its users (a Chain, its objects) and
        # its own frames.
        pairs = [(p, c) for p, c in pairs if id(p) not in skip and id(c) not in skip
                 and not _is_ours(p) and not _is_ours(c)]
    else:
        seen = {id(obj)}
        level = [obj]
        count = 1
        for _ in range(depth):
            nxt = []
            for o in level:
                refs = [r for r in _c.referents(o, code=True) if id(r) not in skip]
                if keep is not None:
                    refs = [r for r in refs if r is obj or keep(r)]
                if too_many and len(refs) > too_many:
                    drops.append((o, len(refs) - too_many))
                    refs = refs[:too_many]
                for r in refs:
                    if id(r) in seen:
                        pairs.append((o, r))
                    elif count < max_nodes:
                        seen.add(id(r))
                        count += 1
                        pairs.append((o, r))
                        nxt.append(r)
            level = nxt
    dot = _dot(obj, direction, max_nodes, pairs, drops, groups)
    del pairs, drops, skip
    if output is not None:
        _render(dot, output)
    return dot


def _dot(obj: Any, direction: str, max_nodes: int, pairs: List[Tuple[Any, Any]],
         drops: List[Tuple[Any, int]], groups: List[Tuple[Any, int]]) -> str:
    nodes: Dict[int, Any] = {id(obj): obj}
    edges: List[Tuple[int, int, str]] = []
    for parent, child in pairs:
        for o in (parent, child):
            if id(o) not in nodes and len(nodes) < max_nodes:
                nodes[id(o)] = o
        edges.append((id(parent), id(child), _label(parent, child)))
    lines = ["digraph heaplens {", '  node [shape=box, fontname="sans-serif", fontsize=10];',
             '  edge [fontname="sans-serif", fontsize=9];']
    for i, o in nodes.items():
        # Deep sizes of what holds an object can be the whole program:
        # only the object itself gets one.
        size = human_size(flatsize(o))
        if o is obj:
            size += ", %s deep" % human_size(asizeof(o))
        label = "%s\\n%s" % (_dot_escape(_node_title(o)), size)
        style = ', style=filled, fillcolor="#ffd9d9"' if o is obj else ""
        lines.append('  n%d [label="%s"%s];' % (i, label, style))
    for a, b, lab in edges:
        if a in nodes and b in nodes:
            lines.append('  n%d -> n%d [label="%s"];' % (a, b, _dot_escape(lab)))
    globals_of = _module_globals() if groups else {}
    for k, (d, n) in enumerate(groups):
        if id(d) not in nodes:
            continue
        name = globals_of.get(id(d))
        what = "of module %s" % name if name else "sharing these globals"
        lines.append('  g%d [label="%d function%s %s", shape=folder, '
                     'style=filled, fillcolor="#eeeeff"];'
                     % (k, n, "" if n == 1 else "s", _dot_escape(what)))
        lines.append('  g%d -> n%d [label="__globals__"];' % (k, id(d)))
    for k, (o, n) in enumerate(drops):
        if id(o) not in nodes:
            continue
        what = "referrer" if direction == "back" else "referent"
        lines.append('  m%d [label="%d more %s%s", shape=plaintext];'
                     % (k, n, what, "" if n == 1 else "s"))
        if direction == "back":
            lines.append('  m%d -> n%d [style=dashed];' % (k, id(o)))
        else:
            lines.append('  n%d -> m%d [style=dashed];' % (id(o), k))
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph(obj: Any, direction: str = "back", depth: int = 4, max_nodes: int = 60,
          output: Optional[str] = None, *, filter: Optional[Callable[[Any], bool]] = None,
          extra_ignore: Iterable[Any] = (), too_many: int = 10,
          group_functions: bool = True) -> str:
    """A Graphviz DOT graph around ``obj``: its referrers (``'back'``, like
    objgraph's show_backrefs) or referents (``'forward'``), ``depth`` levels
    deep, with each object's type, flat and deep size. With ``output``
    ending in .svg or .png, also render it with Graphviz's ``dot`` (Debian
    package ``graphviz``); RuntimeError if ``dot`` is missing or fails.

    To keep real graphs readable (as objgraph's options do):
    ``filter(o) -> bool``: objects for which it is false are neither drawn
    nor followed (``obj`` always is); ``extra_ignore``: objects never drawn
    (a cache of yours, a debugging list); ``too_many``: each object shows at
    most this many referrers (referents, forward) and one "N more" node for
    the rest (0: no cap); ``group_functions``: the functions that refer to a
    module's globals dict only as their ``__globals__`` are drawn as one
    node, "N functions of module m"."""
    return quietly(build_graph, obj, direction, depth, max_nodes, output, filter, extra_ignore,
                   too_many, group_functions)
