"""Referrer chains: why an object is alive (``referrer_chain``/``why_alive``,
``referrers``) and the shortest chains the leak report shows, computed in C
over a reverse-edge index of the heap. Also what heaplens' own objects and
frames are, so that no search or report shows them (``_is_ours``,
``_frames``), for the graph view too."""

from __future__ import annotations

import sys
import types
from typing import Any, List, Sequence, Tuple

from heaplens import _heaplens as _c
from heaplens._capabilities import require as _require
from heaplens._format import safe_repr
from heaplens._quiet import invisible, quietly

__all__ = ["Chain", "referrer_chain", "referrers", "why_alive"]


# Whether instance_holder cannot read attributes kept in the object (3.11+
# built without the internal layouts: generic mode, free-threaded builds).
_INLINE_UNKNOWN = sys.version_info >= (3, 11) and _c.LAYOUT_MODE != "known"


def _label(parent: Any, child: Any) -> str:
    """How ``parent`` refers to ``child``, for a chain: dict['key'],
    list[17], Foo.attr..."""
    tp = type(parent)
    name = tp.__name__
    try:
        if isinstance(parent, types.ModuleType):
            return "module %s" % parent.__name__
        if isinstance(parent, type):
            return "class %s.%s" % (parent.__module__, parent.__qualname__)
        if isinstance(parent, dict):
            for k, v in dict.items(parent):
                if v is child:
                    return "%s[%s]" % (name, safe_repr(k, 40))
            for k in dict.keys(parent):
                if k is child:
                    return "%s key" % name
            return name
        if isinstance(parent, (list, tuple)):
            for i, v in enumerate(parent):
                if v is child:
                    return "%s[%d]" % (name, i)
            return name
        if isinstance(parent, types.FrameType):
            for k, v in parent.f_locals.items():
                if v is child:
                    return "frame %s() local %s" % (parent.f_code.co_name, k)
            return "frame %s()" % parent.f_code.co_name
        if isinstance(parent, types.FunctionType):
            return "function %s" % parent.__qualname__
        if isinstance(parent, types.MethodType):
            return "bound method %s" % parent.__func__.__qualname__
        if isinstance(parent, types.CellType):
            return "cell"
        # An instance: name the attribute or slot holding the child.
        for cls in tp.__mro__:
            for slot in cls.__dict__.get("__slots__", ()) if not isinstance(
                    cls.__dict__.get("__slots__", ()), str) else (cls.__dict__["__slots__"],):
                d = cls.__dict__.get(slot)
                if isinstance(d, types.MemberDescriptorType):
                    try:
                        if d.__get__(parent, tp) is child:
                            return "%s.%s" % (name, slot)
                    except AttributeError:
                        pass
        if getattr(tp, "__dictoffset__", 0):
            # (never parent.__dict__: on 3.11+ that makes the dict of an
            # instance whose attributes are kept in the object, and on every
            # version an empty one where there was none; the chain would
            # change the heap it describes)
            attr, d = _c.instance_holder(parent, child)
            if attr is not None:
                return "%s.%s" % (name, attr)
            if d is None and _INLINE_UNKNOWN:
                # Generic mode on 3.11+: where the attributes are kept in
                # the object is not known, and only asking makes the dict.
                try:
                    d = object.__getattribute__(parent, "__dict__")
                except Exception:
                    d = None
            if d is child:
                return "%s.__dict__" % name
            if isinstance(d, dict):
                for k, v in d.items():
                    if v is child:
                        return "%s.%s" % (name, k)
    except Exception:  # a report must not fail on odd objects
        pass
    return name


class _ChainObjects(list):
    """A Chain's objects: a list heaplens made, left out of referrers()
    and graph() like the Chain holding it."""

    __slots__ = ()


class Chain:
    """The shortest chain of references from a root to an object.

    ``kind`` is what holds the chain's first object: 'module' (a module's
    globals), 'class' (class attributes), 'frame' (a frame's locals),
    'external' (held from outside the Python heap: C code, an extension's
    statics, or on 3.11+ a running function's locals), or 'none' (nothing
    found within the hop limit). ``objects`` runs from the root to the
    object; ``str(chain)`` reads like
    ``module app -> dict['_registry'] -> list[17] -> dict -> <Foo>``.
    """

    __slots__ = ("kind", "objects", "labels", "external_refs")

    def __init__(self, kind: str, objects: List[Any], external_refs: int = 0) -> None:
        self.kind = kind
        self.objects = _ChainObjects(objects)
        self.external_refs = external_refs
        labels = []
        for parent, child in zip(objects, objects[1:]):
            if isinstance(parent, types.ModuleType) and child is getattr(parent, "__dict__", None):
                continue  # "module app -> dict['x']" reads better without the step
            labels.append(_label(parent, child))
        if objects and isinstance(objects[0], types.ModuleType) and len(objects) > 1:
            labels.insert(0, "module %s" % objects[0].__name__)
        self.labels = labels

    @invisible
    def __str__(self) -> str:
        if not self.objects:
            return "(nothing)"
        target = "<%s>" % type(self.objects[-1]).__name__
        parts = list(self.labels) + [target]
        text = " -> ".join(parts)
        if self.kind == "external":
            text = "held from outside the Python heap: " + text
        elif self.kind == "none":
            text = "no root found: " + text
        return text

    @invisible
    def __repr__(self) -> str:
        return "<Chain %s: %s>" % (self.kind, self)

    @invisible
    def _repr_html_(self) -> str:
        from heaplens._html import chain_html
        return chain_html(self)


_HERE = __file__.rsplit("/", 1)[0]
def _is_ours(o: Any) -> bool:
    """What heaplens keeps for its users and that refers to their objects
    (a Chain and its list of objects), and heaplens' own frames."""
    if type(o) is _ChainObjects or type(o) is Chain:
        return True
    # A frame of heaplens' own (one that ran and is kept alive by a cycle
    # until the next collection) holds what it was asked about.
    return isinstance(o, types.FrameType) and o.f_code.co_filename.startswith(_HERE)


def _frames() -> Tuple[List[Any], List[Any]]:
    """(user frames, heaplens' own frames) of every thread. Running frames
    are not heap objects on 3.11+ until asked for; asking makes them so, and
    their locals become visible referrers. Our own frames hold the objects
    we are asked about: their references are left out."""
    _require("graph")  # every referrer search starts here
    user, ours = [], []
    me = _frames.__code__
    for f in sys._current_frames().values():
        while f is not None:
            # Not this frame: holding it in its own locals would make a
            # cycle that keeps the caller's frame, and its locals, alive.
            if f.f_code is not me:
                (ours if f.f_code.co_filename.startswith(_HERE) else user).append(f)
            f = f.f_back
    del f
    return user, ours


def referrer_chain(obj: Any, max_hops: int = 64) -> Chain:
    """Why is ``obj`` alive? The shortest chain of references from a module,
    class, frame or outside holder down to it, computed in C over a
    reverse-edge index of the heap (no gc.get_referrers per hop)."""
    # In a list that the search leaves out: on 3.11+ an argument of a call
    # to C stays on the calling frame's stack, which no frame's locals show,
    # and `obj` would read as held from outside the heap.
    return quietly(_referrer_chain, [obj], max_hops)


def _referrer_chain(objs, max_hops):
    return _chains(objs, max_hops)[0]


why_alive = referrer_chain


def _chains(objs: Sequence[Any], max_hops: int = 64, exclude: Sequence[Any] = ()
            ) -> List[Chain]:
    if not isinstance(max_hops, int) or max_hops < 0:
        raise ValueError("max_hops must be a non-negative int, not %r" % (max_hops,))
    extra: List[Any] = []
    res: Any = None
    for _ in range(4):
        res = None          # the last answer holds the objects too
        user, ours = _frames()
        try:
            res = _c.referrer_chains(tuple(objs), exclude=(objs, ours, *ours, *exclude,
                                                           *extra), max_hops=max_hops)
        finally:
            del user, ours
        # A Chain the user kept holds its objects: a shorter path may run
        # through it. Leave out the ones found, and look again.
        found = [o for _k, chain, _e in res for o in chain[:-1]
                 if type(o) is Chain or type(o) is _ChainObjects]
        if not found or len(extra) > 40:
            break
        for o in found:
            if not any(o is e for e in extra):
                extra.append(o)
        del found
    del extra
    return [Chain(kind, chain, ext) for kind, chain, ext in res]


def referrers(obj: Any) -> List[Any]:
    """The objects that refer to ``obj`` (each once), from a heap index."""
    return quietly(_referrers, obj)


def _referrers(obj):
    user, ours = _frames()
    try:
        refs, _ext = _c.referrers(obj, exclude=(user, ours, *ours))
    finally:
        del user, ours     # our frames refer to these lists: no cycle left
    return [r for r in refs if not _is_ours(r)]
