"""heaplens.asizeof against pympler.asizeof, the API it replaces.

Two kinds of test:

* Kinds where pympler is right: heaplens must give exactly pympler's
  figures (asizeof, asizesof, flatsize, asized) on every Python version.
* Deliberate differences (docs/semantics.md): heaplens must show the
  documented relation to pympler's figure, not merely "a different number".

Every comparison builds the object fresh and measures it with heaplens
first: pympler changes what it measures (it materialises instance
``__dict__``s, and on 3.11+ that changes the object's layout).

Cases marked ``xfail(strict=True)`` are suspected heaplens bugs: they pass
when the bug is fixed, and strictness makes that visible.
"""

import array
import builtins
import collections
import functools
import gc
import itertools
import math
import sys
import tracemalloc
import types
import weakref

import pytest

import heaplens as hl

pa = pytest.importorskip("pympler.asizeof")

PY = sys.version_info[:2]
PY311 = PY >= (3, 11)
GC_HEAD = 16


def al(n, a=8):
    return (n + a - 1) // a * a


# ---- the kinds where pympler is right ------------------------------------

NT = collections.namedtuple("NT", "a b")
NT3 = collections.namedtuple("NT3", "x y z")


class Slots:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = 10 ** 20
        self.b = "xy" * 30


class SlotsChild(Slots):
    __slots__ = ("c",)

    def __init__(self):
        super().__init__()
        self.c = [1.5, 2.5]


class SlotsMangled:
    __slots__ = ("__p", "q")

    def __init__(self):
        self.__p = "q" * 40
        # q left unset


class PlainDictSub(dict):
    pass


class MyError(Exception):
    pass


def _func(x, y=3):
    return x + y


class _Cls:
    def method(self):
        return 1


def _cycle_list():
    x = [1, "cyc" * 10]
    x.append(x)
    return x


def _cycle_dict():
    d = {"k": [1, 2]}
    d["self"] = d
    d["k"].append(d)
    return d


def _shared():
    s = "shared" * 10
    return [s, s, s, [s], (s, 2.5)]


def _dict_of_shared():
    v = [1.5, 2.5]
    return {"a": v, "b": v, "c": [v]}


def _weakref_pair():
    target = frozenset({"w" * 50, 2.5})
    return (weakref.ref(target), target)


def _proxy_pair():
    target = frozenset({"p" * 50, 3.5})
    return (weakref.proxy(target), target)


_D = {"a": 1, "b": [2, "two" * 10]}
_S = {1, "x" * 30}

SAME = {
    "int_small": lambda: 5,
    "int_zero": lambda: 0,
    "int_neg_small": lambda: -5,
    "int_neg": lambda: -123456789,
    "int_2_30": lambda: 2 ** 30,
    "int_big": lambda: 2 ** 100,
    "int_neg_big": lambda: -(10 ** 40),
    "int_huge": lambda: 10 ** 1000,
    "bool_true": lambda: True,
    "bool_false": lambda: False,
    "none": lambda: None,
    "ellipsis": lambda: Ellipsis,
    "notimplemented": lambda: NotImplemented,
    "float": lambda: 1.5,
    "float_inf": lambda: float("inf"),
    "complex": lambda: 1 + 2j,
    "str_empty": lambda: "",
    "str_1char": lambda: "a",
    "str_ascii": lambda: "hello world",
    "str_latin1": lambda: "caf\xe9 cr\xe8me",
    "str_ucs2": lambda: "\u20ac" * 7,
    "str_ucs4": lambda: "\U0001F600" * 3,
    "str_long": lambda: "x" * 10000,
    "bytes_empty": lambda: b"",
    "bytes": lambda: b"abcdef",
    "bytes_long": lambda: bytes(5000),
    "bytearray": lambda: bytearray(b"abc" * 10),
    "bytearray_empty": lambda: bytearray(),
    "tuple_empty": lambda: (),
    "tuple_1": lambda: ("one" * 5,),
    "tuple": lambda: (1, "a", 2.5),
    "tuple_nested": lambda: ((1, 2), (3, (4, "x")), ()),
    "list_empty": lambda: [],
    "list": lambda: [1, 2, 3],
    "list_range": lambda: list(range(100)),
    "list_appended": lambda: functools.reduce(lambda l, i: l.append(i * 1000) or l, range(17), []),
    "list_nested": lambda: [[1, 2], [3, [4, [5, "deep"]]]],
    "list_shared": _shared,
    "list_none": lambda: [None] * 10,
    "list_bools": lambda: [True, False] * 5,
    "list_mixed": lambda: [1, 1.0, "one", b"one", (1,), [1], {1: 1}, {1}, None, 1j],
    "list_cycle": _cycle_list,
    "list_of_lists": lambda: [[i, str(i)] for i in range(200)],
    "list_of_tuples": lambda: [(i, str(i)) for i in range(50)],
    "list_of_floats": lambda: [float(i) for i in range(20)],
    "list_of_bytes": lambda: [b"x" * i for i in range(20)],
    "matrix": lambda: [[float(i * j) for i in range(5)] for j in range(5)],
    "set_empty": lambda: set(),
    "set": lambda: {1, 2, 3},
    "set_str": lambda: {"a" * 20, "b" * 30},
    "set_of_tuples": lambda: {(i, "t%d" % i) for i in range(10)},
    "set_with_frozenset": lambda: {frozenset({1, "f" * 20}), 2.5},
    "frozenset": lambda: frozenset({1, "x", 2.5}),
    "frozenset_empty": lambda: frozenset(),
    "dict_empty": lambda: {},
    "dict_str": lambda: {"a": 1, "b": 2},
    "dict_int": lambda: {i: i * 1000 for i in range(20)},
    "dict_mixed": lambda: {1: "a", "b": 2.5, (1, 2): [3], None: b"x"},
    "dict_tuple_keys": lambda: {(i, "k"): i * 0.5 for i in range(8)},
    "dict_none_values": lambda: dict.fromkeys(["k%d" % i for i in range(12)]),
    "dict_nested": lambda: {"a": {"b": {"c": [1, 2, {"d": "e" * 10}]}}},
    "dict_of_lists": lambda: {k: list(range(k)) for k in range(10)},
    "dict_of_shared": _dict_of_shared,
    "dict_cycle": _cycle_dict,
    "dict_big": lambda: {str(i): i for i in range(1000)},
    "defaultdict": lambda: collections.defaultdict(list, a=[1], b=[2, 3]),
    "ordereddict": lambda: collections.OrderedDict(a=1, b="x" * 50),
    "counter": lambda: collections.Counter("aabbbc"),
    "dict_subclass": lambda: PlainDictSub(a="x" * 100, b=[1]),
    "deque_empty": lambda: collections.deque(),
    "namedtuple": lambda: NT(1, "x" * 100),
    "namedtuple_nested": lambda: NT3(NT(1, 2), [3, 4], {"k": "v" * 20}),
    "slots": Slots,
    "slots_inherited": SlotsChild,
    "slots_mangled_unset": SlotsMangled,
    "simplenamespace": lambda: types.SimpleNamespace(a="x" * 100, b=[1, 2]),
    "exception": lambda: ValueError("msg", 42),
    "exception_user": lambda: MyError("m" * 30, ["detail"]),
    "cell": lambda: (lambda x: (lambda: x))("c" * 20).__closure__[0],
    "list_iterator": lambda: iter([1, 2, "x" * 20]),
    "tuple_iterator": lambda: iter((1, "y" * 40)),
    "list_reverseiterator": lambda: reversed([1, 2, "r" * 30]),
    "set_iterator": lambda: iter(_S),
    "dict_keyiterator": lambda: iter(_D),
    "dict_itemiterator": lambda: iter(_D.items()),
    "bytearray_iterator": lambda: iter(bytearray(b"abc")),
    "ascii_str_iterator": lambda: iter("abc" * 10),
    "range_iterator": lambda: iter(range(5)),
    "weakref_alive": _weakref_pair,
    "weakproxy_alive": _proxy_pair,
    "code_inside": lambda: [len, int, print, _func, lambda: 0, _Cls, _Cls().method,
                            _func.__code__],
}


def parts(obj):
    """Up to three distinct objects reachable from ``obj``."""
    if isinstance(obj, dict):
        cand = list(obj.values())[:2] + list(obj)[:1]
    elif isinstance(obj, (list, tuple)):
        cand = list(obj[:2]) + list(obj[-1:])
    elif isinstance(obj, (set, frozenset)):
        cand = sorted(obj, key=repr)[:2]
    elif isinstance(obj, (Slots, SlotsMangled)):
        cand = [getattr(obj, n) for n in ("a", "b", "c") if hasattr(obj, n)]
    else:
        cand = []
    out, ids = [], {id(obj)}
    for c in cand:
        # classes, functions and code given directly are sized by heaplens
        # only (a documented difference)
        if id(c) not in ids and not callable(c) and not isinstance(c, types.CodeType):
            ids.add(id(c))
            out.append(c)
    return out


KINDS = sorted(SAME)


@pytest.mark.parametrize("kind", KINDS)
def test_same_asizeof(kind):
    o = SAME[kind]()
    h = (hl.asizeof(o), hl.asizeof(o, align=1), hl.asizeof(o, align=64),
         hl.asizeof(o, limit=0), hl.asizeof(o, limit=1), hl.asized(o, limit=2).size)
    p = (pa.asizeof(o), pa.asizeof(o, align=1), pa.asizeof(o, align=64),
         pa.asizeof(o, limit=0), pa.asizeof(o, limit=1), pa.asizeof(o, limit=2))
    assert h == p


@pytest.mark.parametrize("kind", KINDS)
def test_same_flatsize(kind):
    o = SAME[kind]()
    h = hl.flatsize(o), hl.flatsize(o, align=0), hl.flatsize(o, align=8), hl.flatsize(o, align=16)
    p = pa.flatsize(o), pa.flatsize(o, align=0), pa.flatsize(o, align=8), pa.flatsize(o, align=16)
    assert h == p
    assert h[0] == sys.getsizeof(o)


@pytest.mark.parametrize("kind", KINDS)
def test_same_asizesof(kind):
    # An argument reached from an earlier one counts for itself, whichever
    # comes first; parts of obj are reachable from it.
    o = SAME[kind]()
    extra = [2.5 ** 0.5]
    args = ([o, extra, "pad" * 7], o) + tuple(parts(o)) + (extra,)
    h = hl.asizesof(*args)
    assert sum(h) == hl.asizeof(*args)
    p = pa.asizesof(*args)
    assert h == p

    o = SAME[kind]()
    args = (o,) + tuple(parts(o)) + ([o],)
    h = hl.asizesof(*args)
    p = pa.asizesof(*args)
    assert h == p


@pytest.mark.parametrize("kind", KINDS)
def test_same_asized(kind):
    o = SAME[kind]()
    h0, h1 = hl.asized(o), hl.asized(o, detail=1)
    p0, p1 = pa.asized(o), pa.asized(o, detail=1)
    assert (h0.size, h0.flat, h0.refs) == (p0.size, p0.flat, ())
    assert (h1.size, h1.flat) == (p1.size, p1.flat)
    assert h0.name == p0.name
    # pympler also lists references to objects already counted (as 0/0
    # nodes) and __class__ (0); the nonzero children must agree.
    assert (sorted((r.size, r.flat) for r in h1.refs if r.size) ==
            sorted((r.size, r.flat) for r in p1.refs if r.size))


def test_same_asized_several():
    objs = ([1, "a" * 30], {"k": (2.5, None)}, "s" * 40)
    h = hl.asized(*objs, detail=2)
    p = pa.asized(*objs, detail=2)
    assert isinstance(h, tuple) and len(h) == 3
    assert [(a.size, a.flat, a.name) for a in h] == [(a.size, a.flat, a.name) for a in p]
    assert hl.asized() == pa.asized() == ()


def test_same_empty_calls():
    assert hl.asizeof() == pa.asizeof() == 0
    assert hl.asizesof() == pa.asizesof() == ()
    assert hl.asizeof(all=False) == pa.asizeof(all=False) == 0


def test_same_multiple_args_count_once():
    lst = [1.5, "q" * 30]
    h = hl.asizeof([lst], lst), hl.asizeof(1, 2, 1), hl.asizeof(True, False)
    p = pa.asizeof([lst], lst), pa.asizeof(1, 2, 1), pa.asizeof(True, False)
    assert h == p
    assert hl.asizesof([lst], lst) == pa.asizesof([lst], lst)
    s = "s" * 50
    assert hl.asizesof([s], [s]) == pa.asizesof([s], [s])


def test_same_itemsize():
    for o in ([1], (1,), {"a": 1}, {1}, frozenset(), "abc", b"ab", bytearray(b"x"), 12345,
              array.array("d", [1.0]), array.array("b")):
        assert hl.itemsize(o) == pa.itemsize(o), o


def test_same_asizer():
    def run(mod):
        out = []
        x = [1.5, "abc" * 10]
        y = [x, 2.5, {"k": x}]
        a = mod.Asizer()
        out += [a.asizeof(x), a.asizeof(x), a.asizeof(y), a.total]
        a = mod.Asizer()
        a.exclude_refs(x)
        out += [a.asizeof(y), a.asizeof(x)]
        a = mod.Asizer()
        a.exclude_objs(x)
        out += [a.asizeof(y), a.asizeof(x)]
        a = mod.Asizer()
        a.exclude_types(float)
        out += [a.asizeof(y)]
        a = mod.Asizer()
        out += [a.asizesof(y, x), a.asizesof(y, x)]
        a = mod.Asizer(align=16, limit=1)
        out += [a.asizeof(y)]
        a.set(limit=5)
        out += [a.asizeof([y])]
        a.reset()
        out += [a.asizeof(y)]
        return out
    assert run(hl) == run(pa)


def test_same_code_inside_counts_zero():
    # Functions, classes, builtins and code reached from inside count 0 in
    # both (see also the code_inside kind).
    o = [_func, _Cls, len]
    assert hl.asizeof(o) == pa.asizeof(o) == al(sys.getsizeof(o))


# ---- option errors: pympler's exception types -----------------------------

X = [1, "abc", [2.5]]

ERRORS = [
    (lambda m: m.asizeof(X, align=3), ValueError),
    (lambda m: m.asizesof(X, align=3), ValueError),
    (lambda m: m.asized(X, align=3), ValueError),
    (lambda m: m.flatsize(X, align=3), ValueError),
    (lambda m: m.asizeof(X, foo=1), KeyError),
    (lambda m: m.asizeof(X, foo=1, bar=2), KeyError),
    (lambda m: m.asizesof(X, foo=1), KeyError),
    (lambda m: m.asized(X, foo=1), KeyError),
    (lambda m: m.asizeof(X, align="x"), TypeError),
    (lambda m: m.asizeof(X, align=2.0), TypeError),
    (lambda m: m.flatsize(X, align="x"), TypeError),
    (lambda m: m.asizeof(X, stats=-1), ValueError),
    (lambda m: m.asizeof(X, stats="x"), TypeError),
    (lambda m: m.asizeof(X, limit="x"), TypeError),
    (lambda m: m.asizeof(X, cutoff="x"), ValueError),
    (lambda m: m.asized(X, detail="x"), TypeError),
    (lambda m: m.asizeof(all="x"), ValueError),
    (lambda m: m.asizesof(X, all=True), KeyError),
    (lambda m: m.asized(X, all=True), KeyError),
    (lambda m: m.Asizer().set(foo=1), TypeError),
    (lambda m: m.Asizer().set(derive=True), TypeError),
    (lambda m: m.Asizer().asizeof(X, foo=1), TypeError),
]


_ERROR_IDS = [
    "align=3", "asizesof-align=3", "asized-align=3", "flatsize-align=3", "foo=1",
    "foo=1,bar=2", "asizesof-foo=1", "asized-foo=1", "align=x", "align=2.0", "flatsize-align=x",
    "stats=-1", "stats=x", "limit=x", "cutoff=x", "asized-detail=x", "all=x", "asizesof-all",
    "asized-all", "set-foo", "set-derive", "Asizer.asizeof-foo",
]


@pytest.mark.parametrize("call,exc", ERRORS, ids=_ERROR_IDS)
def test_option_errors(call, exc):
    with pytest.raises(exc):
        call(pa)
    with pytest.raises(exc):
        call(hl)


def test_option_messages():
    with pytest.raises(ValueError, match=r"invalid option: asizeof\(align=3\)"):
        hl.asizeof(X, align=3)
    with pytest.raises(ValueError, match=r"invalid option: flatsize\(align=3\)"):
        hl.flatsize(X, align=3)
    with pytest.raises(KeyError, match=r"invalid options: asizeof\(bar=2, foo=1\)"):
        hl.asizeof(X, foo=1, bar=2)
    with pytest.raises(ValueError, match=r"invalid option: asizeof\(all='x'\)"):
        hl.asizeof(all="x")


ACCEPTED = [
    dict(align=0), dict(align=1), dict(align=-1), dict(align=True), dict(limit=-1),
    dict(limit=1.5), dict(detail=-1), dict(code="yes"), dict(code=None), dict(ignored=None),
    dict(clip=None), dict(frames="x"), dict(stream=None), dict(stats=0.5), dict(cutoff=3),
]


@pytest.mark.parametrize("opts", ACCEPTED,
                         ids=[",".join("%s=%s" % kv for kv in o.items()) for o in ACCEPTED])
def test_options_accepted_like_pympler(opts):
    o = [1, "abc", [2.5]]
    assert hl.asizeof(o, **opts) == pa.asizeof(o, **opts)


def test_options_pympler_accepts_but_heaplens_rejects():
    # Documented: heaplens validates every option when it is given; None
    # means the default, as in pympler.
    o = [1, "abc"]
    for opts in (dict(align=None), dict(cutoff=None), dict(detail=None), dict(above=None)):
        assert hl.asizeof(o, **opts) == hl.asizeof(o)
    for opts in (dict(detail="x"), dict(above="x")):
        pa.asizeof(o, **opts)
        with pytest.raises(TypeError):
            hl.asizeof(o, **opts)
    pa.asizeof(o, clip="x")
    with pytest.raises(ValueError):
        hl.asizeof(o, clip="x")
    for fn in ("flatsize", "basicsize", "itemsize"):
        getattr(pa, fn)(o, foo=1)
        with pytest.raises(KeyError):
            getattr(hl, fn)(o, foo=1)


def test_limit_same_in_asizeof_and_asized():
    x = ["x" * 100]
    o = [[x], x]
    assert hl.asized(o, limit=2).size == pa.asizeof(o, limit=2)
    assert hl.asizeof(o, limit=2) == hl.asized(o, limit=2).size


def test_limit_none_means_no_limit():
    o = [1, [2, [3]]]
    with pytest.raises(TypeError):
        pa.asizeof(o, limit=None)
    assert hl.asizeof(o, limit=None) == hl.asizeof(o) == hl.asizeof(o, limit=math.inf)
    assert hl.Asizer().limit is None and pa.Asizer().limit == 100


# ---- deliberate differences ---------------------------------------------

def _chain(n):
    x = []
    for _ in range(n):
        x = [x]
    return x


def test_no_depth_cutoff():
    x = _chain(150)
    per = al(sys.getsizeof([x]))
    h = hl.asizeof(x)
    p = pa.asizeof(x)
    assert h == 150 * per + al(sys.getsizeof([]))
    assert p == 101 * per  # pympler stops silently at depth 100
    assert hl.asizeof(x, limit=100) == p
    deep = _chain(100000)
    assert hl.asizeof(deep) == 100000 * per + al(sys.getsizeof([]))


def test_deque_items_followed():
    items = ["d" * 100, 2.5, (1, "t" * 20)]
    d = collections.deque(items)
    h = hl.asizeof(d)
    p = pa.asizeof(d)
    assert p == al(sys.getsizeof(d))
    assert h == p + sum(hl.asizeof(i) for i in items)


class ListSub(list):
    pass


class TupleSub(tuple):
    pass


class SetSub(set):
    pass


@pytest.mark.parametrize("cls", [ListSub, TupleSub, SetSub])
def test_sequence_subclass_items_followed(cls):
    items = ["i" * 200, 7.5, (1, 2)]
    o = cls(items)
    h = hl.asizeof(o)
    assert h == hl.flatsize(o, align=8) + sum(hl.asizeof(i) for i in items)
    assert hl.flatsize(o) == sys.getsizeof(o)
    # pympler never reaches the items: two subclass instances of the same
    # length give the same figure whatever the items hold.
    assert pa.asizeof(cls(["i" * 2000, 7.5, (1, 2)])) == pa.asizeof(cls(["i", 7.5, (1, 2)]))


def test_namedtuple_is_not_a_subclass_difference():
    o = NT("n" * 100, [1, 2])
    assert hl.asizeof(o) == pa.asizeof(o)


class Empty:
    pass


class Attrs:
    def __init__(self, i):
        self.a = i
        self.b = "b"


def _traced_delta(fn):
    gc.collect()
    started = not tracemalloc.is_tracing()  # PYTHONTRACEMALLOC may have started it
    if started:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fn()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        if started:
            tracemalloc.stop()


@pytest.mark.parametrize("cls", [Empty, Attrs])
def test_no_instance_dict_materialised(cls):
    n = 300
    objs = [cls(i) if cls is Attrs else cls() for i in range(n)]
    hl.asizeof(objs)  # warm-up: one-time caches
    hl.asized(objs[:2], detail=3)
    assert _traced_delta(lambda: hl.asizeof(objs)) < 2000
    assert _traced_delta(lambda: hl.asized(objs, detail=3)) < 2000
    pa.asizeof([cls(i) if cls is Attrs else cls() for i in range(n)])  # warm-up: its caches
    grew = _traced_delta(lambda: pa.asizeof(objs))
    if cls is Empty or PY311:
        assert grew > n * 40  # pympler created a __dict__ per instance
    else:
        assert grew < n * 16  # 3.9/3.10: the dicts existed already


@pytest.mark.skipif(not ((3, 11) <= PY < (3, 13)), reason="3.13 never reports the dict")
def test_no_instance_dict_materialised_referents():
    o = Attrs(10 ** 30)
    assert dict not in [type(r) for r in gc.get_referents(o)]
    hl.asizeof(o)
    hl.asized(o, detail=2)
    assert dict not in [type(r) for r in gc.get_referents(o)]
    pa.asizeof(o)
    assert dict in [type(r) for r in gc.get_referents(o)]


class Named:
    def __init__(self):
        self.a_rather_long_attribute_name_for_the_test = None
        self.another_rather_long_attribute_name_here = "v" * 100


def test_instance_inline_values_and_names():
    warm = [Named() for _ in range(40)]  # let the values array converge
    o = Named()
    vals = (None, o.another_rather_long_attribute_name_here)
    h = hl.asizeof(o)
    flat = hl.flatsize(o)
    if PY311:
        # the values array is part of the instance; the names live in the
        # class's shared keys and are not counted.
        assert flat > sys.getsizeof(o)
        assert h == al(flat) + sum(hl.asizeof(v) for v in vals)
        assert h < pa.asizeof(o)
    else:
        assert flat == sys.getsizeof(o)
        assert h == pa.asizeof(o)  # dict, names and values: pympler's figure
    del warm


def test_instance_figures_3_9_3_10_match_pympler():
    if PY311:
        pytest.skip("3.11+: pympler materialises the __dict__")
    o = Attrs(10 ** 30)
    assert hl.asizeof(o) == pa.asizeof(o)


def test_dict_subclass_instance_dict_followed():
    big = "x" * 1000

    def make(extra):
        m = PlainDictSub(a=1)
        if extra:
            m.extra = big
        return m
    h0, h1 = hl.asizeof(make(False)), hl.asizeof(make(True))
    p0, p1 = pa.asizeof(make(False)), pa.asizeof(make(True))
    assert p1 == p0
    assert h0 == p0
    assert h1 - h0 >= al(sys.getsizeof(big))


def _raise(exc):
    try:
        raise exc
    except BaseException as e:
        return e


def test_exception_traceback_followed():
    e1 = _raise(ValueError("m"))
    e2 = ValueError("m")
    assert e1.__traceback__ is not None
    assert hl.asizeof(e1) == hl.asizeof(e2) + hl.asizeof(e1.__traceback__)
    assert pa.asizeof(_raise(ValueError("m"))) == pa.asizeof(ValueError("m"))


@pytest.mark.parametrize("attr", ["__cause__", "__context__"])
def test_exception_chain_followed(attr):
    def make(chained):
        e = ValueError("m")
        if chained:
            setattr(e, attr, KeyError("k" * 500))
        return e
    e = make(True)
    assert hl.asizeof(e) == hl.asizeof(make(False)) + hl.asizeof(getattr(e, attr))
    assert pa.asizeof(make(True)) == pa.asizeof(make(False))


def test_exception_dict_followed():
    def make(extra):
        e = MyError("m")
        if extra:
            e.note = "n" * 1000
        return e
    assert hl.asizeof(make(True)) - hl.asizeof(make(False)) >= al(sys.getsizeof("n" * 1000))
    assert pa.asizeof(make(True)) == pa.asizeof(make(False))


def test_base_exception_args_followed():
    # pympler treats BaseException-only classes as plain instances: a
    # materialised __dict__, no args.
    e = KeyboardInterrupt("k" * 100)
    h = hl.asizeof(e)
    assert h == al(sys.getsizeof(e)) + hl.asizeof(e.args)
    assert pa.asizeof(KeyboardInterrupt("k" * 100)) == pa.asizeof(KeyboardInterrupt("k"))


def _module(**attrs):
    m = types.ModuleType("hl_test_mod")
    for k, v in attrs.items():
        setattr(m, k, v)
    return m


def test_module_dict_counted():
    m = _module(x=[1, 2, 3], y="y" * 100)
    h = hl.asizeof(m)
    p = pa.asizeof(m)
    assert h == p + al(sys.getsizeof(vars(m)))


def test_module_builtins_not_followed():
    m = _module(__builtins__=builtins.__dict__, x=[1])
    h = hl.asizeof(m)
    a = hl.Asizer()
    a.exclude_objs(builtins.__dict__)
    assert a.asizeof(m) == h
    assert pa.asizeof(m) > h + hl.asizeof(builtins.__dict__) // 2


def test_module_inside_counts_zero():
    m = _module(x=[1])
    o = [m]
    assert hl.asizeof(o) == al(sys.getsizeof(o))
    assert pa.asizeof(o) == al(sys.getsizeof(o)) + al(sys.getsizeof(m))
    assert hl.asizeof(sys) > sys.getsizeof(sys)


GIVEN = {
    "function": lambda: _func,
    "lambda": lambda: (lambda: 0),
    "class": lambda: _Cls,
    "builtin_type": lambda: int,
    "builtin_function": lambda: len,
    "bound_method": lambda: _Cls().method,
    "code": lambda: _func.__code__,
}


@pytest.mark.parametrize("kind", sorted(GIVEN))
def test_code_given_directly_is_sized(kind):
    o = GIVEN[kind]()
    h = hl.asizeof(o)
    assert h >= hl.flatsize(o, align=8) > 0
    assert pa.asizeof(GIVEN[kind]()) == 0
    # inside the graph both count it 0
    assert hl.asizeof([GIVEN[kind]()]) == pa.asizeof([GIVEN[kind]()]) == al(sys.getsizeof([0]))


def test_function_given_directly():
    h = hl.asizeof(_func)
    # flat, defaults, name, qualname, module name; not the code object
    # (0), not __globals__.
    assert h >= al(sys.getsizeof(_func)) + hl.asizeof(_func.__defaults__)
    assert h < hl.asizeof(_func.__globals__)


def test_object_counts_16():
    assert hl.asizeof(object()) == 16 and pa.asizeof(object()) == 0
    assert hl.asizeof([object()]) == al(sys.getsizeof([0])) + 16
    assert pa.asizeof([object()]) == al(sys.getsizeof([0]))


def test_dead_weakref_counts_no_none():
    class T:
        pass
    r = weakref.ref(T())
    gc.collect()
    assert r() is None
    assert hl.asizeof(r) == al(sys.getsizeof(r))
    assert pa.asizeof(r) == al(sys.getsizeof(r)) + al(sys.getsizeof(None))


def test_weakproxy_not_followed():
    target = frozenset({"t" * 1000})
    p = weakref.proxy(target)
    assert hl.asizeof(p) == pa.asizeof(p) == al(sys.getsizeof(p))


def test_array_by_getsizeof():
    a = array.array("i", range(10))
    for i in range(7):
        a.append(i)  # over-allocated now
    h = hl.asizeof(a)
    assert h == al(sys.getsizeof(a)) == hl.flatsize(a, align=8)
    # pympler: a base fixed by the first array it ever sized, plus the items
    assert pa.asizeof(a) == al(pa.basicsize(a) + len(a) * a.itemsize)


def test_enumerate_and_reversed_type_doc_not_counted():
    # pympler counts the type's docstring (a fresh str on every access) and
    # not the iterable; heaplens counts what the object holds.
    t = ("r" * 50, 1)
    r = reversed(t)
    assert hl.asizeof(r) == al(sys.getsizeof(r)) + hl.asizeof(t)
    assert pa.asizeof(reversed(t)) == al(sys.getsizeof(r)) + al(sys.getsizeof(reversed.__doc__))
    it = iter(["e" * 50])
    e = enumerate(it)
    extra = hl.asizeof(e) - al(sys.getsizeof(e)) - hl.asizeof(it)
    assert 0 <= extra <= al(sys.getsizeof((None, None))) + 16  # its cached result tuple
    assert pa.asizeof(enumerate(iter(["e" * 50]))) == al(sys.getsizeof(e)) + al(
        sys.getsizeof(enumerate.__doc__))


def test_property_counts_what_it_holds():
    def fget(self):
        """getter doc"""
    p = property(fget)
    h = hl.asizeof(p)
    assert h == al(sys.getsizeof(p)) + al(sys.getsizeof(fget.__doc__))
    # pympler adds None for the missing fset/fdel
    assert pa.asizeof(property(fget)) == h + al(sys.getsizeof(None))


def test_asizesof_duplicate_argument_counts_zero():
    x, y = [1.5, "x" * 40], "y" * 30
    h = hl.asizesof(x, y, x)
    p = pa.asizesof(x, y, x)
    assert h == (p[0], p[1], 0)
    assert p[2] == p[0]
    assert sum(h) == hl.asizeof(x, y, x) == pa.asizeof(x, y, x)
    assert hl.asizesof(1, 2, 1) == (32, 32, 0) and pa.asizesof(1, 2, 1) == (32, 32, 32)


def _sizeof_class(result):
    class Odd:
        __slots__ = ()

        def __sizeof__(self):
            if isinstance(result, type):
                raise result("boom")
            return result
    return Odd


# (what __sizeof__ does, heaplens's exception, pympler's outcome for
# asizeof(o), asizeof([o]) and flatsize(o): an exception type or "int")
BAD_SIZEOF = [
    (ValueError, ValueError, (ValueError, ValueError, ValueError)),
    (KeyError, KeyError, (KeyError, KeyError, KeyError)),
    (TypeError, TypeError, (int, int, int)),  # pympler: its own estimate
    (RuntimeError, RuntimeError, (int, int, RuntimeError)),  # pympler: 0, missed
    (-5, ValueError, (ValueError, ValueError, ValueError)),
    ("x", TypeError, (int, int, int)),
    (3.5, TypeError, (int, int, int)),
    (2 ** 70, OverflowError, (OverflowError, OverflowError, OverflowError)),
]


@pytest.mark.parametrize("result,hl_exc,pa_out", BAD_SIZEOF,
                         ids=[getattr(c[0], "__name__", repr(c[0])).strip("'")
                              for c in BAD_SIZEOF])
def test_bad_sizeof_raises(result, hl_exc, pa_out):
    cls = _sizeof_class(result)
    calls = (lambda m: m.asizeof(cls()), lambda m: m.asizeof([cls()]),
             lambda m: m.flatsize(cls()))
    for call, expect in zip(calls, pa_out):
        with pytest.raises(hl_exc):
            call(hl)
        if expect is int:
            assert isinstance(call(pa), int)
        else:
            with pytest.raises(expect):
                call(pa)


def test_asizer_missed_always_zero():
    cls = _sizeof_class(RuntimeError)
    a = pa.Asizer()
    assert a.asizeof([cls()]) == al(sys.getsizeof([0]))
    assert a.missed == 1
    b = hl.Asizer()
    with pytest.raises(RuntimeError):
        b.asizeof([cls()])
    assert b.missed == 0


def test_odd_but_valid_sizeof():
    for n in (3, 2 ** 40):
        cls = _sizeof_class(n)
        o = cls()
        assert hl.flatsize(o) == pa.flatsize(o) == sys.getsizeof(o)
        assert hl.asizeof(o) == pa.asizeof(cls()) == al(sys.getsizeof(o))


def test_derive_infer_no_effect():
    class Base:
        __slots__ = ("a",)

        def __init__(self):
            self.a = "d" * 40

    class Derived(Base):
        __slots__ = ("b",)

        def __init__(self):
            super().__init__()
            self.b = [1]
    for o in ([1, "a"], {"k": (1, 2)}, Derived(), collections.OrderedDict(a=1)):
        base = hl.asizeof(o)
        assert hl.asizeof(o, derive=True) == base
        assert hl.asizeof(o, infer=True) == base
        assert hl.Asizer(derive=True, infer=True).asizeof(o) == base
    a = hl.Asizer(derive=True, infer=True)
    assert a.derive is True and a.infer is True


NON_GC = [1, 2 ** 100, 1.5, 1j, "abc", b"ab", bytearray(b"x"), None, True, range(3)]
GC_TYPES = [[1], (1,), {"a": 1}, {1}, frozenset({1})]


def test_basicsize_real_gc_header():
    for o in NON_GC:
        assert hl.basicsize(o) == pa.basicsize(o) == type(o).__basicsize__, o
    for o in GC_TYPES:
        assert hl.basicsize(o) == type(o).__basicsize__ + GC_HEAD, o
        assert pa.basicsize(o) == hl.basicsize(o) + 16, o  # pympler assumes 32


def test_basicsize_instance_is_per_type():
    class P:
        pass
    objs = [P() for _ in range(30)]
    figures = {hl.basicsize(o) for o in objs}
    assert figures == {sys.getsizeof(objs[0])}


def test_itemsize_differences():
    # heaplens: type(obj).__itemsize__ unless a builtin container it knows.
    assert hl.itemsize(NT(1, 2)) == 8 and pa.itemsize(NT(1, 2)) == 0
    assert hl.itemsize(ListSub()) == 8 and pa.itemsize(ListSub()) == 0
    assert hl.itemsize(slice(1)) == 0 and pa.itemsize(slice(1)) == 8
    mp = types.MappingProxyType({})
    assert hl.itemsize(mp) == 0 and pa.itemsize(mp) == 24


# -- found while writing this file: more deliberate differences ----------

def test_range_and_slice_bounds_followed():
    s = slice("a" * 30, 2 ** 80, None)
    assert hl.asizeof(s) == al(sys.getsizeof(s)) + hl.asizeof("a" * 30) + al(
        sys.getsizeof(2 ** 80)) + 16
    assert pa.asizeof(s) == al(sys.getsizeof(s))
    r = range(10 ** 20, 10 ** 21 + 1, 7)
    assert hl.asizeof(r) >= al(sys.getsizeof(r)) + 2 * al(sys.getsizeof(10 ** 20)) + 32
    assert pa.asizeof(r) == al(sys.getsizeof(r))


def test_range_length_object_counted():
    r = range(10 ** 20, 10 ** 21, 7)
    length = (r.stop - r.start + r.step - 1) // r.step
    assert hl.asizeof(r) == al(sys.getsizeof(r)) + sum(
        al(sys.getsizeof(v)) for v in (r.start, r.stop, r.step, length))


def test_views_and_proxies_follow_their_dict():
    d = {"k": "v" * 100}
    for o in (d.keys(), d.values(), d.items(), types.MappingProxyType(d)):
        assert hl.asizeof(o) == al(sys.getsizeof(o)) + hl.asizeof(d)
    assert pa.asizeof(d.keys()) == al(sys.getsizeof(d.keys()))


def test_memoryview_follows_buffer():
    b = b"m" * 1000
    m = memoryview(b)
    assert hl.asizeof(m) > al(sys.getsizeof(m)) + al(sys.getsizeof(b))
    assert pa.asizeof(memoryview(b)) == al(sys.getsizeof(m))


def test_c_iterators_and_partial_follow_what_they_hold():
    lst = ["i" * 500]
    for o in (map(str, lst), zip(lst, lst), filter(None, lst), itertools.chain(lst),
              functools.partial(print, lst)):
        assert hl.asizeof(o) >= al(sys.getsizeof(o)) + hl.asizeof(lst), o
        assert pa.asizeof(o) < hl.asizeof(lst), o


def test_non_ascii_str_iterator():
    s = "\u20ac" * 500
    it = iter(s)
    assert hl.asizeof(it) == al(sys.getsizeof(it)) + al(sys.getsizeof(s))
    p = pa.asizeof(iter(s))
    assert p == (hl.asizeof(it) if PY < (3, 11) else al(sys.getsizeof(it)))


def test_traceback_counts_what_it_holds():
    tb = _raise(ValueError("x")).__traceback__
    assert tb.tb_next is None
    # the frame counts 0; pympler also adds the computed tb_lasti/tb_lineno
    # ints and None for tb_next
    assert hl.asizeof(tb) == al(sys.getsizeof(tb))
    assert pa.asizeof(tb) > hl.asizeof(tb)


def test_descriptors_inside_count_zero():
    for d in (str.join, type.__dict__["__dict__"], Slots.__dict__["a"], int.__add__):
        o = [d]
        assert hl.asizeof(o) == al(sys.getsizeof(o))
        assert pa.asizeof(o) == al(sys.getsizeof(o)) + al(sys.getsizeof(d))
    assert hl.asizeof(str.join) == pa.asizeof(str.join) == al(sys.getsizeof(str.join))


def test_frames():
    f = sys._getframe()
    assert hl.asizeof([f]) == pa.asizeof([f]) == al(sys.getsizeof([f]))
    assert hl.asizeof([f], frames=True) >= al(sys.getsizeof([f])) + al(sys.getsizeof(f))
    assert pa.asizeof(f) == 0
    assert hl.asizeof(f) >= al(sys.getsizeof(f))  # a frame given is sized


def _gen(n):
    big = "g" * n
    yield 1
    yield big


@pytest.mark.xfail(PY < (3, 11), strict=True, reason=(
    "heaplens bug (3.9/3.10): a generator's own frame counts 0 like any "
    "frame, so the locals it holds are missed; 3.11+ counts them"))
def test_generator_locals_counted():
    small, big = _gen(10), _gen(10000)
    next(small)
    next(big)
    assert hl.asizeof(big) - hl.asizeof(small) >= 9990


def test_generator_pympler_differences():
    g = _gen(10000)
    next(g)
    h = hl.asizeof(g)
    p = pa.asizeof(g)
    if PY >= (3, 13):
        assert p < 1000  # pympler's f_locals is a FrameLocalsProxy it does not follow
    if PY >= (3, 11):
        assert h >= al(sys.getsizeof(g)) + al(sys.getsizeof("g" * 10000))


def test_static_and_class_methods_inside_count_zero():
    for wrap in (staticmethod, classmethod):
        o = [wrap(_func)]
        assert hl.asizeof(o) == pa.asizeof(o) == al(sys.getsizeof(o))


def test_code_true_module_inside_not_followed():
    import os
    o = [os]
    assert hl.asizeof(o, code=True) <= al(sys.getsizeof(o)) + al(sys.getsizeof(os))


def test_asized_function_does_not_change_it():
    def f(x, y=3):
        return x
    before = hl.asizeof(f)
    hl.asized(f, detail=1)
    assert hl.asizeof(f) == before


def test_asized_tree_lists_each_object_once():
    s = "s" * 50
    o = [s, s, [s]]
    h = hl.asized(o, detail=2)
    p = pa.asized(o, detail=2)
    ss, ls = al(sys.getsizeof(s)), al(sys.getsizeof([s]))
    # pympler lists the repeat reference as a 0/0 node; heaplens lists each
    # object once, attributed to the first reference, as pympler does.
    assert [(r.size, r.flat) for r in p.refs] == [(ss, ss), (0, 0), (ls, ls)]
    assert [(r.size, r.flat) for r in h.refs] == [(ss, ss), (ls, ls)]
    assert h.size == p.size == al(sys.getsizeof(o)) + ss + ls


def test_asizer_keeps_what_it_counted_until_reset():
    # pympler keeps ids only (which can be reused by new objects); heaplens
    # keeps a reference to each object counted, until reset().
    class T:
        pass
    t = T()
    r = weakref.ref(t)
    a = hl.Asizer()
    a.asizeof([t])
    del t
    gc.collect()
    assert r() is not None
    a.reset()
    gc.collect()
    assert r() is None


def test_asizer_in_a_cycle_is_collected():
    class Holder:
        pass
    h = Holder()
    h.sizer = hl.Asizer()
    h.sizer.asizeof(h)
    r = weakref.ref(h)
    del h
    gc.collect()
    assert r() is None


def test_asizer_counters():
    x = [1.5, "abc" * 10]
    y = [x, 2.5, {"k": x}]
    a, b = hl.Asizer(), pa.Asizer()
    a.asizeof(x, y)
    b.asizeof(x, y)
    assert a.total == b.total
    assert a.sized == b.sized
    # heaplens counts repeat references; pympler counts objects met twice
    assert a.duplicate >= b.duplicate


# -- property test: random plain-data graphs -------------------------------

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    given = None

if given is not None:
    _leaf = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
             | st.text(max_size=20) | st.binary(max_size=20) | st.complex_numbers())
    _hashable = st.recursive(_leaf, lambda c: st.tuples(c, c) | st.frozensets(c, max_size=3),
                             max_leaves=8)
    _data = st.recursive(
        _leaf,
        lambda c: (st.lists(c, max_size=5) | st.tuples(c, c) | st.sets(_hashable, max_size=4)
                   | st.dictionaries(_hashable, c, max_size=4)),
        max_leaves=30)

    @settings(max_examples=80, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(_data, _data)
    def test_random_data_matches_pympler(a, b):
        holder = [a, b]
        assert hl.asizeof(a) == pa.asizeof(a)
        assert hl.asizesof(holder, a, b) == pa.asizesof(holder, a, b) or a is b
        assert hl.asizeof(a, b) == sum(hl.asizesof(a, b))
        assert hl.asized(holder, detail=2).size == pa.asized(holder, detail=2).size
