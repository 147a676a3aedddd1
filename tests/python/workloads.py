"""Heaps of known shape for the tests (tests/python/unit/test_dump.py,
test_allocator_model.py): the six shapes of the project's standard
benchmark workloads W1-W6 (docs/benchmarks.md), built here so that the tests
need nothing outside the repository. ``build(name, scale)`` builds
``scale`` times the full size of shape ``name``; ``WORKLOADS`` maps each
name to (builder, full size)."""


class FourFields:
    """An ordinary instance: an int, a str, a list and a dict."""

    def __init__(self, k):
        self.a = k
        self.b = "s%d" % k
        self.c = [k, k + 1]
        self.d = {"k": k}


class ThreeSlots:
    """A __slots__ instance: an int, a str and a float."""
    __slots__ = ("a", "b", "c")

    def __init__(self, k):
        self.a = k
        self.b = "s%d" % k
        self.c = k / 2


def int_list(n):
    """W1: one list of the ints 0 .. n-1."""
    return list(range(n))


def str_to_float_lists(n):
    """W2: a dict of n str keys, each to its own list of three floats."""
    out = {}
    for k in range(n):
        out["key%d" % k] = [float(k), k + 0.5, k + 0.25]
    return out


def plain_instances(n):
    """W3: a list of n FourFields."""
    return [FourFields(k) for k in range(n)]


def slotted_instances(n):
    """W4: a list of n ThreeSlots."""
    return [ThreeSlots(k) for k in range(n)]


def nested_lists(n):
    """W5: lists nested n deep, each holding only the next."""
    inner = []
    for _ in range(n):
        inner = [inner]
    return inner


def str_to_triples(n):
    """W6: a dict of n str keys, each to (a str, 100 bytes, a set of three
    ints)."""
    out = {}
    for k in range(n):
        out["k%d" % k] = ("s%d" % k, k.to_bytes(4, "little") * 25, {k, k + 1, k + 2})
    return out


WORKLOADS = {
    "W1": (int_list, 1_000_000),
    "W2": (str_to_float_lists, 200_000),
    "W3": (plain_instances, 100_000),
    "W4": (slotted_instances, 100_000),
    "W5": (nested_lists, 10_000),
    "W6": (str_to_triples, 50_000),
}


def build(name, scale=1.0):
    """Shape ``name`` at ``scale`` of its full size (at least one element)."""
    builder, full = WORKLOADS[name]
    return builder(max(1, int(full * scale)))
