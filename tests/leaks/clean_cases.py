"""Code that does not leak, though a naive before/after count says it does.
Each case_* function is checked with heaplens.check_leaks; none may be
reported."""

import collections
import functools
import logging
import re
import sys
import warnings


@functools.lru_cache(maxsize=None)
def _square_table(n):
    return [i * i for i in range(n)]


def case_lru_cache_filled_in_warmup():
    for n in range(20):
        _square_table(n)


_singleton = None


class _Service:
    def __init__(self):
        self.config = {"retries": 3}


def case_lazy_singleton():
    global _singleton
    if _singleton is None:
        _singleton = _Service()
    return _singleton.config["retries"]


def case_logging_get_logger():
    logging.getLogger("heaplens.tests.leaks.component").debug("hello %s", "x")


_pool = collections.deque(maxlen=2)


def case_bounded_pool():
    _pool.append(bytearray(64))


class _Node:
    def __init__(self):
        self.other = None


def case_garbage_cycles():
    a, b = _Node(), _Node()
    a.other, b.other = b, a


def case_interned_strings():
    return sys.intern("heaplens-" + "interned")


_counter = [0]


def case_small_ints_and_re_cache():
    _counter[0] = (_counter[0] + 1) % 200
    return re.match(r"(\d+)-(\w+)", "%d-abc" % _counter[0])


def case_warnings_registry():
    _counter[0] += 1
    # record=True keeps the warning from reaching pytest's own recorder,
    # which keeps every warning it sees; the module registry still grows.
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("default")
        warnings.warn("heaplens test warning %d" % _counter[0], UserWarning)


def case_large_temporary():
    big = [object() for _ in range(50_000)]
    return len(big)


CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}
