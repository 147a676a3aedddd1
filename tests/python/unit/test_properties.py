"""Property tests for the asizeof family on random object graphs.

The graphs are nested lists, tuples, dicts, sets and frozensets of ints,
floats, strs, bytes, None and bools, with instances of a few plain and slotted
classes (and list/dict subclasses) holding random attributes; after a tree is
drawn, extra edges are added from mutable containers to arbitrary nodes, which
makes shared sub-objects and cycles (a container holding itself or one of its
ancestors).

The reference walk at the bottom is written in plain Python, independently
of heaplens: it follows container items, dict keys and values, slot values
(through the member descriptors) and what ``gc.get_referents`` reports for
instances minus their class, and counts each object once at
``sys.getsizeof`` rounded up to the alignment. The one figure it borrows from
heaplens is the flat size of instances with a managed dict on 3.11+, whose
hidden bytes (the inline values) ``sys.getsizeof`` leaves out; that figure is
checked to be at least ``sys.getsizeof`` on its own.
"""

import gc
import os
import sys
import tracemalloc

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import heaplens
from heaplens import Asizer, asized, asizeof, asizesof

# HEAPLENS_EXAMPLES=1000 for a longer hunt; the default keeps the file
# within ~30 s per interpreter.
EXAMPLES = int(os.environ.get("HEAPLENS_EXAMPLES", "40"))
# In CI: the same examples every run, no replay of examples saved by other
# runs, and no "explain" phase (it traces every line, which on big graphs
# takes minutes after a failure instead of reporting it).
_CI = dict(derandomize=True, database=None) if os.environ.get("CI") else {}
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, phases=_PHASES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                    **_CI)

# Py_TPFLAGS_MANAGED_DICT (3.11+): instances keep their attributes out of
# sight of sys.getsizeof.
_MANAGED_DICT = 1 << 4
HAS_MANAGED_DICT = sys.version_info >= (3, 11)


def al(n, a=8):
    return (n + a - 1) // a * a


# ---- classes whose instances the graphs hold ---------------------------------

class Plain:
    pass


class Plain2:
    def __init__(self):
        self.first = None


class Slotted:
    __slots__ = ("a", "b", "c")


class SlottedChild(Slotted):
    __slots__ = ("d", "__e")  # stored as _SlottedChild__e


class SlottedWeak:
    __slots__ = ("a", "__weakref__")


class SlottedDict:
    __slots__ = ("a", "__dict__")


class ListSub(list):
    pass


class DictSub(dict):
    pass


class SlottedListSub(list):
    __slots__ = ("tag",)


SLOTTED = (Slotted, SlottedChild, SlottedWeak, SlottedListSub)
WITH_DICT = (Plain, Plain2, SlottedDict, ListSub, DictSub)
INSTANCE_TYPES = SLOTTED + WITH_DICT


def _slot_names(cls):
    """The attribute names of the slots of ``cls`` and its bases, mangled."""
    names = []
    for c in cls.__mro__:
        slots = c.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for s in slots:
            if s in ("__dict__", "__weakref__"):
                continue
            if s.startswith("__") and not s.endswith("__"):
                s = "_%s%s" % (c.__name__.lstrip("_"), s)
            names.append((c, s))
    return names


def _has_dict(cls):
    return cls.__dictoffset__ != 0


# ---- strategies ----------------------------------------------------------------

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 300),  # cached small ints and a few beyond
    st.integers(),
    st.integers(min_value=2 ** 62, max_value=2 ** 200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.text(alphabet="\u00e9\u4e2d\U0001f600", max_size=5),
    st.binary(max_size=16),
)

hashables = st.recursive(
    leaves,
    lambda c: st.one_of(st.lists(c, max_size=3).map(tuple), st.frozensets(c, max_size=3)),
    max_leaves=6,
)

attr_names = st.one_of(
    st.sampled_from(["a", "b", "c", "spam", "eggs", "x" * 40]),
    st.text(alphabet="pqrs", min_size=1, max_size=3),
)


def _make_instance(cls, attrs, items):
    if cls in (ListSub, SlottedListSub):
        obj = cls(items)
    elif cls is DictSub:
        obj = cls()
        for i, v in enumerate(items):
            obj["k%d" % i] = v
    else:
        obj = cls()
    slots = _slot_names(cls)
    for i, (name, value) in enumerate(attrs):
        if slots and (i % 2 == 0 or not _has_dict(cls)):
            object.__setattr__(obj, slots[i % len(slots)][1], value)
        elif _has_dict(cls):
            setattr(obj, name, value)
    return obj


def _nest(x, depth):
    for _ in range(depth):
        x = [x]
    return x


def _wide(n, step):
    return [10 ** 9 + i * step for i in range(n)]


def _extend(children):
    return st.one_of(
        # deep chains and wide containers grow the walk's stack and
        # visited set past their first allocation
        st.builds(_nest, children, st.integers(0, 600)),
        st.builds(_wide, st.integers(0, 3000), st.integers(1, 3)),
        # many references to the same leaves (repeating containers here
        # would make reprs, and so asized()'s names, exponentially long)
        st.builds(lambda xs, n: xs * n, st.lists(leaves, max_size=3), st.integers(0, 400)),
        st.lists(children, max_size=5),
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(hashables, children, max_size=5),
        st.sets(hashables, max_size=5),
        st.frozensets(hashables, max_size=5),
        st.builds(_make_instance, st.sampled_from(INSTANCE_TYPES),
                  st.lists(st.tuples(attr_names, children), max_size=4),
                  st.lists(children, max_size=3)),
    )


trees = st.recursive(leaves, _extend, max_leaves=40)


def _hashable(o):
    try:
        hash(o)
    except TypeError:
        return False
    return True


def _mutable(o):
    return type(o) in (list, dict) or isinstance(o, INSTANCE_TYPES)


def _attach(target, value, key, draw):
    """Add an edge target -> value."""
    if isinstance(target, list):
        target.insert(draw(st.integers(0, len(target))), value)
    elif isinstance(target, dict):
        target[key] = value
    else:
        cls = type(target)
        slots = _slot_names(cls)
        if slots and (not _has_dict(cls) or draw(st.booleans())):
            object.__setattr__(target, draw(st.sampled_from(slots))[1], value)
        else:
            setattr(target, draw(attr_names), value)


@st.composite
def graphs(draw, max_extra=8):
    """A root and the list of every object reachable from it (types aside)."""
    root = draw(trees)
    nodes = reachable(root)
    targets = [o for o in nodes if _mutable(o)]
    if targets:
        for _ in range(draw(st.integers(0, max_extra))):
            target = draw(st.sampled_from(targets))
            # Prefer containers as values: that is what makes cycles.
            value = draw(st.sampled_from(targets if draw(st.booleans()) else nodes))
            _attach(target, value, draw(hashables), draw)
        nodes = reachable(root)
    return root, nodes


@st.composite
def graph_and_roots(draw):
    """A graph and 1-6 objects from it (repeats allowed), plus extra trees."""
    root, nodes = draw(graphs())
    picks = draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=6))
    others = draw(st.lists(trees, max_size=2))
    roots = picks + others
    return root, draw(st.permutations(roots))


# ---- the reference walk --------------------------------------------------------

def ref_referents(o):
    """What the reference walk follows from ``o``."""
    t = type(o)
    out = []
    if isinstance(o, dict):
        for k, v in dict.items(o):
            out.append(k)
            out.append(v)
    elif isinstance(o, (list, tuple, set, frozenset)):
        out.extend(list.__iter__(o) if isinstance(o, list) else o)
    if t in (list, tuple, set, frozenset, dict):
        return out
    for cls, name in _slot_names(t):
        try:
            out.append(cls.__dict__[name].__get__(o, t))
        except AttributeError:
            pass  # an empty slot
    # The instance dict (3.9/3.10, or materialised), or the inline
    # attribute values (3.11+), without ever reading o.__dict__.
    out.extend(r for r in gc.get_referents(o) if r is not t)
    return out


def ref_flat(o, align=8):
    if isinstance(o, type):
        return 0  # classes reached from the graph count 0
    if HAS_MANAGED_DICT and type(o).__flags__ & _MANAGED_DICT:
        return heaplens.flatsize(o, align=align)
    return al(sys.getsizeof(o), align)


def reachable(*roots):
    """Every object reachable from roots, once each, types excluded (they
    count 0 and are not followed)."""
    seen = set()
    out = []
    stack = list(roots)
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, type):
            continue
        out.append(o)
        stack.extend(ref_referents(o))
    return out


def ref_asizeof(*roots, align=8):
    return sum(ref_flat(o, align) for o in reachable(*roots))


def instances_in(nodes):
    return [o for o in nodes if isinstance(o, INSTANCE_TYPES)]


# ---- the reference walk itself, on graphs whose size is known ----------------

def test_reference_walk_sanity():
    s = Slotted()
    s.a = "x" * 100
    x = [s, (1000, "abc"), {"k": 2.5}]
    x.append(x)
    expected = (al(sys.getsizeof(x)) + al(sys.getsizeof(s)) + al(sys.getsizeof("x" * 100))
                + al(sys.getsizeof((1000, "abc"))) + al(sys.getsizeof(1000))
                + al(sys.getsizeof("abc")) + al(sys.getsizeof({"k": 2.5}))
                + al(sys.getsizeof("k")) + al(sys.getsizeof(2.5)))
    assert ref_asizeof(x) == expected
    assert asizeof(x) == expected


# ---- properties ----------------------------------------------------------------

@SETTINGS
@given(graphs())
def test_count_once(g):
    x, _ = g
    single = asizeof(x)
    assert asizeof(x, x) == single
    assert asizeof(x, x, x) == single
    assert asizesof(x, x) == (single, 0)
    # One more list slot, aligned, and x's graph once.
    assert asizeof([x, x]) == asizeof([x]) + 8
    assert asizeof([x, x]) == al(sys.getsizeof([x, x])) + single
    many = [x] * 200
    assert asizeof(many) == al(sys.getsizeof(many)) + single
    # And the same through a tuple, a dict and a set holding it many times.
    t = tuple(many)
    assert asizeof(t) == al(sys.getsizeof(t)) + single
    d = {i: x for i in range(1000, 1050)}
    assert asizeof(d) == al(sys.getsizeof(d)) + 50 * al(sys.getsizeof(1000)) + single
    s = {(i, x) if _hashable(x) else i for i in range(1000, 1020)}
    if _hashable(x):
        assert asizeof(s) == (al(sys.getsizeof(s)) + 20 * al(sys.getsizeof((1, x)))
                              + 20 * al(sys.getsizeof(1000)) + single)


@SETTINGS
@given(graphs())
def test_count_once_allocator_model(g):
    x, _ = g
    single = asizeof(x, model="allocator")
    assert single >= 0
    assert asizeof(x, x, model="allocator") == single
    assert asizeof([x] * 100, model="allocator") == (
        asizeof([x] * 100, limit=0, model="allocator") + single)


@SETTINGS
@given(graph_and_roots())
def test_asizeof_is_sum_of_asizesof(gr):
    _, roots = gr
    sizes = asizesof(*roots)
    assert len(sizes) == len(roots)
    assert all(isinstance(s, int) and s >= 0 for s in sizes)
    assert asizeof(*roots) == sum(sizes)
    # A root given twice counts once, for its first occurrence.
    for i, r in enumerate(roots):
        if any(r is q for q in roots[:i]):
            assert sizes[i] == 0
    # The same in the allocator model and with another alignment.
    assert asizeof(*roots, model="allocator") == sum(asizesof(*roots, model="allocator"))
    assert asizeof(*roots, align=64) == sum(asizesof(*roots, align=64))


@SETTINGS
@given(graph_and_roots(), st.randoms(use_true_random=False))
def test_argument_order_does_not_matter(gr, rnd):
    _, roots = gr
    total = asizeof(*roots)
    shuffled = list(roots)
    rnd.shuffle(shuffled)
    assert asizeof(*shuffled) == total
    assert asizeof(*reversed(roots)) == total
    assert sum(asizesof(*shuffled)) == total
    # An Asizer sizing them one call at a time adds up to the same total.
    a = Asizer()
    assert sum(a.asizeof(r) for r in shuffled) == total
    assert a.total == total
    assert a.asizeof(*roots) == 0


@SETTINGS
@given(graphs())
def test_at_least_getsizeof(g):
    x, nodes = g
    assert asizeof(x) >= sys.getsizeof(x)
    assert asizeof(x, align=1) >= sys.getsizeof(x)
    assert asizeof(x) >= asizeof(x, align=1)
    for o in nodes:
        assert heaplens.flatsize(o) >= sys.getsizeof(o)
        assert heaplens.flatsize(o, align=8) == al(heaplens.flatsize(o))
    # limit=0: the flat size only; a limit past any depth: everything.
    assert asizeof(x, limit=0) == heaplens.flatsize(x, align=8)
    assert asizeof(x, limit=len(nodes) + 1) == asizeof(x)


@SETTINGS
@given(graphs(), st.sampled_from([1, 8, 16, 64]))
def test_agrees_with_reference_walk(g, align):
    x, nodes = g
    assert asizeof(x, align=align) == ref_asizeof(x, align=align)
    # Every object once, classes at 0: the same sum over the nodes.
    assert asizeof(x, align=align) == sum(ref_flat(o, align) for o in nodes)


@SETTINGS
@given(graph_and_roots())
def test_several_roots_agree_with_reference_walk(gr):
    root, roots = gr
    assert asizeof(*roots) == ref_asizeof(*roots)
    assert asizeof(root, *roots) == ref_asizeof(root, *roots)
    # Each root is attributed to itself: its size is at least its own flat
    # size, unless it is a repeat.
    sizes = asizesof(*roots)
    for i, (r, s) in enumerate(zip(roots, sizes)):
        if not any(r is q for q in roots[:i]):
            assert s >= ref_flat(r)


@SETTINGS
@given(graphs(), st.integers(0, 4))
def test_asized_tree_adds_up(g, detail):
    x, _ = g
    tree = asized(x, detail=detail)
    assert tree.size == asizeof(x)
    assert tree.flat == heaplens.flatsize(x, align=8)

    def check(node, depth):
        assert node.size >= node.flat >= 0
        if depth >= detail:
            assert node.refs == ()
            return
        assert node.size == node.flat + sum(r.size for r in node.refs)
        for r in node.refs:
            check(r, depth + 1)

    check(tree, 0)


def _shape(o):
    return [type(r) for r in gc.get_referents(o)]


@settings(max_examples=max(EXAMPLES * 3 // 4, 1), deadline=None, phases=_PHASES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], **_CI)
@given(graphs())
def test_measuring_does_not_change_the_heap(g):
    x, nodes = g
    insts = instances_in(nodes)
    shapes = [_shape(o) for o in insts]
    # Warm up: type caches, interned names, the Asizer machinery.
    asizeof(x)
    asizesof(x, *nodes[:3])
    asized(x, detail=2)
    expected = asizeof(x)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            assert asizeof(x) == expected
            asizesof(x, *nodes[:3])
            asizeof(x, model="allocator")
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # A few hundred bytes of slack for the interpreter's own bookkeeping
    # (free lists, the frame of this test); a leak of one object per call
    # and node, or one dict per instance, is far above it once the graph
    # has more than a couple of objects.
    assert after - before <= 512
    # No instance dict was created, and nothing else changed shape.
    asized(x, detail=5)
    heaplens.refs(x)
    for o in insts:
        heaplens.refs(o)
        heaplens.flatsize(o)
    assert [_shape(o) for o in insts] == shapes
    assert [id(o) for o in reachable(x)] == [id(o) for o in nodes]


def _interpreter_shared(o):
    """None, bools, small ints, empty and one-character strs and bytes,
    the empty tuple: cached objects whose counts move for reasons of their
    own."""
    t = type(o)
    if o is None or t is bool or (t is int and -5 <= o <= 256):
        return True
    if t in (str, bytes, tuple, frozenset) and len(o) <= (0 if t in (tuple, frozenset) else 1):
        return True
    return sys.getrefcount(o) > 1000


# CPython's type attribute cache (the method cache of _PyType_Lookup) holds a
# strong reference to the name of each entry. Looking an attribute up on a
# type, as asized() does to name the values of an instance, puts its name
# there, and any later lookup landing on the same slot lets it go: the count
# of an attribute-name str moves by one or two with what else ran (under
# pytest -n 2 'spam' and 'qr' went from 227 to 228 in
# test_measuring_keeps_refcounts). Emptying the cache before each count
# takes it out; it holds nothing but names, so a leak stays visible.
_clear_type_cache = getattr(sys, "_clear_internal_caches", None) or sys._clear_type_cache


def _refcounts(objs):
    _clear_type_cache()
    return [sys.getrefcount(o) for o in objs]


def test_refcounts_leave_out_the_type_cache():
    objs = [sys.intern("attr_name_%d" % os.getpid())]
    base = _refcounts(objs)
    getattr(Plain, objs[0], None)  # a miss is cached too
    after_lookup = [sys.getrefcount(o) for o in objs]
    if base[0] >= 2 ** 29:
        # 3.12 makes every interned str immortal: no count moves there
        assert after_lookup == base
    else:
        assert after_lookup > base  # what made the test flaky
    assert _refcounts(objs) == base


@SETTINGS
@given(graphs())
def test_measuring_keeps_refcounts(g):
    x, nodes = g
    # Singletons and cached small objects are shared with the whole
    # interpreter: their counts move for reasons of their own.
    # Collect first: cyclic garbage left by the strategies may hold
    # references to the graph.
    gc.collect()
    nodes = [o for o in nodes if not _interpreter_shared(o)]
    counts = _refcounts(nodes)
    asizeof(x)
    asizesof(x, *nodes[:5])
    asized(x, detail=3)
    a = Asizer()
    a.asizeof(x)
    a.exclude_refs(*nodes[:2])
    del a
    gc.collect()
    assert _refcounts(nodes) == counts
