"""What heaplens can do on this interpreter, and the error for what it cannot.

heaplens reads some CPython internals (object pre-headers, the values array
of instances, frame layouts, allocator rounding) at layouts checked on
CPython 3.9-3.13 with the GIL. Any other interpreter - a newer CPython, a
free-threaded build - or a build configured with ``HEAPLENS_GENERIC=ON`` runs
in *generic mode*: only public API (``tp_traverse``, ``__sizeof__``,
``sys.getsizeof``, ``gc``, ``tracemalloc``). ``capabilities()`` says, per
feature, ``True`` or why not.
"""

from __future__ import annotations

import platform
import sys
from typing import Dict, Union

from heaplens import _heaplens as _c


class UnsupportedError(Exception):
    """A heaplens feature that this interpreter (or this build of heaplens)
    cannot provide truthfully; the message names the feature, the Python
    version and why. ``feature`` is the refused key of
    ``heaplens.capabilities()``, which lists them all."""

    def __init__(self, message: str, feature: str = "") -> None:
        super().__init__(message)
        self.feature = feature


def _python() -> str:
    ft = " (free-threaded)" if _c.FREE_THREADED else ""
    return "%s %s%s" % (platform.python_implementation(), platform.python_version(), ft)


def _gil_disabled() -> bool:
    """True when this free-threaded process runs without the GIL (PYTHON_GIL=0
    or -X gil=0; importing heaplens otherwise turns it back on, since the
    extension does not declare that it can run without it)."""
    if not _c.FREE_THREADED:
        return False
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return is_enabled is not None and not is_enabled()


def _why_generic() -> str:
    mode = _c.LAYOUT_MODE
    if mode == "generic-option":
        return ("this heaplens was built in generic mode (HEAPLENS_GENERIC=ON) on %s"
                % _python())
    if mode == "free-threaded":
        return ("%s is a free-threaded build, whose object header and allocator differ "
                "and whose threads run allocation hooks without a GIL to serialise them"
                % _python())
    return ("heaplens knows the internal layouts of CPython 3.9-3.13 only, and this is %s"
            % _python())


# The features capabilities() reports, in a stable order.
FEATURES = ("asizeof", "hidden_memory", "allocator_model", "snapshot", "snapshot_by_site",
            "track", "leaks", "graph")


def capabilities() -> Dict[str, Union[bool, str]]:
    """A dict from feature name to ``True``, or to a sentence saying why the
    feature is not available (or less exact) on this interpreter:

    - ``asizeof``: asizeof/asizesof/asized/flatsize/Asizer (model="getsizeof")
    - ``hidden_memory``: sizes include memory an object owns beyond its
      ``sys.getsizeof`` (the values array of instances on 3.11+); in generic
      mode they do not, and asizeof still works
    - ``allocator_model``: ``model="allocator"`` (asizeof, flatsize, snapshot)
    - ``snapshot``: snapshot(), diffs, save/load, Monitor, new_objects
    - ``snapshot_by_site``: ``snapshot(by="site")`` (needs ``track``)
    - ``track``: track()/Tracker and allocation_site()
    - ``leaks``: check_leaks, no_leaks, ``pytest --leaks``
    - ``graph``: referrers, referrer_chain, why_alive, graph

    Features that are not ``True`` raise ``heaplens.UnsupportedError`` with
    that sentence when used. A new dict on each call.
    """
    caps: Dict[str, Union[bool, str]] = dict.fromkeys(FEATURES, True)
    if not _c.KNOWN_LAYOUT:
        why = _why_generic()
        caps["hidden_memory"] = (
            "sizes are sys.getsizeof() figures: memory an object owns beyond them (the values "
            "array of instances on 3.11+, a range's start, stop and step) is not counted, because " + why)
        caps["allocator_model"] = (
            "the allocator model adds bytes measured per CPython version (pre-headers, values "
            "arrays, allocator rounding), and " + why)
        caps["track"] = (
            "lifetime tracking reads the interpreter's frames and object pre-headers at layouts "
            "checked on CPython 3.9-3.13 and relies on the GIL, and " + why)
        caps["snapshot_by_site"] = ("snapshot(by='site') needs lifetime tracking: "
                                    + str(caps["track"]))
    if _gil_disabled():
        why = ("the GIL is disabled in this process (PYTHON_GIL=0 or -X gil=0) on %s, and "
               "heaplens walks objects that other threads could change or free meanwhile; "
               "run with the GIL enabled (the default once heaplens is imported)" % _python())
        for name in ("asizeof", "snapshot", "snapshot_by_site", "leaks", "graph",
                     "allocator_model"):
            caps[name] = why
    return caps


_TITLES = {
    "asizeof": "asizeof()",
    "hidden_memory": "hidden memory",
    "allocator_model": "model='allocator'",
    "snapshot": "snapshot()",
    "snapshot_by_site": "snapshot(by='site')",
    "track": "track()",
    "leaks": "leak checks",
    "graph": "referrer graphs",
}

_all_known = None  # True when nothing can be refused: the fast path
_fixed = None       # capabilities() of a GIL build, which cannot change


def require(feature: str) -> None:
    """Raise UnsupportedError when ``feature`` is not available here."""
    global _all_known, _fixed
    if _all_known is None:
        _all_known = bool(_c.KNOWN_LAYOUT and not _c.FREE_THREADED)
    if _all_known:
        return
    if _c.FREE_THREADED:
        caps = capabilities()  # the GIL can be switched on at run time
    else:
        if _fixed is None:
            _fixed = capabilities()
        caps = _fixed
    why = caps[feature]
    if why is not True:
        raise UnsupportedError("heaplens cannot provide %s here: %s" % (_TITLES[feature], why),
                               feature)
