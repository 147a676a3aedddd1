"""Every object given to exclude= is left out of the heap index, however
many there are: the glue once kept only the first 64 (issue 14), so the
65th container holding an object still showed up as its referrer."""
from heaplens import _heaplens as _c

N = 100  # well past the old cap of 64


def _holders(target):
    return tuple([target] for _ in range(N))


def _is_holder(o, holders):
    return any(o is h for h in holders)


def test_referrers_leave_out_every_excluded_object():
    target = object()
    holders = _holders(target)
    refs, _external = _c.referrers(target, exclude=holders)
    assert not any(_is_holder(r, holders) for r in refs)
    # Control: without exclude, every holder is a referrer.
    refs, _external = _c.referrers(target)
    assert sum(_is_holder(r, holders) for r in refs) == N
    del refs


class _Box:
    """A class: a root that a referrer chain stops at."""


def test_referrer_chains_never_pass_through_an_excluded_object():
    holders = _holders(object())
    _Box.held = list(holders)  # class -> list -> each holder -> target
    try:
        # Control: without exclude, the chain runs through a holder.
        [(kind, chain, _external)] = _c.referrer_chains((holders[0][0],))
        assert kind == "class" and any(_is_holder(o, holders) for o in chain)
        [(kind, chain, _external)] = _c.referrer_chains((holders[0][0],), exclude=holders)
        assert not any(_is_holder(o, holders) for o in chain)
        assert chain[-1] is holders[0][0]
        del chain
    finally:
        del _Box.held


def test_referrer_graph_leaves_out_every_excluded_object():
    target = object()
    holders = _holders(target)
    edges = _c.referrer_graph(target, 2, 500, holders)
    assert not any(_is_holder(p, holders) or _is_holder(c, holders) for p, c in edges)
    edges = _c.referrer_graph(target, 1, 500)
    assert sum(_is_holder(p, holders) for p, _c2 in edges) == N
    del edges
