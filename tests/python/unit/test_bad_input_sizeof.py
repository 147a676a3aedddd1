"""Bad input: ``__sizeof__`` methods that raise or return nonsense, and C
``__sizeof__`` methods taken from another type: a number or a clear
exception, never a crash.

Whatever may kill the interpreter runs in a child process.
"""

import os
import subprocess
import sys
import textwrap

import pytest

import heaplens
from heaplens import Asizer, asized, asizeof, asizesof, flatsize


def al(n, a=8):
    return (n + a - 1) // a * a


def run_child(code, timeout=60):
    """Run code in a fresh interpreter; return (returncode, output)."""
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
        cwd=os.path.dirname(os.path.dirname(heaplens.__file__)))
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def sizeof_returning(value):
    """An object whose __sizeof__ returns ``value`` and that refers to
    nothing but its class."""
    class S:
        __slots__ = ()

        def __sizeof__(self):
            return value
    return S()


class Raiser:
    __slots__ = ("exc",)

    def __init__(self, exc):
        self.exc = exc

    def __sizeof__(self):
        raise self.exc


def deep_inside(obj):
    """obj at the bottom of lists, dicts, tuples, sets and instances, among
    a few thousand well-behaved objects."""
    class Holder:
        pass
    h = Holder()
    h.payload = [{"k": (frozenset([obj]),)}]
    filler = [[str(i), i * 1000, float(i)] for i in range(2000)]
    chain = [filler, h]
    for _ in range(300):
        chain = [chain, {"next": chain}]
    return chain


# ---- __sizeof__ that raises ------------------------------------------------------

SIZERS = [
    ("asizeof", lambda *o: asizeof(*o)),
    ("asizesof", lambda *o: asizesof(*o)),
    ("asized", lambda *o: asized(*o, detail=3)),
    ("Asizer", lambda *o: Asizer().asizeof(*o)),
    ("allocator", lambda *o: asizeof(*o, model="allocator")),
    ("limit", lambda *o: asizeof(*o, limit=10 ** 6)),
]


WHERE = {
    "given": lambda bad: bad,
    "in a list": lambda bad: [1.5, bad, "x"],
    "deep inside": deep_inside,
}


@pytest.mark.parametrize("exc_type", [ValueError, RuntimeError, KeyError, ZeroDivisionError,
                                      RecursionError, MemoryError])
@pytest.mark.parametrize("name,sizer", SIZERS, ids=[n for n, _ in SIZERS])
@pytest.mark.parametrize("where", sorted(WHERE))
def test_sizeof_raising_propagates(exc_type, name, sizer, where):
    exc = exc_type("boom")
    bad = Raiser(exc)
    obj = WHERE[where](bad)
    refcount = sys.getrefcount(bad)
    with pytest.raises(exc_type) as info:
        sizer(obj)
    assert info.value is exc
    # The walk let go of everything it held, and the next walk works.
    exc.__traceback__ = None
    del info
    assert sys.getrefcount(bad) == refcount
    assert asizeof([1.5, "x"]) > 0


def test_sizeof_raising_base_exceptions():
    for exc in (KeyboardInterrupt(), SystemExit(3), GeneratorExit()):
        with pytest.raises(type(exc)):
            asizeof([[Raiser(exc)]])
    assert asizeof([1]) > 0


def test_sizeof_raising_in_flatsize_and_refs():
    bad = Raiser(ValueError("flat"))
    with pytest.raises(ValueError):
        flatsize(bad)
    # refs() does not need the size
    assert bad.exc in heaplens.refs(bad)


def test_sizeof_infinite_recursion():
    class Loop:
        def __sizeof__(self):
            return sys.getsizeof(self)
    with pytest.raises(RecursionError):
        asizeof([Loop()])


def test_asizer_usable_after_an_exception():
    a = Asizer()
    x = [10.5, "abc"]
    with pytest.raises(ValueError):
        a.asizeof([x, Raiser(ValueError())])
    # x may have been counted before the error; sizing goes on either way.
    assert a.asizeof([20.5]) == asizeof([20.5])
    a.reset()
    assert a.asizeof(x) == asizeof(x)


# ---- __sizeof__ that returns nonsense --------------------------------------------

@pytest.mark.parametrize("value,exc_type", [
    (-1, ValueError), (-(2 ** 70), OverflowError), ("x", TypeError), (3.5, TypeError),
    (None, TypeError), ([], TypeError), (2 ** 70, OverflowError),
    (sys.maxsize, OverflowError),
])
def test_sizeof_bad_return(value, exc_type):
    obj = sizeof_returning(value)
    for sizer in (asizeof, flatsize, lambda o: asizeof([[o]]), lambda o: asized(o, detail=1),
                  lambda o: asizeof(o, model="allocator")):
        with pytest.raises(exc_type):
            sizer(obj)
    # getsizeof rejects the same values with the same exception types
    # (except for the overflow by the GC header).
    if value is not sys.maxsize:
        with pytest.raises(exc_type):
            sys.getsizeof(obj)


@pytest.mark.parametrize("value", [0, 1, 3, True, 2 ** 31, 2 ** 40, 2 ** 50])
def test_sizeof_odd_but_valid_return(value):
    obj = sizeof_returning(value)
    assert flatsize(obj) == sys.getsizeof(obj) >= value
    assert asizeof(obj) == al(sys.getsizeof(obj))
    assert asizeof([obj]) == al(sys.getsizeof([obj])) + al(sys.getsizeof(obj))


def test_sizeof_returning_an_int_subclass():
    class Weird(int):
        def __index__(self):
            raise AssertionError("not called")
    obj = sizeof_returning(Weird(40))
    assert asizeof(obj) == al(sys.getsizeof(obj))


def test_total_past_ssize_t_does_not_wrap():
    objs = [sizeof_returning(2 ** 62) for _ in range(3)]
    flat = al(sys.getsizeof(objs[0]))
    exact = al(sys.getsizeof(objs)) + 3 * flat
    for sizer in (lambda: asizeof(objs), lambda: asized(objs, detail=1).size):
        try:
            got = sizer()
        except OverflowError:
            continue
        assert got == exact


def test_huge_align_does_not_wrap():
    x = [1000, 2000]
    try:
        got = asizeof(x, align=2 ** 62)
    except OverflowError:
        return
    assert got == 3 * 2 ** 62


def test_sizes_past_ssize_t_summed_in_python():
    # Each root fits; their sum is a Python int.
    objs = [sizeof_returning(2 ** 62) for _ in range(3)]
    flat = al(sys.getsizeof(objs[0]))
    assert asizesof(*objs) == (flat,) * 3
    assert asizeof(*objs) == 3 * flat


# A C __sizeof__ taken from another type must be refused the way
# sys.getsizeof refuses it ("descriptor '__sizeof__' for 'dict' objects
# doesn't apply to a 'X' object"), not called on the wrong layout.
_FOREIGN_SIZEOF_CHILD = """
import sys, collections, array, io
import heaplens
src = {src}
class X:
    __sizeof__ = src.__sizeof__
x = X()
try:
    sys.getsizeof(x)
except TypeError:
    pass
else:
    raise SystemExit("getsizeof accepted it")
for f in (heaplens.flatsize, heaplens.asizeof, lambda o: heaplens.asizeof([o, o]),
          lambda o: heaplens.asized(o, detail=1)):
    try:
        r = f(x)
    except TypeError:
        continue
    print("returned", r)
    raise SystemExit(1)
print("ok")
"""


@pytest.mark.parametrize("src", [
    "dict",
    "list",
    "set",
    "collections.deque",
    "array.array",
    "io.BytesIO",
    "int",
    "str",
    "type",
])
def test_foreign_c_sizeof_is_refused(src):
    rc, out = run_child(_FOREIGN_SIZEOF_CHILD.format(src=src))
    assert rc == 0 and out.strip().endswith("ok"), out[-2000:]
