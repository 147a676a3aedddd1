"""heaplens.dump / open_dump: what the file holds, that it agrees with
snapshot(), and that the loader refuses every damaged file cleanly."""

import gc
import os
import random
import struct
import sys
import zlib

import pytest

import heaplens
from heaplens import DumpFormatError, HeapDump, _heaplens, dump, open_dump


class Holder:
    pass


def _dump_to(tmp_path, name="heap.hld"):
    path = str(tmp_path / name)
    info = dump(path)
    assert os.path.getsize(path) == info.bytes
    return path, info


def test_records_of_a_known_structure(tmp_path):
    strs = ["unique-%d-%s" % (i, "x" * i) for i in range(3)]
    big = 2 ** 40 + 7
    holder = {"the_key": strs, "number": big, "pi": 3.25, "raw": b"ab\x00c"}
    path, info = _dump_to(tmp_path)
    d = open_dump(path)
    assert isinstance(d, HeapDump)
    assert len(d) == info.objects and d.nreferences == info.references
    rec = d.object(id(strs))
    assert rec.id == id(strs) and rec.type_name == "list"
    assert rec.size == sys.getsizeof(strs) + (-sys.getsizeof(strs)) % 8
    assert rec.referents == tuple(id(s) for s in strs)
    assert rec.text is None
    texts = [d.object(i).text for i in rec.referents]
    assert texts == [s[:32] for s in strs]
    s0 = d.object(id(strs[0]))
    assert s0.type_name == "str" and s0.referents == ()
    assert s0.refcount == 1  # the list's reference only: the walk's own are not counted
    assert rec.refcount == 2  # the dict's and the local variable's
    assert d.object(id(holder["number"])).text == str(big)
    assert d.object(id(holder["pi"])).text == "3.25"
    assert d.object(id(holder["raw"])).text == "ab\\x00c"
    h = d.object(id(holder))
    # an exact dict's references are its key, value pairs in table order
    assert h.referents == tuple(x for k, v in holder.items() for x in (id(k), id(v)))
    assert d.object(id(Holder)).text == __name__ + ".Holder"
    assert d.object(id(test_records_of_a_known_structure)).text == \
        "test_records_of_a_known_structure"
    assert d.object(id(sys)).text == "sys"
    with pytest.raises(KeyError):
        d.object(1)
    assert id(strs) in d and 8 not in d


def test_long_str_text_is_clipped_without_encoding_it(tmp_path):
    s = "\u00e9" * 100 + "tail"
    path, _ = _dump_to(tmp_path)
    rec = open_dump(path).object(id(s))
    assert rec.text == "\u00e9" * 16  # 32 bytes of UTF-8
    # reading the characters in place cached no UTF-8 copy on the str
    assert sys.getsizeof(s) == rec.size - (-sys.getsizeof(s)) % 8


def test_labels_in_a_path_to_root(tmp_path):
    mod = type(sys)("dump_test_module")
    mod.registry = {"cache": [None, None, Holder()]}
    sys.modules["dump_test_module"] = mod
    try:
        target = id(mod.registry["cache"][2])  # no local holds it (a local is a root)
        path, _ = _dump_to(tmp_path)
        d = open_dump(path)
        chain = d.path_to_root(target)
        assert chain.kind in ("module", "external")
        assert chain.objects[-1].id == target
        assert chain.objects[0].id in d.roots
        text = str(chain)
        assert text.endswith("dict['cache'] -> list[2] -> <%s.Holder>" % __name__), text
        assert "->" in chain._repr_html_() or "&rarr;" in chain._repr_html_()
    finally:
        del sys.modules["dump_test_module"]


def test_find_and_roots(tmp_path):
    objs = [Holder() for _ in range(7)]
    path, _ = _dump_to(tmp_path)
    d = open_dump(path)
    found = set(d.find(__name__ + ".Holder"))
    assert {id(o) for o in objs} <= found
    assert len(found) == len([o for o in gc.get_objects() if type(o) is Holder])
    roots = set(d.roots)
    assert id(sys) in roots  # modules are roots
    # a root held from C only: the stored refcount exceeds the references
    assert all(isinstance(r, int) for r in roots)
    with pytest.raises(TypeError):
        d.find(Holder)


def test_same_objects_and_bytes_as_snapshot(tmp_path):
    """The dump and a snapshot taken right after it see the same heap: the
    dump's result is dropped before the snapshot, and the snapshot's own
    objects exist only after it."""
    import workloads
    data = [workloads.build(n, 0.02) for n in sorted(workloads.WORKLOADS)]
    path = str(tmp_path / "w.hld")
    dump(path)  # the first call imports and caches what later calls need
    gc.collect()
    dump(path)
    snap = heaplens.snapshot(addresses=False)
    d = open_dump(path)
    rows = {r.type_name: (r.count, r.size) for r in snap.rows}
    totals = {k: tuple(v) for k, v in d._type_totals().items()}
    assert (len(d), sum(v[1] for v in totals.values())) == (snap.total_count, snap.total_size)
    assert totals == rows
    assert len(d) > 80000
    del data


def test_dump_changes_nothing(tmp_path):
    """Two dumps in a row see the same heap: the first left nothing behind."""
    import workloads
    data = workloads.build("W3", 0.05)
    p1, p2, p3 = (str(tmp_path / n) for n in ("1.hld", "2.hld", "3.hld"))
    dump(p1)
    gc.collect()
    dump(p2)
    dump(p3)
    d2, d3 = open_dump(p2), open_dump(p3)
    assert len(d2) == len(d3) and d2.nreferences == d3.nreferences
    assert d2._type_totals() == d3._type_totals()
    del data


def test_excluded_objects_are_left_out(tmp_path):
    mine = [Holder() for _ in range(5)]
    path = str(tmp_path / "e.hld")
    info = dump(path, exclude=[mine])
    d = open_dump(path)
    assert len(d) == info.objects
    for o in mine:
        assert id(o) not in d
    # references into the excluded part were dropped, not left dangling
    assert d.nreferences == info.references


def test_diff_by_type(tmp_path):
    p1 = str(tmp_path / "1.hld")
    p2 = str(tmp_path / "2.hld")
    dump(p1)
    grown = [Holder() for _ in range(1000)]
    dump(p2)
    diff = open_dump(p2).diff(open_dump(p1))
    row = diff.row(__name__ + ".Holder")
    assert row.count_diff == 1000
    assert "Holder" in str(diff) and "<table" in diff._repr_html_()
    del grown


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError):
        dump(3)
    with pytest.raises(TypeError):
        open_dump(None)
    with pytest.raises(ValueError, match="cannot open"):
        open_dump(str(tmp_path / "missing.hld"))
    with pytest.raises(ValueError):
        dump(str(tmp_path / "no" / "such" / "dir.hld"))


# ---- the loader against damaged files ----------------------------------------

@pytest.fixture(scope="module")
def small_dump(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("d") / "small.hld")
    dump(path)
    with open(path, "rb") as f:
        return f.read()


def _load(tmp_path, data):
    p = tmp_path / "bad.hld"
    p.write_bytes(data)
    return open_dump(str(p))


def _fix_crc(data):
    return data[:-4] + struct.pack("<I", zlib.crc32(data[:-4]))


def test_valid_file_loads_and_crc_is_zlibs(tmp_path, small_dump):
    assert _fix_crc(small_dump) == small_dump
    assert len(_load(tmp_path, small_dump)) > 1000


@pytest.mark.parametrize("data,word", [
    (b"", "magic"), (b"not a dump at all", "magic"), (b"HLHEAPDM", "truncated"),
])
def test_garbage(tmp_path, data, word):
    with pytest.raises(DumpFormatError, match=word):
        _load(tmp_path, data)


def test_version_and_checksum(tmp_path, small_dump):
    newer = bytearray(small_dump)
    newer[8] = 2
    with pytest.raises(DumpFormatError, match="version 2"):
        _load(tmp_path, bytes(newer))
    flipped = bytearray(small_dump)
    flipped[len(flipped) // 2] ^= 0x40
    with pytest.raises(DumpFormatError, match="checksum"):
        _load(tmp_path, bytes(flipped))
    assert issubclass(DumpFormatError, ValueError)


def test_truncated_everywhere(tmp_path, small_dump):
    step = max(1, len(small_dump) // 200)
    for n in list(range(0, len(small_dump), step)) + [len(small_dump) - 1]:
        with pytest.raises(DumpFormatError):
            _load(tmp_path, small_dump[:n])


def test_random_garbage(tmp_path):
    rnd = random.Random(13)
    for _ in range(200):
        n = rnd.randrange(0, 400)
        data = bytes(rnd.randrange(256) for _ in range(n))
        if rnd.random() < 0.5:
            data = b"HLHEAPDM\x01\x00" + data
        with pytest.raises(DumpFormatError):
            _load(tmp_path, _fix_crc(data) if len(data) > 4 and rnd.random() < 0.5 else data)


def test_mutations_behind_a_valid_checksum(tmp_path, small_dump):
    """Byte flips with the checksum recomputed reach the structural checks:
    each either loads as a coherent dump or raises DumpFormatError."""
    rnd = random.Random(7)
    loaded = refused = 0
    for k in range(200):
        data = bytearray(small_dump)
        for _ in range(rnd.choice((1, 1, 2, 8))):
            # the header, the trailer, and the body all get their share
            where = rnd.choice((rnd.randrange(0, 40), len(data) - 1 - rnd.randrange(0, 60),
                                rnd.randrange(0, len(data) - 4)))
            data[min(where, len(data) - 5)] ^= 1 << rnd.randrange(8)
        try:
            d = _load(tmp_path, _fix_crc(bytes(data)))
        except DumpFormatError:
            refused += 1
            continue
        loaded += 1
        # coherent: every record and reference can be read
        n = len(d)
        for i in range(0, n, max(1, n // 50)):
            d._d.record(i)
            for j in d._d.referents(i):
                assert 0 <= j < n
        d.roots
    assert refused > 60


def test_spliced_files(tmp_path, small_dump):
    rnd = random.Random(3)
    for _ in range(60):
        a, b = sorted(rnd.randrange(30, len(small_dump) - 60) for _ in range(2))
        data = small_dump[:a] + small_dump[b:]
        with pytest.raises(DumpFormatError):
            _load(tmp_path, _fix_crc(data) if rnd.random() < 0.7 else data)


# ---- dominators and retained sizes -------------------------------------------

def _aligned(n):
    return n + (-n) % 8


def test_retained_sizes_of_known_structures(tmp_path):
    owned = ["own-%d-%s" % (i, "y" * (i + 5)) for i in range(3)]
    shared = "".join(["shared-", "z" * 20])  # built at run time: no constant holds it
    a = [shared, "".join(["only-a-", "q" * 9])]
    b = [shared]
    path, _ = _dump_to(tmp_path)
    d = open_dump(path)
    # a list holding 3 unique strs retains its size plus theirs
    expect = _aligned(sys.getsizeof(owned)) + sum(_aligned(sys.getsizeof(s)) for s in owned)
    assert d.retained_size(id(owned)) == expect
    for s in owned:
        assert d.immediate_dominator(id(s)) == id(owned)
        assert d.retained_size(id(s)) == _aligned(sys.getsizeof(s))
    # a str shared by two lists is retained by neither
    assert d.retained_size(id(a)) == _aligned(sys.getsizeof(a)) + _aligned(sys.getsizeof(a[1]))
    assert d.retained_size(id(b)) == _aligned(sys.getsizeof(b))
    assert d.immediate_dominator(id(shared)) not in (id(a), id(b))
    # locals are held from outside the heap on 3.11+ (the running frame), or
    # by a frame object before: either way the list is not dominated by
    # anything that is not a frame or the virtual root
    dom = d.immediate_dominator(id(owned))
    assert dom is None or d.object(dom).type_name == "frame"


def test_top_retainers_and_by_type(tmp_path):
    big = [("payload-%d" % i) * 3 for i in range(20000)]
    path, _ = _dump_to(tmp_path)
    d = open_dump(path)
    top = d.top_retainers(40)
    assert len(top) == 40
    assert [r.retained for r in top] == sorted((r.retained for r in top), reverse=True)
    mine = d.retained_size(id(big))
    assert mine > 20000 * 60
    assert any(r.id == id(big) for r in top) or top[-1].retained >= mine
    for r in top[:5]:
        assert r.retained == d.retained_size(r.id) and r.size == d.object(r.id).size
    assert "retained" in str(top) and "<table" in top._repr_html_()
    bt = d.by_type()
    row = bt.row("str")
    strs = d.find("str")
    assert row.count == len(strs)
    assert row.size == sum(d.object(i).size for i in strs)
    # strs own nothing: together they retain at most... exactly what the
    # ones no other str dominates retain, i.e. their own sizes
    assert row.retained == row.size
    lst = bt.row("list")
    assert lst.retained >= mine  # the big list is one of them
    total = sum(r.size for r in bt)
    assert total == sum(o.size for o in d.objects())
    assert all(r.retained <= total for r in bt)
    assert "retained" in str(bt) and "<table" in bt._repr_html_()
    with pytest.raises(ValueError):
        d.top_retainers(-1)
    del big


def test_top_is_exactly_the_largest_retainers_ties_by_index(tmp_path):
    # DumpData.top(k) keeps a min-heap of k entries: it must give the same
    # indices as a full sort, for k at and around the heap's edge cases.
    path, _ = _dump_to(tmp_path)
    data = _heaplens.open_dump_data(path)
    n = len(data)
    ret = [data.retained(i) for i in range(n)]
    want = sorted(range(n), key=lambda i: (-ret[i], i))
    assert len(set(ret)) < n  # ties exist, so their order is checked too
    for k in (0, 1, 2, 3, 7, 100, 1001, n - 1, n, n + 5):
        assert data.top(k) == want[:k], k


def test_dominators_agree_with_networkx_on_a_real_dump(tmp_path):
    nx = pytest.importorskip("networkx", reason="networkx is in the [test] extra")
    import workloads
    data = workloads.build("W3", 0.01)
    path, _ = _dump_to(tmp_path)
    d = open_dump(path)
    n = len(d)
    g = nx.DiGraph()
    g.add_nodes_from(range(n + 1))
    for i in range(n):
        g.add_edges_from((i, j) for j in d._d.referents(i))
    for r in d._d.roots():
        g.add_edge(n, r)  # the virtual root
    ref = nx.immediate_dominators(g, n)
    for i in range(n):
        mine = d._d.idom(i)
        if i not in ref:
            assert mine == -2
        elif ref[i] == n:
            assert mine == -1
        else:
            assert mine == ref[i], i
    del data


# ---- the file changing under an open dump ------------------------------------
# The dump is mapped: a file written over in place or truncated while open
# made the next read fault (SIGBUS, the interpreter killed). Each case runs
# in a child, so that the old behaviour fails the test instead of the run.

_CHANGED = r'''
import os, sys, heaplens
path = sys.argv[1]
keep = [str(i) for i in range(50000)]
heaplens.dump(path)
d = heaplens.open_dump(path)
n = len(d)
del keep
if sys.argv[2] == "redump":
    heaplens.dump(path)                 # a smaller dump to the same path
    assert sum(1 for _ in d.objects()) == n
    assert d.top_retainers(3) is not None
    assert len(heaplens.open_dump(path)) < n
    print("kept")
else:
    os.truncate(path, 100)              # someone else truncates it
    for call in (lambda: sum(1 for _ in d.objects()), lambda: d.top_retainers(3),
                 lambda: d.find("str"), lambda: d.by_type()):
        try:
            call()
        except heaplens.DumpFormatError as e:
            assert "changed while open" in str(e), e
        else:
            raise AssertionError("no error")
    print("refused")
'''


@pytest.mark.parametrize("how,expect", [("redump", "kept"), ("truncate", "refused")])
def test_file_changed_while_open_never_faults(tmp_path, how, expect):
    import subprocess
    r = subprocess.run([sys.executable, "-c", _CHANGED, str(tmp_path / "h.hld"), how],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert r.stdout.split() == [expect]


def test_dump_replaces_a_file_and_keeps_its_mode(tmp_path):
    p = tmp_path / "h.hld"
    p.write_bytes(b"old")
    os.chmod(p, 0o640)
    dump(p)
    assert os.stat(p).st_mode & 0o777 == 0o640
    assert len(open_dump(p)) > 0
    assert sorted(os.listdir(tmp_path)) == ["h.hld"]   # no temporary file left


def test_dump_through_a_symlink_writes_its_target(tmp_path):
    target = tmp_path / "real.hld"
    link = tmp_path / "link.hld"
    os.symlink(target, link)
    dump(link)
    assert os.path.islink(link)
    assert len(open_dump(target)) > 0
    assert sorted(os.listdir(tmp_path)) == ["link.hld", "real.hld"]


def test_failed_dump_leaves_no_file(tmp_path):
    with pytest.raises(ValueError, match="cannot open"):
        dump(tmp_path / "missing-dir" / "h.hld")
    d = tmp_path / "ro"
    d.mkdir()
    os.chmod(d, 0o500)
    try:
        if os.access(d, os.W_OK):   # (root writes anywhere: nothing to test then)
            return
        with pytest.raises(ValueError):
            dump(d / "h.hld")
        assert os.listdir(d) == []
    finally:
        os.chmod(d, 0o700)


def test_dump_to_a_long_name_writes_in_place(tmp_path):
    # No room beside it for a temporary name: the file is written in place.
    p = tmp_path / ("d" * 240 + ".hld")
    dump(p)
    assert len(open_dump(p)) > 0
    assert os.listdir(tmp_path) == [p.name]


def test_dump_keeps_a_hard_link(tmp_path):
    # Replacing the file would break the link: written in place.
    p = tmp_path / "h.hld"
    p.write_bytes(b"old")
    os.link(p, tmp_path / "other.hld")
    dump(p)
    assert os.stat(p).st_nlink == 2
    assert os.path.samefile(p, tmp_path / "other.hld")
    assert len(open_dump(tmp_path / "other.hld")) > 0


def test_snapshots_left_out_as_snapshot_leaves_them_out(tmp_path):
    # snapshot() leaves out heaplens' snapshots and diffs alive; the dump,
    # which holds "the objects snapshot() counts", does the same.
    held = heaplens.snapshot(addresses=False)
    held_diff = held.diff(held)
    path = str(tmp_path / "s.hld")
    dump(path)
    totals = open_dump(path)._type_totals()
    assert "heaplens._snapshot.Snapshot" not in totals
    assert "heaplens._snapshot.SnapshotDiff" not in totals
    assert "heaplens._heaplens.Census" not in totals
    assert held.total_count and held_diff is not None
