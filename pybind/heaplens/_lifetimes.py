"""Object lifetimes: when objects are born and die, how big they are and
where they were allocated (docs/lifetimes.md).

    >>> import heaplens
    >>> with heaplens.track() as t:
    ...     keep = [bytearray(64) for _ in range(100)]
    >>> [r.alive for r in t.stats() if r.type_name == "bytearray"]
    [100]

The recording is done in C by allocator hooks (or PyRefTracer on Python
versions whose tracer reports deaths); this module turns the records into
rows and tables.
"""

import gc
import os
import sys
import threading
import warnings
from typing import Any, List, NamedTuple, Optional, TextIO, Tuple, Union

from heaplens import _heaplens as _c
from heaplens._capabilities import require as _require
from heaplens._format import human_size, lifetime_times, table
from heaplens._quiet import invisible

__all__ = ["Frame", "LifetimeRow", "Survivor", "Tracker", "allocation_site", "track"]

# Generic builds have no tracker (heaplens.capabilities()["track"]).
_BACKENDS = ({"allocator": _c.BACKEND_ALLOCATOR, "reftracer": _c.BACKEND_REFTRACER}
             if _c.HAVE_TRACKER else {})
_BACKEND_NAMES = {v: k for k, v in _BACKENDS.items()}
_lock = threading.Lock()
_current: Optional["Tracker"] = None   # the tracker whose records the core holds
_tracer_verdict: Optional[Tuple[int, int]] = None


class Frame(NamedTuple):
    """One frame of an allocation site."""
    filename: str
    lineno: int
    name: str

    def __str__(self) -> str:
        return "%s:%d (%s)" % (self.filename, self.lineno, self.name)


class LifetimeRow(NamedTuple):
    """Per-type figures of a Tracker. Lifetimes are over the objects that
    died while tracked, in nanoseconds; p50 and p90 come from a log
    histogram and are within 6% of the exact value."""
    type_name: str
    born: int
    died: int
    alive: int
    alive_size: int
    lifetime_p50_ns: int
    lifetime_p90_ns: int
    lifetime_max_ns: int
    type: type


class Survivor:
    """A tracked object still alive: its type, size, birth (monotonic ns)
    and allocation site. ``object()`` gives the object itself."""

    __slots__ = ("type_name", "type", "size", "birth", "address", "_site", "_tb", "_tracker")

    def __init__(self, tracker: "Tracker", address: int, tp: type, size: int, birth: int,
                 site: int) -> None:
        self.type_name = _type_name(tp)
        self.type = tp
        self.size = size
        self.birth = birth
        self.address = address
        self._site = site
        self._tb: Optional[Tuple[Frame, ...]] = None
        self._tracker = tracker

    @property
    def traceback(self) -> Tuple[Frame, ...]:
        """The allocation site, innermost frame first (empty when the object
        was made with no Python frame running)."""
        if self._tb is None:
            self._tb = self._tracker._traceback(self._site)
        return self._tb

    @property
    def filename(self) -> Optional[str]:
        tb = self.traceback
        return tb[0].filename if tb else None

    @property
    def lineno(self) -> Optional[int]:
        tb = self.traceback
        return tb[0].lineno if tb else None

    def object(self) -> Any:
        """The live object, or None if it has died since. Safe: while the
        tracker runs, its record proves the object alive; after stop() the
        heap is searched for it."""
        return self._tracker._object(self)

    @invisible
    def __repr__(self) -> str:
        where = "%s:%s" % (self.filename, self.lineno) if self.traceback else "<no Python frame>"
        return "<Survivor %s, %s, born at %s>" % (self.type_name, human_size(self.size), where)


def _type_name(tp: type) -> str:
    mod = getattr(tp, "__module__", None)
    name = getattr(tp, "__qualname__", None) or tp.__name__
    if not isinstance(mod, str) or mod == "builtins":
        return str(name)
    return "%s.%s" % (mod, name)


def _all_types() -> List[type]:
    """Every class alive now, found through __subclasses__ from object."""
    seen = {id(object): object}
    todo = [object]
    while todo:
        t = todo.pop()
        try:
            subs = type.__subclasses__(t) if isinstance(t, type) else []
        except TypeError:
            subs = []
        for s in subs:
            if id(s) not in seen:
                seen[id(s)] = s
                todo.append(s)
    return list(seen.values())


def _probe_body() -> None:
    x = 0.5
    for i in range(2000):
        x = i * 0.5   # the float made the round before dies in the eval loop
    del x


def tracer_delivers_deaths() -> bool:
    """Whether this interpreter's PyRefTracer reports DESTROY from the eval
    loop (3.13.0-3.13.2 mostly do not: CPython gh-130382). Found out once by
    running a small float churn under a counting tracer. False where there is
    no PyRefTracer or its slot is taken."""
    global _tracer_verdict
    if not _c.HAVE_REFTRACER:
        return False
    if _tracer_verdict is None:
        try:
            _tracer_verdict = _c.track_probe_tracer(_probe_body)
        except RuntimeError:
            return False
    creates, destroys = _tracer_verdict
    return creates > 0 and destroys * 2 >= creates


def _check_types(types: Any) -> Optional[Tuple[type, ...]]:
    if types is None:
        return None
    if isinstance(types, type):
        return (types,)
    try:
        out = tuple(types)
    except TypeError:
        raise TypeError("types must be a class, an iterable of classes or None, not %s"
                        % type(types).__name__) from None
    for t in out:
        if not isinstance(t, type):
            raise TypeError("types must hold classes, not %s" % type(t).__name__)
    return out


# The allocator backend keeps an entry in gc.callbacks while it tracks:
# - a collection is a safe point, where classes made since the last one are
#   verified through type.__subclasses__ (lib/lifetimes.c, THE INVARIANT);
# - before 3.12 a collection can run inside an object's allocation, after its
#   gc header is zeroed and before its type is set: such an object waits to
#   be resolved for as long as the collection takes (finalizers can allocate).


def _forget_gc_phase() -> None:
    cb = _c.track_gc_phase
    gc.callbacks[:] = [c for c in gc.callbacks if c is not cb]
    _c.track_gc_phase("stop", {})


def heaplens_type(tp: Any) -> bool:
    """A class of heaplens' own (a Tracker, a Snapshot, a census row...):
    what heaplens made to measure is left out of the tables it shows."""
    mod = getattr(tp, "__module__", None)
    return isinstance(mod, str) and (mod == "heaplens" or mod.startswith("heaplens."))


@invisible
def lifetime_view(tracker: "Tracker", top: int = 8) -> dict:
    """What the lifetimes section of an HTML report shows, as plain values
    (heaplens._report.lifetime_section): the tracker's status, its frames,
    its per-type rows and the births of the ``top`` types still alive,
    heaplens' own types left out of both."""
    st = tracker.status()
    rows = [r for r in tracker.stats() if not heaplens_type(r.type)]
    series = [(n, pts) for n, pts in tracker.lifetime_series(top + 8)
              if not n.startswith("heaplens.")][:top]
    return {"backend": st["backend"], "frames": tracker.frames, "records": st["records"],
            "types": st["types"], "memory": st["memory"], "lost": st["lost"],
            "rows": rows, "series": series}


class Tracker:
    """Records the objects created while it runs. Use it as a context
    manager, or call ``start()`` and ``stop()``; one tracker runs at a time
    in a process.

    types: a class or classes to track (subclasses included); None for all.
    frames: frames of allocation site kept per object (0 to 64).
    threads: "all", or "current" for the thread that starts it only.
    backend: "auto" (PyRefTracer where it reports deaths, else the allocator
    hooks), "allocator" or "reftracer".
    """

    def __init__(self, types: Any = None, frames: int = 1, threads: str = "all",
                 backend: str = "auto") -> None:
        _require("track")
        if isinstance(frames, bool) or not isinstance(frames, int):
            raise TypeError("frames must be an int, not %s" % type(frames).__name__)
        if not 0 <= frames <= _c.TRACK_MAX_FRAMES:
            raise ValueError("frames must be between 0 and %d, not %d"
                             % (_c.TRACK_MAX_FRAMES, frames))
        if threads not in ("all", "current"):
            raise ValueError("threads must be 'all' or 'current', not %r" % (threads,))
        if backend not in ("auto", "allocator", "reftracer"):
            raise ValueError("backend must be 'auto', 'allocator' or 'reftracer', not %r"
                             % (backend,))
        self.types = _check_types(types)
        self.frames = frames
        self.threads = threads
        self.requested_backend = backend
        self.backend: Optional[str] = None
        self.note = ""           # why the backend was chosen
        self.lost = False        # events were missed (our hook was removed)
        self._state = "new"      # new, running, stopped, cleared
        self._sites: dict = {}
        # (the leak screen's: the classes to learn at start when all that
        # is tracked is known; None: every class alive)
        self._known: Optional[List[type]] = None

    # -- running ------------------------------------------------------------

    def _choose_backend(self) -> str:
        want = self.requested_backend
        if want == "allocator":
            self.note = "allocator hooks, as asked"
            return want
        if want == "reftracer":
            if not _c.HAVE_REFTRACER:
                raise RuntimeError("the reftracer backend needs Python 3.13 or later")
            if not tracer_delivers_deaths():
                raise RuntimeError(
                    "this Python's PyRefTracer does not report most deaths (CPython "
                    "gh-130382, fixed in 3.13.3) or its slot is taken (tracemalloc takes it): "
                    "use backend='allocator' or 'auto'")
            self.note = "PyRefTracer, as asked"
            return want
        if _c.HAVE_REFTRACER and tracer_delivers_deaths():
            self.note = "PyRefTracer: this Python reports CREATE and DESTROY"
            return "reftracer"
        if _c.HAVE_REFTRACER:
            self.note = ("allocator hooks: PyRefTracer here misses deaths or its slot is "
                         "taken (by tracemalloc?)")
        else:
            self.note = "allocator hooks: no PyRefTracer before Python 3.13"
        return "allocator"

    def start(self) -> "Tracker":
        """Start recording. RuntimeError if a tracker is already running."""
        global _current
        with _lock:
            if _c.track_active():
                raise RuntimeError("a heaplens tracker is already running: stop it first")
            if self._state == "running":
                raise RuntimeError("this tracker is already running")
            backend = self._choose_backend()
            known = ((self._known if self._known is not None else _all_types())
                     if backend == "allocator" else None)
            self._sites = {}
            _c.track_start(backend=_BACKENDS[backend], frames=self.frames,
                           current_thread=self.threads == "current", types=self.types,
                           known_types=known)
            del known
            # (both backends: a collection inside heaplens' own quiet work
            # is recorded, heaplens._quiet; the allocator's safe points)
            gc.callbacks.append(_c.track_gc_phase)
            self.backend = backend
            self.lost = False
            self._state = "running"
            if _current is not None and _current is not self:
                _current._state = "cleared"
            _current = self
        return self

    def stop(self) -> "Tracker":
        """Stop recording; the records stay readable. Warns (RuntimeWarning)
        when events were missed because another tool removed our hook."""
        with _lock:
            if self._state != "running":
                raise RuntimeError("this tracker is not running")
            try:
                # (raises when the heap walk behind the live figures met a
                # __sizeof__ that raised; the tracker is stopped anyway)
                self.lost = bool(_c.track_stop())
            finally:
                self._state = "stopped"
                _forget_gc_phase()
        if self.lost:
            self._warn_lost()
        return self

    def _warn_lost(self) -> None:
        warnings.warn("heaplens tracker: another tool removed our %s while tracking "
                      "(tracemalloc.start()/stop() on 3.13 takes the PyRefTracer slot; "
                      "tracemalloc.stop() restores the allocator it found): births and "
                      "deaths after that were missed" % (
                          "tracer" if self.backend == "reftracer" else "allocator hook"),
                      RuntimeWarning, stacklevel=3)

    def clear(self) -> None:
        """Drop the records and the references they keep (the code objects
        of sites and the classes of tracked objects)."""
        global _current
        with _lock:
            if self._state == "running":
                raise RuntimeError("stop the tracker before clearing it")
            if _current is self:
                _c.track_clear()
                _current = None
            self._state = "cleared"
            self._sites = {}

    def __enter__(self) -> "Tracker":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        if self._state == "running":
            self.stop()

    @property
    def active(self) -> bool:
        return self._state == "running"

    def _check_readable(self) -> None:
        if self._state in ("new", "cleared"):
            raise RuntimeError("this tracker has no records (%s)" % (
                "never started" if self._state == "new" else
                "cleared, or a newer tracker was started"))

    # -- reading ------------------------------------------------------------

    @invisible
    def status(self) -> dict:
        """Records held, records dropped (out of memory), blocks that were
        no object of a known type, sites, types, tracker memory in bytes,
        whether events were lost, and the backend."""
        self._check_readable()
        st = _c.track_status()
        st["backend"] = _BACKEND_NAMES.get(st["backend"], "?")
        if st["lost"] and not self.lost and self._state == "running":
            self.lost = True
            self._warn_lost()
        return st

    @invisible
    def stats(self) -> List[LifetimeRow]:
        """Per-type rows (born, died, alive, alive_size, lifetimes), most
        objects alive first."""
        self._check_readable()
        rows = []
        for tp, born, died, alive, alive_bytes, p50, p90, mx in _c.track_stats():
            rows.append(LifetimeRow(_type_name(tp), born, died, alive, alive_bytes,
                                    p50, p90, mx, tp))
        rows.sort(key=lambda r: (-r.alive, -r.born, r.type_name))
        return rows

    @invisible
    def survivors(self, type: Optional[type] = None, since: int = 0) -> List[Survivor]:
        """Tracked objects still alive (of ``type`` and its subclasses), oldest
        first; with ``since``, only those born at that time or later
        (monotonic ns, as ``Survivor.birth``)."""
        self._check_readable()
        if type is not None and not isinstance(type, builtins_type):
            raise TypeError("type must be a class or None, not %s"
                            % builtins_type(type).__name__)
        if not isinstance(since, int) or since < 0:
            raise ValueError("since must be an int >= 0 (monotonic ns), not %r" % (since,))
        return [Survivor(self, a, tp, size, birth, site)
                for a, tp, size, birth, site in _c.track_survivors(type, since)]

    @invisible
    def _traceback(self, site: int) -> Tuple[Frame, ...]:
        tb = self._sites.get(site)
        if tb is None:
            if self._state not in ("running", "stopped"):
                return ()
            tb = tuple(Frame(f, line, name) for f, line, name in _c.track_site(site))
            self._sites[site] = tb
        return tb

    def _object(self, s: Survivor) -> Any:
        if self._state == "running":
            if self.backend == "reftracer" and not tracer_delivers_deaths():
                raise RuntimeError("this tracer misses deaths: objects cannot be taken safely")
            return _c.track_object(s.address, s.type, s.birth)
        if self._state != "stopped":
            return None
        # After stop() a record no longer proves the object alive: look for
        # an object of that type at that address among the live ones.
        import gc
        for o in gc.get_objects():
            if id(o) == s.address and builtins_type(o) is s.type:
                return o
            for r in gc.get_referents(o):
                if id(r) == s.address and builtins_type(r) is s.type:
                    return r
        return None

    @invisible
    def allocation_site(self, obj: Any) -> Optional[Tuple[Frame, ...]]:
        """Where ``obj`` was allocated, innermost frame first, or None when
        it was not created while this tracker ran."""
        self._check_readable()
        rec = _c.track_lookup(obj)
        if rec is None:
            return None
        return self._traceback(rec[4])

    def report(self, limit: int = 20, file: Optional[TextIO] = None) -> None:
        """Print (to ``file``, default stdout) a table of the types with the
        most objects alive, with their lifetimes. Returns None, so that a
        REPL shows the table once; ``format()`` returns the text."""
        print(self.format(limit), file=file if file is not None else sys.stdout)

    @invisible
    def format(self, limit: int = 20) -> str:
        """The table ``report()`` prints, as a string."""
        rows = self.stats()
        st = self.status()
        lines = [table(
            ["type", "born", "died", "alive", "alive size", "life p50", "life p90", "life max"],
            [(r.type_name, r.born, r.died, r.alive, human_size(r.alive_size),
              *lifetime_times(r)) for r in rows[:limit]],
            align="<>>>>>>>")]
        if len(rows) > limit:
            lines.append("... %d more types" % (len(rows) - limit))
        lines.append("%d objects alive in %d types; backend %s; tracker memory %s%s%s" % (
            st["records"], len(rows), st["backend"], human_size(st["memory"]),
            "; %d dropped" % st["dropped"] if st["dropped"] else "",
            "; EVENTS LOST" if st["lost"] else ""))
        return "\n".join(lines)

    @invisible
    def _repr_html_(self) -> str:
        from heaplens._html import tracker_html, tracker_state_html
        try:
            # heaplens' own classes (what it made to measure) are left out
            rows = [r for r in self.stats() if not heaplens_type(r.type)]
            st = self.status()
        except RuntimeError as e:  # never started, or cleared
            return tracker_state_html(repr(self), str(e))
        return tracker_html(rows, st, self.active)

    def report_html(self, path: Union[str, "os.PathLike[str]"], title: str = "heaplens lifetimes",
                    top: int = 8) -> None:
        """Write a self-contained HTML report: a chart of when the objects
        still alive were born (the ``top`` types) and the per-type table of
        births, deaths and lifetimes. ``Monitor.report_html(path,
        tracker=t)`` puts the same section under a Monitor's charts."""
        from heaplens._report import render_tracker_html
        self._check_readable()
        text = render_tracker_html(lifetime_view(self, top), title)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    @invisible
    def lifetime_series(self, top: int = 8) -> List[Tuple[str, List[Tuple[float, int]]]]:
        """For a chart: per type (the ``top`` with most objects alive), the
        births of the objects still alive over time, as (seconds since
        start, objects alive born by then) points."""
        st = self.status()
        start = st["start_ns"]
        by_type: dict = {}
        for s in self.survivors():
            by_type.setdefault(s.type_name, []).append(s.birth)
        names = sorted(by_type, key=lambda n: -len(by_type[n]))[:top]
        series = []
        for n in names:
            births = sorted(by_type[n])
            step = max(1, len(births) // 200)
            pts = [((b - start) / 1e9, i + 1) for i, b in enumerate(births) if i % step == 0]
            pts.append(((births[-1] - start) / 1e9, len(births)))
            series.append((n, pts))
        return series

    def __repr__(self) -> str:
        return "<heaplens.Tracker %s, backend=%s, frames=%d>" % (
            self._state, self.backend or self.requested_backend, self.frames)


builtins_type = type


def track(types: Any = None, frames: int = 1, threads: str = "all",
          backend: str = "auto") -> Tracker:
    """A Tracker (not started): ``with heaplens.track(): ...`` records the
    objects made in the block; or ``t = heaplens.track().start()``, then
    ``t.stop()``. See Tracker for the arguments."""
    return Tracker(types=types, frames=frames, threads=threads, backend=backend)


def current_tracker() -> Optional[Tracker]:
    """The tracker whose records heaplens holds (running or stopped), or None."""
    return _current


def allocation_site(obj: Any) -> Optional[Tuple[Frame, ...]]:
    """Where ``obj`` was allocated, innermost frame first, like
    ``tracemalloc.get_object_traceback``: None when it was not created while
    the current (or last) tracker ran."""
    t = _current
    if t is None or t._state not in ("running", "stopped"):
        return None
    return t.allocation_site(obj)
