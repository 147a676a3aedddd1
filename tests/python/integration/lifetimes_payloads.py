"""Payloads laid out like object headers, under heaplens.track(): the
tracker must never crash, never name a type that does not exist, never
count such a payload alive and never hand one out as an object
(lib/lifetimes_types.c, THE INVARIANT).

    python tests/python/integration/lifetimes_payloads.py crafted|fake|random [ROUNDS PER_ROUND]

Run by tests/python/integration/test_lifetimes_truth.py in a child process on every
version, and by scripts/sanitize.sh (ASan+UBSan) and scripts/valgrind.sh
(memcheck) on every version. Prints "ok" when every check held.
"""

import ctypes, gc, random, struct, sys
import heaplens
from heaplens import _lifetimes

def addr(buf):
    return ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))

def check(t):
    real = {id(c) for c in _lifetimes._all_types()}
    rows = t.stats()
    for r in rows:
        assert id(r.type) in real, "stats() names a type that does not exist"
        assert isinstance(r.type_name, str)
        assert r.alive <= r.born
    for s in t.survivors():
        assert id(s.type) in real
    return rows


def crafted():
    with heaplens.track() as t:
        # A payload laid out like a type object (gc header, refcount, &type),
        # written before and after the hooks first read it.
        fake_type = bytearray(struct.pack("QQQQ", 0, 0, 5, id(type)) + bytes(1024))
        late_type = bytearray(1056)
        struct.pack_into("QQQQ", late_type, 0, 0, 0, 5, id(type))
        keep = []
        for ft in (fake_type, late_type):
            a = addr(ft)
            for off in (0, 16, 32):
                # instances of the fake type, at each pre-header offset
                inst = bytearray(64)
                struct.pack_into("QQ", inst, off, 3, a + 16)
                keep.append(inst)
        # a header pointing at itself, and at a freed payload
        selfref = bytearray(64)
        struct.pack_into("QQ", selfref, 0, 1, addr(selfref))
        gone = bytearray(64)
        gone_addr = addr(gone)
        del gone
        keep.append(bytearray(struct.pack("QQ", 1, gone_addr) + bytes(48)))  # dangling
        keep.append([bytearray(64) for _ in range(200)])
        gc.collect()
    check(t)
    st = t.status()
    # (whether the fake type became a candidate depends on the allocator the
    # payloads come from: pymalloc, or malloc under PYTHONMALLOC=malloc)
    print("ok", "candidates-refused=%d" % st["types_unverified"])


def random_stress(rounds=6, per_round=1500):
    rng = random.Random(1234)
    type_ids = [id(c) for c in (int, str, float, tuple, list, dict, type, object, bytes,
                                set, frozenset, bytearray, complex, range, BaseException)]
    class Mine:
        pass
    type_ids.append(id(Mine))
    bufs, addrs = [], []
    freed = []
    with heaplens.track() as t:
        for round_ in range(rounds):
            for i in range(per_round):
                n = rng.choice((16, 32, 48, 64, 96, 128, 256, 1024))
                b = bytearray(n)
                for w in range(0, n - 7, 8):
                    k = rng.random()
                    if k < 0.3:
                        v = rng.randrange(0, 8)               # small refcounts
                    elif k < 0.6:
                        v = rng.choice(type_ids)              # ids of live types
                    elif k < 0.8 and addrs:
                        v = rng.choice(addrs) + rng.choice((0, 16, 32))  # other payloads
                    elif k < 0.9 and freed:
                        v = rng.choice(freed)                 # freed payloads
                    else:
                        v = rng.getrandbits(64)
                    struct.pack_into("Q", b, w, v)
                bufs.append(b)
                addrs.append(addr(b))
                if rng.random() < 0.2:
                    x = bytearray(b)      # a copy: header-like words from birth
                    bufs.append(x)
                if rng.random() < 0.1 and len(bufs) > 10:
                    j = rng.randrange(len(bufs))
                    freed.append(addrs[min(j, len(addrs) - 1)])
                    bufs[j] = None
                if i % 97 == 0:
                    Mine(); [Mine() for _ in range(5)]
                    type("T%d_%d" % (round_, i), (Mine,), {})()   # classes made meanwhile
            gc.collect()
            rows = check(t)
    rows = check(t)
    t.survivors()
    assert rows
    print("ok", "rows=%d" % len(rows))


def fake_objects():
    with heaplens.track() as t:
        payloads = []
        for i in range(500):
            b = bytearray(64)
            struct.pack_into("QQQQ", b, 0, 0, 0, 1, id(dict))   # a 'dict' (gc header first)
            struct.pack_into("Q", b, 40, 0xdeadbeef)
            payloads.append(b)
        real = [{"k": i} for i in range(200)]
        survivors = t.survivors(dict)
        objs = [s.object() for s in survivors]
    assert all(type(o) is dict for o in objs if o is not None)
    rows = {r.type_name: r for r in t.stats()}
    # the fakes are not counted alive: at most the real dicts made here
    # (dicts reused from the freelist were made out of our sight)
    # (and the payloads, born or not by version, are not alive)
    assert 100 <= rows["dict"].alive <= 200, rows["dict"]
    assert len(objs) == rows["dict"].alive
    del real  # the real dicts stay alive up to here
    print("ok")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "crafted":
        crafted()
    elif what == "fake":
        fake_objects()
    elif what == "random":
        random_stress(*[int(a) for a in sys.argv[2:4]])
    else:
        sys.exit("usage: lifetimes_payloads.py crafted|fake|random [ROUNDS PER_ROUND]")
