"""Deep object sizes with pympler.asizeof's API, computed by the C core.

``from heaplens import asizeof`` replaces ``from pympler.asizeof import
asizeof``: the functions take the same arguments and options, raise the same
exception types for bad ones, and give the same figures wherever pympler's are
right. The deliberate differences are listed in docs/semantics.md.
"""

from __future__ import annotations

import gc
import math
import sys
import types
from typing import Any, Dict, IO, List, Optional, Sequence, Tuple, Union

from heaplens import _heaplens as _c
from heaplens._capabilities import require as _require
from heaplens._format import clip_text, human_count, human_size, safe_repr, table
from heaplens._quiet import invisible

__all__ = [
    "Asized", "Asizer", "asized", "asizeof", "asizesof", "basicsize", "flatsize",
    "itemsize", "refs",
]

_MODELS = {"getsizeof": _c.MODEL_GETSIZEOF, "allocator": _c.MODEL_ALLOCATOR}

# The options pympler's module-level functions and Asizer.reset() accept,
# with pympler's defaults except `limit` (no silent depth cut-off) and the
# heaplens-only `model`.
_DEFAULTS: Dict[str, Any] = dict(
    above=1024, align=8, clip=80, code=False, cutoff=10, derive=False, detail=0,
    frames=False, ignored=True, infer=False, limit=None, stats=0, stream=None,
    model="getsizeof",
)

_UNSET = object()


def _invalid(fname: str, opts: Dict[str, Any]) -> KeyError:
    bad = sorted(opts)
    args = ", ".join("%s=%r" % (k, opts[k]) for k in bad)
    return KeyError("invalid option%s: %s(%s)" % ("s" if len(bad) > 1 else "", fname, args))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, complex)


def _check_align(fname: str, align: Any) -> int:
    if not isinstance(align, int):
        raise TypeError("%s(): align must be an int, not %s" % (fname, type(align).__name__))
    if align > 1 and (align & (align - 1)):
        raise ValueError("invalid option: %s(align=%r)" % (fname, align))
    return int(align) if align > 1 else 1


def _check_limit(fname: str, limit: Any) -> int:
    """None or infinity: no limit (-1 for the core); negative: flat sizes
    only, as pympler; a float counts as the next int up."""
    if limit is None:
        return -1
    if not _is_number(limit):
        raise TypeError("%s(): limit must be an int or None, not %s"
                        % (fname, type(limit).__name__))
    if limit >= sys.maxsize:  # deeper than any walk: no limit
        return -1
    if limit != limit:  # NaN
        raise ValueError("invalid option: %s(limit=nan)" % fname)
    if limit <= 0:
        return 0
    return int(math.ceil(limit))


def _check_int(fname: str, name: str, value: Any, minimum: Optional[int] = None) -> Any:
    if not _is_number(value):
        raise TypeError("%s(): %s must be a number, not %s"
                        % (fname, name, type(value).__name__))
    if minimum is not None and value < minimum:
        raise ValueError("invalid option: %s(%s=%r)" % (fname, name, value))
    return value


class _Options:
    """Validated options, kept by an Asizer."""

    __slots__ = tuple(_DEFAULTS) + ("_model_code",)

    def __init__(self, fname: str, opts: Dict[str, Any]) -> None:
        unknown = {k: v for k, v in opts.items() if k not in _DEFAULTS}
        if unknown:
            raise _invalid(fname, unknown)
        merged = dict(_DEFAULTS)
        merged.update(opts)
        for k, v in merged.items():
            setattr(self, k, v)
        self.validate(fname)

    def validate(self, fname: str) -> None:
        # pympler accepts None for these and keeps its default.
        for k in ("align", "cutoff", "above", "detail", "clip", "stats"):
            if getattr(self, k) is None:
                setattr(self, k, _DEFAULTS[k])
        self.align = _check_align(fname, self.align)
        _check_limit(fname, self.limit)
        _check_int(fname, "detail", self.detail)
        stats = _check_int(fname, "stats", self.stats, 0)
        if stats != int(stats):  # pympler: the fraction x 100 is the cutoff
            self.cutoff = int(round((stats - int(stats)) * 100))
            self.stats = int(stats)
        self.cutoff = int(self.cutoff)
        self.clip = int(self.clip) if self.clip else 0
        _check_int(fname, "above", self.above)
        if self.model not in _MODELS:
            raise ValueError("invalid option: %s(model=%r); use 'getsizeof' or 'allocator'"
                             % (fname, self.model))
        _require("allocator_model" if self.model == "allocator" else "asizeof")


class Asized:
    """The size of an object and, down to ``detail`` levels, of what it refers
    to: ``size`` (deep bytes), ``flat`` (its own bytes), ``name`` and ``refs``
    (a tuple of ``Asized``), as in pympler."""

    __slots__ = ("size", "flat", "refs", "name")

    def __init__(self, size: int, flat: int, refs: Sequence["Asized"] = (),
                 name: Optional[str] = None) -> None:
        self.size = size
        self.flat = flat
        self.name = name
        self.refs = tuple(refs)

    @invisible
    def __str__(self) -> str:
        return "size %r, flat %r, refs[%d], name %r" % (
            self.size, self.flat, len(self.refs), self.name)

    @invisible
    def __repr__(self) -> str:
        return "<Asized %s: %s deep, %s flat, %d refs>" % (
            self.name, human_size(self.size), human_size(self.flat), len(self.refs))

    @invisible
    def _repr_html_(self) -> str:
        from heaplens._html import asized_html
        return asized_html(self)

    @invisible
    def format(self, format: str = "%(name)s size=%(size)d flat=%(flat)d",
               depth: int = -1, order_by: str = "size", indent: str = "") -> str:
        """One line per node, children indented by 4 more spaces and sorted
        by ``order_by`` ('size' and 'flat' descending, 'name' ascending),
        down to ``depth`` levels (-1 for all)."""
        if order_by not in ("size", "flat", "name"):
            raise ValueError("order_by must be 'size', 'flat' or 'name', not %r" % (order_by,))
        lines = [indent + format % dict(size=self.size, flat=self.flat, name=self.name)]
        if depth and self.refs:
            if order_by == "name":
                refs = sorted(self.refs, key=lambda a: str(a.name or ""))
            else:
                refs = sorted(self.refs, key=lambda a: getattr(a, order_by), reverse=True)
            for r in refs:
                lines.append(r.format(format, depth - 1, order_by, indent + "    "))
        return "\n".join(lines)

    def get(self, name: str, dflt: Any = None) -> Any:
        """The first direct ref whose name is ``name``, else ``dflt``."""
        for ref in self.refs:
            if name == ref.name:
                return ref
        return dflt


# ---- names for asized() ----------------------------------------------------

_NAMED = (type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType,
          types.MethodType, types.CodeType, types.GeneratorType, types.CoroutineType)


def _own_name(obj: Any, clip: int) -> str:
    """pympler's rule: a truthy __name__ (classes, functions, modules...) or
    the clipped repr. __name__ is read only from types that define it, so no
    user __getattr__ runs and no instance __dict__ is created."""
    tp = type(obj)  # never obj.__class__: that runs the object's __getattribute__
    if issubclass(tp, _NAMED):
        name = obj.co_name if issubclass(tp, types.CodeType) else getattr(obj, "__name__", None)
        if name:
            return str(name)
    return safe_repr(obj, clip)


def _safe_str(obj: Any) -> str:
    try:
        return str(obj)
    except Exception:
        return safe_repr(obj)


_MANAGED_DICT = (1 << 4) if sys.version_info >= (3, 11) else 0  # Py_TPFLAGS_MANAGED_DICT


def _code_names(co: types.CodeType, out: set) -> None:
    out.update(co.co_names)
    for c in co.co_consts:
        if isinstance(c, types.CodeType):
            _code_names(c, out)


def _attribute_candidates(tp: type, cache: Dict[type, List[str]]) -> List[str]:
    """Names that may be instance attributes of ``tp``: every attribute name
    its methods use (``self.x = ...`` is a name of the method's code) and
    its annotations, leaving out names the class itself defines with a
    descriptor (reading those would run the descriptor)."""
    got = cache.get(tp)
    if got is not None:
        return got
    found: set = set()
    shadowed: set = set()
    for cls in tp.__mro__:
        d = cls.__dict__
        ann = d.get("__annotations__")
        if isinstance(ann, dict):
            found.update(k for k in ann if isinstance(k, str))
        for k, v in d.items():
            if hasattr(type(v), "__get__"):
                shadowed.add(k)
            for f in (v, getattr(v, "__func__", None), getattr(v, "fget", None),
                      getattr(v, "fset", None)):
                co = getattr(f, "__code__", None) if isinstance(f, types.FunctionType) else None
                if co is not None:
                    _code_names(co, found)
    got = sorted(n for n in found if n not in shadowed and not n.startswith("__"))
    cache[tp] = got
    return got


def _managed_names(parent: Any, tp: type, names: Dict[int, str],
                   cache: Dict[type, List[str]]) -> None:
    """3.11+: name the attribute values of an instance whose attributes live
    inline (no __dict__ object), as pympler names dict values (``[V] data:
    42``), and a materialised __dict__ ``__dict__``, without ever asking for
    ``__dict__`` (which would create one)."""
    getattribute = object.__getattribute__
    for name in _attribute_candidates(tp, cache):
        try:
            v = getattribute(parent, name)
        except Exception:
            continue
        names.setdefault(id(v), "[V] %s: %s" % (name, safe_repr(v, 80)))
    others = [r for r in gc.get_referents(parent) if r is not tp]
    if len(others) == 1 and type(others[0]) is dict and id(others[0]) not in names:
        d = others[0]
        try:
            keys = [k for k in list(d)[:8] if isinstance(k, str)]
            same = all(getattribute(parent, k) is d[k] for k in keys)
        except Exception:
            same = False
        if same:
            names[id(d)] = "__dict__"


def _child_names(parent: Any, cache: Optional[Dict[type, List[str]]] = None) -> Dict[int, str]:
    """Names of the referents of ``parent`` by id, in pympler's style."""
    names: Dict[int, str] = {}
    tp = type(parent)
    if issubclass(tp, dict) or tp is types.MappingProxyType:
        try:
            items = list(dict.items(parent) if issubclass(tp, dict) else parent.items())
        except Exception:
            items = []
        for k, v in items:
            names.setdefault(id(k), "[K] %s" % _safe_str(k))
            names.setdefault(id(v), "[V] %s: %s" % (_safe_str(k), safe_repr(v, 80)))
        if tp is types.MappingProxyType:
            for r in gc.get_referents(parent):
                names.setdefault(id(r), "__dict__")
    names.setdefault(id(tp), "__class__")
    # __slots__ values, read through the member descriptors (never through
    # the instance's __getattribute__).
    for cls in getattr(tp, "__mro__", ()):
        slots = cls.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for slot in slots:
            if not isinstance(slot, str):
                continue
            attr = slot
            if slot.startswith("__") and not slot.endswith("__"):
                attr = "_%s%s" % (cls.__name__.lstrip("_"), slot)
            descr = cls.__dict__.get(attr)
            if type(descr) is types.MemberDescriptorType:
                try:
                    names.setdefault(id(descr.__get__(parent, tp)), slot)
                except AttributeError:
                    pass
    if (not issubclass(tp, (dict, types.FunctionType))
            and getattr(tp, "__dictoffset__", 0) > 0):
        # An instance dict at a fixed offset (3.9/3.10, C types) is a
        # referent; name it without asking for __dict__, which would create
        # one on 3.11+. (Managed dicts have a negative offset: there a dict
        # referent may as well be an attribute value.)
        for r in gc.get_referents(parent):
            if type(r) is dict:
                names.setdefault(id(r), "__dict__")
    if tp.__flags__ & _MANAGED_DICT and not issubclass(tp, type):
        _managed_names(parent, tp, names, {} if cache is None else cache)
    # Not __annotations__: reading it creates a dict on the function.
    for attr in ("__code__", "__closure__", "__defaults__", "__kwdefaults__", "__doc__"):
        if issubclass(tp, types.FunctionType):
            v = getattr(parent, attr, None)
            if v is not None:
                names.setdefault(id(v), attr)
    if issubclass(tp, BaseException):
        for attr in ("args", "__traceback__", "__context__", "__cause__"):
            v = getattr(parent, attr, None)
            if v is not None:
                names.setdefault(id(v), attr)
    return names


def _build_tree(records: List[list], clip: int) -> Dict[int, Asized]:
    """Asized trees from the core's pre-order records [obj, depth, flat,
    deep], keyed by the id of each root."""
    roots: Dict[int, Asized] = {}
    path: List[Tuple[Any, Asized, List[Tuple[Any, Asized]]]] = []
    cache: Dict[type, List[str]] = {}
    def close(entry: Tuple[Any, Asized, List[Tuple[Any, Asized]]]) -> None:
        obj, node, kids = entry
        if kids:
            names = _child_names(obj, cache)
            for kobj, knode in kids:
                knode.name = names.get(id(kobj)) or _own_name(kobj, clip)
            node.refs = tuple(k for _, k in kids)
    for obj, depth, flat, deep in records:
        node = Asized(deep, flat)
        while len(path) > depth:
            close(path.pop())
        if depth == 0:
            node.name = _own_name(obj, clip)
            roots.setdefault(id(obj), node)
        else:
            path[-1][2].append((obj, node))
        path.append((obj, node, []))
    while path:
        close(path.pop())
    return roots


# ---- Asizer ------------------------------------------------------------------

class Asizer:
    """A sizer that remembers what it has counted: an object sized by one
    call counts 0 in the next, until ``reset()``. Same methods and options
    as pympler's ``Asizer``."""

    def __init__(self, **opts: Any) -> None:
        unknown = {k: v for k, v in opts.items() if k not in _DEFAULTS}
        if unknown:
            raise _invalid("reset", unknown)
        self.reset(**opts)

    # -- configuration

    def reset(self, above: int = 1024, align: int = 8, clip: int = 80, code: bool = False,
              cutoff: int = 10, derive: bool = False, detail: int = 0, frames: bool = False,
              ignored: bool = True, infer: bool = False, limit: Optional[float] = None,
              stats: float = 0, stream: Optional[IO[str]] = None,
              model: str = "getsizeof") -> None:
        """Forget everything counted and set all options (pympler's defaults,
        except ``limit=None``: no depth limit)."""
        self._opts = _Options("reset", dict(
            above=above, align=align, clip=clip, code=code, cutoff=cutoff, derive=derive,
            detail=detail, frames=frames, ignored=ignored, infer=infer, limit=limit,
            stats=stats, stream=stream, model=model))
        self._visited = _c.Visited()
        self._excluded_types: List[type] = []
        self._total = 0
        self._counted = 0
        self._repeats = 0
        self._depth = 0
        self._given = 0
        self._ranks: List[Tuple[int, str]] = []
        self._profile: Dict[type, List[int]] = {}

    def set(self, above: Optional[int] = None, align: Optional[int] = None,
            code: Optional[bool] = None, cutoff: Optional[int] = None,
            frames: Optional[bool] = None, detail: Optional[int] = None,
            limit: Optional[float] = None, stats: Optional[float] = None) -> None:
        """Change some options; ``None`` leaves one as it is. Use
        ``limit=math.inf`` to remove a depth limit."""
        new = dict(above=above, align=align, code=code, cutoff=cutoff, frames=frames,
                   detail=detail, limit=limit, stats=stats)
        old = {k: getattr(self._opts, k) for k in _DEFAULTS}
        old.update({k: v for k, v in new.items() if v is not None})
        self._opts = _Options("set", old)

    def _set_call_opts(self, opts: Dict[str, Any]) -> None:
        if opts:
            unknown = {k: v for k, v in opts.items()
                       if k not in ("above", "align", "code", "cutoff", "frames", "detail",
                                    "limit", "stats")}
            if unknown:
                raise TypeError("Asizer.set() got an unexpected keyword argument %r"
                                % sorted(unknown)[0])
            self.set(**opts)

    # -- sizing

    def _walk(self, objs: Tuple[Any, ...], detail: int = -1
              ) -> Tuple[Tuple[int, ...], Optional[List[list]]]:
        o = self._opts
        ignored = tuple(self._excluded_types) or None
        sizes, st, records = _c.walk(
            objs, align=o.align, limit=_check_limit("asizeof", o.limit), code=bool(o.code),
            frames=bool(o.frames) or not o.ignored, ignored=ignored,
            model=_MODELS[o.model], detail=detail, visited=self._visited,
            profile=o.stats >= 2)
        self._total += sum(sizes)
        self._counted += st["counted"]
        self._repeats += st["repeats"]
        self._depth = max(self._depth, st["max_depth"])
        self._given += len(objs)
        for tp, count, size in st.get("profile", ()):
            row = self._profile.setdefault(tp, [0, 0])
            row[0] += count
            row[1] += size
        if o.stats > 0:  # naming runs repr(), which can be slow or odd: only when asked
            for obj, size in zip(objs, sizes):
                if size >= o.above:
                    self._ranks.append((size, _own_name(obj, o.clip)))
        if o.stats > 0:
            self.print_stats(objs, sizes=sizes)
        return sizes, records

    def asizeof(self, *objs: Any, **opts: Any) -> int:
        """The combined deep size of ``objs`` in bytes, each object counted
        once (and not at all if an earlier call of this Asizer counted it)."""
        self._set_call_opts(opts)
        return sum(self._walk(objs)[0])

    def asizesof(self, *objs: Any, **opts: Any) -> Tuple[int, ...]:
        """The deep size of each of ``objs``; an object reached from several
        counts for the first, and an object given is counted for itself."""
        self._set_call_opts(opts)
        return tuple(self._walk(objs)[0])

    @invisible
    def asized(self, *objs: Any, **opts: Any) -> Union[Asized, Tuple[Asized, ...]]:
        """``Asized`` for each of ``objs`` with refs down to ``detail``
        levels; one ``Asized`` when one object is given."""
        self._set_call_opts(opts)
        detail = int(self._opts.detail)
        sizes, records = self._walk(objs, detail=max(detail, 0))
        trees = _build_tree(records or [], self._opts.clip)
        out = []
        for obj, size in zip(objs, sizes):
            node = trees.get(id(obj))
            if node is None:
                node = Asized(0, 0, name=_own_name(obj, self._opts.clip))
            elif detail <= 0:
                node.refs = ()
            out.append(node)
        return out[0] if len(out) == 1 else tuple(out)

    def exclude_refs(self, *objs: Any) -> None:
        """Count these 0 when reached from other objects (sized when given)."""
        for o in objs:
            self._visited.mark(o, 1)

    def exclude_objs(self, *objs: Any) -> None:
        """Count these 0, even when given."""
        for o in objs:
            self._visited.mark(o, 2)

    def exclude_types(self, *classes: Any) -> None:
        """Count instances of these classes (and the classes) 0."""
        for c in classes:
            if isinstance(c, type) and c not in self._excluded_types:
                self._excluded_types.append(c)
                self._visited.mark(c, 2)

    # -- figures

    above = property(lambda self: self._opts.above, doc="Threshold of the largest-objects list.")
    align = property(lambda self: self._opts.align, doc="Alignment of each flat size.")
    clip = property(lambda self: self._opts.clip, doc="Length reprs are clipped to.")
    code = property(lambda self: self._opts.code, doc="Whether code objects are sized.")
    cutoff = property(lambda self: self._opts.cutoff, doc="Rows in printed rankings.")
    derive = property(lambda self: self._opts.derive, doc="Accepted for compatibility.")
    detail = property(lambda self: self._opts.detail, doc="Depth of asized() trees.")
    frames = property(lambda self: self._opts.frames, doc="Whether frames are sized.")
    ignored = property(lambda self: self._opts.ignored, doc="Whether frames are ignored.")
    infer = property(lambda self: self._opts.infer, doc="Accepted for compatibility.")
    limit = property(lambda self: self._opts.limit, doc="Depth limit (None: none).")
    model = property(lambda self: self._opts.model, doc="Size model.")
    stats = property(lambda self: self._opts.stats, doc="Statistics printed per call.")
    total = property(lambda self: self._total, doc="Bytes counted since reset().")
    missed = property(lambda self: 0, doc="Objects that could not be sized: always 0, "
                      "heaplens raises instead of skipping.")
    duplicate = property(lambda self: self._repeats,
                         doc="References that reached an object already counted.")
    sized = property(lambda self: self._counted, doc="Objects counted since reset().")
    seen = property(lambda self: self._counted + self._repeats,
                    doc="Objects reached, counting repeats.")
    ranked = property(lambda self: len(self._ranks),
                      doc="Given objects at least `above` bytes large.")
    excluded = property(lambda self: tuple(self._excluded_types), doc="Excluded types.")

    # -- printing

    def _print(self, text: str, **print3: Any) -> None:
        stream = print3.pop("file", None) or self._opts.stream or sys.stdout
        print(text, file=stream, **print3)

    def print_summary(self, w: int = 0, objs: Sequence[Any] = (), **print3: Any) -> None:
        """Print the totals since reset()."""
        rows = [
            ("total", "%s (%d bytes)" % (human_size(self._total), self._total)),
            ("alignment", "%d bytes" % self._opts.align),
            ("model", self._opts.model),
            ("objects given", "%d" % self._given),
            ("objects sized", "%d" % self._counted),
            ("repeat references", "%d" % self._repeats),
            ("deepest level", "%d" % self._depth),
        ]
        width = max(len(k) for k, _ in rows)
        self._print("\n".join("%s%s  %s" % (" " * w, k.ljust(width), v) for k, v in rows),
                    **print3)

    def print_largest(self, w: int = 0, cutoff: int = 0, **print3: Any) -> None:
        """Print the given objects of at least ``above`` bytes, largest first."""
        cutoff = cutoff or self._opts.cutoff
        ranks = sorted(self._ranks, key=lambda r: -r[0])[:cutoff]
        if not ranks:
            self._print("%sno objects of %s or more" % (" " * w, human_size(self._opts.above)),
                        **print3)
            return
        self._print(table(("object", "size"),
                          [(clip_text(n, 60), human_size(s)) for s, n in ranks]), **print3)

    def print_profiles(self, w: int = 0, cutoff: int = 0, **print3: Any) -> None:
        """Print counts and bytes per type (collected while stats >= 2)."""
        cutoff = cutoff or self._opts.cutoff
        if not self._profile:
            self._print("%sno profiles: size with stats=2 or more to collect them" % (" " * w),
                        **print3)
            return
        rows = sorted(self._profile.items(), key=lambda kv: -kv[1][1])[:cutoff]
        total = self._total or 1
        self._print(table(
            ("type", "objects", "size", "share"),
            [(_type_name(tp), human_count(c), human_size(s), "%.1f%%" % (100.0 * s / total))
             for tp, (c, s) in rows]), **print3)

    def print_typedefs(self, w: int = 0, **print3: Any) -> None:
        """Print how each type met so far is sized."""
        if not self._profile:
            self._print("%sno types: size with stats=2 or more to collect them" % (" " * w),
                        **print3)
            return
        rows = []
        for tp in sorted(self._profile, key=_type_name):
            rows.append((_type_name(tp), tp.__basicsize__, tp.__itemsize__,
                         "yes" if tp.__flags__ & (1 << 14) else "no",
                         "python" if _python_sizeof(tp) else "C"))
        self._print(table(("type", "basicsize", "itemsize", "gc", "__sizeof__"), rows),
                    **print3)

    def print_stats(self, objs: Sequence[Any] = (), opts: Dict[str, Any] = {},
                    sized: Sequence[Any] = (), sizes: Sequence[int] = (), stats: float = 3,
                    **print3: Any) -> None:
        """Print the sizes of ``objs`` and, by ``stats`` level, the summary,
        the largest objects and the per-type profiles."""
        level = min(stats, self._opts.stats or stats)
        if level <= 0:
            return
        for obj, size in zip(objs, sizes or ()):
            self._print("%s: %s (%d bytes)" % (_own_name(obj, self._opts.clip),
                                               human_size(size), size), **print3)
        self.print_summary(**print3)
        if level >= 2:
            self.print_profiles(**print3)
        if level >= 1 and self._ranks:
            self.print_largest(**print3)
        if level >= 3:
            self.print_typedefs(**print3)


def _type_name(tp: type) -> str:
    mod = getattr(tp, "__module__", "builtins")
    return tp.__qualname__ if mod == "builtins" else "%s.%s" % (mod, tp.__qualname__)


def _python_sizeof(tp: type) -> bool:
    for cls in tp.__mro__:
        if "__sizeof__" in cls.__dict__:
            return isinstance(cls.__dict__["__sizeof__"], types.FunctionType)
    return False


# ---- module-level functions -------------------------------------------------

def _sizer(fname: str, opts: Dict[str, Any]) -> Asizer:
    unknown = {k: v for k, v in opts.items() if k not in _DEFAULTS}
    if unknown:
        raise _invalid(fname, unknown)
    a = Asizer.__new__(Asizer)
    try:
        a.reset(**opts)
    except KeyError:
        raise _invalid(fname, {k: opts[k] for k in opts if k not in _DEFAULTS}) from None
    except (TypeError, ValueError) as e:
        raise type(e)(str(e).replace("reset(", fname + "(")) from None
    return a


def asizeof(*objs: Any, **opts: Any) -> int:
    """The deep size of ``objs`` in bytes, each object counted once.

    Options (pympler's): ``align=8``, ``limit=None`` (no depth limit;
    pympler's default is 100), ``code=False``, ``frames=False``,
    ``ignored=True``, ``stats=0``, ``clip=80``, ``above=1024``, ``cutoff=10``,
    ``derive`` and ``infer`` (accepted, no effect), ``all=False`` (size every
    gc object when no ``objs`` are given), and ``model='getsizeof'`` or
    ``'allocator'`` (the bytes the allocators hold; see docs/semantics.md).
    """
    all_ = opts.pop("all", False)
    if not objs and all_:
        if all_ is not True:
            raise ValueError("invalid option: asizeof(all=%r)" % (all_,))
        objs = tuple(gc.get_objects())
    a = _sizer("asizeof", opts)
    return a.asizeof(*objs) if objs else 0


def asizesof(*objs: Any, **opts: Any) -> Tuple[int, ...]:
    """A tuple with the deep size of each of ``objs``: an object shared by
    several counts for the first that reaches it, an object given counts for
    itself, and ``asizeof(*objs) == sum(asizesof(*objs))``."""
    if "all" in opts:
        raise KeyError("invalid option: asizesof(all=%r)" % (opts["all"],))
    return _sizer("asizesof", opts).asizesof(*objs) if objs else ()


@invisible
def asized(*objs: Any, **opts: Any) -> Union[Asized, Tuple[Asized, ...]]:
    """An ``Asized`` for each of ``objs`` (one when one object is given) with
    the sizes of its referents down to ``detail`` levels."""
    if "all" in opts:
        raise KeyError("invalid option: asized(all=%r)" % (opts["all"],))
    return _sizer("asized", opts).asized(*objs) if objs else ()


def flatsize(obj: Any, align: int = 0, **opts: Any) -> int:
    """The flat size of ``obj``: ``sys.getsizeof(obj)`` plus the memory it
    owns that getsizeof leaves out (3.11+ inline attribute values), rounded
    up to ``align``. ``model='allocator'`` gives the allocated bytes."""
    model = opts.pop("model", "getsizeof")
    if opts:
        raise _invalid("flatsize", opts)
    a = _check_align("flatsize", align)
    if model not in _MODELS:
        raise ValueError("invalid option: flatsize(model=%r)" % (model,))
    _require("allocator_model" if model == "allocator" else "asizeof")
    return _c.flatsize(obj, align=a, model=_MODELS[model])


def basicsize(obj: Any, **opts: Any) -> int:
    """The size of an instance of ``type(obj)`` with no items: its
    ``__basicsize__`` plus the GC header and pre-header CPython puts before
    it (what ``sys.getsizeof`` adds)."""
    if opts:
        raise _invalid("basicsize", opts)
    return type(obj).__basicsize__ + _c.header_size(obj)


_ITEMSIZES = {list: 8, tuple: 8, dict: 24, set: 16, frozenset: 16, str: 1, bytes: 1,
              bytearray: 1, int: 4}


def itemsize(obj: Any, **opts: Any) -> int:
    """The size of one item of ``obj`` (pympler's figures for the builtin
    containers: 8 for list and tuple slots, 24 for dict entries, 16 for set
    entries, 1 for str and bytes, 4 for int digits; ``obj.itemsize`` for
    arrays), else ``type(obj).__itemsize__``."""
    if opts:
        raise _invalid("itemsize", opts)
    for tp in type(obj).__mro__:
        if tp in _ITEMSIZES:
            return _ITEMSIZES[tp]
    n = getattr(type(obj), "itemsize", None)
    if isinstance(getattr(obj, "itemsize", None), int) and n is not None:
        return obj.itemsize
    return type(obj).__itemsize__


def refs(obj: Any, **opts: Any) -> Tuple[Any, ...]:
    """The referents ``asizeof`` follows from ``obj`` (code=True to include
    those of classes, functions and code objects)."""
    o = _Options("refs", opts)
    return tuple(_c.referents(obj, code=bool(o.code), frames=bool(o.frames),
                              model=_MODELS[o.model]))
