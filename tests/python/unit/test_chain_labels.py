"""A chain's labels name the attribute holding each link (Foo.attr) and
never change the heap they describe: on 3.11+ an instance keeps its
attributes in the object until someone asks for its __dict__, and asking
makes the dict (the instance's memory grows, its flat size changes). The
labels read the interpreter's own structures instead."""

import sys

import pytest

import heaplens
from heaplens._chains import _label

# (generic mode on 3.11+ cannot read attributes kept in the object: its
# labels ask for the dict, which makes it there; docs/leaks.md)
_INLINE_UNKNOWN = sys.version_info >= (3, 11) and heaplens._heaplens.LAYOUT_MODE != "known"


class Many:
    def __init__(self):
        for i in range(12):
            setattr(self, "a%d" % i, [i])


class Late:
    pass


class Both:
    __slots__ = ("s", "__dict__")


class Sub(Many):
    pass


def _shapes():
    m = Many()
    late = Late()
    late.first = [1]
    late.second = [2]
    del late.first
    late.third = [3]
    b = Both()
    b.s = [10]
    b.d = [11]
    sub = Sub()
    sub.extra = [99]
    return [(m, "a0"), (m, "a7"), (m, "a11"), (late, "second"), (late, "third"),
            (b, "s"), (b, "d"), (sub, "a3"), (sub, "extra")]


@pytest.mark.parametrize("case", range(9))
def test_label_names_the_attribute_and_makes_nothing(case):
    parent, attr = _shapes()[case]
    child = getattr(parent, attr)
    flat = heaplens.flatsize(parent)
    size = sys.getsizeof(parent)
    assert _label(parent, child) == "%s.%s" % (type(parent).__name__, attr)
    if not _INLINE_UNKNOWN:
        assert heaplens.flatsize(parent) == flat
        assert sys.getsizeof(parent) == size


_held = []


def test_why_alive_leaves_the_instance_as_it_was():
    m = Many()
    m.a5.append(bytearray(64))
    _held.append(m)
    del m
    flat = heaplens.flatsize(_held[0])
    chain = heaplens.why_alive(_held[0].a5[-1])
    if _INLINE_UNKNOWN:
        flat = heaplens.flatsize(_held[0])
    # (3.9/3.10 keep a real dict per instance: the chain goes through it)
    via = "Many.a5" if sys.version_info >= (3, 11) else "Many.__dict__ -> dict['a5']"
    assert "dict['_held'] -> list[0] -> %s -> list[1]" % via in str(chain), str(chain)
    assert heaplens.flatsize(_held[0]) == flat
    _held.clear()


def test_an_instance_with_its_dict_made_is_labelled_through_it():
    m = Many()
    d = m.__dict__          # the dict now exists (made here, by the test)
    assert _label(m, m.a2) == "Many.a2"
    assert _label(m, d) in ("Many.__dict__", "Many")
