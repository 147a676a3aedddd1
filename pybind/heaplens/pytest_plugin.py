"""The heaplens pytest plugin (registered through the ``pytest11`` entry
point): leak checks for tests.

- ``pytest --leaks`` checks every test; ``--leaks=W:R`` sets W warm-up runs
  and R counted runs (default 2:3).
- ``@pytest.mark.no_leaks(warmups=..., runs=..., ignore_types=..., ignore=...)``
  checks one test; ``@pytest.mark.leaks_ok(reason=...)`` opts one out.
- The ``leak_check`` fixture: ``leak_check(fn, *args)`` checks a callable,
  ``with leak_check: ...`` checks a block.

Each repetition runs the test's function-scoped setup, call and teardown;
fixtures of wider scope stay set up across them, outside the window. Only
the final run reports: the silent repetitions leave no report, subtest
report, warning, captured output or fixture finalizer behind (_Silence). A
test that leaks fails, shows as LEAKED, and carries the report in its
section.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from typing import Any, List, Optional

import pytest

from heaplens._leaks import LeakReport, check_leaks, no_leaks
from heaplens.unittest import check_test

_SPEC = re.compile(r"^(\d+):(\d+)$")
_DEFAULT = "2:3"


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("heaplens", "heaplens leak checks")
    group.addoption("--leaks", action="store", nargs="?", const=_DEFAULT, default=None,
                    metavar="W:R",
                    help="check every test for leaks: W warm-up runs, then R counted runs "
                         "(--leaks alone means %s)" % _DEFAULT)


def pytest_load_initial_conftests(early_config: Any, parser: Any, args: List[str]) -> None:
    # `--leaks` alone takes the default, so that `pytest --leaks tests/`
    # does not read `tests/` as W:R.
    for i, a in enumerate(args):
        if a == "--leaks":
            args[i] = "--leaks=" + _DEFAULT


def _parse(spec: str) -> tuple:
    m = _SPEC.match(spec)
    if not m or int(m.group(2)) < 1:
        raise pytest.UsageError("--leaks takes W:R, W warm-ups and R >= 1 counted runs "
                                "(e.g. --leaks=2:3), not %r" % spec)
    return int(m.group(1)), int(m.group(2))


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "no_leaks(warmups=2, runs=3, ignore_types=(), ignore=None): fail the test "
        "if it leaks objects (heaplens)")
    config.addinivalue_line("markers", "leaks_ok(reason=None): never check this test for leaks")
    spec = config.getoption("--leaks")
    if spec is not None:
        _parse(spec)


def _settings(item: Any) -> Optional[dict]:
    if item.get_closest_marker("leaks_ok") is not None:
        return None
    marker = item.get_closest_marker("no_leaks")
    spec = item.config.getoption("--leaks")
    if marker is None and spec is None:
        return None
    warmups, runs = _parse(spec) if spec else _parse(_DEFAULT)
    s = dict(warmups=warmups, runs=runs, ignore_types=(), ignore=None)
    if marker is not None:
        unknown = set(marker.kwargs) - set(s)
        if unknown or marker.args:
            raise pytest.UsageError("no_leaks takes only warmups=, runs=, ignore_types= and "
                                    "ignore= keywords (%s)" % item.nodeid)
        s.update(marker.kwargs)
    return s


class _Abort(Exception):
    pass


class _Parents:
    """Stands for "the next item" in a silent repetition: it needs the
    item's parents (module, class, session) but not the item itself, so
    teardown ends exactly the function-scoped fixtures."""

    def __init__(self, item: Any) -> None:
        self._chain = item.listchain()[:-1]

    def listchain(self) -> List[Any]:
        return self._chain


# Hooks that would make a silent repetition visible: its reports (a test's
# and its subtests'), recorded warnings and interactive debugging. pytest
# calls every hook through the plugin manager's hook executor; while a
# silent repetition runs, these names are answered without calling anyone.
_SILENCED = frozenset((
    "pytest_runtest_logreport", "pytest_runtest_logstart", "pytest_runtest_logfinish",
    "pytest_warning_recorded", "pytest_exception_interact", "pytest_assertion_pass",
))


def _drop_record(record: Any) -> bool:
    return False


class _Mute:
    """What a silent repetition would write to the terminal goes nowhere.

    pytest's own capture (the default, ``--capture=fd``) keeps a test's
    output in the item's sections, which _Silence trims. With ``-s`` (or
    ``--capture=sys``/``tee-sys``) output reaches the terminal: the
    repetition then runs with ``sys.stdout``/``sys.stderr`` and file
    descriptors 1 and 2 pointed at the null device. The live-log handler
    (``log_cli``) and the log-file handler (``log_file``) drop its records
    whatever the capture."""

    def __init__(self, config: Any) -> None:
        try:
            method = config.getoption("capture")
        except (ValueError, AttributeError):
            method = "fd"
        self.fds = method != "fd"
        plugin = config.pluginmanager.get_plugin("logging-plugin")
        self.handlers = [h for h in (getattr(plugin, "log_cli_handler", None),
                                     getattr(plugin, "log_file_handler", None))
                         if isinstance(h, logging.Handler)]
        self.saved: List[int] = []
        self.streams: Any = None
        self.sink: Any = None

    @staticmethod
    def _flush() -> None:
        for f in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                if f is not None:
                    f.flush()
            except Exception:
                pass

    def __enter__(self) -> None:
        for h in self.handlers:
            h.addFilter(_drop_record)
        if not self.fds:
            return
        self._flush()
        try:
            self.sink = open(os.devnull, "w")
            self.saved = [os.dup(1), os.dup(2)]
            os.dup2(self.sink.fileno(), 1)
            os.dup2(self.sink.fileno(), 2)
        except OSError:
            self._restore_fds()
            return
        self.streams = (sys.stdout, sys.stderr)
        sys.stdout = sys.stderr = self.sink

    def _restore_fds(self) -> None:
        for fd, saved in zip((1, 2), self.saved):
            try:
                os.dup2(saved, fd)
            finally:
                os.close(saved)
        self.saved = []
        if self.sink is not None:
            self.sink.close()
            self.sink = None

    def __exit__(self, *exc: Any) -> None:
        for h in self.handlers:
            h.removeFilter(_drop_record)
        if self.streams is not None:
            # What the repetition left in a buffer goes to the null device.
            self._flush()
            sys.stdout, sys.stderr = self.streams
            self.streams = None
        if self.saved:
            self._restore_fds()


class _Silence:
    """Runs the silent repetitions of one item so that pytest keeps no
    trace of them: no report reaches the terminal, xdist or junitxml; no
    warning reaches the item's warning recorder; the item's captured output
    and log sections, its user properties, the failed-subtests tally and
    the finalizers that function-scoped fixtures leave on wider-scoped
    ones are put back as they were after each repetition."""

    def __init__(self, item: Any) -> None:
        self.item = item
        self.parents = _Parents(item)
        self.failed = False
        self.pm = item.config.pluginmanager
        self.wide = [fd for defs in getattr(getattr(item, "_fixtureinfo", None),
                                            "name2fixturedefs", {}).values()
                     for fd in defs
                     if getattr(fd, "scope", "function") != "function"
                     and isinstance(getattr(fd, "_finalizers", None), list)]
        try:
            from _pytest.subtests import failed_subtests_key  # pytest >= 9
            self.subtests = item.config.stash.get(failed_subtests_key, None)
        except ImportError:
            self.subtests = None
        dtest = getattr(item, "dtest", None)
        # doctest clears a test's globals after running it; pytest runs each
        # doctest item once, so they are put back before each repetition.
        self.globs = dict(dtest.globs) if dtest is not None and \
            isinstance(getattr(dtest, "globs", None), dict) else None

    def _hookexec(self, orig: Any) -> Any:
        def hookexec(hook_name: str, methods: Any, kwargs: Any, firstresult: bool) -> Any:
            if hook_name in _SILENCED:
                rep = kwargs.get("report") if hook_name == "pytest_runtest_logreport" else None
                if rep is not None and getattr(rep, "failed", False):
                    self.failed = True
                return None if firstresult else []
            return orig(hook_name, methods, kwargs, firstresult)
        return hookexec

    def restore_globs(self) -> None:
        if self.globs is not None:
            g = self.item.dtest.globs
            g.clear()
            g.update(self.globs)

    def run_once(self) -> None:
        from _pytest.runner import runtestprotocol
        item = self.item
        sections = len(getattr(item, "_report_sections", ()))
        props = len(getattr(item, "user_properties", ()))
        fins = [(fd, list(fd._finalizers)) for fd in self.wide]
        subtests = dict(self.subtests) if self.subtests is not None else None
        self.restore_globs()
        orig = getattr(self.pm, "_inner_hookexec", None)
        if orig is not None:
            self.pm._inner_hookexec = self._hookexec(orig)
        try:
            with warnings.catch_warnings(record=True), _Mute(item.config):
                reports = runtestprotocol(item, nextitem=self.parents, log=False)
        finally:
            if orig is not None:
                self.pm._inner_hookexec = orig
            del item._report_sections[sections:]
            del item.user_properties[props:]
            for fd, before in fins:
                _drop_function_finalizers(fd, before)
            del fins
            if subtests is not None:
                self.subtests.clear()
                self.subtests.update(subtests)
            item.__dict__.pop("_excinfo", None)
        if self.failed or any(not r.passed for r in reports):
            raise _Abort()  # a failing or skipped test is reported by the real run


def _drop_function_finalizers(fd: Any, before: List[Any]) -> None:
    """Take out of a wider-scoped fixture's finalizers those that a fixture
    torn down with the repetition added during it. pytest adds one per
    setup, ``partial(FixtureDef.finish, request=...)``, to each fixture the
    set-up one requested, and runs them only when that fixture ends: they
    would pile up, one per repetition. A finalizer whose fixture is still
    set up (cached_result kept) stays."""
    known = {id(f) for f in before}
    keep = []
    for f in fd._finalizers:
        if id(f) not in known:
            owner = getattr(getattr(f, "func", None), "__self__", None)
            if owner is not None and hasattr(owner, "cached_result") and \
                    getattr(owner, "cached_result", None) is None:
                continue
        keep.append(f)
    fd._finalizers[:] = keep


def _check_item(item: Any, s: dict) -> Optional[LeakReport]:
    silence = _Silence(item)
    try:
        return check_test(silence.run_once, item.nodeid, warmups=s["warmups"],
                          runs=s["runs"], ignore_types=s["ignore_types"], ignore=s["ignore"])
    except _Abort:
        return None
    finally:
        silence.restore_globs()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> Optional[bool]:
    s = _settings(item)
    if s is None:
        return None
    from _pytest.runner import runtestprotocol

    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    report = _check_item(item, s)
    # The run users see: setup, call and teardown reported as usual.
    for rep in runtestprotocol(item, nextitem=nextitem, log=False):
        if rep.when == "call" and rep.passed and report is not None and report.leaked:
            rep.outcome = "failed"
            rep.longrepr = report.format()
            rep.user_properties.append(("heaplens_leaked", _summary(report)))
            rep.sections.append(("heaplens leak report", report.format()))
        ihook.pytest_runtest_logreport(report=rep)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def _summary(report: LeakReport) -> str:
    return ", ".join("%s +%s" % (g.type_name, "/".join(map(str, g.growth)))
                     for g in report.groups[:3])


def _leaked(report: Any) -> Optional[str]:
    for key, value in getattr(report, "user_properties", ()):
        if key == "heaplens_leaked":
            return value
    return None


def pytest_report_teststatus(report: Any, config: Any) -> Any:
    if report.when == "call" and _leaked(report) is not None:
        return "leaked", "L", "LEAKED"
    return None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: Any, config: Any) -> None:
    leaked = terminalreporter.stats.get("leaked", [])
    if leaked:
        terminalreporter.section("LEAKS", sep="=", red=True)
        for rep in leaked:
            terminalreporter.section(rep.nodeid, sep="_", red=True)
            terminalreporter.line(str(rep.longrepr))
        terminalreporter.section("heaplens: leaking tests", sep="=", red=True)
        for rep in leaked:
            terminalreporter.line("LEAKED %s - %s" % (rep.nodeid, _leaked(rep)))


class LeakCheck:
    """The ``leak_check`` fixture: ``leak_check(fn, *args, warmups=2,
    runs=3, **kwargs)`` fails the test if ``fn`` leaks; ``with leak_check:``
    fails it if objects created in the block outlive it."""

    def __call__(self, fn: Any, *args: Any, warmups: int = 2, runs: int = 3,
                 **kwargs: Any) -> LeakReport:
        report = check_leaks(fn, *args, warmups=warmups, runs=runs, **kwargs)
        if report.leaked:
            pytest.fail(report.format(), pytrace=False)
        return report

    def __enter__(self) -> "LeakCheck":
        self._cm = no_leaks()
        self._cm.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        cm, self._cm = self._cm, None
        try:
            # Called through the class with plain arguments: a bound method
            # or an argument tuple made here would be a new object, alive
            # at the check.
            no_leaks.__exit__(cm, exc[0], exc[1], exc[2])
        except AssertionError as e:
            pytest.fail(str(e), pytrace=False)


@pytest.fixture
def leak_check() -> LeakCheck:
    """Check a callable or a block for leaks (heaplens)."""
    return LeakCheck()
