"""Formatting helpers: human-readable sizes, safe and clipped reprs, tables."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(n: int, signed: bool = False) -> str:
    """Format a byte count for people: ``human_size(1536) == '1.5 KiB'``.

    With ``signed=True`` positive values get a leading ``+`` (for diffs).
    """
    sign = "-" if n < 0 else ("+" if signed and n > 0 else "")
    v = float(abs(n))
    for unit in _UNITS:
        if v < 1024.0 or unit == _UNITS[-1]:
            if unit == "B":
                return "%s%d B" % (sign, int(v))
            return "%s%.1f %s" % (sign, v, unit)
        v /= 1024.0
    raise AssertionError("unreachable")


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


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> str:
    """A plain-text table with aligned columns. ``align`` gives one of
    ``<`` or ``>`` per column (numbers right-aligned by default)."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    if not align:
        align = "<" + ">" * (len(headers) - 1)
    def line(cells):
        return "  ".join(
            c.ljust(widths[i]) if align[i] == "<" else c.rjust(widths[i])
            for i, c in enumerate(cells)).rstrip()
    out = [line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in rows)
    return "\n".join(out)
