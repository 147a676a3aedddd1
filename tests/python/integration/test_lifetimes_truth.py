"""The tracker tells the truth: it never follows a pointer read from a
block's bytes unverified (crafted and random payloads cannot crash it or
invent a type), it sees every object of every common type (agreement with
a census of the same block), and its sizes are flatsize()'s."""

import dataclasses
import gc
import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest

import heaplens
from heaplens import _heaplens as _c


def run_child(code, timeout=300):
    """Run `code` in a fresh interpreter (a crash there fails the test
    instead of killing the run) and return its stdout."""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, "child failed (rc %d):\n%s\n%s" % (p.returncode, p.stdout,
                                                                 p.stderr[-4000:])
    return p.stdout


PAYLOADS = os.path.join(os.path.dirname(__file__), "lifetimes_payloads.py")


def run_payloads(*args, timeout=600):
    p = subprocess.run([sys.executable, PAYLOADS] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, "child failed (rc %d):\n%s\n%s" % (p.returncode, p.stdout,
                                                                 p.stderr[-4000:])
    return p.stdout


def test_crafted_fake_type_and_instance():
    """A payload laid out like a type object, instances of it at each
    pre-header offset, a header pointing at itself and at a freed payload."""
    assert run_payloads("crafted").split()[0] == "ok"


def test_random_header_like_payloads_under_track():
    """9,000 bytearrays of header-like words (small refcounts, ids of live
    types, addresses of other payloads and of freed ones), classes made
    meanwhile, collections between rounds."""
    assert run_payloads("random", 6, 1500).split()[0] == "ok"


def test_objects_of_a_fake_are_never_handed_out():
    assert run_payloads("fake").split() == ["ok"]


# -- every object of every common type is seen --------------------------------

@dataclasses.dataclass
class DC:
    a: int
    b: str


class Plain:
    def __init__(self, i):
        self.i = i
        self.name = "p"


class Slotted:
    __slots__ = ("i", "j")

    def __init__(self, i):
        self.i = i
        self.j = None


class Meth:
    def m(self):
        return 1


_METH = Meth()


def _closure(i):
    def inner():
        return i
    return inner


def _gen(i):
    yield i


N = 5000
words = " ".join("w%d" % i for i in range(N))
doc = json.dumps(["s%d" % i for i in range(N)])

# (name, census type name, maker) - maker(i) returns the new object(s).
MAKERS = [
    ("str_ascii_short", "str", lambda i: str(i + 10)),
    ("str_fstring", "str", lambda i: f"k{i}"),
    ("str_percent", "str", lambda i: "%d-x" % i),
    ("str_concat_long", "str", lambda i: "y" * 300 + str(i)),
    ("str_latin1", "str", lambda i: "\xe9" * 5 + str(i)),
    ("str_ucs2", "str", lambda i: "\u0100" * 3 + str(i)),
    ("str_ucs4", "str", lambda i: "\U0001F600" + str(i)),
    ("str_json", "str", None),
    ("str_split", "str", None),
    ("int_small", "int", lambda i: i + 1000),
    ("int_big", "int", lambda i: 10 ** 30 + i),
    ("float", "float", lambda i: i + 0.5),
    ("complex", "complex", lambda i: complex(i, 1)),
    ("tuple", "tuple", lambda i: (i, None)),
    ("list", "list", lambda i: [i]),
    ("dict", "dict", lambda i: {"k": i}),
    ("set", "set", lambda i: {i}),
    ("frozenset", "frozenset", lambda i: frozenset((i,))),
    ("bytes", "bytes", lambda i: b"b%d" % i),
    ("bytearray", "bytearray", lambda i: bytearray(8)),
    ("plain_instance", __name__ + ".Plain", lambda i: Plain(i)),
    ("slots_instance", __name__ + ".Slotted", lambda i: Slotted(i)),
    ("dataclass_instance", __name__ + ".DC", lambda i: DC(i, "x")),
    ("function", "function", lambda i: _closure(i)),
    ("cell", "cell", lambda i: _closure(i)),
    ("bound_method", "method", lambda i: _METH.m),
    ("generator", "generator", lambda i: _gen(i)),
    ("exception", "ValueError", lambda i: ValueError(i)),
    ("range", "range", lambda i: range(i)),
]


def _make(name, maker):
    if name == "str_json":
        return json.loads(doc)
    if name == "str_split":
        return words.split()
    return [maker(i) for i in range(N)]


def _census_count(snap, type_name):
    for r in snap.rows:
        if r.type_name == type_name:
            return r.count
    return 0


@pytest.mark.parametrize("name,type_name,maker", MAKERS, ids=[m[0] for m in MAKERS])
def test_tracker_agrees_with_census(name, type_name, maker):
    gc.collect()
    before = heaplens.snapshot()
    with heaplens.track(frames=0) as t:
        keep = _make(name, maker)
    after = heaplens.snapshot()
    census = _census_count(after, type_name) - _census_count(before, type_name)
    rows = {r.type_name: r for r in t.stats()}
    seen = rows[type_name].alive if type_name in rows else 0
    assert census >= N * 0.9, (census, name)
    assert abs(seen - census) <= 0.02 * census, (name, seen, census, t.status())
    del keep


@pytest.mark.parametrize("name,type_name,maker", MAKERS[:9] + MAKERS[9:24:3],
                         ids=[m[0] for m in MAKERS[:9] + MAKERS[9:24:3]])
def test_sizes_are_flatsize(name, type_name, maker):
    gc.collect()
    with heaplens.track(frames=0) as t:
        keep = _make(name, maker)
    survivors = [s for s in t.survivors() if s.type_name == type_name]
    assert survivors
    made = {id(o): o for o in keep}
    total = 0
    for s in survivors:
        o = made.get(s.address)
        if o is not None:
            assert s.size == heaplens.flatsize(o), (name, s, o)
        total += s.size
    assert sum(1 for s in survivors if s.address in made) >= 0.98 * len(keep)
    row = [r for r in t.stats() if r.type_name == type_name][0]
    assert row.alive_size == total
    del keep


def test_sizes_while_running_match_flatsize():
    with heaplens.track(frames=0) as t:
        keep = [DC(i, "x") for i in range(300)] + [{"a": i, "b": [i]} for i in range(300)]
        for s in t.survivors():
            if s.type in (DC, dict):
                o = s.object()
                assert o is not None and type(o) is s.type
                assert s.size == heaplens.flatsize(o)
    del keep


# -- interpreters the hooks must not touch ------------------------------------

@pytest.mark.skipif(sys.version_info < (3, 12), reason="sub-interpreters with a GIL of their "
                    "own exist from 3.12")
def test_own_gil_subinterpreter_refused_and_left_alone():
    out = run_child(textwrap.dedent("""
    import threading, heaplens
    try:
        import _xxsubinterpreters as I
        iid = I.create(isolated=True)
        def run(code):
            try:
                I.run_string(iid, code)
                return None
            except I.RunFailedError as e:
                return str(e)
    except ImportError:
        import _interpreters as I
        iid = I.create(I.new_config("isolated"))
        def run(code):
            r = I.run_string(iid, code)
            return None if r is None else r.formatted
    err = run("import heaplens")
    assert err is not None and "ImportError" in err and "subinterpreters" in err, err
    errs = []
    def work():
        errs.append(run("x = [str(i) * 3 for i in range(200000)]; del x"))
    with heaplens.track() as t:
        th = threading.Thread(target=work)
        th.start()
        keep = [str(i) + "!" for i in range(50000)]
        th.join()
    assert errs == [None], errs
    strs = [r for r in t.stats() if r.type_name == "str"][0]
    # the sub-interpreter's 200,000 strs are not ours; ours are all there
    assert 50000 <= strs.alive <= 50100, strs
    I.destroy(iid)
    print("ok")
    """))
    assert out.split() == ["ok"]


FAST_TSTATE = (sys.version_info >= (3, 12) and platform.machine() in ("x86_64", "aarch64")
               and platform.libc_ver()[0] == "glibc" and _c.HAVE_TRACKER)


@pytest.mark.skipif(not FAST_TSTATE, reason="the hooks read the thread state through its "
                    "thread-local on 3.12+ with glibc on x86-64 or arm64 only; elsewhere "
                    "they call the interpreter (compat.h)")
def test_thread_state_route_is_learned_and_right_in_every_thread():
    # learned in a fresh process whose other threads started before it was
    # learned, and which start after; each must be seen as itself
    out = run_child(textwrap.dedent("""
    import threading, heaplens
    from heaplens import _heaplens as _c
    class Foo: pass
    go, kept = threading.Event(), []
    def early():
        go.wait()
        kept.append([Foo() for _ in range(300)])
    e = threading.Thread(target=early)
    e.start()
    with heaplens.track(types=Foo) as t:
        route = _c.track_tstate_route()
        go.set()
        e.join()
        late = threading.Thread(target=lambda: kept.append([Foo() for _ in range(200)]))
        late.start()
        late.join()
        kept.append([Foo() for _ in range(7)])
    born_all = [r.born for r in t.stats() if r.type is Foo]
    with heaplens.track(types=Foo, threads="current") as t:
        th = threading.Thread(target=lambda: kept.append([Foo() for _ in range(50)]))
        th.start()
        th.join()
        mine = [Foo() for _ in range(9)]
    born_mine = [r.born for r in t.stats() if r.type is Foo]
    print(route, born_all, born_mine)
    """))
    route, rest = out.split(" ", 1)
    assert route != "None" and int(route) != 0, out
    assert rest.split() == ["[507]", "[9]"], out


@pytest.mark.skipif(not _c.HAVE_TRACKER, reason="no tracker in this build (generic mode)")
def test_threads_made_by_c_and_fork_children_are_seen_as_themselves():
    # threads that Python did not start (PyGILState_Ensure through a ctypes
    # callback), and a fork child, with whichever route the hooks take
    out = run_child(textwrap.dedent("""
    import ctypes, os, heaplens
    class Foo: pass
    kept = []
    libc = ctypes.CDLL(None)
    CB = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)
    cb = CB(lambda arg: kept.append([Foo() for _ in range(30)]))
    def c_thread():
        tid = ctypes.c_ulong()
        assert libc.pthread_create(ctypes.byref(tid), None, cb, None) == 0
        assert libc.pthread_join(tid, None) == 0
    def born(t):
        return [r.born for r in t.stats() if r.type is Foo]
    with heaplens.track(types=Foo) as t:
        c_thread(); c_thread()
        kept.append([Foo() for _ in range(3)])
    a = born(t)
    with heaplens.track(types=Foo, threads="current") as t:
        c_thread()
        kept.append([Foo() for _ in range(4)])
    b = born(t)
    with heaplens.track(types=Foo) as t:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            kept.append([Foo() for _ in range(5)])
            os.write(w, repr(born(t)).encode())
            os._exit(0)
        os.waitpid(pid, 0)
        child = os.read(r, 100).decode()
    print(a, b, child)
    """))
    assert out.split() == ["[63]", "[4]", "[5]"], out


@pytest.mark.skipif(not _c.HAVE_TRACKER, reason="no tracker in this build (generic mode)")
def test_two_threads_starting_a_tracker_at_once_start_one():
    # Starting lets the GIL go (learning the thread-state route, running a
    # known_types generator): a second start meanwhile once began a tracker
    # that the first then tore down under its own hooks (SIGSEGV in about 1
    # run of 10). Each run needs a fresh process: the route is learned once.
    code = textwrap.dedent("""
    import sys, threading
    from heaplens import _heaplens as _c
    sys.setswitchinterval(1e-6)
    class Foo: pass
    res, go = [], threading.Event()
    def start(types):
        go.wait()
        try:
            _c.track_start(types=types)
            res.append("started")
        except RuntimeError:
            res.append("refused")
    ths = [threading.Thread(target=start, args=(tuple([Foo] * 30),)) for _ in range(2)]
    [t.start() for t in ths]
    go.set()
    [t.join() for t in ths]
    _c.track_stop()
    print(sorted(res))
    """)
    for _ in range(30):
        assert run_child(code).split() == ["['refused',", "'started']"]


@pytest.mark.skipif(not _c.HAVE_REFTRACER, reason="PyRefTracer exists from 3.13")
def test_reftracer_refused_where_it_misses_deaths_even_privately():
    if sys.version_info >= (3, 13, 3):
        pytest.skip("this Python's PyRefTracer reports deaths (3.13.3+)")
    with pytest.raises(ValueError, match="3.13.3"):
        _c.track_start(backend=_c.BACKEND_REFTRACER, frames=0)
    assert not _c.track_active()
