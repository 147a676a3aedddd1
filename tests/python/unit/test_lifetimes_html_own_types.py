"""The lifetimes HTML (Tracker.report_html, Monitor.report_html's section
and a notebook's _repr_html_) leaves heaplens' own classes out of its type
table and chart: what heaplens made to measure never appears in its own
reports (issue 10, item 2), even after heavy use of heaplens while the
tracker runs."""

import re

import pytest

import heaplens


class Widget:
    pass


def _heavy_use(keep):
    """Make user objects, and use heaplens in many ways while tracking."""
    keep.extend(Widget() for _ in range(300))
    snap = heaplens.snapshot()
    snap2 = heaplens.snapshot()
    keep.append(snap2.diff(snap))
    keep.append(heaplens.snapshot(by="site"))
    keep.append(heaplens.asized(keep[:10], detail=1))
    keep.append(heaplens.why_alive(keep[0]))
    keep.append(heaplens.check_leaks(lambda: None))
    mon = heaplens.Monitor(interval=10)
    mon.sample()
    keep.append(mon)


def _type_cells(text):
    """The first cell of each row of the per-type table(s)."""
    return re.findall(r"<tr><td>([^<]*)</td>", text)


def _tracked():
    if heaplens.capabilities().get("track") is False:
        pytest.skip("no tracker on this interpreter (generic mode)")
    keep = []
    t = heaplens.track()
    t.start()
    try:
        _heavy_use(keep)
    finally:
        t.stop()
    return t, keep


def test_report_html_leaves_heaplens_types_out(tmp_path):
    t, keep = _tracked()
    # heaplens' own objects were tracked: the table would show them.
    own = [r.type_name for r in t.stats() if r.type_name.startswith("heaplens.")]
    assert own, [r.type_name for r in t.stats()]
    path = tmp_path / "lifetimes.html"
    t.report_html(str(path), top=40)
    text = path.read_text()
    cells = _type_cells(text)
    assert "test_lifetimes_html_own_types.Widget" in cells, cells
    assert not [c for c in cells if c.startswith("heaplens")], cells
    assert "heaplens._" not in text and "heaplens.Tracker" not in text, own
    # the notebook view of the same tracker
    nb = t._repr_html_()
    assert "test_lifetimes_html_own_types.Widget" in nb
    assert not [n for n in own if n in nb], (own, nb)
    t.clear()
    del keep


def test_monitor_report_lifetime_section_leaves_heaplens_types_out(tmp_path):
    t, keep = _tracked()
    mon = heaplens.Monitor(interval=10)
    mon.sample()
    keep.append(Widget())
    mon.sample()
    path = tmp_path / "monitor.html"
    mon.report_html(str(path), tracker=t)
    text = path.read_text()
    section = text[text.index("Object lifetimes"):]
    cells = _type_cells(section)
    assert "test_lifetimes_html_own_types.Widget" in cells, cells
    assert not [c for c in cells if c.startswith("heaplens")], cells
    t.clear()
    del keep
