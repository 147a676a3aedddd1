"""unittest support: ``heaplens.unittest.LeakCheckMixin``.

    class MyTest(heaplens.unittest.LeakCheckMixin, unittest.TestCase):
        def test_cache(self):
            self.assertNoLeaks(my_function, arg, warmups=2, runs=3)
"""

from __future__ import annotations

from typing import Any, Callable

from heaplens._leaks import LeakReport, check_leaks

__all__ = ["LeakCheckMixin"]


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
