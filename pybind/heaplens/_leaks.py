"""Leak checks: which objects leaked, where they were allocated and what
keeps them alive.

The rule is CPython's ``regrtest -R`` rule: run the code a few times to warm
caches up, then count live objects after each further run; a group (a type)
leaks only if it grew in every counted run. Counts are taken after
``gc.collect()`` and after clearing the standard library's known caches, so
caches filled once do not raise false alarms.
"""

from __future__ import annotations

import functools
import gc
import sys
import tracemalloc
import types
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from heaplens import _heaplens as _c
from heaplens._capabilities import require as _require
from heaplens._asizeof import asizeof, flatsize
from heaplens._chains import _HERE, _chains
from heaplens._format import human_size, safe_repr
from heaplens._snapshot import _OURS, snapshot

# Referrer chains and referrers() are in heaplens._chains, graph() and its
# DOT text in heaplens._graph_view and heaplens._dot.
__all__ = ["LeakError", "LeakReport", "LeakedGroup", "add_cache_clearer",
           "check_leaks", "clear_caches", "no_leaks"]


# ---- cache clearing --------------------------------------------------------------

_clearers: List[Callable[[], Any]] = []


def add_cache_clearer(fn: Callable[[], Any]) -> Callable[[], Any]:
    """Register ``fn`` to be called before each count of a leak check, to
    empty a cache of yours that would otherwise look like a leak. Returns
    ``fn`` (usable as a decorator)."""
    if not callable(fn):
        raise TypeError("add_cache_clearer needs a callable, not %r" % (fn,))
    _clearers.append(fn)
    return fn


def _stdlib_clearers(fast: bool = False) -> Iterable[Callable[[], Any]]:
    # Only modules already imported: clearing must not import anything.
    m = sys.modules
    yield sys._clear_type_cache
    if "re" in m:
        yield m["re"].purge
    if "linecache" in m:
        yield m["linecache"].clearcache
    if "struct" in m:
        yield m["struct"]._clearcache
    if "urllib.parse" in m:
        yield m["urllib.parse"].clear_cache
    if "fnmatch" in m and hasattr(m["fnmatch"], "_compile_pattern"):
        yield m["fnmatch"]._compile_pattern.cache_clear
    if "_strptime" in m:
        yield m["_strptime"]._regex_cache.clear
    if "filecmp" in m:
        yield m["filecmp"]._cache.clear
    if "typing" in m:
        for f in getattr(m["typing"], "_cleanups", ()):
            yield f
    if "copyreg" in m:
        yield m["copyreg"].clear_extension_cache
    yield _invalidate_path_caches
    if "warnings" in m and fast:
        # A new filters version empties each registry at its next warning:
        # what one run put there is replaced by the next, no growth. The
        # walk over every module (0.5 ms) is left to the full count.
        if hasattr(m["warnings"], "_filters_mutated"):
            yield m["warnings"]._filters_mutated
    elif "warnings" in m:
        w = m["warnings"]
        def clear_registries() -> None:
            for mod in list(sys.modules.values()):
                reg = getattr(mod, "__warningregistry__", None)
                if isinstance(reg, dict):
                    reg.clear()
            if hasattr(w, "_filters_mutated"):
                w._filters_mutated()
        yield clear_registries


def _invalidate_path_caches() -> None:
    # The path entry finders' directory listings (what importlib's
    # invalidate_caches() empties), without bumping _NamespacePath._epoch:
    # that makes a new int each time, once past the small ints.
    for finder in list(sys.path_importer_cache.values()):
        fn = getattr(finder, "invalidate_caches", None)
        if fn is not None:
            fn()


def clear_caches() -> None:
    """Clear the known standard-library caches (see docs/leaks.md) and the
    ones registered with add_cache_clearer, then collect garbage."""
    _clear_only()
    # One full collection: a cycle that survives it survives each run alike,
    # and the every-run rule does not flag what is freed a run later.
    gc.collect()


def _clear_only(fast: bool = False) -> None:
    for fn in list(_stdlib_clearers(fast)) + list(_clearers):
        try:
            fn()
        except Exception:
            pass


class _quiet_gc_callbacks:
    """Silence gc.callbacks while the check itself collects: a callback
    (Hypothesis keeps gc timings, for one) may store new objects during our
    collections, which would read as objects the checked block left."""

    def __enter__(self) -> None:
        self._saved = list(gc.callbacks)
        # (a running tracker's own entry stays: it must see our collections)
        gc.callbacks[:] = [cb for cb in self._saved if cb is _TRACK_GC_PHASE]

    def __exit__(self, *exc: Any) -> None:
        gc.callbacks[:] = self._saved + [cb for cb in gc.callbacks if cb not in self._saved]


_TRACK_GC_PHASE = getattr(_c, "track_gc_phase", None)


# ---- the report ---------------------------------------------------------------

class LeakedGroup(NamedTuple):
    """One leaked group: a type whose live objects grew in every run."""
    type_name: str
    growth: Tuple[int, ...]          # objects gained in each counted run
    count: int                       # leaked objects found in the last run
    shallow: int                     # their flat bytes
    deep: int                        # their deep bytes (asizeof, counted once)
    reprs: Tuple[str, ...]           # up to 3 safe, truncated reprs
    site: str                        # "file:line", or why it is unknown
    traceback: Tuple[str, ...]       # allocation traceback lines, where known
    chain: str                       # the shortest referrer chain to a root
    chain_kind: str


class LeakReport:
    """The outcome of check_leaks: ``leaked`` (True/False), ``groups`` (a
    list of LeakedGroup, biggest growth first), ``runs``, ``warmups``."""

    def __init__(self, groups: List[LeakedGroup], warmups: int, runs: int,
                 name: str = "") -> None:
        self.groups = groups
        self.warmups = warmups
        self.runs = runs
        self.name = name

    @property
    def leaked(self) -> bool:
        return bool(self.groups)

    def __bool__(self) -> bool:
        return self.leaked

    def format(self) -> str:
        if not self.groups:
            return "no leaks in %s (%d warm-ups, %d counted runs)" % (
                self.name or "the code checked", self.warmups, self.runs)
        plural = "" if len(self.groups) == 1 else "s"
        if self.name == "the with block":
            head = ("the with block leaked: %d group%s of objects created inside it %s still "
                    "alive after it" % (len(self.groups), plural,
                                        "is" if len(self.groups) == 1 else "are"))
        else:
            head = "%s leaked: %d group%s grew in each of %d runs (after %d warm-ups)" % (
                self.name or "the code checked", len(self.groups), plural, self.runs,
                self.warmups)
        out = [head]
        for g in self.groups:
            out.append("")
            if self.name == "the with block":
                grew = "%d alive" % g.count
            else:
                grew = "+%s per run, %d from the last run" % (
                    "/".join(str(n) for n in g.growth), g.count)
            out.append("  %s: %s, %s shallow, %s deep" % (
                g.type_name, grew, human_size(g.shallow), human_size(g.deep)))
            for r in g.reprs:
                out.append("    e.g. %s" % r)
            out.append("    allocated at: %s" % g.site)
            for line in g.traceback:
                out.append("      %s" % line)
            out.append("    held by: %s" % g.chain)
        return "\n".join(out)

    __str__ = format

    def __repr__(self) -> str:
        return "<LeakReport %s>" % ("%d groups leaked" % len(self.groups)
                                    if self.groups else "no leaks")

    def _repr_html_(self) -> str:
        from heaplens._html import leak_report_html
        return leak_report_html(self.format().split("\n", 1)[0], self.groups)


class LeakError(AssertionError):
    """Raised by no_leaks when code leaks; ``report`` holds the LeakReport."""

    def __init__(self, report: LeakReport) -> None:
        super().__init__(str(report))
        self.report = report


# ---- checking -----------------------------------------------------------------

def _type_filter(ignore_types: Sequence[Any]) -> Callable[[str], bool]:
    names = set()
    for t in ignore_types:
        if isinstance(t, str):
            names.add(t)
        elif isinstance(t, type):
            names.add(t.__qualname__ if t.__module__ == "builtins"
                      else "%s.%s" % (t.__module__, t.__qualname__))
        else:
            raise TypeError("ignore_types must hold types or type names, not %r" % (t,))
    return lambda name: name in names


_UNKNOWN_TRACKED = ("unknown (the lifetimes tracker did not see it born: e.g. an object "
                    "reused from one of the interpreter's free lists)")


def _site(obj: Any, tracker: Any = None) -> Tuple[str, Tuple[str, ...]]:
    """The allocation site of ``obj`` as "file:line" and a short traceback,
    oldest frame first (as Python prints them), heaplens' own frames left
    out. From the lifetimes tracker when the check ran one, else from
    tracemalloc."""
    if tracker is not None:
        try:
            tb = tracker.allocation_site(obj)
        except Exception:
            tb = None
        if tb:
            frames = [f for f in tb if not f.filename.startswith(_HERE)] or list(tb)
            lines = tuple("%s:%d" % (f.filename, f.lineno) for f in reversed(frames))
            return lines[-1], lines
        if not tracemalloc.is_tracing():
            return _UNKNOWN_TRACKED, ()
    if not tracemalloc.is_tracing():
        return "unknown (sites need tracemalloc or the lifetimes tracker; check_leaks(sites=True) " \
               "starts one)", ()
    tb = tracemalloc.get_object_traceback(obj)
    if tb is None:
        return ("unknown (allocated before tracing started, or an instance tracemalloc "
                "cannot locate: plain-class instances on 3.11)"), ()
    # Oldest frame first, as Python prints tracebacks; the site is the last.
    frame = tb[-1]
    lines = tuple("%s:%d" % (f.filename, f.lineno) for f in tb
                  if not f.filename.startswith(_HERE))
    return "%s:%d" % (frame.filename, frame.lineno), lines


def _census(bookkeeping: Any) -> Any:
    """A census of every object, with addresses (so that the last one can
    tell which objects are new). A census keeps its rows in C, where later
    censuses do not see them, and it has no references to follow: keeping
    censuses in ``bookkeeping`` hides nothing. Counts per type are read
    from them only after the last one (a dict of counts would hold small
    ints and type-name strs that the heap shares, and leaving out what the
    bookkeeping holds would then hide them from the next count)."""
    return _c.heap_census(model=0, align=8, addresses=True, exclude=(bookkeeping,))


# ---- the cheap screen ---------------------------------------------------------

_malloc_probe: Any = None   # a function giving malloc's bytes in use, or False


def _malloc_in_use() -> int:
    """Bytes malloc has handed out (glibc's mallinfo2/mallinfo), or 0 where
    that cannot be asked. Objects over 512 bytes (a long str, a big int)
    come from malloc, not from the interpreter's small-block allocator, so
    the allocated-blocks count does not see them."""
    global _malloc_probe
    if _malloc_probe is None:
        _malloc_probe = False
        try:
            import ctypes
            libc = ctypes.CDLL(None)
            fn = getattr(libc, "mallinfo2", None)
            field = ctypes.c_size_t
            if fn is None:
                fn, field = libc.mallinfo, ctypes.c_int

            class _Info(ctypes.Structure):
                _fields_ = [(n, field) for n in (
                    "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                    "uordblks", "fordblks", "keepcost")]

            fn.restype = _Info
            fn.argtypes = []

            def probe() -> int:
                info = fn()
                return info.uordblks + info.hblkhd

            probe()
            _malloc_probe = probe
        except Exception:
            pass
    return _malloc_probe() if _malloc_probe else 0


def _noop() -> None:
    pass


def _collect_young(quiet: Any) -> None:
    _clear_only(fast=True)
    with quiet:
        gc.collect()
    quiet._saved = None


def _young_counts() -> Dict[type, int]:
    """The gc-tracked objects made since the heap was frozen (gc.freeze)
    that are still alive, by type. With the older heap frozen, collecting
    and counting cost what the runs made, not what the whole session
    holds."""
    counts: Dict[type, int] = {}
    for o in gc.get_objects(2):
        t = type(o)
        counts[t] = counts.get(t, 0) + 1
    return counts


_HAVE_GC = 1 << 14   # Py_TPFLAGS_HAVE_GC


def _untracked_kinds(all_types: List[type]) -> Tuple[type, ...]:
    """The classes whose objects the cyclic GC may not track, which the
    screen's count of new gc-tracked objects cannot see: those without GC
    support (str, int, float, bytes...; heap classes with ``__slots__ =
    ()``), and tuple and dict, whose objects the GC stops tracking when
    they hold only atoms. Only these are tracked for the screen: a tracker
    keeps a reference to the class of each object it tracked, so tracking
    instances of a class made in each run would keep every such class, and
    what it holds, alive: growth in every run that is the tracker's own."""
    kinds = [t for t in all_types if not (t.__flags__ & _HAVE_GC)
             and t is not object and not issubclass(t, type)]
    return tuple(kinds) + (tuple, dict)


_kinds_cache: List[Any] = [None, None]   # (modules imported, kinds)


def _kinds(all_types: Callable[[], List[type]]) -> Tuple[type, ...]:
    """_untracked_kinds of the classes alive, with their subclasses,
    found again when modules were imported since (a walk of every class
    costs milliseconds: not for every test)."""
    n = len(sys.modules)
    if _kinds_cache[0] != n:
        kinds = set(_untracked_kinds(all_types()))
        todo = list(kinds)
        while todo:
            for sub in type.__subclasses__(todo.pop()):
                if sub not in kinds:
                    kinds.add(sub)
                    todo.append(sub)
        _kinds_cache[:] = [n, tuple(kinds)]
    return _kinds_cache[1]


def _young_types() -> List[type]:
    """The types of the gc-tracked objects made since the heap was frozen
    (gc.freeze) that are still alive, one entry per object, as a list of
    types: kept from one run to the next, it holds no count (an int kept
    between two reads of the tracker's counts would be born in one run and
    die in another)."""
    return [type(o) for o in gc.get_objects(2)]


def _young_grown(prev: List[type], cur: List[type], into: set) -> None:
    pc: Dict[type, int] = {}
    for t in prev:
        pc[t] = pc.get(t, 0) + 1
    cc: Dict[type, int] = {}
    for t in cur:
        cc[t] = cc.get(t, 0) + 1
    for t, n in cc.items():
        if n > pc.get(t, 0):
            into.add(t)


class _TypeCounts:
    """Per-type counts of the objects born minus those died, from a
    lifetimes tracker's hooks (no heap walk), for the screen's counted runs.

    Blocks cancel out where types do not: a leaked str in a list that
    already existed takes a block that an older object freed in the same
    run gave back, and the allocated-blocks count does not move. Per type,
    only an object of the same type dying can offset one born, and the
    full count's census would see no growth then either. Only the objects
    made while the tracker runs have records, so an older object dying is
    no death here. The full collection before each read empties the
    interpreter's freelists, so an object that died into one is counted
    dead and a reuse of one is no birth left unseen."""

    def __init__(self) -> None:
        self.tracker: Any = None

    def start(self) -> bool:
        """False when no tracker can be used here: another tracker runs or
        its records are held (starting ours would drop them), or tracking
        is not available (generic builds)."""
        try:
            from heaplens._lifetimes import Tracker, _all_types, current_tracker
            if current_tracker() is not None or _c.track_active():
                return False
            kinds = _kinds(_all_types)
            tracker = Tracker(types=kinds, frames=0)
            # Only these are tracked: only they (and their subclasses,
            # included) need learning at start, not every class alive.
            tracker._known = list(kinds)
            self.tracker = tracker.start()
        except Exception:
            self.tracker = None
            return False
        _c.track_grown(True)
        return True

    def grown(self, into: set) -> None:
        """Add to ``into`` the types with more objects alive (born while
        tracking) than at the read before. The comparison is made in C:
        counts read into Python would be ints born between two reads."""
        into.update(_c.track_grown())

    def stop(self) -> None:
        t, self.tracker = self.tracker, None
        if t is not None:
            try:
                if t.active:
                    t.stop()
            finally:
                t.clear()


def _screen_runs(run_once: Callable[[], Any], runs: int, quiet: Any,
                 floor: Tuple[int, int] = (0, 0), by_type: bool = False
                 ) -> Tuple[bool, int, int]:
    """The every-run rule on cheap counts. The heap is frozen before a
    warm-up run, so that what the warm-up fills (caches, replaced globals)
    is counted before the counted runs start, and an object replaced in
    each run dies inside the frozen window: it is no growth.

    In each counted run: the growth of the interpreter's allocated blocks
    and of malloc's bytes in use, measured just before and after it (the
    bookkeeping alive at both moments is the same, but for the ints of the
    first measure: ``floor``), and the types with more objects alive than
    after the run before: with ``by_type``, from a lifetimes tracker's hooks
    (_TypeCounts: every object, gc-tracked or not, small or large; when no
    tracker can run, or a run raises under it, something grew and the full
    count decides), else the new gc-tracked objects by type (only the
    measure of ``floor`` runs so). Returns (something grew in every run,
    the largest block and byte growths seen, without ``by_type``)."""
    # Everything this loop keeps across a measure is made before it.
    candidates: set = set()
    up: set = set()
    state = [True, True, True, -(1 << 62), -(1 << 62)]  # first; blocks, mem grew; max b, m
    prev: Any = None
    types = _TypeCounts() if by_type else None
    gc.freeze()
    try:
        prime = 0
        if types is not None:
            if not types.start():
                return True, 0, 0
            # The warm-up runs tracked: what a run replaces (a global
            # rebound, a cache entry) was then born tracked, and its death
            # offsets its replacement's birth from the first counted run
            # on. A first measured round runs nothing: from it on, each
            # read of the counts sees the same bookkeeping alive as the
            # one before.
            prime = 1
        run_once()
        _collect_young(quiet)
        prev = _young_counts() if types is None else _young_types()
        for i in range(runs + prime):
            _collect_young(quiet)
            blocks = sys.getallocatedblocks()
            mem = _malloc_in_use()
            try:
                if i >= prime:
                    run_once()
            except Exception:
                if types is None:
                    raise
                # (code that runs a tracker of its own cannot under ours:
                # the full count, which runs none, decides)
                return True, 0, 0
            _collect_young(quiet)
            mem = _malloc_in_use() - mem
            blocks = sys.getallocatedblocks() - blocks
            if i >= prime:
                state[1] = state[1] and blocks > floor[0]
                state[2] = state[2] and mem > floor[1]
                if types is None:
                    state[3] = max(state[3], blocks)
                    state[4] = max(state[4], mem)
            del blocks, mem
            up.clear()
            if types is not None:
                # Nothing this loop made is alive here but what is alive at
                # every read (the bools of `state`, the sets, the list of
                # young types): an int kept from one read to the next (a
                # count, a maximum) would be born in one run and die in
                # another, and could hide a leaked int.
                types.grown(up)
                cur = _young_types()
                _young_grown(prev, cur, up)
                prev = cur
                del cur
            else:
                cur = _young_counts()
                up.update(t for t, n in cur.items() if n > prev.get(t, 0))
                prev = cur
                del cur
            if i < prime:
                continue
            if state[0]:
                candidates.update(up)
                state[0] = False
            else:
                candidates.intersection_update(up)
            if not (candidates or state[1] or state[2]):
                return False, state[3], state[4]
        return True, state[3], state[4]
    finally:
        prev = None
        if types is not None:
            types.stop()
        gc.unfreeze()


_floor: List[int] = []

_HEAPTYPE = 1 << 9       # Py_TPFLAGS_HEAPTYPE
_IMMORTAL = 1 << 31      # an immortal object's reference count reads at least this (3.12+)


def _only_the_interpreters_frozen(n: int) -> bool:
    """Whether the n objects of the cyclic GC's permanent generation are
    the interpreter's own: 3.12 puts the static types' immortal
    ``__bases__`` and ``__mro__`` tuples there at startup (375 on 3.12.1),
    so ``gc.get_freeze_count()`` is never 0 there. Those are found (tracked,
    immortal, and not among ``gc.get_objects()``, which leaves the
    permanent generation out) and counted: only if they are all of it is
    nothing of the user's frozen. (The screen's ``gc.unfreeze()`` moves them
    to the oldest generation, but each full collection puts them back, so
    the verdict for a count is kept: the walk over the heap and every class
    runs once per count seen.)"""
    if sys.version_info < (3, 12):
        return False
    known = _frozen_verdicts.get(n)
    if known is not None:
        return known
    if len(_frozen_verdicts) > 64:
        _frozen_verdicts.clear()
    _frozen_verdicts[n] = verdict = _count_the_interpreters_frozen() == n
    return verdict


_frozen_verdicts: Dict[int, bool] = {}


def _count_the_interpreters_frozen() -> int:
    """How many of the static types' immortal __bases__/__mro__ tuples sit
    in the permanent generation (see _only_the_interpreters_frozen)."""
    try:
        from heaplens._lifetimes import _all_types
    except Exception:
        return -1
    listed = set()
    for o in gc.get_objects():
        listed.add(id(o))
    o = None
    found = set()
    for t in _all_types():
        if t.__flags__ & _HEAPTYPE:
            continue
        for tup in (t.__bases__, t.__mro__):
            if id(tup) not in listed and gc.is_tracked(tup) and \
                    sys.getrefcount(tup) >= _IMMORTAL:
                found.add(id(tup))
    return len(found)


def _screen(run_once: Callable[[], Any], runs: int) -> bool:
    """True when something may have grown in every run (the full count then
    decides and describes); False (clean) as soon as one counted run left
    nothing behind: no type with more objects alive than after the run
    before (per type: born minus died, from a lifetimes tracker's hooks,
    and the new gc-tracked objects), no more allocated blocks, no more
    malloc'd bytes. Most code does not leak, and this says so for the price
    of a warm-up, one counted run and collections of what they made.

    A user's own gc.freeze() (or a build without pymalloc), or a tracker of
    the user's, makes it answer True, leaving the verdict to the full
    count. (What 3.12 freezes itself is told apart: see
    _only_the_interpreters_frozen.)"""
    if sys.getallocatedblocks() == 0:
        return True
    frozen = gc.get_freeze_count()
    if frozen != 0 and not _only_the_interpreters_frozen(frozen):
        return True
    quiet = _quiet_gc_callbacks()
    if not _floor:
        # What the measuring itself leaves between two measures, once.
        _screen_runs(_noop, 1, quiet)   # loads what measuring needs (ctypes)
        _, b, m = _screen_runs(_noop, 3, quiet, (1 << 30, 1 << 62))
        # An object over 512 bytes that malloc serves costs more than 512
        # bytes there; less is a buffer that grew (a list's, a dict's), not
        # a new object.
        _floor[:] = [max(0, b), max(512, m)]
    return _screen_runs(run_once, runs, quiet, (_floor[0], _floor[1]), True)[0]


def _describe(leaked: Dict[str, Tuple[int, ...]], new_objs: List[Any],
              ignore: Optional[Callable[[Any], bool]], tracker: Any = None,
              exclude: Sequence[Any] = ()) -> List[LeakedGroup]:
    by_type: Dict[str, List[Any]] = {}
    names = {}
    for o in new_objs:
        tp = type(o)
        n = names.get(tp)
        if n is None:
            n = names[tp] = (tp.__qualname__ if tp.__module__ == "builtins"
                             else "%s.%s" % (tp.__module__, tp.__qualname__))
        if n in leaked and (ignore is None or not ignore(o)):
            by_type.setdefault(n, []).append(o)
    # One chain per group, for its first object, all from one heap index.
    firsts = [objs[0] for objs in by_type.values()]
    chains = _chains(firsts, exclude=(new_objs, by_type, names, firsts, *by_type.values(),
                                      *exclude)) if firsts else []
    groups = []
    for (name, objs), chain in zip(by_type.items(), chains):
        site, tb = _site(objs[0], tracker)
        groups.append(LeakedGroup(
            type_name=name, growth=leaked[name], count=len(objs),
            shallow=sum(flatsize(o, align=8) for o in objs), deep=asizeof(*objs),
            reprs=tuple(safe_repr(o, 80) for o in objs[:3]), site=site, traceback=tb[-5:],
            chain=str(chain), chain_kind=chain.kind))
    for name, growth in leaked.items():
        if name not in by_type and (ignore is None):
            groups.append(LeakedGroup(name, growth, 0, 0, 0, (), "unknown", (),
                                      "(the objects could not be found again)", "none"))
    groups.sort(key=lambda g: (-sum(g.growth), g.type_name))
    return groups


def _growth(counts: List[Dict[str, int]], runs: int, ignored: Callable[[str], bool]
            ) -> Dict[str, Tuple[int, ...]]:
    """The regrtest rule: the types that grew in every counted run."""
    growth: Dict[str, List[int]] = {}
    for before, after in zip(counts, counts[1:]):
        for tname in set(before) | set(after):
            growth.setdefault(tname, []).append(after.get(tname, 0) - before.get(tname, 0))
    return {t: tuple(g) for t, g in growth.items()
            if len(g) == runs and all(n > 0 for n in g) and not ignored(t)}


def _new_tracker(frames: int = 5) -> Any:
    """A lifetimes tracker for the last counted run's allocation sites, or
    None when one cannot be used here: another tracker's records are held
    (starting ours would drop them), or tracking is not available."""
    try:
        from heaplens._lifetimes import Tracker, current_tracker
        if current_tracker() is not None:
            return None
        return Tracker(frames=frames)
    except Exception:
        return None


def _users_tracker_mark() -> Any:
    """With a tracker of the user's running, the ``with`` block cannot run
    its own; the user's then tells what the block made: everything born
    after a marker object made here. None when there is no such tracker or
    it does not record the marker (its types or threads leave it out):
    the block then goes by addresses only."""
    try:
        from heaplens._lifetimes import current_tracker
        u = current_tracker()
        if u is None or not u.active:
            return None
        marker = _Marker()
        rec = _c.track_lookup(marker)
        if rec is None:
            return None
        return (u, marker, rec[3])
    except Exception:
        return None


class _Marker:
    """The object whose birth marks the start of a ``with no_leaks()``
    block in a user's tracker."""
    __slots__ = ()


def _users_tracker_born(user: Any, born: List[Any], quiet: Any) -> None:
    """Add to ``born`` the objects the user's tracker saw born after the
    block's marker and still alive (the tracker must still be running: its
    records then prove their objects alive)."""
    u, marker, since = user
    try:
        if not u.active:
            return
        for sv in u.survivors(since=since):
            if sv.address == id(marker):
                continue
            o = sv.object()
            if o is not None and o is not quiet._saved and o is not born and o is not user:
                born.append(o)
            o = None
        sv = None
    except Exception:
        # (the tracker was stopped or cleared meanwhile: addresses only)
        return


_censused: List[bool] = []


def _check(run_once: Callable[[], Any], warmups: int, runs: int,
           ignore_types: Sequence[Any] = (), ignore: Optional[Callable[[Any], bool]] = None,
           sites: bool = True, name: str = "", screen: bool = True) -> LeakReport:
    if not isinstance(warmups, int) or warmups < 0:
        raise ValueError("warmups must be a non-negative int, not %r" % (warmups,))
    if not isinstance(runs, int) or runs < 1:
        raise ValueError("runs must be a positive int, not %r" % (runs,))
    if ignore is not None and not callable(ignore):
        raise TypeError("ignore must be a callable or None")
    ignored = _type_filter(ignore_types)
    _require("leaks")
    started = False
    tracker = None
    tracking = False
    try:
        done = 0
        if warmups >= 1 and screen:
            if not _screen(run_once, runs):
                return LeakReport([], warmups, runs, name)
            done = 1 + runs
        # After the screen, one run more settles what the full clearing
        # (warnings registries) and the tracker's creation change once.
        for _ in range(max(1 if done else 0, warmups - done)):
            run_once()
        # Everything made from here on to count and describe is kept in
        # `book`, which the counts leave out (with all it holds).
        book: List[Any] = []
        censuses: List[Any] = []
        book.append(censuses)
        if sites:
            # Made before the first count: its own objects are then old.
            tracker = _new_tracker()
            book.append(tracker)
        if not _censused:
            # The first census of a process leaves a str behind that dies
            # at the next one: it would hide one str of the first run.
            _census(book)
            _censused.append(True)
        clear_caches()
        censuses.append(_census(book))
        for i in range(runs):
            run_once()
            clear_caches()
            censuses.append(_census(book))
        census = censuses[-1]
        counts = [{n: c for n, c, _size in cen.rows()} for cen in censuses]
        book.append(counts)
        leaked = _growth(counts, runs, ignored)
        book.append(leaked)
        if not leaked:
            return LeakReport([], warmups, runs, name)
        # One more run describes the leak: its new objects of the leaked
        # types, with their allocation sites (recorded for this run only:
        # tracking slows everything it watches, and it stays out of the
        # counts that decided).
        if tracker is not None:
            try:
                tracker.start()
                tracking = True
            except Exception:
                book.remove(tracker)
                tracker = None
        if sites and tracker is None and not tracemalloc.is_tracing():
            tracemalloc.start(5)
            started = True
        run_once()
        if tracking:
            tracker.stop()
            tracking = False
        clear_caches()
        new_objs = census.new_objects(None, (book,))
        groups = _describe(leaked, new_objs, ignore, tracker, (book,))
        del new_objs
        if ignore is not None:
            groups = [g for g in groups if g.count > 0]
        return LeakReport(groups, warmups, runs, name)
    finally:
        if tracking:
            tracker.stop()
        if tracker is not None and not tracker.active:
            try:
                tracker.clear()
            except Exception:
                pass
        if started:
            tracemalloc.stop()


def check_leaks(fn: Callable[..., Any], *args: Any, warmups: int = 2, runs: int = 3,
                ignore_types: Sequence[Any] = (), ignore: Optional[Callable[[Any], bool]] = None,
                sites: bool = True, **kwargs: Any) -> LeakReport:
    """Call ``fn(*args, **kwargs)`` ``warmups`` times, then ``runs`` times
    counting live objects by type after each; return a LeakReport of the
    types that grew in every counted run. ``ignore_types`` (types or type
    names) and ``ignore(obj) -> bool`` leave things out. ``sites=True``
    traces allocations with tracemalloc during the check (unless it is
    already tracing) to tell where leaked objects were allocated."""
    if not callable(fn):
        raise TypeError("check_leaks needs a callable, not %r" % (fn,))
    return _check(lambda: fn(*args, **kwargs), warmups, runs, ignore_types, ignore, sites,
                  getattr(fn, "__qualname__", repr(fn)))


class no_leaks:
    """Fail when code leaks.

    As a decorator, ``@no_leaks(warmups=2, runs=3)`` checks the function
    with check_leaks on each call and raises LeakError carrying the report.
    As a context manager, ``with no_leaks(): ...`` runs its block once and
    raises LeakError if objects created inside the block are still alive
    after it (once garbage has been collected and caches cleared).
    """

    def __init__(self, warmups: int = 2, runs: int = 3, ignore_types: Sequence[Any] = (),
                 ignore: Optional[Callable[[Any], bool]] = None, sites: bool = True) -> None:
        if callable(warmups) and not isinstance(warmups, int):
            raise TypeError("use @no_leaks() with parentheses")
        self.warmups, self.runs = warmups, runs
        self.ignore_types, self.ignore, self.sites = ignore_types, ignore, sites
        self._before = None
        self._started = False
        self._tracker: Any = None
        self._user: Any = None   # (a tracker of the user's, its marker, the marker's birth)

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result: List[Any] = []
            def run_once() -> None:
                result[:] = [fn(*args, **kwargs)]
            report = _check(run_once, self.warmups, self.runs, self.ignore_types, self.ignore,
                            self.sites, getattr(fn, "__qualname__", repr(fn)))
            if report.leaked:
                raise LeakError(report)
            return result[0] if result else None
        return wrapper

    def __enter__(self) -> "no_leaks":
        self._tracker = None
        # Made before the snapshot: the tracker itself is no new object.
        t = _new_tracker(5 if self.sites else 1)
        quiet = _quiet_gc_callbacks()
        with quiet:
            clear_caches()
            self._before = snapshot(addresses=True)
        # A lifetimes tracker runs over the block: it tells where each
        # leaked object was allocated (every version; tracemalloc cannot
        # locate plain-class instances on 3.11), and which objects were
        # allocated in the block even at the address of one that was alive
        # at the snapshot and died since (the snapshot goes by addresses).
        if t is not None:
            try:
                t.start()
                self._tracker = t
            except Exception:
                pass
        if self._tracker is None and self.sites and not tracemalloc.is_tracing():
            tracemalloc.start(5)
            self._started = True
        # What died into the interpreter's freelists since the snapshot
        # (our own temporaries among them) goes back to the allocator: a
        # freelist's reuse is no allocation the tracker sees.
        with quiet:
            gc.collect()
        if self._tracker is None:
            self._user = _users_tracker_mark()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        t, self._tracker = self._tracker, None
        user, self._user = self._user, None
        born: List[Any] = []
        try:
            before, self._before = self._before, None
            quiet = _quiet_gc_callbacks()
            if exc_type is not None:
                return
            with quiet:
                clear_caches()
            if t is not None:
                # Taken while the tracker runs: a record then proves its
                # object alive (Tracker.survivors). What this check made
                # since the block ended is not the block's.
                for sv in t.survivors():
                    o = sv.object()
                    if o is not None and o is not quiet._saved and o is not born:
                        born.append(o)
                    o = None
                sv = None
                t.stop()
            elif user is not None:
                _users_tracker_born(user, born, quiet)
            with quiet:
                new_objs = before._census.new_objects(None, (before, self, quiet, born, t, user,
                                                                  _OURS, *_OURS))
            # (a plain loop: a closure's cell would be made as this frame
            # starts, at its caller's line for the tracker)
            seen = set()
            for o in new_objs:
                seen.add(id(o))
            for o in born:
                if id(o) not in seen:
                    new_objs.append(o)
            o = seen = None
            born.clear()
            ignored = _type_filter(self.ignore_types)
            # Frames of this very check, and our own snapshot, are not the
            # block's: leave them out, and whatever the caller ignores.
            keep = []
            for o in new_objs:
                tp = type(o)
                tname = (tp.__qualname__ if tp.__module__ == "builtins"
                         else "%s.%s" % (tp.__module__, tp.__qualname__))
                if isinstance(o, types.FrameType) or o is self or o is quiet._saved or \
                        o is before or o is t or o is user or \
                        (user is not None and (o is user[1] or o is user[2])) or \
                        ignored(tname):
                    continue
                if tp.__module__.startswith("heaplens") or (
                        tp is types.MethodType and
                        type(o.__self__).__module__.startswith("heaplens")):
                    continue
                if self.ignore is not None and self.ignore(o):
                    continue
                keep.append(o)
            del new_objs
            if keep:
                counts: Dict[str, int] = {}
                for o in keep:
                    tp = type(o)
                    n = (tp.__qualname__ if tp.__module__ == "builtins"
                         else "%s.%s" % (tp.__module__, tp.__qualname__))
                    counts[n] = counts.get(n, 0) + 1
                leaked = {n: (c,) for n, c in counts.items()}
                sites_from = t if t is not None else (user[0] if user is not None else None)
                report = LeakReport(_describe(leaked, keep, None,
                                              sites_from if self.sites else None),
                                    0, 1, "the with block")
                raise LeakError(report)
        finally:
            born.clear()
            if t is not None:
                try:
                    if t.active:
                        t.stop()
                finally:
                    t.clear()
            if self._started:
                tracemalloc.stop()
                self._started = False
