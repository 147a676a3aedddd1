"""Issue 12 item 4: byte totals never wrap negative, and a KeyboardInterrupt
or MemoryError raised while a walk runs Python code is never swallowed."""

import gc
import io
import sys

import pytest

import heaplens


class Huge:
    """An object whose __sizeof__ lies: half the address space."""

    def __sizeof__(self):
        return sys.maxsize // 2


def test_census_row_and_total_saturate_instead_of_wrapping():
    objs = [Huge() for _ in range(3)]
    snap = heaplens.snapshot(addresses=False)
    row = [r for r in snap.rows if r.type_name.endswith("Huge")]
    assert len(row) == 1 and row[0].count == 3
    # 3 x maxsize/2 wrapped to a negative figure before.
    assert row[0].size == sys.maxsize
    assert snap.total_size == sys.maxsize
    assert all(r.size >= 0 for r in snap.rows)
    diff = snap.diff(heaplens.snapshot(addresses=False))
    assert all(r.size >= 0 for r in diff.rows if r.type_name.endswith("Huge"))
    del objs


def test_walk_profile_saturates():
    objs = [Huge() for _ in range(3)]
    a = heaplens.Asizer(stats=2, stream=io.StringIO())
    sizes = a.asizesof(*objs)
    assert all(s > sys.maxsize // 2 for s in sizes)
    prof = {tp: v for tp, v in a._profile.items() if tp is Huge}
    assert prof[Huge] == [3, sys.maxsize]
    out = io.StringIO()
    a.print_profiles(file=out)
    line = [ln for ln in out.getvalue().splitlines() if "Huge" in ln][0]
    assert "-" not in line.split("Huge", 1)[1], line


def test_one_root_past_the_size_limit_raises_overflow():
    with pytest.raises(OverflowError):
        heaplens.asizeof([Huge() for _ in range(3)])


class _RaisingName(type):
    """A metaclass whose classes' __module__ raises what it is told to."""

    raise_ = None


def _module_of(cls):
    exc = _RaisingName.raise_
    if exc is not None:
        raise exc
    return __name__


# Set after the class statement, which would replace a __module__ entry.
type.__setattr__(_RaisingName, "__module__", property(_module_of))


@pytest.mark.parametrize("exc", [KeyboardInterrupt, MemoryError])
def test_interrupt_while_naming_types_propagates(exc):
    Named = _RaisingName("Named", (), {})
    obj = Named()
    before = heaplens.snapshot()
    later = Named()
    _RaisingName.raise_ = exc
    try:
        with pytest.raises(exc):
            heaplens.snapshot(addresses=False)
        with pytest.raises(exc):
            before.new_objects("test_census_limits.Named")
        # An ordinary error while naming still falls back to the C name.
        _RaisingName.raise_ = AttributeError
        snap = heaplens.snapshot(addresses=False)
        assert any(r.type_name.endswith("Named") for r in snap.rows)
    finally:
        _RaisingName.raise_ = None
    assert later in before.new_objects("test_census_limits.Named")
    del obj, later
    gc.collect()
