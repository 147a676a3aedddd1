"""Bad input: bad option values, and million-deep chains (no recursion
limit, no stack overflow).
"""

import gc
import math
import sys

import pytest

import heaplens
from heaplens import Asizer, asized, asizeof, asizesof, flatsize

HAS_MANAGED_DICT = sys.version_info >= (3, 11)


def al(n, a=8):
    return (n + a - 1) // a * a


# ---- options ------------------------------------------------------------------------

@pytest.mark.parametrize("func", [asizeof, asizesof, asized])
def test_bad_option_values(func):
    x = [1]
    with pytest.raises(ValueError):
        func(x, align=3)
    with pytest.raises(TypeError):
        func(x, align="x")
    with pytest.raises(TypeError):
        func(x, limit="x")
    with pytest.raises(ValueError):
        func(x, stats=-1)
    with pytest.raises(ValueError):
        func(x, model="nope")
    with pytest.raises(KeyError):
        func(x, nosuchoption=1)
    with pytest.raises(KeyError):
        func(x, nosuchoption=1, another=2)
    with pytest.raises(ValueError):
        func(x, limit=float("nan"))


def test_bad_detail():
    with pytest.raises(TypeError):
        asized([1], detail="x")
    # asizeof() ignores detail, as pympler does, but still checks its type
    assert asized([1], detail=-5).size == asizeof([1])


def test_bad_options_elsewhere():
    with pytest.raises(ValueError):
        flatsize([1], align=3)
    with pytest.raises(TypeError):
        flatsize([1], align="x")
    with pytest.raises(ValueError):
        flatsize([1], model="nope")
    with pytest.raises(KeyError):
        flatsize([1], nosuchoption=1)
    with pytest.raises(ValueError):
        asizeof(all="x")
    with pytest.raises(KeyError):
        asizesof(1, all=True)
    with pytest.raises(TypeError):
        Asizer().set(nosuchoption=1)
    with pytest.raises(ValueError):
        Asizer(align=3)
    with pytest.raises(ValueError):
        Asizer().set(align=6)
    with pytest.raises(KeyError):
        heaplens.refs([1], nosuchoption=1)


def test_asizer_unknown_option_is_keyerror():
    with pytest.raises(KeyError):
        Asizer(nosuchoption=1)


@pytest.mark.parametrize("align", [0, 1, -1, -8, True, False])
def test_no_alignment_values(align):
    x = ["abc", 1000]
    assert asizeof(x, align=align) == sys.getsizeof(x) + sys.getsizeof("abc") + sys.getsizeof(
        1000)


def test_huge_limit_is_no_limit():
    x = [[[1.5]]]
    assert asizeof(x, limit=10 ** 30) == asizeof(x)
    assert asizeof(x, limit=1e300) == asizeof(x)


def test_odd_but_accepted_options():
    x = [[1.5]]
    full = asizeof(x)
    assert asizeof(x, limit=math.inf) == full
    assert asizeof(x, limit=2 ** 63 - 1) == full
    assert asizeof(x, limit=1.5) == full
    assert asizeof(x, limit=-1e300) == asizeof(x, limit=0) == al(sys.getsizeof(x))
    for k, v in (("code", "yes"), ("frames", None), ("ignored", None), ("derive", 1),
                 ("infer", []), ("clip", 0), ("cutoff", 3)):
        assert asizeof(x, **{k: v}) == full


# ---- million-deep chains ------------------------------------------------------------

N = 1_000_000


def test_million_deep_list_chain():
    x = []
    for _ in range(N):
        x = [x]
    assert asizeof(x) == N * al(sys.getsizeof([x])) + al(sys.getsizeof([]))
    assert asizeof(x, limit=10) == 11 * al(sys.getsizeof([x]))
    assert sum(asizesof(x, x[0][0])) == asizeof(x)


def test_million_deep_list_chain_ordered_and_allocator():
    x = []
    for _ in range(N):
        x = [x]
    full = N * al(sys.getsizeof([x])) + al(sys.getsizeof([]))
    assert asized(x, detail=3).size == full
    assert asizeof(x, model="allocator") > 0


def test_million_deep_dict_chain():
    d = {}
    for _ in range(N):
        d = {"k": d}
    assert asizeof(d) == (N * al(sys.getsizeof({"k": d})) + al(sys.getsizeof({}))
                          + al(sys.getsizeof("k")))


def test_million_deep_instance_chain():
    class Slotted:
        __slots__ = ("v",)

        def __init__(self, v):
            self.v = v
    a = None
    for _ in range(N):
        a = Slotted(a)
    assert asizeof(a) == N * al(sys.getsizeof(a)) + al(sys.getsizeof(None))
    del a

    class Plain:
        def __init__(self, v):
            self.v = v
    chain = [None]
    for _ in range(N):
        chain.append(Plain(chain[-1]))
    a = chain[-1]
    insts = chain[1:]
    del chain
    total = asizeof(a)
    # The deep walk agrees with a million shallow ones: each instance given
    # counts for itself, its attribute being another root (or None).
    sizes = asizesof(*insts)
    assert sum(sizes) == total
    assert total >= N * al(sys.getsizeof(a))
    # Each instance's own bytes (with its inline values on 3.11+), and its
    # dict on 3.9/3.10; the first holds None (and the shared key 'v').
    first = al(sys.getsizeof(None))
    if not HAS_MANAGED_DICT:
        first += al(sys.getsizeof("v"))
    for i in list(range(0, N, 997)) + [0, 1, N - 1]:
        o = insts[i]
        expected = flatsize(o, align=8) + (first if i == 0 else 0)
        if not HAS_MANAGED_DICT:
            expected += sum(al(sys.getsizeof(r)) for r in gc.get_referents(o) if type(r) is dict)
        assert sizes[i] == expected, i
