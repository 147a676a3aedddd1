"""Leak checks: the corpus in tests/leaks, the API, and referrer chains."""

import gc
import os
import sys
import unittest

import pytest

import heaplens
import heaplens.unittest
from heaplens import LeakError

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from leaks import clean_cases, leaky_cases  # noqa: E402


@pytest.mark.parametrize("name", sorted(clean_cases.CASES))
def test_clean_case_passes(name):
    report = heaplens.check_leaks(clean_cases.CASES[name])
    assert not report.leaked, report.format()


@pytest.mark.parametrize("name", sorted(leaky_cases.CASES))
def test_leaky_case_is_caught(name):
    report = heaplens.check_leaks(leaky_cases.CASES[name])
    assert report.leaked, name
    text = report.format()
    holder = leaky_cases.HOLDERS[name]
    assert any(holder in g.chain for g in report.groups), text
    assert all(len(g.growth) == 3 and min(g.growth) > 0 for g in report.groups)
    for g in report.groups:
        if g.count:
            assert g.shallow > 0 and g.deep >= g.shallow and 1 <= len(g.reprs) <= 3
            assert all(len(r) <= 80 for r in g.reprs)


def test_report_shape_and_chain_text():
    report = heaplens.check_leaks(leaky_cases.case_global_list_grows, warmups=1, runs=2)
    g = next(g for g in report.groups if g.type_name.endswith("_Payload"))
    assert g.growth == (1, 1) and g.count == 1
    assert g.chain.startswith("module leaks.leaky_cases -> dict['_items'] -> list[")
    assert g.chain.endswith("-> <_Payload>")
    assert g.chain_kind == "module"
    text = str(report)
    assert "grew in each of 2 runs (after 1 warm-ups)" in text
    assert "held by: module leaks.leaky_cases" in text


def test_allocation_site_where_tracemalloc_can_tell():
    report = heaplens.check_leaks(leaky_cases.case_closure_in_registry)
    fn = next(g for g in report.groups if g.type_name == "function")
    assert fn.site.endswith("leaky_cases.py:%d" % (
        leaky_cases.case_closure_in_registry.__code__.co_firstlineno + 3))
    assert fn.traceback and fn.traceback[-1] == fn.site


def test_decorator_and_errors():
    @heaplens.no_leaks(warmups=1, runs=2)
    def leaky():
        leaky_cases.case_global_list_grows()
        return "value"

    with pytest.raises(LeakError) as e:
        leaky()
    assert e.value.report.leaked and "_items" in str(e.value)

    @heaplens.no_leaks()
    def clean(x):
        return [x] * 3

    assert clean(7) == [7, 7, 7]
    with pytest.raises(TypeError):
        heaplens.no_leaks(lambda: None)
    with pytest.raises(ValueError):
        heaplens.check_leaks(clean, 1, runs=0)
    with pytest.raises(ValueError):
        heaplens.check_leaks(clean, 1, warmups=-1)
    with pytest.raises(TypeError):
        heaplens.check_leaks("not callable")
    with pytest.raises(TypeError):
        heaplens.check_leaks(clean, 1, ignore_types=[3])


def test_context_manager():
    with heaplens.no_leaks():
        tmp = [object() for _ in range(100)]
        del tmp
    with pytest.raises(LeakError) as e:
        with heaplens.no_leaks():
            leaky_cases.case_dict_entry_keyed_by_fresh_id()
    assert "_by_id" in str(e.value)
    with pytest.raises(KeyError):  # the block's own error passes through
        with heaplens.no_leaks():
            raise KeyError("x")


def test_gc_callbacks_do_not_leak_into_the_with_block():
    """A gc callback that stores a new object at each collection (as
    Hypothesis' gc timing does) runs during the check's own collections:
    what it stores there is not the block's."""
    stored = []

    def callback(phase, info):
        if phase == "stop":
            stored.append(float(len(stored)) + 0.5)   # a new object each time

    gc.callbacks.append(callback)
    try:
        with heaplens.no_leaks():
            tmp = [object() for _ in range(10)]
            del tmp
        # The callback is back in place, and runs again.
        n = len(stored)
        gc.collect()
        assert len(stored) == n + 1
    finally:
        gc.callbacks.remove(callback)


def test_ignore_options():
    report = heaplens.check_leaks(leaky_cases.case_global_list_grows,
                                  ignore_types=["leaks.leaky_cases._Payload"])
    assert not report.leaked
    report = heaplens.check_leaks(leaky_cases.case_global_list_grows,
                                  ignore=lambda o: isinstance(o, leaky_cases._Payload))
    assert not report.leaked


def test_cache_clearer():
    cache = {}

    def fill():
        cache[len(cache)] = object()

    assert heaplens.check_leaks(fill).leaked
    heaplens.add_cache_clearer(cache.clear)
    try:
        assert not heaplens.check_leaks(fill).leaked
    finally:
        heaplens._leaks._clearers.remove(cache.clear)
    with pytest.raises(TypeError):
        heaplens.add_cache_clearer(3)


class _Holder:
    pass


HELD = _Holder()
HELD.items = [{"k": _Holder()}]


def test_why_alive_and_referrers():
    target = HELD.items[0]["k"]
    chain = heaplens.why_alive(target)
    assert chain.kind == "module"
    assert str(chain) == ("module test_leaks -> dict['HELD'] -> _Holder.items -> list[0] "
                          "-> dict['k'] -> <_Holder>") or str(chain).endswith(
        "-> list[0] -> dict['k'] -> <_Holder>")
    refs = heaplens.referrers(target)
    assert HELD.items[0] in refs
    assert heaplens.referrer_chain is heaplens.why_alive


def test_chain_through_class_and_external():
    class Registry:
        entries = []
    marker = object()
    Registry.entries.append(marker)
    chain = heaplens.why_alive(marker)
    # The local variable holds it too, but a class is a better root.
    assert chain.kind == "class" and "Registry" in str(chain)
    assert str(chain).endswith("dict['entries'] -> list[0] -> <object>")


def test_graph_dot_and_render(tmp_path):
    target = HELD.items[0]["k"]
    dot = heaplens.graph(target, depth=3)
    assert dot.startswith("digraph heaplens {") and dot.rstrip().endswith("}")
    assert "_Holder" in dot and "->" in dot and "deep" in dot
    fwd = heaplens.graph(HELD.items, direction="forward", depth=2)
    assert "dict" in fwd
    with pytest.raises(ValueError):
        heaplens.graph(target, direction="sideways")
    import shutil
    if shutil.which("dot") is None:
        with pytest.raises(RuntimeError, match="graphviz"):
            heaplens.graph(target, output=str(tmp_path / "g.svg"))
    else:
        heaplens.graph(target, output=str(tmp_path / "g.svg"))
        assert (tmp_path / "g.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
        heaplens.graph(target, output=str(tmp_path / "g.png"))
        assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class MixinTest(heaplens.unittest.LeakCheckMixin, unittest.TestCase):
    def test_clean(self):
        self.assertNoLeaks(lambda: [1, 2, 3])

    def test_leaky(self):
        with self.assertRaises(AssertionError) as cm:
            self.assertNoLeaks(leaky_cases.case_global_list_grows)
        self.assertIn("_items", str(cm.exception))
