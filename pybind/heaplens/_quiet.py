"""heaplens' own work, kept out of a running tracker's records.

While a thread is quiet, the tracker's hooks do not record its births (its
frees still are): the rows, survivors, snapshots and reports heaplens makes
for the user are not objects the user's program made, and must not show up
as such in the next ``stats()``. Regions nest and are per thread.

- ``with quiet:`` around a body: nothing extra is made, so a function that
  walks the heap or is handed the user's object uses this (a wrapper's
  argument tuple would be one more object holding it);
- ``@invisible`` on a method that only formats or reads heaplens' results.

Only heaplens' reading of what it holds is made quiet: never a collection,
whose finalizers are the user's code. The user's code that heaplens runs for
a figure or a name (a ``__sizeof__``, a ``__repr__``) is quiet too; what it
makes and keeps is not recorded (docs/lifetimes.md).
"""

import functools
import os
from typing import Any, Callable, TypeVar

from heaplens import _heaplens as _c

F = TypeVar("F", bound=Callable[..., Any])

_set = getattr(_c, "track_quiet", None)   # (generic builds have no tracker)


class _Quiet:
    """The context manager (one object, shared: the state is the thread's,
    kept in C). Leaving a region that was not entered, because 8 other
    threads were quiet, does nothing."""

    __slots__ = ()

    def __enter__(self) -> None:
        if _set is not None:
            _set(True)

    def __exit__(self, *exc: Any) -> None:
        if _set is not None:
            _set(False)


quiet = _Quiet()


def invisible(fn: F) -> F:
    """``fn``, with the calling thread quiet while it runs."""
    if _set is None:
        return fn

    @functools.wraps(fn)
    def quietly(*args: Any, **kwargs: Any) -> Any:
        _set(True)
        try:
            return fn(*args, **kwargs)
        finally:
            _set(False)
    return quietly  # type: ignore[return-value]


if _set is not None and hasattr(os, "register_at_fork"):
    # A thread quiet at the fork is gone in the child; a new thread there
    # could get its address.
    os.register_at_fork(after_in_child=_c.track_quiet_after_fork)
