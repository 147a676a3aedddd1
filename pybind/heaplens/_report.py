"""The self-contained HTML reports: a Monitor's (SVG charts of the largest
types over time and the growth table, with a tracker's lifetime section when
one is given) and a Tracker's (lifetime section alone). No scripts, no
network."""

from __future__ import annotations

import html
import math
import sys
import time
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from heaplens._format import human_count, human_size, lifetime_times, nice_ticks, tick_labels

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22")
# Lines are told apart by colour, by marker shape and (after the first ten)
# by dash pattern, and each is named at its end, so neither colour vision
# nor a legend lookup is needed.
_MARKERS = ("circle", "square", "triangle", "diamond", "down", "plus", "cross", "star")
_DASHES = ("", "6,3", "2,2", "8,3,2,3")
_MAX_MARKERS = 16      # visible markers per line
_MAX_HOVER = 240       # hover points per line

_CHART_STYLE = """<style>
.heaplens-chart .hl-pt .hl-tip { visibility: hidden; pointer-events: none; }
.heaplens-chart .hl-pt:hover .hl-tip { visibility: visible; }
.heaplens-chart .hl-pt:hover .hl-hit { stroke: #333; stroke-width: 1; fill-opacity: 0.15; }
.heaplens-chart .hl-hit { fill: #000; fill-opacity: 0; }
</style>"""


def _marker(shape: str, x: float, y: float, color: str, r: float = 4.0) -> str:
    """An SVG marker of ``shape`` centred on (x, y)."""
    if shape == "circle":
        return '<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s"/>' % (x, y, r, color)
    if shape == "square":
        return ('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>'
                % (x - r, y - r, 2 * r, 2 * r, color))
    if shape in ("plus", "cross"):
        if shape == "plus":
            d = "M%.1f,%.1fH%.1fM%.1f,%.1fV%.1f" % (x - r, y, x + r, x, y - r, y + r)
        else:
            d = "M%.1f,%.1fL%.1f,%.1fM%.1f,%.1fL%.1f,%.1f" % (
                x - r, y - r, x + r, y + r, x - r, y + r, x + r, y - r)
        return '<path d="%s" stroke="%s" stroke-width="2.2" fill="none"/>' % (d, color)
    if shape == "star":
        pts = []
        for i in range(10):
            rr = r * 1.3 if i % 2 == 0 else r * 0.55
            a = math.pi / 2 + i * math.pi / 5
            pts.append("%.1f,%.1f" % (x + rr * math.cos(a), y - rr * math.sin(a)))
        return '<polygon points="%s" fill="%s"/>' % (" ".join(pts), color)
    if shape == "triangle":
        pts3 = ((x, y - r * 1.2), (x - r * 1.1, y + r * 0.8), (x + r * 1.1, y + r * 0.8))
    elif shape == "down":
        pts3 = ((x, y + r * 1.2), (x - r * 1.1, y - r * 0.8), (x + r * 1.1, y - r * 0.8))
    else:  # diamond
        pts3 = ((x, y - r * 1.3), (x + r, y), (x, y + r * 1.3), (x - r, y))
    return '<polygon points="%s" fill="%s"/>' % (
        " ".join("%.1f,%.1f" % p for p in pts3), color)


def line_style(k: int) -> Tuple[str, str, str]:
    """(colour, marker shape, dash pattern) of the k-th line: no two of the
    first 40 lines share all three."""
    return (_COLORS[k % len(_COLORS)], _MARKERS[k % len(_MARKERS)],
            _DASHES[(k // len(_COLORS)) % len(_DASHES)])


def _every(n: int, most: int) -> List[int]:
    """Indices of at most ``most`` of ``n`` points, evenly spread, always
    with the first and the last."""
    if n <= most:
        return list(range(n))
    return sorted({int(round(i * (n - 1) / (most - 1))) for i in range(most)})


def _spread(ys: List[float], gap: float, lo: float, hi: float) -> List[float]:
    """Label positions moved apart to at least ``gap``, within [lo, hi]
    where they fit, in their order."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    out = list(ys)
    nxt = hi + gap
    for i in reversed(order):
        out[i] = min(out[i], nxt - gap)
        nxt = out[i]
    prev = lo - gap
    for i in order:
        out[i] = max(out[i], prev + gap)
        prev = out[i]
    return out


def _value_text(v: float, ylabel: str) -> str:
    if ylabel == "size":
        v = int(v)
        return human_size(v) if abs(v) < 1024 else "%s (%s B)" % (human_size(v),
                                                                  human_count(v))
    return human_count(int(v))


def svg_chart(series: Sequence[Tuple[str, Sequence[Tuple[float, int]]]], width: int = 860,
              height: int = 360, ylabel: str = "size") -> str:
    """An SVG line chart: one line per (label, [(t, value), ...]).

    Axes have ticks at 1, 2 or 5 times a power of ten (of the byte unit
    shown, for sizes) over a range fitted to the data; each line has its own
    colour, marker shape (and dash pattern past ten lines) and its name at
    its last value; hovering a point shows the series, time and value (a
    CSS hover and an SVG ``<title>`` tooltip: no script)."""
    left, right, top, bottom = 80, 250, 20, 40
    pw, ph = width - left - right, height - top - bottom
    is_size = ylabel == "size"
    values = [v for _, pts in series for _, v in pts]
    vmin, vmax = (min(values), max(values)) if values else (0, 0)
    # From zero, unless that would squash every line into the top half.
    lo = 0 if vmin >= 0 and (vmax <= 0 or vmin <= vmax * 0.5) else vmin
    yticks = nice_ticks(lo, max(vmax, lo + 1), bytes_=is_size)
    y0, y1 = yticks[0], yticks[-1]
    tmax = max((t for _, pts in series for t, _ in pts), default=0.0)
    xticks = nice_ticks(0.0, tmax if tmax > 0 else 1.0)
    x1 = xticks[-1] or 1.0

    def X(t: float) -> float:
        return left + pw * t / x1

    def Y(v: float) -> float:
        return top + ph - ph * (v - y0) / ((y1 - y0) or 1)

    out: List[str] = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="heaplens-chart" width="%d" '
        'height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s over time">'
        % (width, height, width, height, html.escape(ylabel)),
        _CHART_STYLE,
        '<rect x="%d" y="%d" width="%d" height="%d" fill="#fff" stroke="#999"/>'
        % (left, top, pw, ph),
    ]
    for v, label in zip(yticks, tick_labels(yticks, bytes_=is_size)):
        y = Y(v)
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>'
                   % (left, left + pw, y, y))
        out.append('<text class="hl-ytick" x="%d" y="%.1f" font-size="11" text-anchor="end" '
                   'font-family="sans-serif">%s</text>' % (left - 6, y + 4, html.escape(label)))
    for t, label in zip(xticks, tick_labels(xticks)):
        x = X(t)
        out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#999"/>'
                   % (x, x, top + ph, top + ph + 4))
        out.append('<text class="hl-xtick" x="%.1f" y="%d" font-size="11" '
                   'text-anchor="middle" font-family="sans-serif">%s s</text>'
                   % (x, top + ph + 16, label))
    out.append('<text x="%d" y="%d" font-size="12" text-anchor="middle" '
               'font-family="sans-serif">time since start</text>'
               % (left + pw // 2, height - 6))
    ends: List[float] = []
    tips: List[str] = []
    for k, (label, pts) in enumerate(series):
        color, shape, dash = line_style(k)
        out.append('<g class="hl-series" data-series="%s" data-marker="%s">'
                   % (html.escape(label), shape))
        if len(pts) > 1:
            out.append('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>'
                       % (color, ' stroke-dasharray="%s"' % dash if dash else "",
                          " ".join("%.1f,%.1f" % (X(t), Y(v)) for t, v in pts)))
        for i in _every(len(pts), _MAX_MARKERS):
            t, v = pts[i]
            out.append(_marker(shape, X(t), Y(v), color))
        out.append("</g>")
        for i in _every(len(pts), _MAX_HOVER):
            t, v = pts[i]
            x, y = X(t), Y(v)
            text = "%s: %s at %.1f s" % (label, _value_text(v, ylabel), t)
            tw = 7 * len(text) + 10
            tx = min(max(x - tw / 2, 2), width - tw - 2)
            ty = y - 30 if y - 30 > 2 else y + 10
            tips.append(
                '<g class="hl-pt"><title>%s</title>'
                '<circle class="hl-hit" cx="%.1f" cy="%.1f" r="7"/>'
                '<g class="hl-tip"><rect x="%.1f" y="%.1f" width="%d" height="20" rx="3" '
                'fill="#ffffe8" stroke="%s"/><text x="%.1f" y="%.1f" font-size="12" '
                'font-family="sans-serif">%s</text></g></g>'
                % (html.escape(text), x, y, tx, ty, tw, color, tx + 5, ty + 14,
                   html.escape(text)))
        ends.append(Y(pts[-1][1]) if pts else top + ph)
    # Each line's name beside its last value (moved apart where names would
    # overlap), drawn with the line's colour, dash and marker: the labels
    # are the legend.
    label_y = _spread(ends, 16.0, top + 6, top + ph + bottom - 8)
    for k, (label, pts) in enumerate(series):
        color, shape, dash = line_style(k)
        ly = label_y[k]
        lx = left + pw + 10
        out.append('<g class="hl-legend" data-series="%s" data-marker="%s">'
                   % (html.escape(label), shape))
        if pts and abs(ly - ends[k]) > 1:
            out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" '
                       'stroke-width="0.7"/>' % (left + pw, ends[k], lx, ly, color))
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="2"%s/>'
                   % (lx, ly, lx + 22, ly, color,
                      ' stroke-dasharray="%s"' % dash if dash else ""))
        out.append(_marker(shape, lx + 11, ly, color))
        out.append('<text x="%d" y="%.1f" font-size="12" font-family="sans-serif" '
                   'fill="%s">%s</text>' % (lx + 28, ly + 4, color, html.escape(label[:32])))
        out.append("</g>")
    out.extend(tips)  # last, so that a tip is drawn above every line
    out.append("</svg>")
    return "\n".join(out)


_STYLE = """<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
td, th { padding: 2px 10px; border-bottom: 1px solid #ddd; }
td:not(:first-child) { text-align: right; }
.meta { color: #666; }
</style>"""


def lifetime_section(view: Mapping[str, Any], limit: int = 40) -> str:
    """The HTML of a Tracker's lifetimes: a chart of when the objects still
    alive were born (per type, cumulative) and the per-type table. ``view``
    holds plain values (what heaplens._lifetimes.lifetime_view() gathers):
    backend, frames, records, types, memory, lost; ``rows``, the per-type
    records (type_name, born, died, alive, alive_size, lifetime_p50_ns,
    lifetime_p90_ns, lifetime_max_ns), heaplens' own types left out; and
    ``series``, (type name, [(seconds, objects)]) per type to chart."""
    rows = []
    for r in view["rows"][:limit]:
        rows.append("<tr>" + "".join("<td>%s</td>" % html.escape(str(c)) for c in (
            r.type_name, human_count(r.born), human_count(r.died), human_count(r.alive),
            human_size(r.alive_size),
            *lifetime_times(r))) + "</tr>")
    series = view["series"]
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
""".format(backend=html.escape(str(view["backend"])), frames=view["frames"],
           alive=human_count(view["records"]), types=human_count(view["types"]),
           mem=html.escape(human_size(view["memory"])),
           lost=" &middot; <strong>EVENTS LOST</strong>" if view["lost"] else "",
           chart=chart,
           rows="\n".join(rows) or '<tr><td colspan="8">nothing tracked</td></tr>')


def render_tracker_html(view: Mapping[str, Any], title: str = "heaplens lifetimes") -> str:
    """The report of a Tracker (running or stopped), from its
    lifetime_section() ``view``."""
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
{style}</head><body>
<h1>{title}</h1>
<p class="meta">CPython {py} &middot; written {when}</p>
{section}
</body></html>
""".format(title=html.escape(title), style=_STYLE, py=html.escape(sys.version.split()[0]),
           when=html.escape(time.strftime("%Y-%m-%d %H:%M:%S")),
           section=lifetime_section(view))


def sites_section(sites: Sequence[Tuple[str, str, int, int]]) -> str:
    """The HTML table of allocation sites: (type, site, objects, bytes)."""
    if not sites:
        return ""
    rows = "\n".join("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
        html.escape(t), html.escape(s), human_count(c), html.escape(human_size(n)))
        for t, s, c, n in sites)
    return """<h2>Where the objects that grew were allocated</h2>
<p class="meta">Tracked objects still alive at the last sample, innermost frame first.</p>
<table class="heaplens-sites"><thead><tr><th>type</th><th>allocated at</th><th>objects</th>
<th>size</th></tr></thead><tbody>
%s
</tbody></table>
""" % rows


def render_html(view: Mapping[str, Any], title: str = "heaplens report",
                lifetimes: Optional[Mapping[str, Any]] = None,
                sites: Sequence[Tuple[str, str, int, int]] = ()) -> str:
    """The report of a Monitor from plain values (what
    heaplens._snapshot.Monitor gathers in ``view``): samples (how many),
    span (seconds), interval, model, total_count, total_size, count_diff,
    size_diff (first to last sample); size_series, count_series and
    total_series, (name, [(seconds, value)]) per line; rows, the changed
    types (type_name, count, count_diff, size, size_diff). ``lifetimes``
    adds a tracker's lifetime_section(); ``sites`` a table of allocation
    sites."""
    rows = []
    for r in view["rows"][:40]:
        rows.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
            html.escape(r.type_name), human_count(r.count), human_count(r.count_diff, signed=True),
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
{sites}{lifetimes}
</body></html>
""".format(
        title=html.escape(title), style=_STYLE, sites=sites_section(sites),
        lifetimes=lifetime_section(lifetimes) if lifetimes is not None else "",
        n=view["samples"], span=view["span"],
        interval=view["interval"], model=html.escape(view["model"]),
        py=html.escape(sys.version.split()[0]),
        when=html.escape(time.strftime("%Y-%m-%d %H:%M:%S")),
        objs=human_count(view["total_count"]), size=html.escape(human_size(view["total_size"])),
        dobjs=human_count(view["count_diff"], signed=True),
        dsize=html.escape(human_size(view["size_diff"], signed=True)),
        chart=svg_chart(view["size_series"], ylabel="size"),
        chart2=svg_chart(view["count_series"], ylabel="objects"),
        chart3=svg_chart(view["total_series"], ylabel="size"),
        rows="\n".join(rows) or '<tr><td colspan="5">no change</td></tr>')
