"""model="allocator" agrees with what tracemalloc sees being allocated."""

import gc
import sys
import tracemalloc

import pytest

import heaplens
import workloads  # tests/python/workloads.py


def _built_with_tracemalloc(name, scale):
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        obj = workloads.build(name, scale)
        delta = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return obj, delta


@pytest.mark.parametrize("name", sorted(workloads.WORKLOADS))
def test_within_one_percent_of_tracemalloc(name):
    # W5 is a chain of lists: the fixed cost of the build (a frame, a few
    # hundred bytes) weighs more at small scales, so give it a larger one.
    scale = 0.5 if name == "W5" else 0.1
    obj, delta = _built_with_tracemalloc(name, scale)
    size = heaplens.asizeof(obj, model="allocator")
    assert abs(size - delta) <= 0.01 * delta, (name, size, delta)


def test_getsizeof_model_overcounts_singletons():
    # Small ints are cached: building a list of them allocates the list only.
    obj, delta = _built_with_tracemalloc("W1", 0.0002)  # 200 ints, 0..199
    assert heaplens.asizeof(obj, model="allocator") <= delta + 64
    assert heaplens.asizeof(obj) > delta + 150 * 24


def test_allocator_model_ignores_align():
    x = [1.5, "abc", (1, 2)]
    assert heaplens.asizeof(x, model="allocator") == heaplens.asizeof(
        x, model="allocator", align=64)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="inline values exist on 3.11+")
def test_instance_values_counted():
    class P:
        def __init__(self):
            self.a, self.b, self.c = 1, 2, 3
    ps = [P() for _ in range(100)]  # let the class's value arrays converge
    p = ps[-1]
    assert heaplens.flatsize(p) > sys.getsizeof(p)
    assert heaplens.flatsize(p, model="allocator") > sys.getsizeof(p)


def test_bad_model():
    with pytest.raises(ValueError):
        heaplens.asizeof([], model="rss")
