"""Heap snapshots, diffs, saved files and the Monitor."""

import gc
import struct
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import heaplens
from heaplens import Snapshot, SnapshotDiff, SnapshotFormatError


def _fresh_class():
    # A class no other test has instances of, so its row is exact.
    return type("Fresh%d" % time.monotonic_ns(), (), {"__module__": "hltest"})


def test_hundred_thousand_instances_exactly():
    cls = _fresh_class()
    name = "hltest." + cls.__qualname__
    before = heaplens.snapshot()
    keep = [cls() for _ in range(100_000)]
    after = heaplens.snapshot()
    d = after.diff(before)
    assert d.row(name).count_diff == 100_000
    assert d.row(name).count == 100_000
    assert d.row(name).size_diff == 100_000 * heaplens.flatsize(keep[-1], align=8) or \
        d.row(name).size_diff >= 100_000 * heaplens.flatsize(keep[-1], align=8)
    del keep
    gone = heaplens.snapshot()
    d2 = gone.diff(after)
    assert d2.row(name).count_diff == -100_000
    assert d2.row(name).count == 0


def test_new_strings_show_under_str():
    before = heaplens.snapshot()
    keep = ["hl-string-%d" % i for i in range(50_000)]
    after = heaplens.snapshot()
    row = after.diff(before).row("str")
    assert 50_000 <= row.count_diff < 50_000 + 200
    assert row.size_diff >= 50_000 * sys.getsizeof(keep[0]) - 50_000 * 8
    assert keep


def test_untracked_objects_are_seen():
    # gc.get_objects() sees the list only; a snapshot sees its 200,000 ints.
    before = heaplens.snapshot()
    keep = list(range(10_000_000, 10_200_000))
    after = heaplens.snapshot()
    assert after.diff(before).row("int").count_diff >= 200_000
    assert len(keep) == 200_000


def test_snapshot_fields_and_table():
    s = heaplens.snapshot()
    assert s.total_count == sum(r.count for r in s.rows) > 1000
    assert s.total_size == sum(r.size for r in s.rows)
    assert [r.size for r in s.rows] == sorted((r.size for r in s.rows), reverse=True)
    assert s.rows[0].type_name and isinstance(s.rows[0].count, int)
    text = str(s)
    assert "type" in text.splitlines()[0] and "total" in text.splitlines()[-1]
    assert "B" in text
    assert repr(s).startswith("<Snapshot ")
    assert s.peak_bytes > 0


def test_bookkeeping_left_out():
    # Snapshots keep their rows in C: taking many does not show up as growth
    # of tuples or strs in the next one. The snapshots themselves are left
    # out too (they were counted: Snapshot +21, Census +21), though alive.
    first = heaplens.snapshot()
    keep = [heaplens.snapshot() for _ in range(20)]
    last = heaplens.snapshot()
    d = last.diff(first)
    assert all(type(s) is Snapshot for s in keep)
    assert d.row("heaplens._snapshot.Snapshot") is None, d.changed()
    assert d.row("heaplens._heaplens.Census") is None, d.changed()
    assert abs(d.row("tuple").count_diff) < 50


def test_diff_ops():
    cls = _fresh_class()
    before = heaplens.snapshot()
    keep = [cls() for _ in range(1000)], ["x" * 1000 for _ in range(1000)]
    after = heaplens.snapshot()
    d = after.diff(before)
    assert isinstance(d, SnapshotDiff)
    assert [r.size_diff for r in d.rows] == sorted((r.size_diff for r in d.rows), reverse=True)
    assert len(d.top(3)) == 3 and d.top(3).rows == d.rows[:3]
    only = d.filter(module="hltest")
    assert [r.type_name for r in only.changed()] == ["hltest." + cls.__qualname__]
    assert all("str" in r.type_name for r in d.filter(type="str"))
    assert all("." not in r.type_name for r in d.filter(module="builtins"))
    text = str(d)
    assert "+1,000" in text and "+/-" in text.splitlines()[0]
    html = d._repr_html_()
    assert html.startswith("<table") and "hltest." in html
    with pytest.raises(TypeError):
        after.diff("nope")
    with pytest.raises(ValueError):
        d.top(-1)
    assert keep


def test_save_load_round_trip(tmp_path):
    cls = _fresh_class()
    before = heaplens.snapshot()
    keep = [cls() for _ in range(5000)]
    after = heaplens.snapshot()
    p1, p2 = tmp_path / "a.snap", tmp_path / "b.snap"
    before.save(p1)
    after.save(p2)
    lb, la = heaplens.load(p1), heaplens.load(p2)
    assert la.rows == after.rows and lb.rows == before.rows
    assert la.total_size == after.total_size and la.timestamp == after.timestamp
    assert la.diff(lb).rows == after.diff(before).rows
    assert la.python == sys.version.split()[0]
    with pytest.raises(ValueError):
        la.new_objects()
    assert keep


def test_new_objects():
    cls = _fresh_class()
    old = [cls() for _ in range(10)]
    s = heaplens.snapshot()
    new = [cls() for _ in range(25)]
    found = heaplens.new_objects(since=s, type=cls)
    assert {id(o) for o in found} == {id(o) for o in new}
    by_name = heaplens.new_objects(s, "hltest." + cls.__qualname__)
    assert len(by_name) == 25
    assert any(o is new for o in heaplens.new_objects(s, list))
    assert old


def test_bad_arguments():
    with pytest.raises(ValueError):
        heaplens.snapshot(model="rss")
    with pytest.raises(ValueError, match="running tracker"):
        heaplens.snapshot(by="site")
    with pytest.raises(ValueError, match="'type' or 'site'"):
        heaplens.snapshot(by="module")
    with pytest.raises(ValueError):
        heaplens.snapshot(align=3)
    with pytest.raises(TypeError):
        heaplens.new_objects(None)


def test_snapshot_while_threads_mutate():
    stop = threading.Event()
    shared = [[i] for i in range(1000)]

    def churn():
        i = 0
        while not stop.is_set():
            shared.append([i, str(i)])
            if len(shared) > 2000:
                del shared[:500]
            try:
                shared[i % len(shared)] = {"k": i}
            except (IndexError, ZeroDivisionError):  # another thread shrank it
                pass
            i += 1

    threads = [threading.Thread(target=churn) for _ in range(3)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for t in threads:
            t.start()
        for _ in range(10):
            s = heaplens.snapshot()
            assert s.total_count == sum(r.count for r in s.rows) > 0
            assert s.row("list").count > 0
    finally:
        stop.set()
        for t in threads:
            t.join()
        sys.setswitchinterval(old)


# ---- the file format ----------------------------------------------------------

def _valid_bytes(tmp_path):
    p = tmp_path / "v.snap"
    heaplens.snapshot().save(p)
    return p.read_bytes()


def test_load_rejects_damage(tmp_path):
    data = _valid_bytes(tmp_path)
    p = tmp_path / "bad.snap"
    cases = {
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "not a snapshot": b"hello world, this is text and not a heap snapshot",
        "flipped byte": data[:40] + bytes([data[40] ^ 0xFF]) + data[41:],
        "future version": data[:8] + struct.pack("<H", 99) + data[10:],
        "trailing": data + b"x",
    }
    for what, blob in cases.items():
        p.write_bytes(blob)
        with pytest.raises(SnapshotFormatError) as e:
            heaplens.load(p)
        assert str(p) in str(e.value), what


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_load_fuzz(tmp_path, data):
    base = _CACHE.setdefault("valid", None) or _CACHE.__setitem__("valid", _valid_small()) \
        or _CACHE["valid"]
    kind = data.draw(st.sampled_from(["random", "mutate", "truncate", "splice"]))
    if kind == "random":
        blob = data.draw(st.binary(max_size=2000))
    elif kind == "truncate":
        blob = base[: data.draw(st.integers(0, len(base)))]
    elif kind == "splice":
        i = data.draw(st.integers(0, len(base)))
        blob = base[:i] + data.draw(st.binary(max_size=64)) + base[i:]
    else:
        b = bytearray(base)
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(b) - 1))
            b[i] = data.draw(st.integers(0, 255))
        blob = bytes(b)
    p = tmp_path / "fuzz.snap"
    p.write_bytes(blob)
    try:
        s = heaplens.load(p)
    except SnapshotFormatError:
        return
    # Anything accepted must be a coherent snapshot.
    assert isinstance(s, Snapshot)
    assert s.total_count == sum(r.count for r in s.rows)


_CACHE = {}


def _valid_small():
    s = Snapshot([("a", 1, 16), ("pkg.B", 20, 4000), ("str", 300, 20000)], 1.5e9,
                 python="3.x")
    from heaplens._snapshot import _encode
    return _encode(s)


# ---- Monitor and CLI ---------------------------------------------------------

def test_monitor_records_growth(tmp_path):
    cls = _fresh_class()
    name = "hltest." + cls.__qualname__
    keep = []
    with heaplens.Monitor(interval=0.05) as m:
        assert m.running
        for _ in range(5):
            keep.extend(cls() for _ in range(2000))
            time.sleep(0.06)
    assert not m.running
    assert len(m.samples) >= 3
    assert m.growth().row(name).count_diff == 10_000
    series = m.series(name, "count")
    assert series[0][1] == 0 and series[-1][1] == 10_000
    assert [t for t, _ in series] == sorted(t for t, _ in series)
    out = tmp_path / "r.html"
    m.report_html(out)
    text = out.read_text()
    assert "<svg" in text and name in text and "<script" not in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    with pytest.raises(RuntimeError):
        m.stop()


def test_monitor_top_and_errors():
    m = heaplens.Monitor(interval=10, top=3)
    m.start()
    with pytest.raises(RuntimeError):
        m.start()
    m.stop()
    assert all(len(s.types) <= 3 for s in m.samples)
    with pytest.raises(ValueError):
        heaplens.Monitor(interval=0)
    with pytest.raises(ValueError):
        heaplens.Monitor(top=0)
    with pytest.raises(RuntimeError):
        heaplens.Monitor().growth()


def test_cli_run_and_diff(tmp_path):
    script = tmp_path / "grow.py"
    script.write_text(
        "import sys, time\n"
        "class Leaky: pass\n"
        "keep = []\n"
        "for i in range(10):\n"
        "    keep.extend(Leaky() for _ in range(1000))\n"
        "    time.sleep(0.02)\n"
        "print('args', sys.argv[1:])\n")
    report = tmp_path / "report.html"
    r = subprocess.run([sys.executable, "-m", "heaplens", "run", "--interval", "0.05", "-o",
                        str(report), str(script), "a1", "--x"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "args ['a1', '--x']" in r.stdout
    assert "__main__.Leaky" in r.stderr and "+10,000" in r.stderr
    assert "<svg" in report.read_text()

    a, b = tmp_path / "a.snap", tmp_path / "b.snap"
    Snapshot([("x", 1, 10), ("y", 5, 50)], 1.0).save(a)
    Snapshot([("x", 3, 30), ("z", 1, 8)], 2.0).save(b)
    r = subprocess.run([sys.executable, "-m", "heaplens", "diff", str(a), str(b)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[0] == "type"
    assert any(l.split()[:3] == ["x", "3", "+2"] for l in lines)
    assert any(l.split()[:3] == ["y", "0", "-5"] for l in lines)
    (tmp_path / "junk.snap").write_bytes(b"junk")
    r = subprocess.run([sys.executable, "-m", "heaplens", "diff", str(a),
                        str(tmp_path / "junk.snap")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "not a valid heaplens snapshot" in r.stderr
    r = subprocess.run([sys.executable, "-m", "heaplens", "run", str(tmp_path / "nope.py")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no such script" in r.stderr


def test_path_and_number_arguments_raise_type_errors(tmp_path):
    # An int path was taken as a file descriptor: OSError: Bad file descriptor.
    with pytest.raises(TypeError, match=r"load\(\) needs a file path"):
        heaplens.load(42)
    with pytest.raises(TypeError, match="file path"):
        heaplens.load(None)
    s = Snapshot([("x", 1, 10)], 1.0)
    with pytest.raises(TypeError, match=r"save\(\) needs a file path"):
        s.save(3)
    s.save(str(tmp_path / "a.snap").encode())      # bytes paths work
    assert heaplens.load(tmp_path / "a.snap").rows == s.rows
    # human_size('12') raised a bare "'<' not supported".
    with pytest.raises(TypeError, match=r"human_size\(\) needs a number of bytes"):
        heaplens.human_size("12")
    with pytest.raises(TypeError):
        heaplens.human_size(None)
    with pytest.raises(ValueError):
        heaplens.human_size(float("nan"))
    assert heaplens.human_size(1536) == "1.5 KiB" and heaplens.human_size(-5, True) == "-5 B"
    d = s.diff(s)
    with pytest.raises(TypeError):
        d.top("3")
    with pytest.raises(TypeError):
        d.format(limit="all")
    with pytest.raises(ValueError):
        s.format(limit=-1)
    with pytest.raises(TypeError, match="since must be a Snapshot, not int"):
        heaplens.new_objects(5)


def test_top_keeps_the_whole_total_and_shows_the_rest():
    older = Snapshot([("a", 1, 100), ("b", 1, 100), ("c", 1, 100), ("d", 1, 100)], 1.0)
    newer = Snapshot([("a", 5, 500), ("b", 3, 300), ("c", 2, 200), ("d", 1, 100)], 2.0)
    d = newer.diff(older)
    top = d.top(2)
    assert [r.type_name for r in top] == ["a", "b"] and len(top) == 2
    # Before: the total row summed the rows shown (+600 B), while the
    # command line printed the whole diff's (+700 B).
    assert (top.count_diff, top.size_diff) == (d.count_diff, d.size_diff) == (7, 700)
    assert top.other == (2, 1, 100)
    lines = str(top).splitlines()
    assert lines[-2].split() == ["(2", "other", "types)", "+1", "+100", "B"]
    assert lines[-1].split() == ["total", "(all", "4", "types)", "+7", "+700", "B"]
    assert d.format(limit=2) == str(top)
    assert top.top(1).other == (3, 3, 300) and top.top(1).size_diff == 700
    assert top.changed().size_diff == 700
    # filter() is a new selection: its total is its own rows'.
    f = top.filter(type="a")
    assert (f.count_diff, f.size_diff, f.other) == (4, 400, (0, 0, 0))
    # A snapshot's table says what it leaves out too.
    lines = newer.format(limit=1).splitlines()
    assert lines[-2].split() == ["(3", "other", "types)", "6", "600", "B"]
    assert lines[-1].split() == ["total", "(all", "4", "types)", "11", "1.1", "KiB"]
    assert newer.format(limit=None).splitlines()[-1].split()[:2] == ["total", "11"]


def test_monitor_and_filter_arguments(tmp_path):
    with pytest.raises(TypeError, match="on_sample must be callable"):
        heaplens.Monitor(on_sample=5)
    m = heaplens.Monitor(interval=10)
    with pytest.raises(RuntimeError, match="no samples"):
        m.report_html(str(tmp_path / "r.html"))
    m.start()
    m.stop()
    with pytest.raises(TypeError, match="type name"):
        m.series(str)
    with pytest.raises(ValueError, match="top must be a positive int"):
        m.report_html(str(tmp_path / "r.html"), top="3")
    with pytest.raises(TypeError, match="file path"):
        m.report_html(7)
    d = Snapshot([("x", 1, 10)], 1.0).diff(Snapshot([], 0.0))
    with pytest.raises(TypeError, match=r"filter\(type=...\) needs a str"):
        d.filter(type=int)


class _SharedThing:
    pass


_shared_thing = _SharedThing()


def _bookkeeping():
    # Held only by the dict returned, but for what it shares with the rest
    # of the heap: None, a class, a module-level instance, cached small ints.
    return {"mine": [[i] for i in range(100)], "none": None, "cls": _SharedThing,
            "shared": _shared_thing, "small": list(range(50))}


def test_exclude_leaves_out_only_what_the_excluded_hold():
    # exclude= used to mark everything the excluded objects reach as seen, so
    # what they share with the rest of the heap went uncounted too: a
    # snapshot excluding an earlier one (as Monitor excludes its samples)
    # lost None, the classes, cached small ints and interned strs it held.
    book = _bookkeeping()
    gc.collect()
    base = heaplens.snapshot(addresses=False)
    ex = heaplens.snapshot(addresses=False, exclude=(book, base))
    d = {r.type_name: r for r in ex.diff(base).rows}
    # What only `book` holds is left out: 1 + 100 + 1 lists.
    assert d["list"].count_diff == -102, ex.diff(base)
    # What it shares is still counted.
    assert d["NoneType"].count_diff == 0 and d["NoneType"].count == 1, ex.diff(base)
    assert d["type"].count_diff == 0, ex.diff(base)
    assert d["test_snapshot._SharedThing"].count_diff == 0, ex.diff(base)
    assert d["int"].count_diff == 0, ex.diff(base)
    del book


def test_snapshots_leave_out_heaplens_own_results():
    # A diff of two snapshots with nothing done between them used to read
    # heaplens._snapshot.Snapshot +1 and heaplens._heaplens.Census +1 (the
    # older snapshot, alive while the newer one was taken), with its ints,
    # float and str; an earlier diff added a DiffRow per type.
    gc.collect()
    first = heaplens.snapshot()
    first.rows
    older = heaplens.snapshot()
    earlier_diff = older.diff(first)
    earlier_diff.rows
    newer = heaplens.snapshot()
    d = newer.diff(older)
    ours = [r for r in d.rows if r.type_name.startswith("heaplens.") and r.count_diff]
    assert not ours, d.changed()
    assert abs(d.count_diff) <= 3, d.changed()
    del first, older, earlier_diff, newer, d
