"""Formatting helpers: human-readable sizes, safe and clipped reprs, tables."""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, List, Sequence, Tuple

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(n: int, signed: bool = False) -> str:
    """Format a byte count for people: ``human_size(1536) == '1.5 KiB'``.

    With ``signed=True`` positive values get a leading ``+`` (for diffs).
    ``n`` is an int (or any finite real number); anything else raises
    TypeError.
    """
    _check_number("human_size", n)
    sign = "-" if n < 0 else ("+" if signed and n > 0 else "")
    v = float(abs(n))
    for unit in _UNITS:
        if v < 1024.0 or unit == _UNITS[-1]:
            if unit == "B":
                return "%s%d B" % (sign, int(v))
            return "%s%.1f %s" % (sign, v, unit)
        v /= 1024.0
    raise AssertionError("unreachable")


def human_time(ns: int) -> str:
    """A duration in ns as text: 850 ns, 12.5 us, 3.2 ms, 1.5 s."""
    if ns < 1000:
        return "%d ns" % ns
    for unit, div in (("us", 1e3), ("ms", 1e6), ("s", 1e9)):
        v = ns / div
        if v < 1000 or unit == "s":
            return "%.3g %s" % (v, unit)
    return "%d ns" % ns


def human_count(n: int, signed: bool = False) -> str:
    """An object count for people, with thousands separators: ``12,345``;
    with ``signed=True`` a change, always with its sign: ``+12,345``."""
    return ("{:+,}" if signed else "{:,}").format(n)


def lifetime_times(row: Any) -> Tuple[str, str, str]:
    """A lifetimes row's p50, p90 and longest lifetime as text (the columns
    'life p50', 'life p90', 'life max'); '-' each when none of its objects
    died."""
    if not row.died:
        return ("-", "-", "-")
    return (human_time(row.lifetime_p50_ns), human_time(row.lifetime_p90_ns),
            human_time(row.lifetime_max_ns))


def _check_number(fname: str, n: Any) -> None:
    # numbers.Real takes numpy's ints and floats too; a str such as '12'
    # gave a bare "'<' not supported" before.
    if isinstance(n, bool) or not isinstance(n, numbers.Real):
        raise TypeError("%s() needs a number of bytes (int), not %s %r"
                        % (fname, type(n).__name__, n))
    if not math.isfinite(n):
        raise ValueError("%s() needs a finite number of bytes, not %r" % (fname, n))


def nice_ticks(lo: float, hi: float, bytes_: bool = False, most: int = 6
               ) -> List[float]:
    """Axis ticks covering [lo, hi] at a step of 1, 2 or 5 times a power
    of ten, at most ``most`` intervals. With ``bytes_`` the powers are of
    the unit the values are shown in (B, KiB, MiB...: 1024**k times 1, 2, 5,
    10, 20, 50, 100, 200, 500), so labels read 2 MiB, 4 MiB, not 2.4 MiB."""
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        hi = lo + 1
    span = hi - lo
    unit = 1.0
    if bytes_:
        while unit * 1024 <= max(abs(lo), abs(hi)) and unit < 1024.0 ** 5:
            unit *= 1024
    raw = span / unit / most
    mag = 10.0 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    if bytes_ and unit > 1 and mag < 0.1:
        mag = 0.1          # 0.1 MiB steps at finest; finer reads as KiB
    step = mag
    for m in (1, 2, 5, 10):
        step = m * mag
        if span / unit / step <= most:
            break
    step *= unit
    if bytes_ and unit == 1 and step < 1:
        step = 1.0
    first = math.floor(lo / step) * step
    last = math.ceil(hi / step) * step
    n = int(round((last - first) / step))
    return [first + i * step for i in range(n + 1)]


def tick_labels(ticks: Sequence[float], bytes_: bool = False) -> List[str]:
    """Labels for ``nice_ticks``: one unit for the whole axis (the largest
    tick's, for bytes), with as few decimals as the step needs."""
    if not ticks:
        return []
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    unit_i = 0
    if bytes_:
        top = max(abs(t) for t in ticks)
        while unit_i + 1 < len(_UNITS) and top >= 1024 ** (unit_i + 1):
            unit_i += 1
    div = 1024 ** unit_i
    s = step / div
    decimals = 0 if s >= 1 - 1e-9 else min(6, int(math.ceil(-math.log10(s) - 1e-9)))
    out = []
    for t in ticks:
        text = "{:,.{}f}".format(t / div, decimals)
        if text.startswith("-") and float(text.replace(",", "")) == 0:
            text = text[1:]
        out.append("%s %s" % (text, _UNITS[unit_i]) if bytes_ else text)
    return out


def safe_repr(obj: Any, clip: int = 80) -> str:
    """``repr(obj)`` that never raises, clipped to about ``clip`` characters
    the way pympler clips (head, ``....``, tail)."""
    try:
        r = repr(obj)
    except Exception as exc:  # a broken __repr__ must not break a report
        r = "<%s object at %#x (repr failed: %s)>" % (
            type(obj).__name__, id(obj), type(exc).__name__)
    return clip_text(r, clip)


def clip_text(r: str, clip: int) -> str:
    if clip and clip > 5:
        h = clip // 2 - 2
        if h > 0 and len(r) > clip:
            r = r[:h] + "...." + r[-h:]
    return r


def column_align(headers: Sequence[str], align: str = "") -> str:
    """``align`` checked: one ``<`` (left) or ``>`` (right) per header; ""
    gives the default, the first column left and the others right. Any
    other letter would silently right-align its column: ValueError."""
    if not align:
        return "<" + ">" * (len(headers) - 1)
    if len(align) != len(headers) or set(align) - {"<", ">"}:
        raise ValueError("align must give '<' or '>' for each of the %d columns, not %r"
                         % (len(headers), align))
    return align


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """A plain-text table with aligned columns. ``align`` gives one of
    ``<`` or ``>`` per column (numbers right-aligned by default)."""
    align = column_align(headers, align)
    rows = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    def line(cells):
        return "  ".join(
            c.ljust(widths[i]) if align[i] == "<" else c.rjust(widths[i])
            for i, c in enumerate(cells)).rstrip()
    out = [line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in rows)
    return "\n".join(out)
