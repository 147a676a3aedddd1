"""HTML views of the result objects, for Jupyter's ``_repr_html_``: each
object that prints a table or a tree shows the same table or tree as HTML.
The views take rows and values (or read the attributes of the object they
show); they import nothing but the formatting helpers.

Each view is a self-contained fragment (inline styles, no script) that
says what it is in a caption, so a notebook cell reads without the code."""

from __future__ import annotations

import html
from typing import Any, List, Mapping, Optional, Sequence

from heaplens._format import column_align, human_count, human_size, lifetime_times

_NUM = "text-align:right;font-variant-numeric:tabular-nums"
_MAX_TREE_NODES = 500


def table_html(headers: Sequence[str], rows: Sequence[Sequence[Any]], cls: str,
               caption: str = "", align: str = "", foot: int = 0) -> str:
    """An HTML table; ``align`` gives '<' or '>' per column (first column
    left, others right by default); the last ``foot`` rows are set apart
    (totals)."""
    align = column_align(headers, align)

    def cell(tag: str, i: int, c: Any) -> str:
        style = ' style="%s"' % _NUM if align[i] == ">" else ' style="text-align:left"'
        return "<%s%s>%s</%s>" % (tag, style, html.escape(str(c)), tag)

    out = ['<table class="heaplens %s">' % cls]
    if caption:
        out.append('<caption style="text-align:left;caption-side:top">%s</caption>'
                   % html.escape(caption))
    out.append("<thead><tr>%s</tr></thead><tbody>"
               % "".join(cell("th", i, h) for i, h in enumerate(headers)))
    n = len(rows)
    for k, r in enumerate(rows):
        tr = '<tr style="border-top:2px solid #888;font-weight:bold">' \
            if foot and k == n - foot else "<tr>"
        out.append(tr + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def snapshot_html(group_word: str, rows: Sequence[Sequence[Any]], total_count: int,
                  total_size: int, groups: int, model: str) -> str:
    """A Snapshot's table (its ``_table_rows``: the largest groups, the rest,
    the total) under a caption with the snapshot's totals."""
    caption = "heaplens Snapshot: %s objects, %s in %s %ss (model %s)" % (
        human_count(total_count), human_size(total_size), human_count(groups), group_word,
        model)
    return table_html((group_word, "objects", "size"), rows, "heaplens-snapshot", caption,
                      foot=1)


def diff_html(rows: Sequence[Sequence[Any]], count_diff: int, size_diff: int) -> str:
    """A SnapshotDiff's table (its rows, the rest, the whole diff's total)
    under a caption with the diff's totals."""
    caption = "heaplens SnapshotDiff: %s objects, %s" % (
        human_count(count_diff, signed=True), human_size(size_diff, signed=True))
    return table_html(("type", "objects", "+/-", "size", "+/- size"), rows, "heaplens-diff",
                      caption, foot=1)


def asized_html(a: Any) -> str:
    """An Asized tree as nested lists: name, deep size, flat size; children
    largest first (the order of ``format()``), at most 500 nodes."""
    budget = [_MAX_TREE_NODES]

    def node(x: Any) -> str:
        budget[0] -= 1
        text = '%s <span style="color:#555">%s (flat %s)</span>' % (
            html.escape(str(x.name)), html.escape(human_size(x.size)),
            html.escape(human_size(x.flat)))
        kids = sorted(x.refs, key=lambda r: r.size, reverse=True)
        if not kids:
            return "<li>%s</li>" % text
        items: List[str] = []
        for i, r in enumerate(kids):
            if budget[0] <= 0:
                items.append("<li>... %d more</li>" % (len(kids) - i))
                break
            items.append(node(r))
        return "<li>%s<ul>%s</ul></li>" % (text, "".join(items))

    return ('<div class="heaplens heaplens-asized"><div>heaplens Asized: %s deep, %s flat'
            '</div><ul style="list-style:none;padding-left:1.2em;margin:0.2em 0">%s</ul></div>'
            % (html.escape(human_size(a.size)), html.escape(human_size(a.flat)), node(a)))


def tracker_html(rows: Sequence[Any], status: Mapping[str, Any], running: bool,
                 limit: int = 20) -> str:
    """A Tracker's per-type table (what ``report()`` prints): ``rows`` are
    its per-type records (type_name, born, died, alive, alive_size,
    lifetime_p50_ns, lifetime_p90_ns, lifetime_max_ns), heaplens' own types
    left out; ``status`` gives records, backend and lost."""
    body = [(r.type_name, human_count(r.born), human_count(r.died), human_count(r.alive),
             human_size(r.alive_size),
             *lifetime_times(r)) for r in rows[:limit]]
    if len(rows) > limit:
        body.append(("(%d more types)" % (len(rows) - limit),) + ("",) * 7)
    caption = "heaplens Tracker (%s): %s objects alive in %d types; backend %s%s" % (
        "running" if running else "stopped", human_count(status["records"]), len(rows),
        status["backend"], "; EVENTS LOST" if status["lost"] else "")
    return table_html(("type", "born", "died", "alive", "alive size", "life p50", "life p90",
                       "life max"), body, "heaplens-tracker", caption)


def tracker_state_html(name: str, state: str) -> str:
    """A Tracker that has no records to show (never started, or cleared):
    its repr ``name`` and the ``state`` that says why."""
    return '<div class="heaplens heaplens-tracker">%s: %s</div>' % (
        html.escape(name), html.escape(state))


def chain_html(chain: Any) -> str:
    """A referrer chain, root first, one step per arrow."""
    text = str(chain)
    return ('<div class="heaplens heaplens-chain"><code>%s</code></div>'
            % html.escape(text).replace(" -&gt; ", " &rarr; "))


def leak_report_html(headline: str, groups: Sequence[Any]) -> str:
    """A LeakReport: the ``headline``, then one row per leaked group (type_name,
    growth, count, shallow, deep, site, reprs, chain) with its growth,
    sizes, allocation site, examples and the chain holding it."""
    if not groups:
        return '<div class="heaplens heaplens-leaks">%s</div>' % html.escape(headline)
    rows = []
    for g in groups:
        rows.append((g.type_name, "+" + "/".join(str(n) for n in g.growth),
                     human_count(g.count), human_size(g.shallow), human_size(g.deep),
                     g.site, "; ".join(g.reprs), g.chain))
    return table_html(("type", "growth per run", "objects", "shallow", "deep",
                       "allocated at", "e.g.", "held by"), rows, "heaplens-leaks", headline,
                      align="<>>>><<<")


def text_html(text: str, cls: str, caption: Optional[str] = None) -> str:
    """Preformatted text (for objects whose view is their printout)."""
    cap = "<div>%s</div>" % html.escape(caption) if caption else ""
    return '<div class="heaplens %s">%s<pre>%s</pre></div>' % (cls, cap, html.escape(text))
