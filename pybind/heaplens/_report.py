"""The self-contained HTML reports: a Monitor's (SVG charts of the largest
types over time and the growth table, with a tracker's lifetime section when
one is given) and a Tracker's (lifetime section alone). No scripts, no
network."""

from __future__ import annotations

import html
import sys
import time
from typing import Any, List, Sequence, Tuple

from heaplens._format import human_size

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22")


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 1.0
    while mag * 10 <= v:
        mag *= 10
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= v:
            return m * mag
    return 10 * mag


def svg_chart(series: Sequence[Tuple[str, Sequence[Tuple[float, int]]]], width: int = 860,
              height: int = 360, ylabel: str = "size") -> str:
    """An SVG line chart: one line per (label, [(t, value), ...])."""
    left, right, top, bottom = 80, 220, 20, 40
    pw, ph = width - left - right, height - top - bottom
    tmax = max((t for _, pts in series for t, _ in pts), default=0.0) or 1.0
    vmax = _nice_max(max((v for _, pts in series for _, v in pts), default=0))
    out: List[str] = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="heaplens-chart" width="%d" '
        'height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s over time">'
        % (width, height, width, height, html.escape(ylabel)),
        '<rect x="%d" y="%d" width="%d" height="%d" fill="#fff" stroke="#999"/>'
        % (left, top, pw, ph),
    ]
    for i in range(5):
        v = vmax * i / 4
        y = top + ph - ph * i / 4
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>'
                   % (left, left + pw, y, y))
        label = human_size(int(v)) if ylabel == "size" else "{:,}".format(int(v))
        out.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end" '
                   'font-family="sans-serif">%s</text>' % (left - 6, y + 4, label))
    for i in range(5):
        t = tmax * i / 4
        x = left + pw * i / 4
        out.append('<text x="%.1f" y="%d" font-size="11" text-anchor="middle" '
                   'font-family="sans-serif">%.1fs</text>' % (x, top + ph + 16, t))
    out.append('<text x="%d" y="%d" font-size="12" text-anchor="middle" '
               'font-family="sans-serif">time since start</text>'
               % (left + pw // 2, height - 6))
    for k, (label, pts) in enumerate(series):
        color = _COLORS[k % len(_COLORS)]
        coords = " ".join("%.1f,%.1f" % (left + pw * t / tmax, top + ph - ph * v / vmax)
                          for t, v in pts)
        if len(pts) == 1:
            x, y = coords.split(",")
            out.append('<circle cx="%s" cy="%s" r="3" fill="%s"/>' % (x, y, color))
        else:
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                       % (color, coords))
        ly = top + 14 + 18 * k
        out.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>'
                   % (left + pw + 12, ly - 10, color))
        out.append('<text x="%d" y="%d" font-size="12" font-family="sans-serif">%s</text>'
                   % (left + pw + 30, ly, html.escape(label[:28])))
    out.append("</svg>")
    return "\n".join(out)


_STYLE = """<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
td, th { padding: 2px 10px; border-bottom: 1px solid #ddd; }
td:not(:first-child) { text-align: right; }
.meta { color: #666; }
</style>"""


def lifetime_section(tracker: Any, top: int = 8, limit: int = 40) -> str:
    """The HTML of a Tracker's lifetimes: a chart of when the objects still
    alive were born (per type, cumulative) and the per-type table."""
    from heaplens._lifetimes import human_time
    st = tracker.status()
    rows = []
    for r in tracker.stats()[:limit]:
        rows.append("<tr>" + "".join("<td>%s</td>" % html.escape(str(c)) for c in (
            r.type_name, "{:,}".format(r.born), "{:,}".format(r.died), "{:,}".format(r.alive),
            human_size(r.alive_size),
            human_time(r.lifetime_p50_ns) if r.died else "-",
            human_time(r.lifetime_p90_ns) if r.died else "-",
            human_time(r.lifetime_max_ns) if r.died else "-")) + "</tr>")
    series = tracker.lifetime_series(top)
    chart = (svg_chart(series, ylabel="objects") if series
             else "<p>No tracked object is alive.</p>")
    return """<h2>Object lifetimes</h2>
<p class="meta">backend {backend}, {frames} frame(s) of site &middot; {alive} objects alive
in {types} types &middot; tracker memory {mem}{lost}</p>
<h3>Objects still alive, by when they were born</h3>
{chart}
<h3>Births, deaths and lifetimes per type</h3>
<table><thead><tr><th>type</th><th>born</th><th>died</th><th>alive</th><th>alive size</th>
<th>life p50</th><th>life p90</th><th>life max</th></tr></thead><tbody>
{rows}
</tbody></table>
""".format(backend=html.escape(str(st["backend"])), frames=tracker.frames,
           alive="{:,}".format(st["records"]), types="{:,}".format(st["types"]),
           mem=html.escape(human_size(st["memory"])),
           lost=" &middot; <strong>EVENTS LOST</strong>" if st["lost"] else "",
           chart=chart,
           rows="\n".join(rows) or '<tr><td colspan="8">nothing tracked</td></tr>')


def render_tracker_html(tracker: Any, title: str = "heaplens lifetimes", top: int = 8) -> str:
    """The report of a Tracker (running or stopped)."""
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
{style}</head><body>
<h1>{title}</h1>
<p class="meta">CPython {py} &middot; written {when}</p>
{section}
</body></html>
""".format(title=html.escape(title), style=_STYLE, py=html.escape(sys.version.split()[0]),
           when=html.escape(time.strftime("%Y-%m-%d %H:%M:%S")),
           section=lifetime_section(tracker, top))


def render_html(monitor: Any, title: str = "heaplens report", top: int = 8,
                tracker: Any = None) -> str:
    """The report of a Monitor that has samples, with the lifetime section
    of ``tracker`` when one is given."""
    growth = monitor.growth()
    last = monitor.samples[-1]
    names = [n for n, _ in sorted(last.types.items(), key=lambda kv: -kv[1][1])][:top]
    size_series = [(n, monitor.series(n, "size")) for n in names]
    count_series = [(n, monitor.series(n, "count")) for n in names]
    total_series = [("all objects", [(s.t, s.total_size) for s in monitor.samples])]
    rows = []
    for r in growth.changed().rows[:40]:
        rows.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
            html.escape(r.type_name), "{:,}".format(r.count), "{:+,}".format(r.count_diff),
            html.escape(human_size(r.size)), html.escape(human_size(r.size_diff, signed=True))))
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
{style}</head><body>
<h1>{title}</h1>
<p class="meta">{n} samples over {span:.1f} s, every {interval:g} s &middot; model {model}
&middot; CPython {py} &middot; written {when}</p>
<p>At the end: {objs} objects, {size}; change since the first sample:
{dobjs} objects, {dsize}.</p>
<h2>Largest types, bytes over time</h2>
{chart}
<h2>Largest types, objects over time</h2>
{chart2}
<h2>All objects, bytes over time</h2>
{chart3}
<h2>Growth from first to last sample</h2>
<table><thead><tr><th>type</th><th>objects</th><th>+/-</th><th>size</th><th>+/- size</th></tr>
</thead><tbody>
{rows}
</tbody></table>
{lifetimes}
</body></html>
""".format(
        title=html.escape(title), style=_STYLE,
        lifetimes=lifetime_section(tracker, top) if tracker is not None else "", n=len(monitor.samples), span=last.t,
        interval=monitor.interval, model=html.escape(monitor.model),
        py=html.escape(sys.version.split()[0]),
        when=html.escape(time.strftime("%Y-%m-%d %H:%M:%S")),
        objs="{:,}".format(last.total_count), size=html.escape(human_size(last.total_size)),
        dobjs="{:+,}".format(growth.count_diff),
        dsize=html.escape(human_size(growth.size_diff, signed=True)),
        chart=svg_chart(size_series, ylabel="size"),
        chart2=svg_chart(count_series, ylabel="objects"),
        chart3=svg_chart(total_series, ylabel="size"),
        rows="\n".join(rows) or '<tr><td colspan="5">no change</td></tr>')
