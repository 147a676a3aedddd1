"""heaplens' own work, kept out of a running tracker's records.

While a thread is quiet, the tracker's hooks do not record its births (its
frees still are): the rows, survivors, snapshots and reports heaplens makes
for the user are not objects the user's program made, and must not show up
as such in the next ``stats()``. Regions nest and are per thread; the state
is kept in C (``hl_track_quiet``), and a collection that runs inside a
region is recorded as usual (its finalizers are the user's code).

- ``quietly(fn, *args)`` calls ``fn`` in a region entered and left in C:
  no signal handler can run between entering and the call, so a
  KeyboardInterrupt never leaves the thread quiet; the arguments are passed
  on without a tuple, so a function that walks the heap or is handed the
  user's object is called this way (``fn`` at module level, never a
  closure: a cell would hold the object);
- ``@invisible`` on a method that only formats or reads heaplens' results.

The user's code that heaplens runs for a figure or a name (a
``__sizeof__``, a ``__repr__``, a ``graph()`` filter) is quiet too; what it
makes and keeps is not recorded (docs/lifetimes.md).
"""

import functools
from typing import Any, Callable, TypeVar

from heaplens import _heaplens as _c

F = TypeVar("F", bound=Callable[..., Any])


# (in generic builds, which have no tracker, a plain call)
quietly: Callable[..., Any] = _c.quiet_call


def invisible(fn: F) -> F:
    """``fn``, with the calling thread quiet while it runs."""
    if not _c.HAVE_TRACKER:
        return fn

    @functools.wraps(fn)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        return quietly(fn, *args, **kwargs)
    return quiet  # type: ignore[return-value]
