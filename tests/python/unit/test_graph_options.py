"""heaplens.graph() on a real module: the options that keep it readable
(objgraph's filter, extra_ignore and too_many, and grouping of a module's
functions)."""

import gc
import re
import shutil
import types

import pytest

import heaplens

pympler_asizeof = pytest.importorskip("pympler.asizeof", reason="pympler is in the test extras")


def _nodes(dot):
    """node id -> label."""
    return dict(re.findall(r'^\s+(\w+) \[label="([^"]*)"', dot, re.M))


def _edges(dot):
    return re.findall(r"^\s+(\w+) -> (\w+)( \[[^\]]*\])?;", dot, re.M)


def _module_functions(mod):
    d = vars(mod)
    return [f for f in gc.get_referrers(d)
            if isinstance(f, types.FunctionType) and f.__globals__ is d]


def test_module_functions_are_one_node():
    target = pympler_asizeof._typedefs          # a dict in the module's globals
    fns = _module_functions(pympler_asizeof)
    assert len(fns) > 50
    # Before: every one of the module's functions was a node pointing at
    # its globals dict (and the node cap was spent on them).
    plain = heaplens.graph(target, depth=2, max_nodes=400, too_many=0, group_functions=False)
    assert sum(l.startswith("function ") for l in _nodes(plain).values()) >= 50
    dot = heaplens.graph(target, depth=2)
    labels = _nodes(dot).values()
    assert not any(l.startswith("function ") for l in labels), labels
    assert "%d functions of module pympler.asizeof" % len(fns) in labels
    assert any(l.startswith("module pympler.asizeof") for l in labels)
    del fns


def test_too_many_caps_each_fan_out():
    target = pympler_asizeof._typedefs
    dot = heaplens.graph(target, depth=3, too_many=2, group_functions=False, max_nodes=200)
    nodes = _nodes(dot)
    incoming = {}
    for a, b, attrs in _edges(dot):
        if "dashed" not in (attrs or ""):
            incoming[b] = incoming.get(b, 0) + 1
    assert incoming and max(incoming.values()) <= 2, incoming
    more = [l for l in nodes.values() if re.fullmatch(r"\d+ more referrers?", l)]
    assert more, nodes
    # objgraph's default: 10.
    dot = heaplens.graph(target, depth=2, group_functions=False, max_nodes=400)
    assert max(sum(1 for a, b, at in _edges(dot) if b == n and "dashed" not in (at or ""))
               for n in _nodes(dot)) <= 10


def test_filter_and_extra_ignore():
    target = pympler_asizeof._typedefs
    dot = heaplens.graph(target, depth=3,
                         filter=lambda o: not isinstance(o, types.ModuleType))
    labels = list(_nodes(dot).values())
    assert not any(l.startswith("module ") for l in labels), labels
    assert any(l.startswith("dict ") for l in labels)
    dot = heaplens.graph(target, depth=3, extra_ignore=[pympler_asizeof])
    assert not any(l.startswith("module pympler.asizeof") for l in _nodes(dot).values())
    # The object itself is always drawn, whatever the filter says.
    dot = heaplens.graph(target, depth=2, filter=lambda o: False)
    assert len(_nodes(dot)) == 1 and "deep" in list(_nodes(dot).values())[0]
    # Forward too.
    holder = {"a": [1, 2, 3], "b": list(range(30)), "c": "x"}
    dot = heaplens.graph(holder, direction="forward", depth=2, too_many=5,
                         filter=lambda o: not isinstance(o, str))
    labels = list(_nodes(dot).values())
    assert not any(l.startswith("str ") for l in labels)
    assert "25 more referents" in labels


def test_graph_option_errors():
    with pytest.raises(TypeError):
        heaplens.graph([], filter=5)
    with pytest.raises(ValueError):
        heaplens.graph([], too_many=-1)
    with pytest.raises(TypeError):
        heaplens.graph([], extra_ignore=5)
    with pytest.raises(TypeError):
        heaplens.graph([], depth="2")


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="Graphviz's dot is not installed (scripts/test.sh installs it)")
def test_grouped_graph_renders(tmp_path):
    out = tmp_path / "g.svg"
    heaplens.graph(pympler_asizeof._typedefs, depth=2, output=str(out))
    svg = out.read_text()
    assert "functions of module pympler.asizeof" in svg
