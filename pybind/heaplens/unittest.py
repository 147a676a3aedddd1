"""Test-framework support: ``heaplens.unittest.LeakCheckMixin`` for
unittest, and ``check_test`` for a runner that repeats whole tests (the
pytest plugin uses it).

    class MyTest(heaplens.unittest.LeakCheckMixin, unittest.TestCase):
        def test_cache(self):
            self.assertNoLeaks(my_function, arg, warmups=2, runs=3)
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from heaplens._leaks import LeakReport, _check, check_leaks

__all__ = ["LeakCheckMixin", "check_test"]


def check_test(run_once: Callable[[], Any], name: str = "", *, warmups: int = 2,
               runs: int = 3, ignore_types: Sequence[Any] = (),
               ignore: Optional[Callable[[Any], bool]] = None,
               sites: bool = True) -> LeakReport:
    """Check one test for leaks the way a test runner repeats it:
    ``run_once()`` runs the whole test once (set-up, call, tear-down) and
    takes no arguments; the rule, the options and the report are those of
    ``heaplens.check_leaks``, and the report is headed ``name`` (a test id,
    say) instead of the callable's name."""
    if not callable(run_once):
        raise TypeError("check_test needs a callable, not %r" % (run_once,))
    return _check(run_once, warmups, runs, ignore_types, ignore, sites, name)


class LeakCheckMixin:
    """Adds ``assertNoLeaks`` to a ``unittest.TestCase``."""

    def assertNoLeaks(self, fn: Callable[..., Any], *args: Any, warmups: int = 2,
                      runs: int = 3, **kwargs: Any) -> LeakReport:
        """Fail if ``fn(*args, **kwargs)`` leaks (see heaplens.check_leaks);
        the failure message is the leak report."""
        report = check_leaks(fn, *args, warmups=warmups, runs=runs, **kwargs)
        if report.leaked:
            self.fail(report.format())  # type: ignore[attr-defined]
        return report
