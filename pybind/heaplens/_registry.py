"""The type registry: how to size extension types that hide references
from ``tp_traverse`` or whose ``__sizeof__`` is not flat.

A deep size is the flat sizes of everything an object keeps alive, each
counted once. heaplens learns what an object keeps alive from
``tp_traverse`` and how big it is from ``__sizeof__``; some widely used
types answer one of those wrongly for that purpose:

- numpy's ``ndarray`` is no gc object: ``tp_traverse`` does not report its
  ``base`` (the buffer a view or ``np.frombuffer`` keeps alive) nor the items
  of an object array;
- pandas' ``__sizeof__`` (on every ``PandasObject``) is already deep
  (``memory_usage(deep=True)``), so a walk that then reaches the same arrays
  through the block manager counts them twice.

``register_type`` tells every later walk (``asizeof`` and friends in both
size models, ``asized``, ``snapshot()``) how to size such a class and its
subclasses. heaplens ships entries for numpy and pandas; they are registered
the first time heaplens measures after that module has been imported
(heaplens never imports them itself). An entry registered by the user for
the same class wins over a built-in one.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

from heaplens import _heaplens as _c

__all__ = ["register_type", "registered_types", "unregister_type"]

Referents = Callable[[Any], Iterable[Any]]
Sizeof = Union[Callable[[Any], int], str, None]


def register_type(cls: type, *, referents: Optional[Referents] = None,
                  sizeof: Sizeof = None, traverse: bool = True) -> None:
    """Tell heaplens how to size instances of ``cls`` and its subclasses
    (the nearest registered class in an object's MRO wins; registering a
    class again replaces its entry).

    ``referents(obj)``: an iterable of the objects ``obj`` keeps alive that
    ``tp_traverse`` does not report. Return existing objects, never new ones
    (each is counted as memory ``obj`` holds); heaplens keeps what it returns
    alive until the walk ends, so addresses stay unique.

    ``sizeof``: ``None`` (use ``__sizeof__``), a callable ``sizeof(obj) ->
    int`` giving the flat bytes (what a flat ``__sizeof__`` would return;
    heaplens adds the GC header and pre-header as ``sys.getsizeof`` does),
    or ``"inherited"``: ``cls``'s own ``__sizeof__`` is deep (it counts what
    the walk reaches anyway), so size instances with the ``__sizeof__``
    found further along their MRO.

    ``traverse=False``: do not follow ``tp_traverse`` at all, only
    ``referents``.

    The callables run during walks; an exception they raise is raised by
    the measuring call.
    """
    if not isinstance(cls, type):
        raise TypeError("register_type() takes a class, not %s" % type(cls).__name__)
    if referents is not None and not callable(referents):
        raise TypeError("referents must be a callable or None, not %s"
                        % type(referents).__name__)
    flags = 0
    fn: Optional[Callable[[Any], int]] = None
    if isinstance(sizeof, str):
        if sizeof != "inherited":
            raise ValueError("sizeof must be a callable, None or 'inherited', not %r"
                             % (sizeof,))
        flags |= _c.TYPE_INHERITED_SIZEOF
    elif sizeof is not None:
        if not callable(sizeof):
            raise TypeError("sizeof must be a callable, None or 'inherited', not %s"
                            % type(sizeof).__name__)
        fn = sizeof
    if not isinstance(traverse, bool):
        raise TypeError("traverse must be a bool, not %s" % type(traverse).__name__)
    if not traverse:
        flags |= _c.TYPE_NO_TRAVERSE
    _c.register_type(cls, referents, fn, flags)


def unregister_type(cls: type) -> bool:
    """Remove ``cls``'s own entry (not its bases'); ``True`` if it had one."""
    return _c.unregister_type(cls)


def registered_types() -> Dict[type, Dict[str, Any]]:
    """The registry: ``{cls: {"referents": ..., "sizeof": ..., "traverse":
    ...}}``, built-in entries of the modules imported so far included."""
    _c.registry_refresh()
    out: Dict[type, Dict[str, Any]] = {}
    for cls, refs, fn, flags in _c.registered_types():
        out[cls] = {
            "referents": refs,
            "sizeof": "inherited" if flags & _c.TYPE_INHERITED_SIZEOF else fn,
            "traverse": not flags & _c.TYPE_NO_TRAVERSE,
        }
    return out


# ---- built-in entries ---------------------------------------------------------

def _numpy_entries(np: Any) -> List[tuple]:
    ndarray = np.ndarray

    def object_items(a: Any, out: List[Any]) -> None:
        dt = a.dtype
        if dt.names is None:
            # tolist() of an object array hands out the stored objects
            # themselves, not copies. (A subarray field comes back from
            # a[name] as an object array with more dimensions.)
            if dt == object:
                out.extend(a.ravel(order="K").tolist())
            return
        for name in dt.names:
            if dt.fields[name][0].hasobject:
                object_items(a[name], out)

    def ndarray_referents(a: Any) -> List[Any]:
        out: List[Any] = []
        base = a.base
        if base is not None:
            out.append(base)  # what a view or frombuffer() keeps alive
        dt = a.dtype
        if not dt.isbuiltin:
            out.append(dt)  # a structured or user dtype: an object of its own
        # The items of an object array; a view's are its base array's.
        if dt.hasobject and not isinstance(base, ndarray):
            object_items(a, out)
        return out

    return [(ndarray, dict(referents=ndarray_referents))]


def _pandas_entries(pd: Any) -> List[tuple]:
    base = sys.modules.get("pandas.core.base")
    # Every PandasObject with a memory_usage method (DataFrame, Series,
    # Index, Categorical...) returns memory_usage(deep=True) from
    # __sizeof__: the data the walk reaches through the block manager. Its
    # flat size is what the class inherits (object's, list's for
    # FrozenList...).
    return [(base.PandasObject, dict(sizeof="inherited"))]


_LOADERS = {"numpy": _numpy_entries, "pandas": _pandas_entries}


def _load_builtin(name: str) -> bool:
    """Register the entries for module ``name`` (called by the core when it
    first sees the module in sys.modules). False when the module is not
    fully imported yet: the core asks again at the next measurement."""
    mod = sys.modules.get(name)
    try:
        entries = _LOADERS[name](mod)
    except (AttributeError, ImportError, TypeError):
        return False  # half-imported (heaplens called during its import)
    present = {e[0] for e in _c.registered_types()}
    for cls, kw in entries:
        if cls not in present:  # the user's own entry wins
            register_type(cls, **kw)
    return True
