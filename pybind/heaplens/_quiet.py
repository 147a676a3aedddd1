"""heaplens' own work, kept out of a running tracker's records.

While a thread is quiet, the tracker's hooks do not record its births (its
frees still are): the rows, survivors, snapshots and reports heaplens makes
for the user are not objects the user's program made, and must not show up
as such in the next ``stats()``. Regions nest and are per thread; the state
is kept in C (``hl_track_quiet``).

- ``quiet_enter()`` / ``try: ... finally: quiet_leave()`` around a body:
  nothing is made, so a function that walks the heap or is handed the
  user's object uses this (a wrapper's argument tuple would be one more
  object holding it, and a context manager object would be one more object
  of heaplens' in a snapshot);
- ``@invisible`` on a method that only formats or reads heaplens' results.

Only heaplens' reading of what it holds is made quiet: never a collection,
whose finalizers are the user's code. The user's code that heaplens runs for
a figure or a name (a ``__sizeof__``, a ``__repr__``) is quiet too; what it
makes and keeps is not recorded (docs/lifetimes.md).
"""

import functools
from typing import Any, Callable, TypeVar

from heaplens import _heaplens as _c

F = TypeVar("F", bound=Callable[..., Any])

_set = getattr(_c, "track_quiet", None)   # (generic builds have no tracker)


def quiet_enter() -> None:
    """Make the calling thread quiet (one level deeper). When 8 other
    threads are quiet already it is not, and is recorded as before."""
    if _set is not None:
        _set(True)


def quiet_leave() -> None:
    """Leave the calling thread's innermost quiet region; nothing when it
    is not quiet (an enter that was not let in)."""
    if _set is not None:
        _set(False)


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
