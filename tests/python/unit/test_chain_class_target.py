"""A class or module asked about is not its own root: its chain names what
holds it. (Found on toolz 1.0.0's suite on 3.11.7: a test leaks a class
made in each run into ``toolz._signatures.signatures``, a registry keyed
by class, and the leak report's "held by" for the leaked type read
``<type>``, a chain that names no holder.)"""

import sys
import types

import pytest

import heaplens

pytestmark = pytest.mark.skipif(not heaplens.capabilities().get("graph"),
                                reason="referrer chains need the heap index (capability 'graph')")

registry = {}
holders = []


def _make_class():
    class Made:
        pass
    return Made


def test_class_held_as_a_dict_key():
    cls = _make_class()
    registry[cls] = (0,)
    try:
        chain = heaplens.referrer_chain(cls)
        # Held by this test's frame too; the module's registry is preferred.
        assert chain.kind == "module", repr(chain)
        assert chain.objects[0] is sys.modules[__name__], repr(chain)
        assert chain.objects[-1] is cls
        assert len(chain.objects) > 1, repr(chain)
        assert "dict['registry']" in str(chain) and "dict key" in str(chain), str(chain)
    finally:
        del registry[cls]


def test_module_held_in_a_list():
    mod = types.ModuleType("heaplens_test_lonely_module")
    holders.append(mod)
    try:
        chain = heaplens.referrer_chain(mod)
        assert chain.objects[-1] is mod
        assert len(chain.objects) > 1, repr(chain)
        assert "dict['holders']" in str(chain), str(chain)
    finally:
        holders.remove(mod)


def test_leaked_class_report_names_its_holder():
    def leak():
        registry[_make_class()] = (0,)

    try:
        report = heaplens.check_leaks(leak, warmups=1, runs=2)
    finally:
        registry.clear()
    assert report.leaked, report.format()
    groups = [g for g in report.groups if g.type_name == "type"]
    assert groups, report.format()
    assert "dict['registry']" in groups[0].chain, report.format()
    assert groups[0].chain_kind == "module", report.format()
