"""Heap dumps: every live object and reference written to a file
(``dump``), read back for offline analysis (``open_dump`` -> ``HeapDump``):
records, roots, dominators, retained sizes, paths to a root, diffs.

The loading, the graph and its dominator tree live in C (DumpData); this
module names things and formats them."""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from heaplens import _heaplens as _c
from heaplens._capabilities import require as _require
from heaplens._format import clip_text, human_size, table
from heaplens._rows import RowSequence, TypeRows
from heaplens._quiet import invisible, quietly

__all__ = ["DumpChain", "DumpDiff", "DumpFormatError", "DumpInfo", "DumpObject",
           "DumpTypeRow", "DumpTypeTable", "HeapDump", "RetainerRow", "RetainerTable", "dump",
           "open_dump"]

DumpFormatError = _c.DumpFormatError
DumpFormatError.__module__ = "heaplens"

_PAIRS, _INDEX = 1, 2


class DumpInfo(NamedTuple):
    """What ``dump()`` wrote."""
    path: str
    objects: int
    references: int
    types: int
    bytes: int
    size: int  #: getsizeof-model bytes of every object, as snapshot() counts them


class DumpObject(NamedTuple):
    """One object of a dump. ``id`` is its address in the dumped process
    (``id()`` there); ``size`` its flat size as ``sys.getsizeof`` reports
    it, aligned to 8 (the snapshot's model); ``alloc_size`` what the
    allocators held for it; ``refcount`` its reference count; ``text`` a
    short text (a str's or bytes' first characters, an int's or float's
    value, a class's, function's or module's name) or None."""
    id: int
    type_name: str
    size: int
    alloc_size: int
    refcount: int
    referents: Tuple[int, ...]
    text: Optional[str]


class RetainerRow(NamedTuple):
    """One row of ``top_retainers``."""
    id: int
    type_name: str
    size: int
    retained: int
    text: Optional[str]


class DumpTypeRow(NamedTuple):
    """One row of ``by_type``: objects of one type, their flat bytes, and
    the bytes they retain together (what would go if every object of the
    type went: each object's retained size, counted once where one object
    of the type dominates another)."""
    type_name: str
    count: int
    size: int
    retained: int


class DumpDiffRow(NamedTuple):
    type_name: str
    count: int
    size: int
    count_diff: int
    size_diff: int


def _check_path(fname: str, path: Any) -> None:
    if isinstance(path, bool) or not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("%s() needs a file path (str, bytes or os.PathLike), not %s"
                        % (fname, type(path).__name__))


def dump(path: Union[str, "os.PathLike[str]"], exclude: Sequence[Any] = ()) -> DumpInfo:
    """Write every live object of this process to ``path``: its address,
    type, flat sizes (getsizeof and allocator models), reference count and a
    short text; every reference between objects, with labels for dict
    values and list/tuple items; the frames each thread runs. The objects
    are those ``snapshot()`` counts (same count, same bytes); what only the
    objects in ``exclude`` hold is left out. Read it with ``open_dump``.
    The format is in docs/format.md."""
    return quietly(_dump, path, exclude)


def _dump(path, exclude):
    _check_path("dump", path)
    _require("snapshot")
    # heaplens' snapshots and diffs alive are left out, as snapshot() leaves
    # them out: the same objects in both.
    from heaplens._snapshot import _OURS
    exclude = (*exclude, _OURS, *_OURS)
    st = _c.dump(path, exclude)
    return DumpInfo(os.fsdecode(path), st["objects"], st["references"], st["types"],
                    st["bytes"], st["size"])


@invisible
def open_dump(path: Union[str, "os.PathLike[str]"]) -> "HeapDump":
    """Read and check a dump written by ``dump``. A file that is not a
    valid dump raises ``DumpFormatError``."""
    _check_path("open_dump", path)
    return HeapDump(_c.open_dump_data(path))


class DumpChain:
    """The shortest chain of references from a root of a dump to an object.

    ``kind`` says what the first object is: 'module', 'frame' (a thread's
    frame), 'external' (held from outside the Python heap: its reference
    count exceeds the references the dump records - C code, an extension,
    or on 3.11+ a running function's locals), or 'none' (no root reaches
    the object: garbage waiting for the cyclic collector), as for
    ``heaplens.Chain``.
    ``objects`` are DumpObject records from the root to the object;
    ``labels`` say how each refers to the next. ``str(chain)`` reads like
    ``module app -> dict['cache'] -> list[17] -> <Foo>``."""

    __slots__ = ("kind", "objects", "labels")

    def __init__(self, kind: str, objects: List[DumpObject], labels: List[str]) -> None:
        self.kind = kind
        self.objects = objects
        self.labels = labels

    def __len__(self) -> int:
        return len(self.objects)

    @invisible
    def __str__(self) -> str:
        if not self.objects:
            return "(nothing)"
        text = " -> ".join(list(self.labels) + ["<%s>" % self.objects[-1].type_name])
        if self.kind == "external":
            text = "held from outside the Python heap: " + text
        elif self.kind == "none":
            text = "no root reaches it: " + text
        return text

    @invisible
    def __repr__(self) -> str:
        return "<DumpChain %s: %s>" % (self.kind, self)

    @invisible
    def _repr_html_(self) -> str:
        from heaplens._html import chain_html
        return chain_html(self)


class HeapDump:
    """A heap dump read back (``open_dump``): every object and reference of
    the dumped process, by id (the object's address there).

    ``len(d)``, ``d.objects()``, ``d.object(id)``, ``d.find(type_name)``,
    ``d.roots``; from the dominator tree (computed once, on first use):
    ``d.immediate_dominator(id)``, ``d.retained_size(id)``,
    ``d.top_retainers(n)``, ``d.by_type()``; ``d.path_to_root(id)``,
    ``d.diff(older)``."""

    def __init__(self, data: Any) -> None:
        self._d = data
        self._types = [name for name, _ in data.types()]
        self._roots: Optional[Tuple[int, ...]] = None
        self._module_ix: Optional[List[int]] = None

    # -- records -------------------------------------------------------------

    @property
    def path(self) -> str:
        return self._d.filename

    @property
    def python(self) -> str:
        """The dumped interpreter's version."""
        return self._d.python

    @property
    def timestamp(self) -> float:
        return self._d.timestamp

    @property
    def nreferences(self) -> int:
        return self._d.nreferences

    def __len__(self) -> int:
        return len(self._d)

    @invisible
    def __repr__(self) -> str:
        return "<HeapDump %s: %s objects, %s references, Python %s>" % (
            self.path, "{:,}".format(len(self)), "{:,}".format(self.nreferences), self.python)

    def _index(self, id: int) -> int:
        if isinstance(id, bool) or not isinstance(id, int):
            raise TypeError("an object id is an int, not %s" % type(id).__name__)
        i = self._d.find(id) if 0 <= id < 1 << 64 else -1
        if i < 0:
            raise KeyError("no object with id %#x in the dump" % id)
        return i

    def _record(self, i: int) -> DumpObject:
        addr, t, _labels, size, asize, refcnt, text = self._d.record(i)
        refs = tuple(self._d.record(j)[0] for j in self._d.referents(i))
        return DumpObject(addr, self._types[t], size, asize, refcnt, refs, text)

    def _id(self, i: int) -> int:
        return self._d.record(i)[0]

    def objects(self) -> Iterator[DumpObject]:
        """Every object, in the order the dump wrote them."""
        for i in range(len(self._d)):
            yield quietly(HeapDump._record, self, i)

    @invisible
    def object(self, id: int) -> DumpObject:
        """The record of the object ``id``; KeyError when there is none."""
        return self._record(self._index(id))

    def __contains__(self, id: Any) -> bool:
        return isinstance(id, int) and not isinstance(id, bool) and 0 <= id < 1 << 64 \
            and self._d.find(id) >= 0

    @invisible
    def find(self, type_name: str) -> List[int]:
        """Ids of the objects whose type is named ``type_name`` (the
        snapshot's row name: ``module.qualname``, the bare name for
        builtins)."""
        if not isinstance(type_name, str):
            raise TypeError("type_name must be a str, not %s" % type(type_name).__name__)
        want = [t for t, name in enumerate(self._types) if name == type_name]
        return [self._id(i) for i in self._d.of_types(want)]

    @property
    @invisible
    def roots(self) -> Tuple[int, ...]:
        """Ids of the root objects: held from outside the heap (their
        reference count exceeds the references the dump records), modules,
        and the frames the threads were running."""
        if self._roots is None:
            self._roots = tuple(self._id(i) for i in self._d.roots())
        return self._roots

    # -- paths ---------------------------------------------------------------

    def _label(self, parent: int, child: int) -> str:
        addr, t, labels, _s, _a, _r, text = self._d.record(parent)
        tname = self._types[t]
        refs = self._d.referents(parent)
        if tname == "module":
            return "module %s" % text
        if labels == _PAIRS:
            for k in range(1, len(refs), 2):
                if refs[k] == child:
                    key = self._d.record(refs[k - 1])
                    ktype = self._types[key[1]]
                    if key[6] is not None and ktype == "str":
                        return "dict[%r]" % key[6]
                    if key[6] is not None:
                        return "dict[%s]" % key[6]
                    return "dict[<%s>]" % ktype
            return "dict key"
        if labels == _INDEX:
            for k, r in enumerate(refs):
                if r == child:
                    return "%s[%d]" % (tname, k)
        if tname == "type" and text:
            return "class %s" % text
        if tname == "function" and text:
            return "function %s" % text
        return tname

    def _modules(self) -> List[int]:
        if self._module_ix is None:
            self._module_ix = self._d.of_types(
                [t for t, name in enumerate(self._types) if name == "module"])
        return self._module_ix

    @invisible
    def path_to_root(self, id: int) -> DumpChain:
        """The shortest chain of references from a root to ``id``."""
        i = self._index(id)
        path = self._d.path(i)
        if not path:
            return DumpChain("none", [self._record(i)], [])
        if self._types[self._d.record(path[0])[1]] == "dict":
            # A module's globals are held from outside too (by the frames
            # and functions running in it): name the module that owns them.
            for m in self._modules():
                if path[0] in self._d.referents(m):
                    path.insert(0, m)
                    break
        labels = [self._label(p, c) for p, c in zip(path, path[1:])]
        root = self._types[self._d.record(path[0])[1]]
        kind = root if root in ("module", "frame") else "external"
        return DumpChain(kind, [self._record(j) for j in path], labels)

    # -- dominators ----------------------------------------------------------

    def immediate_dominator(self, id: int) -> Optional[int]:
        """The id of the object every path from a root to ``id`` passes
        through last; None when only the virtual root above the roots
        dominates it (it is a root, or reached from several roots' separate
        subgraphs, or unreachable)."""
        j = self._d.idom(self._index(id))
        return None if j < 0 else self._id(j)

    def retained_size(self, id: int) -> int:
        """The bytes (getsizeof model) that would be freed if ``id`` went:
        its own size plus everything only it keeps reachable."""
        return self._d.retained(self._index(id))

    @invisible
    def top_retainers(self, n: int = 10) -> "RetainerTable":
        """The ``n`` objects retaining most, largest first."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError("n must be an int, not %s" % type(n).__name__)
        if n < 0:
            raise ValueError("n must be >= 0, not %d" % n)
        rows = []
        for i in self._d.top(n):
            addr, t, _l, size, _a, _r, text = self._d.record(i)
            rows.append(RetainerRow(addr, self._types[t], size, self._d.retained(i), text))
        return RetainerTable(rows)

    @invisible
    def by_type(self) -> "DumpTypeTable":
        """Per type: objects, flat bytes and the bytes they retain
        together, largest retained first."""
        totals: Dict[str, List[int]] = {}
        for name, (count, size, _a), ret in zip(self._types, self._d.type_totals(),
                                                self._d.type_retained()):
            if not count:
                continue
            row = totals.setdefault(name, [0, 0, 0])
            row[0] += count
            row[1] += size
            row[2] += ret  # namesake types (two classes of one name) add up
        rows = [DumpTypeRow(k, c, s, r) for k, (c, s, r) in totals.items()]
        rows.sort(key=lambda r: (-r.retained, -r.size, r.type_name))
        return DumpTypeTable(rows)

    # -- by type and diff ----------------------------------------------------

    def _type_totals(self) -> Dict[str, List[int]]:
        out: Dict[str, List[int]] = {}
        for name, (count, size, _asize) in zip(self._types, self._d.type_totals()):
            if count:
                row = out.setdefault(name, [0, 0])
                row[0] += count
                row[1] += size
        return out

    @invisible
    def diff(self, older: "HeapDump") -> "DumpDiff":
        """What changed from ``older`` to this dump, per type (count and
        flat bytes), largest growth first."""
        if not isinstance(older, HeapDump):
            raise TypeError("diff() needs a HeapDump, not %s" % type(older).__name__)
        new, old = self._type_totals(), older._type_totals()
        rows = []
        for name, (c, s) in new.items():
            oc, os_ = old.pop(name, (0, 0))
            rows.append(DumpDiffRow(name, c, s, c - oc, s - os_))
        for name, (oc, os_) in old.items():
            rows.append(DumpDiffRow(name, 0, 0, -oc, -os_))
        rows.sort(key=lambda r: (-r.size_diff, -r.count_diff, r.type_name))
        return DumpDiff(rows)


class RetainerTable(RowSequence[RetainerRow]):
    """``HeapDump.top_retainers()``: rows of (id, type_name, size, retained,
    text), largest retained first."""

    def __init__(self, rows: List[RetainerRow]) -> None:
        self.rows = rows

    def _table_rows(self) -> List[Tuple[str, ...]]:
        return [("%#x" % r.id, r.type_name, human_size(r.size), human_size(r.retained),
                 "" if r.text is None else clip_text(repr(r.text), 40)) for r in self.rows]

    _HEAD = ("id", "type", "size", "retained", "text")

    @invisible
    def __str__(self) -> str:
        return table(self._HEAD, self._table_rows(), align="<<>><")

    @invisible
    def _repr_html_(self) -> str:
        from heaplens._html import table_html
        return table_html(self._HEAD, self._table_rows(), "heaplens-retainers",
                          "heaplens top retainers", align="<<>><")


class DumpTypeTable(TypeRows[DumpTypeRow]):
    """``HeapDump.by_type()``: rows of (type_name, count, size, retained),
    largest retained first."""

    def __init__(self, rows: List[DumpTypeRow]) -> None:
        self.rows = rows

    def _table_rows(self, limit: Optional[int] = 20) -> List[Tuple[str, ...]]:
        shown = self.rows if limit is None else self.rows[:limit]
        out = [(r.type_name, "{:,}".format(r.count), human_size(r.size), human_size(r.retained))
               for r in shown]
        rest = self.rows[len(shown):]
        if rest:
            out.append(("(%s other types)" % "{:,}".format(len(rest)),
                        "{:,}".format(sum(r.count for r in rest)),
                        human_size(sum(r.size for r in rest)), ""))
        out.append(("total", "{:,}".format(sum(r.count for r in self.rows)),
                    human_size(sum(r.size for r in self.rows)), ""))
        return out

    _HEAD = ("type", "objects", "size", "retained")

    @invisible
    def __str__(self) -> str:
        return table(self._HEAD, self._table_rows())

    @invisible
    def _repr_html_(self) -> str:
        from heaplens._html import table_html
        return table_html(self._HEAD, self._table_rows(), "heaplens-dump-types",
                          "heaplens dump by type", foot=1)


class DumpDiff(TypeRows[DumpDiffRow]):
    """Per-type changes between two dumps (``newer.diff(older)``), largest
    growth first: rows of (type_name, count, size, count_diff, size_diff)."""

    def __init__(self, rows: List[DumpDiffRow]) -> None:
        self.rows = rows

    def _table_rows(self, limit: int = 20) -> List[Tuple[str, ...]]:
        rows = [(r.type_name, "{:,}".format(r.count), "{:+,}".format(r.count_diff),
                 human_size(r.size), human_size(r.size_diff, signed=True))
                for r in self.rows[:limit]]
        rows.append(("total", "{:,}".format(sum(r.count for r in self.rows)),
                     "{:+,}".format(sum(r.count_diff for r in self.rows)),
                     human_size(sum(r.size for r in self.rows)),
                     human_size(sum(r.size_diff for r in self.rows), signed=True)))
        return rows

    @invisible
    def __str__(self) -> str:
        return table(("type", "objects", "+/-", "size", "+/- size"), self._table_rows())

    @invisible
    def _repr_html_(self) -> str:
        from heaplens._html import table_html
        return table_html(("type", "objects", "+/-", "size", "+/- size"), self._table_rows(),
                          "heaplens-dump-diff", "heaplens DumpDiff", foot=1)
