"""The screen's former blind spot (issue 10, item 3): one leaked object of
at most 512 bytes that the cyclic GC does not track (a str, an int, a float,
bytes, a tuple of atoms), stored in a list or dict that existed before the
check, in a run that also frees an older small block. The interpreter's
count of allocated blocks then does not move (one block taken, one given
back) and no gc-tracked object is new: a screen counting blocks called the
code clean. Per-type counts from the tracker's hooks cannot cancel that way.

Each case is checked with check_leaks, the no_leaks decorator, the no_leaks
context manager and `pytest --leaks`."""

import os
import sys
import textwrap

import pytest

import heaplens
from heaplens._lifetimes import current_tracker

pytest_plugins = ["pytester"]

# Holders that exist before any check, with room for every run (no resize
# of the list's array or the dict's table while the checks run).
_slots = [None] * 4000
_table = dict.fromkeys(range(4000))
_next = [0]
# Older small blocks, one freed per run.
_old = [object() for _ in range(20000)]


@pytest.fixture(autouse=True)
def _no_foreign_gc_callbacks():
    """These cases are about the screen's blind spot, not about other tools'
    gc.callbacks: hypothesis (used by other test files in the same process)
    keeps a fresh float per collection, and when an automatic collection
    falls in the last run its float can stand in the float group for the
    leaked one (a known gap, docs/leaks.md). Their entries are set aside for
    these tests only; heaplens' own stays."""
    import gc
    saved = list(gc.callbacks)
    gc.callbacks[:] = [cb for cb in saved
                       if str(getattr(cb, "__module__", "")).startswith("heaplens")]
    yield
    gc.callbacks[:] = saved + [cb for cb in gc.callbacks if cb not in saved]


def _store_in_list(obj):
    i = _next[0]
    _next[0] = i + 1
    _slots[i] = obj


def _store_in_dict(obj):
    i = _next[0]
    _next[0] = i + 1
    _table[i] = obj


# Each makes exactly one new object (one small block), from a counter that
# stays a cached small int while one case runs.
MAKERS = {
    "str": lambda i: "item-%d" % (10 ** 6 + i),
    "int": lambda i: 10 ** 6 + i,
    "float": lambda i: i + 0.5,
    "bytes": lambda i: b"b%d" % (10 ** 6 + i),
    "tuple": lambda i: (None, i),
}
HOLDERS = {"list": (_store_in_list, "_slots"), "dict": (_store_in_dict, "_table")}
CASES = [(t, h) for t in sorted(MAKERS) for h in sorted(HOLDERS)]


def _leaker(type_name, holder):
    make = MAKERS[type_name]
    store = HOLDERS[holder][0]

    def leak():
        store(make(_next[0] % 200))
        del _old[-1]          # an older block goes back: the counts cancel
    return leak


def _reset():
    _slots[:] = [None] * len(_slots)
    for k in _table:
        _table[k] = None
    _next[0] = 0


def _assert_caught(report, type_name, holder):
    assert report.leaked, "missed a %s leaked into a %s" % (type_name, holder)
    g = next((g for g in report.groups if g.type_name == type_name), None)
    assert g is not None, report.format()
    assert g.growth == (1, 1, 1) and g.count == 1, report.format()
    assert HOLDERS[holder][1] in g.chain and g.chain_kind == "module", report.format()
    assert [x.type_name for x in report.groups] == [type_name], report.format()


@pytest.mark.parametrize("type_name,holder", CASES)
def test_check_leaks_catches_it(type_name, holder):
    _reset()
    report = heaplens.check_leaks(_leaker(type_name, holder))
    _assert_caught(report, type_name, holder)
    _reset()


@pytest.mark.parametrize("type_name,holder", CASES)
def test_decorator_catches_it(type_name, holder):
    _reset()
    checked = heaplens.no_leaks()(_leaker(type_name, holder))
    with pytest.raises(heaplens.LeakError) as ei:
        checked()
    _assert_caught(ei.value.report, type_name, holder)
    _reset()


@pytest.mark.parametrize("type_name,holder", CASES)
def test_context_manager_catches_it(type_name, holder):
    # The with-block needs a tracker of its own for this case (docs/leaks.md):
    # a stopped tracker an earlier test left held (test_lifetimes.py's, when
    # the same worker ran it first) is let go.
    held = current_tracker()
    if held is not None and not held.active:
        held.clear()
    _reset()
    leak = _leaker(type_name, holder)
    with pytest.raises(heaplens.LeakError) as ei:
        with heaplens.no_leaks():
            leak()
    report = ei.value.report
    g = next((g for g in report.groups if g.type_name == type_name), None)
    assert g is not None and g.count == 1, report.format()
    assert HOLDERS[holder][1] in g.chain, report.format()
    _reset()


@pytest.mark.parametrize("type_name,holder", CASES)
def test_clean_twin_stays_clean(type_name, holder):
    """The same code storing its object where the next run replaces it (no
    growth) is clean: what the tracker adds does not raise false alarms."""
    make = MAKERS[type_name]

    def clean():
        if holder == "list":
            _slots[0] = make(_next[0] % 200)
        else:
            _table[0] = make(_next[0] % 200)
        _next[0] += 1
        del _old[-1]
    _reset()
    report = heaplens.check_leaks(clean)
    assert not report.leaked, report.format()
    _reset()


def test_screen_sees_it_alone():
    """The screen itself (not the full count) reports growth: it is what
    used to say clean."""
    from heaplens import _leaks
    from heaplens._lifetimes import current_tracker
    if heaplens.capabilities().get("track") is False:
        pytest.skip("no tracker on this interpreter: the screen defers to the full count")
    # The screen leaves another tracker's records alone (it then defers to
    # the full count): clear what earlier tests left.
    held = current_tracker()
    if held is not None and not held.active:
        held.clear()
    for type_name, holder in CASES:
        _reset()
        assert _leaks._screen(_leaker(type_name, holder), 3), (type_name, holder)
    _reset()


@pytest.mark.xfail(os.environ.get("PYTHONMALLOC") == "malloc", strict=True,
                   reason="without pymalloc (the sanitizers' PYTHONMALLOC=malloc) the "
                          "interpreter counts no blocks, and the screen leaves every "
                          "verdict to the full count by design (docs/leaks.md)")
def test_screen_calls_a_noop_clean():
    from heaplens import _leaks
    from heaplens._lifetimes import current_tracker
    held = current_tracker()
    if held is not None and not held.active:
        held.clear()
    # A counted run can see another thread's allocations (pytest-xdist's
    # execnet thread under -n 2: CI's 3.13 run once saw growth in the one
    # counted run of runs=1): clean in one of three tries is clean. A
    # screen that defers every time (as it did on 3.12) still fails here.
    assert any(not _leaks._screen(lambda: None, 3) for _ in range(3))
    assert any(not _leaks._screen(lambda: None, 1) for _ in range(3))


def test_screen_in_a_fresh_interpreter_calls_a_noop_clean():
    """3.12 keeps the static types' immortal tuples in gc's permanent
    generation from startup: gc.get_freeze_count() is 375 there, not 0, and
    the screen used to take that for a user's gc.freeze() and leave every
    test to the full count."""
    import subprocess
    code = ("import gc, heaplens\n"
            "from heaplens import _leaks\n"
            "n = gc.get_freeze_count()\n"
            "print(n, _leaks._screen(lambda: None, 3), _leaks._screen(lambda: None, 1))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    n, first, second = out.stdout.split()
    if sys.version_info[:2] == (3, 12):
        assert int(n) > 0, out.stdout    # the case is made
    if os.environ.get("PYTHONMALLOC") != "malloc":
        assert (first, second) == ("False", "False"), out.stdout


def test_the_interpreters_frozen_objects_are_counted_once_per_count(monkeypatch):
    """3.12: each full collection puts the interpreter's immortal tuples back
    into the permanent generation; the search over the heap that tells them
    apart must not run again at every screen."""
    import gc
    from heaplens import _leaks
    if sys.version_info < (3, 12):
        assert not _leaks._only_the_interpreters_frozen(5)
        return
    calls = []
    real = _leaks._count_the_interpreters_frozen
    monkeypatch.setattr(_leaks, "_count_the_interpreters_frozen",
                        lambda: calls.append(1) or real())
    monkeypatch.setattr(_leaks, "_frozen_verdicts", {})
    for _ in range(4):
        gc.collect()
        _leaks._screen(lambda: None, 1)
    assert len(calls) <= 1, calls


def test_screen_leaves_a_users_freeze_alone():
    """A user's gc.freeze(): the screen defers to the full count and leaves
    the frozen objects frozen."""
    import gc
    from heaplens import _leaks
    gc.collect()
    gc.freeze()
    try:
        n = gc.get_freeze_count()
        assert n > 0
        assert _leaks._screen(lambda: None, 1)
        assert gc.get_freeze_count() == n
    finally:
        gc.unfreeze()


PLUGIN_SRC = '''
    import pytest
    _slots = [None] * 4000
    _table = dict.fromkeys(range(4000))
    _next = [0]
    _old = [object() for _ in range(20000)]

    MAKERS = {
        "str": lambda i: "item-%d" % (10 ** 6 + i),
        "int": lambda i: 10 ** 6 + i,
        "float": lambda i: i + 0.5,
        "bytes": lambda i: b"b%d" % (10 ** 6 + i),
        "tuple": lambda i: (None, i),
    }

    @pytest.mark.parametrize("kind", sorted(MAKERS))
    def test_into_list(kind):
        i = _next[0]
        _next[0] = i + 1
        _slots[i] = MAKERS[kind](i % 200)
        del _old[-1]

    @pytest.mark.parametrize("kind", sorted(MAKERS))
    def test_into_dict(kind):
        i = _next[0]
        _next[0] = i + 1
        _table[i] = MAKERS[kind](i % 200)
        del _old[-1]

    @pytest.mark.parametrize("kind", sorted(MAKERS))
    def test_clean(kind):
        _slots[3999] = MAKERS[kind](_next[0] % 200)
        _next[0] += 1
        del _old[-1]
'''


def test_pytest_leaks_catches_it(pytester):
    pytester.makepyfile(test_blind=textwrap.dedent(PLUGIN_SRC))
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", "--leaks")
    out = r.stdout.str()
    for kind in MAKERS:
        for holder, name in (("list", "_slots"), ("dict", "_table")):
            line = "LEAKED test_blind.py::test_into_%s[%s] - %s +1/1/1" % (holder, kind, kind)
            assert line in out, out
    assert out.count("dict['_slots']") >= len(MAKERS), out
    assert out.count("dict['_table']") >= len(MAKERS), out
    assert "10 leaked" in out and "5 passed" in out, out
    assert "test_clean" not in "".join(l for l in out.splitlines() if l.startswith("LEAKED")), out
