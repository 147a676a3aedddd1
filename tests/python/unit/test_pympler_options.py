"""heaplens.asizeof against pympler.asizeof, the API it replaces: option errors
(pympler's exception types and messages) and the options both accept.

Every comparison builds the object fresh and measures it with heaplens
first: pympler changes what it measures (it materialises instance
``__dict__``s, and on 3.11+ that changes the object's layout).
"""

import math

import pytest

import heaplens as hl

pa = pytest.importorskip("pympler.asizeof", reason="pympler is in the [test] extra")


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
