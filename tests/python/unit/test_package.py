"""The package's structure: no import circle, the rendering modules import
no analysis module, every module imports on its own, ``__all__`` lists
exactly the public names, and the C module's stub lists exactly its names."""

import ast
import os
import subprocess
import sys

import pytest

import heaplens
import heaplens._heaplens as _c
import heaplens.cli
import heaplens.unittest

PKG = os.path.dirname(os.path.abspath(heaplens.__file__))


def _modules():
    """{dotted name: path} of every .py module of the installed package."""
    out = {}
    for root, _dirs, files in os.walk(PKG, followlinks=True):
        for f in files:
            if not f.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(root, f), os.path.dirname(PKG))
            name = rel[:-3].replace(os.sep, ".")
            if name.endswith(".__init__"):
                name = name[:-len(".__init__")]
            out[name] = os.path.join(root, f)
    return out


MODULES = _modules()


def _imports(name, path):
    """The heaplens modules ``name`` imports anywhere in its source (at the
    top or inside a function: a lazy import is still an arrow)."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                base = name.split(".") if path.endswith("__init__.py") else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # ``from heaplens.cli import demo`` imports the module demo;
            # ``from heaplens import _heaplens`` the C module (a package's
            # __init__ runs before any of its modules: no arrow of its own).
            for a in node.names:
                sub = "%s.%s" % (mod, a.name)
                found.add(sub if sub in MODULES or sub == "heaplens._heaplens" else mod)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_the_graph_is_read():
    # The walk sees the modules and arrows it must, or the tests below
    # would pass on an empty graph.
    assert {"heaplens", "heaplens._leaks", "heaplens._chains", "heaplens._dot",
            "heaplens.cli", "heaplens.cli.run"} <= set(GRAPH)
    assert "heaplens._chains" in GRAPH["heaplens._leaks"]
    assert "heaplens.cli.run" in GRAPH["heaplens.cli"]


def _cycle(graph):
    """A cycle of ``graph`` as a list of names, or None."""
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle():
    assert _cycle(GRAPH) is None, " -> ".join(_cycle(GRAPH))


# The rendering layer takes plain values (rows, series, objects it only
# reads) and imports only the formatting helpers: it never reaches back into
# the modules that compute.
RENDERING = {"heaplens._format": set(), "heaplens._html": {"heaplens._format"},
             "heaplens._report": {"heaplens._format"}, "heaplens._dot": {"heaplens._format"}}
FRONT = {"heaplens", "heaplens.__main__", "heaplens.unittest", "heaplens.pytest_plugin"} | {
    n for n in MODULES if n == "heaplens.cli" or n.startswith("heaplens.cli.")}


@pytest.mark.parametrize("name", sorted(RENDERING))
def test_rendering_imports_only_formatting(name):
    assert GRAPH[name] <= RENDERING[name], GRAPH[name] - RENDERING[name]


@pytest.mark.parametrize("name", sorted(set(MODULES) - FRONT))
def test_inner_modules_do_not_import_the_front(name):
    # The private modules are the package's inside: they import neither the
    # package itself (its __init__ imports them) nor the CLI, the plugin or
    # heaplens.unittest, which use them.
    assert not GRAPH[name] & FRONT, GRAPH[name] & FRONT


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_imports_first_in_a_fresh_interpreter(name):
    # Imported first, a module in a circle finds its partner half-made
    # ("cannot import name ... partially initialized module").
    r = subprocess.run([sys.executable, "-c", "import %s" % name], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_all_of_heaplens_is_exactly_its_public_names():
    # Every public name of the package is listed and every listed name is
    # there (dir() of the package, less its modules).
    public = {n for n in dir(heaplens) if not n.startswith("_")
              and type(getattr(heaplens, n)).__name__ != "module"}
    assert len(heaplens.__all__) == len(set(heaplens.__all__)), "a name twice in __all__"
    assert set(heaplens.__all__) == public


@pytest.mark.parametrize("module", [heaplens.unittest, heaplens.cli], ids=lambda m: m.__name__)
def test_all_of_public_modules_lists_what_they_define(module):
    defined = {n for n in dir(module) if not n.startswith("_")
               and getattr(getattr(module, n), "__module__", "") == module.__name__}
    assert defined, "nothing found: the check below would be empty"
    assert set(module.__all__) == defined


def _stub_names():
    path = os.path.join(PKG, "_heaplens.pyi")
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets)
    return names


# What pybind/lifetimes.c adds when the tracker is built (HAVE_TRACKER).
TRACKER_NAMES = {"BACKEND_ALLOCATOR", "BACKEND_REFTRACER", "HAVE_REFTRACER",
                 "TRACK_MAX_FRAMES", "monotonic_ns"}


def test_stub_lists_exactly_the_c_module():
    names = {n for n in dir(_c) if not n.startswith("__")}
    stub = _stub_names()
    assert names - stub == set(), "missing from _heaplens.pyi"
    extra = stub - names
    if not _c.HAVE_TRACKER:
        extra = {n for n in extra if n not in TRACKER_NAMES and not n.startswith("track_")}
    assert extra == set(), "in _heaplens.pyi but not in the C module"


def test_check_test_is_the_leak_check_of_a_test_runner():
    keep = []

    def leaky():
        keep.append(object())

    report = heaplens.unittest.check_test(leaky, "tests/test_x.py::test_leaky")
    assert report.leaked
    assert report.format().startswith("tests/test_x.py::test_leaky leaked:")
    assert "object" in [g.type_name for g in report.groups]
    keep.clear()

    clean = heaplens.unittest.check_test(lambda: [object()], "test_clean", warmups=1, runs=2)
    assert not clean.leaked and clean.runs == 2 and clean.warmups == 1
    with pytest.raises(TypeError):
        heaplens.unittest.check_test(42)
    with pytest.raises(ValueError):
        heaplens.unittest.check_test(lambda: None, runs=0)
