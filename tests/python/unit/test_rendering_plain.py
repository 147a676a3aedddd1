"""The HTML rendering functions take plain rows, series and strings (not the
Monitor, Tracker or LeakReport they come from): the analysis layer gathers
the values, the rendering layer only lays them out."""
import inspect
from collections import namedtuple

import pytest

from heaplens import _html, _report
from heaplens._format import table

LifeRow = namedtuple("LifeRow", "type_name born died alive alive_size lifetime_p50_ns "
                     "lifetime_p90_ns lifetime_max_ns")
GrowthRow = namedtuple("GrowthRow", "type_name count count_diff size size_diff")
Group = namedtuple("Group", "type_name growth count shallow deep site reprs chain")

ROWS = [LifeRow("Widget", 1200, 200, 1000, 56000, 2000, 5000, 9000),
        LifeRow("Gadget", 7, 0, 7, 392, 0, 0, 0)]
LIFETIMES = {"backend": "pymem", "frames": 3, "records": 1007, "types": 2, "memory": 81920,
             "lost": False, "rows": ROWS,
             "series": [("Widget", [(0.0, 0), (0.5, 400), (1.0, 1000)])]}


def test_lifetime_section_lays_out_plain_rows_and_series():
    out = _report.lifetime_section(LIFETIMES)
    assert "<td>Widget</td><td>1,200</td><td>200</td><td>1,000</td>" in out
    assert "<td>Gadget</td><td>7</td><td>0</td><td>7</td>" in out
    assert "backend pymem, 3 frame(s)" in out and "1,007 objects alive" in out
    assert "<svg" in out and "Widget" in out
    assert "EVENTS LOST" in _report.lifetime_section(dict(LIFETIMES, lost=True))
    empty = _report.lifetime_section(dict(LIFETIMES, rows=[], series=[]))
    assert "No tracked object is alive." in empty and "nothing tracked" in empty


def test_render_tracker_html_wraps_the_section():
    out = _report.render_tracker_html(LIFETIMES, "mine <&>")
    assert out.startswith("<!DOCTYPE html>") and "<title>mine &lt;&amp;&gt;</title>" in out
    assert "<td>Widget</td><td>1,200</td>" in out


def test_render_html_lays_out_plain_values():
    view = {"samples": 3, "span": 2.0, "interval": 1.0, "model": "getsizeof",
            "total_count": 5000, "total_size": 400000, "count_diff": 1000,
            "size_diff": 56000,
            "size_series": [("Widget", [(0.0, 0), (1.0, 28000), (2.0, 56000)])],
            "count_series": [("Widget", [(0.0, 0), (1.0, 500), (2.0, 1000)])],
            "total_series": [("all objects", [(0.0, 344000), (2.0, 400000)])],
            "rows": [GrowthRow("Widget", 1000, 1000, 56000, 56000)]}
    out = _report.render_html(view, "r", LIFETIMES, [("Widget", "app.py:12", 1000, 56000)])
    assert "3 samples over 2.0 s, every 1 s &middot; model getsizeof" in out
    assert "<td>Widget</td><td>1,000</td><td>+1,000</td>" in out
    assert "<td>app.py:12</td>" in out and "Object lifetimes" in out
    assert "Object lifetimes" not in _report.render_html(view, "r")
    assert "no change" in _report.render_html(dict(view, rows=[]), "r")


def test_tracker_html_lays_out_plain_rows():
    out = _html.tracker_html(ROWS, {"records": 1007, "backend": "pymem", "lost": True}, False)
    assert "heaplens Tracker (stopped): 1,007 objects alive in 2 types; backend pymem; " \
           "EVENTS LOST" in out
    assert ">Widget</td>" in out and ">1,200</td>" in out
    one = _html.tracker_html(ROWS, {"records": 1007, "backend": "pymem", "lost": False},
                             True, limit=1)
    assert "(running)" in one and "(1 more types)" in one and ">Gadget<" not in one
    state = _html.tracker_state_html("<Tracker>", "never started")
    assert state == '<div class="heaplens heaplens-tracker">&lt;Tracker&gt;: never started</div>'


def test_leak_report_html_lays_out_plain_groups():
    g = Group("Widget", (3, 3, 3), 9, 504, 1008, "app.py:7", ("<Widget 1>",), "cache -> Widget")
    out = _html.leak_report_html("leaked: 1 group", [g])
    assert ">leaked: 1 group</caption>" in out
    assert ">+3/3/3</td>" in out and ">app.py:7</td>" in out and ">cache -&gt; Widget</td>" in out
    assert _html.leak_report_html("no leaks in f", []) == \
        '<div class="heaplens heaplens-leaks">no leaks in f</div>'


def test_tables_refuse_an_align_string_they_cannot_follow():
    # Tracker.format once passed "lrrrrrrr": every letter that is not '<'
    # right-aligned its column, the type names included, without a word.
    assert table(("type", "n"), [("a", 1)], align="<>").splitlines()[2] == "a     1"
    assert table(("type", "n"), [("a", 1)], align=">>").splitlines()[2] == "   a  1"
    for bad in ("lr", "<", "<>>", "<^"):
        with pytest.raises(ValueError, match="align"):
            table(("type", "n"), [("a", 1)], align=bad)
        with pytest.raises(ValueError, match="align"):
            _html.table_html(("type", "n"), [("a", 1)], "c", align=bad)


@pytest.mark.parametrize("module", [_html, _report], ids=lambda m: m.__name__)
def test_no_rendering_function_takes_an_analysis_object(module):
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if fn.__module__ != module.__name__:
            continue
        params = set(inspect.signature(fn).parameters)
        assert not params & {"monitor", "tracker", "report"}, (name, params)
