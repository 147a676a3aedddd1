"""Heap snapshots: counts and bytes per type of every live object, their
diffs, saved files, and a periodic sampler (Monitor)."""

from __future__ import annotations

import io
import os
import struct
import sys
import threading
import time
import weakref
import zlib
from typing import (Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence,
                    Tuple, Union)

from heaplens import _heaplens as _c
from heaplens._capabilities import require as _require
from heaplens._format import human_count, human_size, table
from heaplens._rows import TypeRows
from heaplens._quiet import invisible, quietly

__all__ = ["Monitor", "Snapshot", "SnapshotDiff", "SnapshotFormatError", "load",
           "new_objects", "snapshot"]

_HERE = os.path.dirname(os.path.abspath(__file__))
_MODELS = {"getsizeof": _c.MODEL_GETSIZEOF, "allocator": _c.MODEL_ALLOCATOR}
_MODEL_NAMES = {v: k for k, v in _MODELS.items()}


class SnapshotRow(NamedTuple):
    """One group of a snapshot: its type name, objects and bytes."""
    type_name: str
    count: int
    size: int


class DiffRow(NamedTuple):
    """One group of a diff: the newer figures and their change."""
    type_name: str
    count: int
    size: int
    count_diff: int
    size_diff: int


def _check_limit(limit: Any) -> None:
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError("limit must be an int or None, not %s" % type(limit).__name__)
    if limit < 0:
        raise ValueError("limit must be >= 0, not %d" % limit)


def _check_path(fname: str, path: Any) -> None:
    """A file name: str, bytes or os.PathLike. An int would be taken as an
    open file descriptor by open(), which is never what is meant here."""
    if isinstance(path, bool) or not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("%s() needs a file path (str, bytes or os.PathLike), not %s %r"
                        % (fname, type(path).__name__, path))


def _sorted_rows(rows: Iterable[Tuple[str, int, int]]) -> Tuple[SnapshotRow, ...]:
    # tuple.__new__, not SnapshotRow(...): a NamedTuple's __new__ is code
    # compiled from "<string>", so a tracker's site for the rows would be
    # "<string>:1", not this file, and snapshot(by="site") would list an
    # earlier snapshot's rows as the user's objects.
    return tuple(sorted((tuple.__new__(SnapshotRow, r) for r in rows),
                        key=lambda r: (-r.size, r.type_name)))


# The snapshots and diffs alive: each snapshot leaves them out, with what
# only they hold (their rows, names, census), as the user's own `exclude`.
# Without it, a diff of two snapshots with nothing done between them read
# heaplens._snapshot.Snapshot +1, heaplens._heaplens.Census +1 and the
# earlier snapshot's ints, float and str.
_OURS: "weakref.WeakSet[Any]" = weakref.WeakSet()


class SnapshotFormatError(ValueError):
    """A snapshot file is not one heaplens can read: truncated, corrupted,
    of a newer format version, or not a snapshot at all."""


class Snapshot:
    """Counts and bytes per type of every live object at one moment.

    ``rows`` (largest first), ``total_count``, ``total_size``, ``timestamp``
    (seconds since the epoch), ``model``. ``newer.diff(older)`` compares two.
    """

    __slots__ = ("_census", "_rows", "timestamp", "total_count", "total_size", "model", "by",
                 "python", "peak_bytes", "__weakref__")

    def __init__(self, rows: Optional[Iterable[Tuple[str, int, int]]], timestamp: float,
                 model: str = "getsizeof", by: str = "type", python: str = "",
                 census: Any = None, peak_bytes: int = 0) -> None:
        # A snapshot taken here keeps its rows in the C census, where later
        # snapshots do not see them; a loaded one keeps them in Python.
        self._census = census
        self._rows = None if rows is None else _sorted_rows(rows)
        _OURS.add(self)
        self.timestamp = timestamp
        self.model = model
        self.by = by
        self.python = python
        if census is not None:
            self.total_count, self.total_size = census.total_count, census.total_size
        else:
            self.total_count = sum(r.count for r in self._rows)
            self.total_size = sum(r.size for r in self._rows)
        self.peak_bytes = peak_bytes

    @property
    def rows(self) -> Tuple[SnapshotRow, ...]:
        """(type_name, count, size) per type, largest first."""
        if self._rows is not None:
            return self._rows
        return _sorted_rows(self._census.rows())

    def __len__(self) -> int:
        return len(self.rows)

    @invisible
    def __repr__(self) -> str:
        return "<Snapshot %s objects, %s in %d types>" % (
            human_count(self.total_count), human_size(self.total_size), len(self))

    @invisible
    def __str__(self) -> str:
        return self.format()

    @invisible
    def format(self, limit: Optional[int] = 20) -> str:
        """The largest ``limit`` groups (None for all) as an aligned table;
        an ``(N other types)`` row (``sites`` for ``by="site"``) holds the
        rest, and ``total`` is the whole snapshot's."""
        return table((self._group_word(), "objects", "size"), self._table_rows(limit))

    def _group_word(self) -> str:
        return "site" if self.by == "site" else "type"

    def _table_rows(self, limit: Optional[int]) -> List[Tuple[str, ...]]:
        _check_limit(limit)
        all_rows = self.rows
        shown = all_rows if limit is None else all_rows[:limit]
        rows = [(r.type_name, human_count(r.count), human_size(r.size)) for r in shown]
        rest = all_rows[len(shown):]
        if rest:
            rows.append(("(%s other %ss)" % (human_count(len(rest)), self._group_word()),
                         human_count(sum(r.count for r in rest)),
                         human_size(sum(r.size for r in rest))))
        total = "total (all %s %ss)" % (human_count(len(all_rows)), self._group_word()) \
            if rest else "total"
        rows.append((total, human_count(self.total_count), human_size(self.total_size)))
        return rows

    @invisible
    def _repr_html_(self) -> str:
        from heaplens._html import snapshot_html
        return snapshot_html(self._group_word(), self._table_rows(20), self.total_count,
                             self.total_size, len(self), self.model)

    def row(self, type_name: str) -> Optional[SnapshotRow]:
        """The row of ``type_name``, or None."""
        for r in self.rows:
            if r.type_name == type_name:
                return r
        return None

    @invisible
    def diff(self, older: "Snapshot") -> "SnapshotDiff":
        """What changed from ``older`` to this snapshot, per type."""
        if not isinstance(older, Snapshot):
            raise TypeError("diff() needs a Snapshot, not %s" % type(older).__name__)
        if older.model != self.model:
            raise ValueError("cannot diff a %r snapshot with a %r one" % (self.model, older.model))
        old = {r.type_name: r for r in older.rows}
        rows = []
        for r in self.rows:
            o = old.pop(r.type_name, None)
            oc, os_ = (o.count, o.size) if o else (0, 0)
            rows.append(DiffRow(r.type_name, r.count, r.size, r.count - oc, r.size - os_))
        for o in old.values():
            rows.append(DiffRow(o.type_name, 0, 0, -o.count, -o.size))
        return SnapshotDiff(rows, older, self)

    def new_objects(self, type: Union[type, str, None] = None) -> List[Any]:
        """The live objects that did not exist when this snapshot was taken
        (see ``heaplens.new_objects``)."""
        return quietly(Snapshot._new_objects, self, type)

    def _new_objects(self, type):
        if self._census is None:
            raise ValueError("this snapshot has no object addresses: it was loaded from a "
                             "file")
        return self._census.new_objects(type, (_OURS, *_OURS))

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Write the snapshot to ``path`` in the format of docs/format.md."""
        _check_path("save", path)
        data = _encode(self)
        tmp = "%s.tmp%d" % (os.fsdecode(path), os.getpid())
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)


def snapshot(model: str = "getsizeof", align: int = 8, by: str = "type",
             addresses: bool = True, exclude: Sequence[Any] = ()) -> Snapshot:
    """A Snapshot of every live object: the gc-tracked ones and the untracked
    ones they hold (ints, strs, floats...), counted and sized by type with
    ``asizeof``'s flat-size model.

    ``addresses=True`` keeps the set of object addresses (about a byte per
    object) so that ``new_objects(since=...)`` can work.
    ``exclude`` lists objects whose contents are left out (your own
    bookkeeping: a Monitor excludes its samples this way).
    ``by="site"`` groups by allocation site (``file:line`` of the innermost
    frame) the objects a running ``heaplens.track()`` recorded; the objects
    it did not record (older ones, or filtered out) make one row,
    ``<not tracked>``.
    """
    return quietly(_snapshot, model, align, by, addresses, exclude)


def _snapshot(model, align, by, addresses, exclude):
    if model not in _MODELS:
        raise ValueError("model must be 'getsizeof' or 'allocator', not %r" % (model,))
    if by not in ("type", "site"):
        raise ValueError("by must be 'type' or 'site', not %r" % (by,))
    _require("allocator_model" if model == "allocator" else "snapshot")
    tracker = None
    if by == "site":
        _require("snapshot_by_site")
        from heaplens._lifetimes import current_tracker
        tracker = current_tracker()
        if tracker is None or not tracker.active:
            raise ValueError("by='site' needs a running tracker: take the snapshot inside "
                             "`with heaplens.track():`")
    if not isinstance(align, int) or align < 1 or align & (align - 1):
        raise ValueError("align must be a power of 2, not %r" % (align,))
    t = time.time()
    census = _c.heap_census(model=_MODELS[model], align=align, addresses=bool(addresses),
                            exclude=(*exclude, _OURS, *_OURS))
    if not addresses:
        census.release_addresses()
    if tracker is not None:
        return Snapshot(_site_rows(tracker, census, _MODELS[model], align), t, model, by,
                        sys.version.split()[0], census, census.peak_bytes)
    return Snapshot(None, t, model, by, sys.version.split()[0], census, census.peak_bytes)


def _site_rows(tracker: Any, census: Any, model: int, align: int) -> List[Tuple[str, int, int]]:
    # Summed per site in C: the tracker is running, and records what is
    # made here; a Python object per tracked object (a Survivor, its tuple
    # and ints) would show in the user's born counts as the tool's own work.
    # What is made here is a few objects per site.
    groups: Dict[str, List[int]] = {}
    count = size = 0
    for site, n, nbytes in _c.track_site_totals(model, align):
        frames = _c.track_site(site)
        if frames and frames[0][0].startswith(_HERE):
            continue    # made by heaplens itself (this census, its rows): not the user's
        key = "%s:%d" % (frames[0][0], frames[0][1]) if frames else "<no Python frame>"
        del frames
        g = groups.setdefault(key, [0, 0])
        g[0] += n
        g[1] += nbytes
        count += n
        size += nbytes
    rows = [(k, c, n) for k, (c, n) in groups.items()]
    rows.append(("<not tracked>", max(0, census.total_count - count),
                 max(0, census.total_size - size)))
    return rows


def new_objects(since: Snapshot, type: Union[type, str, None] = None) -> List[Any]:
    """Objects created since the snapshot ``since`` and still alive, like
    objgraph's ``get_new_ids``; ``type`` (a class or its name) filters them.

    An object whose address was free at snapshot time counts as new; one
    created at the address of an object that has died since is missed.
    """
    return quietly(_new_objects, since, type)


def _new_objects(since, type):
    if not isinstance(since, Snapshot):
        raise TypeError("since must be a Snapshot, not %s" % (since.__class__.__name__,))
    return since.new_objects(type)


class SnapshotDiff(TypeRows[DiffRow]):
    """Per-type changes between two snapshots, largest growth first."""

    def __init__(self, rows: Sequence[DiffRow], older: Optional[Snapshot] = None,
                 newer: Optional[Snapshot] = None,
                 rest: Tuple[int, int, int] = (0, 0, 0)) -> None:
        self.rows: List[DiffRow] = sorted(
            rows, key=lambda r: (-r.size_diff, -r.count_diff, r.type_name))
        self.older = older
        self.newer = newer
        # (groups, count_diff, size_diff) of the rows top() left out: the
        # totals stay the whole diff's.
        self._rest = rest
        _OURS.add(self)

    @property
    def count_diff(self) -> int:
        """The change in objects of the whole diff (top(n) included: the
        rows it leaves out still count)."""
        return sum(r.count_diff for r in self.rows) + self._rest[1]

    @property
    def size_diff(self) -> int:
        """The change in bytes of the whole diff (see count_diff)."""
        return sum(r.size_diff for r in self.rows) + self._rest[2]

    @property
    def other(self) -> Tuple[int, int, int]:
        """(groups, count_diff, size_diff) of the groups ``top(n)`` left
        out; (0, 0, 0) for a full diff."""
        return self._rest

    @invisible
    def top(self, n: int = 10) -> "SnapshotDiff":
        """The ``n`` groups that grew most (by bytes). Its totals (and the
        ``total`` row it prints) stay those of the whole diff; the groups
        left out are summed in ``other`` (an ``(N other types)`` row)."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError("n must be an int, not %s" % type(n).__name__)
        if n < 0:
            raise ValueError("n must be a non-negative int, not %r" % (n,))
        return SnapshotDiff(self.rows[:n], self.older, self.newer, self._plus(self.rows[n:]))

    def _plus(self, cut: Sequence[DiffRow]) -> Tuple[int, int, int]:
        g, c, n = self._rest
        return (g + len(cut), c + sum(r.count_diff for r in cut),
                n + sum(r.size_diff for r in cut))

    @invisible
    def changed(self) -> "SnapshotDiff":
        """Only the groups whose count or size changed."""
        return SnapshotDiff([r for r in self.rows if r.count_diff or r.size_diff],
                            self.older, self.newer, self._rest)

    @invisible
    def filter(self, type: Optional[str] = None, module: Optional[str] = None
               ) -> "SnapshotDiff":
        """Groups whose type name contains ``type`` and/or whose module is
        ``module`` (or a submodule of it; ``'builtins'`` for builtin types)."""
        for name, v in (("type", type), ("module", module)):
            if v is not None and not isinstance(v, str):
                raise TypeError("filter(%s=...) needs a str, not %s" % (name, v.__class__.__name__))
        def keep(r: DiffRow) -> bool:
            if type is not None and type not in r.type_name:
                return False
            if module is not None:
                mod = r.type_name.rpartition(".")[0] if "." in r.type_name else "builtins"
                if not (mod == module or mod.startswith(module + ".")):
                    return False
            return True
        # A new selection: its totals are its own rows' (the left-out rows
        # of a top() view are not known by name, so they are dropped).
        return SnapshotDiff([r for r in self.rows if keep(r)], self.older, self.newer)

    def _table_rows(self, limit: Optional[int]) -> List[Tuple[str, ...]]:
        """The table's rows: the first ``limit`` groups, one ``(N other
        types)`` row for the rest (the groups left out here or by top()),
        and the whole diff's total."""
        _check_limit(limit)
        shown = self.rows if limit is None else self.rows[:limit]
        rows = [(r.type_name, human_count(r.count), human_count(r.count_diff, signed=True),
                 human_size(r.size), human_size(r.size_diff, signed=True)) for r in shown]
        g, c, n = self._plus(self.rows[len(shown):])
        if g:
            rows.append(("(%s other types)" % human_count(g), "", human_count(c, signed=True), "",
                         human_size(n, signed=True)))
        # Which total it is, when rows are left out: the whole diff's.
        total = "total (all %s types)" % human_count(len(shown) + g) if g else "total"
        rows.append((total, "", human_count(self.count_diff, signed=True), "",
                     human_size(self.size_diff, signed=True)))
        return rows

    @invisible
    def format(self, limit: Optional[int] = 20) -> str:
        """An aligned table of the first ``limit`` rows (None for all), an
        ``(N other types)`` row for the groups not shown, and the total of
        the whole diff."""
        return table(("type", "objects", "+/-", "size", "+/- size"), self._table_rows(limit))

    @invisible
    def __str__(self) -> str:
        return self.format()

    @invisible
    def __repr__(self) -> str:
        return "<SnapshotDiff %d types, %s objects, %s>" % (
            len(self.rows), human_count(self.count_diff, signed=True),
            human_size(self.size_diff, signed=True))

    @invisible
    def _repr_html_(self) -> str:
        from heaplens._html import diff_html
        return diff_html(self._table_rows(50), self.count_diff, self.size_diff)


# ---- file format (docs/format.md) ------------------------------------------

_MAGIC = b"HEAPLENS"
_VERSION = 1
_HEADER = struct.Struct("<8sHHdBB")   # magic, version, flags, timestamp, model, by
_ROW = struct.Struct("<QQ")            # count, size
# Compiled once: struct.pack(fmt) caches each new format in the struct
# module, which a run that saves its samples showed as growth.
_U8, _U16, _U32 = struct.Struct("<B"), struct.Struct("<H"), struct.Struct("<I")
_MAX_ROWS = 10_000_000
_MAX_NAME = 4096
_BYS = {"type": 0, "site": 1}
_BY_NAMES = {v: k for k, v in _BYS.items()}


def _encode(s: Snapshot) -> bytes:
    out = io.BytesIO()
    out.write(_HEADER.pack(_MAGIC, _VERSION, 0, float(s.timestamp), _MODELS[s.model],
                           _BYS[s.by]))
    py = s.python.encode("utf-8")[:255]
    out.write(_U8.pack(len(py)) + py)
    out.write(_U32.pack(len(s.rows)))
    for r in s.rows:
        name = r.type_name.encode("utf-8", "surrogatepass")[:_MAX_NAME]
        out.write(_U16.pack(len(name)) + name + _ROW.pack(r.count, r.size))
    body = out.getvalue()
    return body + _U32.pack(zlib.crc32(body) & 0xFFFFFFFF)


def _decode(data: bytes, source: str) -> Snapshot:
    def fail(why: str) -> SnapshotFormatError:
        return SnapshotFormatError("%s is not a valid heaplens snapshot: %s" % (source, why))
    if len(data) < _HEADER.size + 1 + 4 + 4:
        if not data.startswith(_MAGIC[:len(data)]) or not data:
            raise fail("it does not start with the heaplens magic bytes")
        raise fail("it is truncated (%d bytes)" % len(data))
    magic, version, flags, timestamp, model, by = _HEADER.unpack_from(data, 0)
    if magic != _MAGIC:
        raise fail("it does not start with the heaplens magic bytes")
    if version != _VERSION:
        raise fail("format version %d; this heaplens reads version %d" % (version, _VERSION))
    body, crc = data[:-4], _U32.unpack(data[-4:])[0]
    if zlib.crc32(body) & 0xFFFFFFFF != crc:
        raise fail("its checksum does not match (the file is truncated or corrupted)")
    if flags != 0:
        raise fail("unknown flags %#x" % flags)
    if model not in _MODEL_NAMES:
        raise fail("unknown size model %d" % model)
    if by not in _BY_NAMES:
        raise fail("unknown grouping %d" % by)
    if not (timestamp == timestamp) or abs(timestamp) > 1e11:
        raise fail("implausible timestamp %r" % timestamp)
    pos = _HEADER.size
    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(body):
            raise fail("it is truncated at byte %d" % pos)
        chunk = body[pos:pos + n]
        pos += n
        return chunk
    def text(raw: bytes, what: str) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise fail("%s is not valid UTF-8" % what) from None
    python = text(take(take(1)[0]), "the Python version")
    (nrows,) = _U32.unpack(take(4))
    if nrows > _MAX_ROWS:
        raise fail("it claims %d rows" % nrows)
    rows = []
    seen = set()
    for i in range(nrows):
        (n,) = _U16.unpack(take(2))
        if n == 0 or n > _MAX_NAME:
            raise fail("row %d has a name of %d bytes" % (i, n))
        name = text(take(n), "row %d's name" % i)
        if name in seen:
            raise fail("row %d repeats the name %r" % (i, name))
        seen.add(name)
        count, size = _ROW.unpack(take(_ROW.size))
        if count > 1 << 48 or size > 1 << 56:
            raise fail("row %d has implausible figures (%d objects, %d bytes)" % (i, count, size))
        rows.append((name, count, size))
    if pos != len(body):
        raise fail("%d unexpected bytes after the last row" % (len(body) - pos))
    return Snapshot(rows, timestamp, _MODEL_NAMES[model], _BY_NAMES[by], python)


@invisible
def load(path: Union[str, "os.PathLike[str]"]) -> Snapshot:
    """Read a snapshot written by ``Snapshot.save``. Raises
    SnapshotFormatError for anything that is not a valid snapshot file,
    TypeError if ``path`` is not a path."""
    _check_path("load", path)
    with open(path, "rb") as f:
        data = f.read(256 * 1024 * 1024 + 1)
    if len(data) > 256 * 1024 * 1024:
        raise SnapshotFormatError("%s is not a valid heaplens snapshot: larger than 256 MiB"
                                  % os.fsdecode(path))
    return _decode(data, os.fsdecode(path))


# ---- periodic sampling -------------------------------------------------------

class Sample(NamedTuple):
    """One Monitor sample: seconds since start, totals, and per type
    (count, size) for the types kept."""
    t: float
    total_count: int
    total_size: int
    types: Dict[str, Tuple[int, int]]


class Monitor:
    """Take a snapshot every ``interval`` seconds on a background thread and
    keep the time series of count and size per type (the ``top`` largest
    types of each sample only, if given).

        with heaplens.Monitor(interval=0.5) as m:
            work()
        print(m.growth())

    ``on_sample(sample)`` is called after each sample (on the sampler
    thread). Snapshots hold the GIL while they walk the heap, so the
    program pauses for that time (about 60 ns per object).
    """

    def __init__(self, interval: float = 1.0, top: Optional[int] = None,
                 model: str = "getsizeof",
                 on_sample: Optional[Callable[[Sample], None]] = None) -> None:
        if not isinstance(interval, (int, float)) or not interval > 0:
            raise ValueError("interval must be a positive number of seconds, not %r"
                             % (interval,))
        if top is not None and (not isinstance(top, int) or top < 1):
            raise ValueError("top must be a positive int or None, not %r" % (top,))
        if model not in _MODELS:
            raise ValueError("model must be 'getsizeof' or 'allocator', not %r" % (model,))
        if on_sample is not None and not callable(on_sample):
            raise TypeError("on_sample must be callable, not %s" % type(on_sample).__name__)
        self.interval = float(interval)
        self.top = top
        self.model = model
        self.on_sample = on_sample
        self.samples: List[Sample] = []
        self.first: Optional[Snapshot] = None
        self.last: Optional[Snapshot] = None
        self.error: Optional[BaseException] = None
        self._t0 = 0.0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> "Monitor":
        """Take the first sample now and start sampling. Raises RuntimeError
        if already running."""
        if self._thread is not None:
            raise RuntimeError("this Monitor is already running")
        self._stop.clear()
        self._t0 = time.monotonic()
        self.sample()
        self._thread = threading.Thread(target=self._run, name="heaplens-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> "Monitor":
        """Stop sampling after one last sample. Raises RuntimeError if not
        running; re-raises an error the sampler thread met."""
        if self._thread is None:
            raise RuntimeError("this Monitor is not running")
        self._stop.set()
        self._thread.join()
        self._thread = None
        self.sample()
        if self.error is not None:
            err, self.error = self.error, None
            raise err
        return self

    def __enter__(self) -> "Monitor":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except BaseException as e:  # reported by stop()
                self.error = e
                return

    def sample(self) -> Sample:
        """Take one sample now (also used by the sampler thread)."""
        s = self._take()
        if self.on_sample is not None:
            self.on_sample(s)   # (the user's code: a running tracker sees it)
        return s

    def _take(self) -> Sample:
        return quietly(Monitor._take_quietly, self)

    def _take_quietly(self):
        snap = snapshot(self.model, addresses=False, exclude=(self,))
        rows = snap.rows if self.top is None else snap.rows[:self.top]
        s = Sample(time.monotonic() - self._t0, snap.total_count, snap.total_size,
                   {r.type_name: (r.count, r.size) for r in rows})
        with self._lock:
            if self.first is None:
                self.first = snap
            self.last = snap
            self.samples.append(s)
        return s

    @invisible
    def growth(self) -> SnapshotDiff:
        """The diff from the first sample to the last."""
        if self.first is None or self.last is None:
            raise RuntimeError("no samples yet: start() the Monitor first")
        return self.last.diff(self.first)

    @invisible
    def series(self, type_name: str, what: str = "size") -> List[Tuple[float, int]]:
        """(seconds, value) for one type over the samples; value is 'size'
        or 'count', 0 where the type was not among the kept ones."""
        if not isinstance(type_name, str):
            raise TypeError("series() needs a type name (str), not %s"
                            % type_name.__class__.__name__)
        if what not in ("size", "count"):
            raise ValueError("what must be 'size' or 'count', not %r" % (what,))
        i = 1 if what == "size" else 0
        return [(s.t, s.types.get(type_name, (0, 0))[i]) for s in self.samples]

    def _report_view(self, top: int) -> dict:
        # What report_html() shows, as plain values (heaplens._report.render_html).
        growth = self.growth()
        last = self.samples[-1]
        names = [n for n, _ in sorted(last.types.items(), key=lambda kv: -kv[1][1])][:top]
        return {"samples": len(self.samples), "span": last.t, "interval": self.interval,
                "model": self.model, "total_count": last.total_count,
                "total_size": last.total_size, "count_diff": growth.count_diff,
                "size_diff": growth.size_diff,
                "size_series": [(n, self.series(n, "size")) for n in names],
                "count_series": [(n, self.series(n, "count")) for n in names],
                "total_series": [("all objects", [(s.t, s.total_size) for s in self.samples])],
                "rows": list(growth.changed().rows[:40])}

    def report_html(self, path: Union[str, "os.PathLike[str]"], title: str = "heaplens report",
                    top: int = 8, tracker: Any = None,
                    sites: Sequence[Tuple[str, str, int, int]] = ()) -> None:
        """Write a self-contained HTML report: SVG charts of the ``top``
        types over time and the growth table, then, given a ``tracker``
        (heaplens.track()), its lifetime chart and table. No scripts, no
        network. ``sites`` adds a table of allocation sites, (type, site,
        objects, bytes) rows (what ``python -m heaplens run --track``
        prints)."""
        from heaplens._report import render_html
        _check_path("report_html", path)
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise ValueError("top must be a positive int, not %r" % (top,))
        if not isinstance(title, str):
            raise TypeError("title must be a str, not %s" % type(title).__name__)
        if tracker is not None and not hasattr(tracker, "lifetime_series"):
            raise TypeError("tracker must be a heaplens Tracker, not %r" % (type(tracker).__name__,))
        if not self.samples:
            raise RuntimeError("no samples yet: start() the Monitor first")
        lifetimes = None
        if tracker is not None:
            from heaplens._lifetimes import lifetime_view
            lifetimes = lifetime_view(tracker, top)
        text = render_html(self._report_view(top), title, lifetimes, sites)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
