"""``python -m heaplens attach``: heaplens run inside another CPython process
through gdb. Every test starts child processes of its own (so the tests can
run in parallel under xdist) and checks that the child is intact afterwards:
it still runs, answers over its pipe, and has no heaplens module, no extra
thread, no changed sys.path and no new name in __main__."""

import glob
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

import heaplens
from heaplens._attach import AttachError, gdb_env, preflight, run_in_process

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="attach is Linux-only"),
    pytest.mark.skipif(shutil.which("gdb") is None,
                       reason="gdb is not installed (scripts/setup.sh installs it)"),
]

PROBES = 12345

# The child: builds PROBES AttachProbe instances, then its main thread
# sleeps (time.sleep(600) in a loop), spins (a pure-Python loop), or waits in
# signal.pause() (a blocking call heaplens does not interrupt). A reader
# thread answers "state" lines on stdin with a JSON line, so the test can see
# the child after the attach. It runs with -S, so that heaplens is not on its
# sys.path: the attach must bring it from the attaching interpreter's
# package directory.
CHILD = textwrap.dedent("""
    import sys, time, threading, json, signal
    mode = sys.argv[1]
    if "noheaplens" in sys.argv:
        sys.modules["heaplens"] = None
    class AttachProbe:
        def __init__(self, i):
            self.i = i
    probes = [AttachProbe(i) for i in range(%d)]
    state = {"n": 0}
    initial_path = list(sys.path)
    main_names = None
    def reader():
        for line in sys.stdin:
            print(json.dumps({
                "n": state["n"], "path_same": sys.path == initial_path,
                "heaplens": sorted(m for m in sys.modules
                                   if m.startswith("heaplens") and sys.modules[m] is not None),
                "blocked": "heaplens" in sys.modules and sys.modules["heaplens"] is None,
                "threads": threading.active_count(),
                "main_same": sorted(vars(sys.modules["__main__"])) == main_names,
                "main_diff": sorted(set(vars(sys.modules["__main__"])) ^ set(main_names)),
                "probes": len(probes), "sum": sum(p.i for p in probes),
                "sigwinch": str(signal.getsignal(signal.SIGWINCH)),
                "profile": sys.getprofile() is None and sys.gettrace() is None,
            }), flush=True)
    main_names = sorted(vars(sys.modules["__main__"])) + ["main_names"]
    main_names = sorted(set(main_names))
    threading.Thread(target=reader, daemon=True).start()
    print("ready", flush=True)
    if mode == "sleep":
        while True:
            time.sleep(600)
            state["n"] += 1
    elif mode == "pause":
        while True:
            signal.pause()
            state["n"] += 1
    else:
        while True:
            state["n"] += 1
""" % PROBES)


class Child:
    def __init__(self, tmp_path, mode, python=None, extra=()):
        script = tmp_path / "attach_child.py"
        script.write_text(CHILD)
        self.proc = subprocess.Popen([python or sys.executable, "-S", str(script), mode]
                                     + list(extra), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.pid = self.proc.pid

    def state(self):
        self.proc.stdin.write("state\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the child died (exit code %r)" % self.proc.poll()
        return json.loads(line)

    def close(self):
        self.proc.kill()
        self.proc.wait()

    def assert_intact(self, before):
        after = self.state()
        assert self.proc.poll() is None
        assert after["path_same"] and after["main_same"] and after["profile"]
        assert after["heaplens"] == [] and after["threads"] == 2
        assert after["probes"] == PROBES and after["sum"] == PROBES * (PROBES - 1) // 2
        assert after["sigwinch"] == before["sigwinch"]
        return after


@pytest.fixture
def child(tmp_path):
    made = []

    def make(mode, **kw):
        c = Child(tmp_path, mode, **kw)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


_PTRACE = {}


def _require_ptrace(tmp_path):
    """Skip (with the kernel's reason) where this machine refuses ptrace."""
    if "error" not in _PTRACE:
        p = subprocess.Popen(["sleep", "30"])
        try:
            r = subprocess.run(["gdb", "-nx", "-batch", "-p", str(p.pid)], env=gdb_env(),
                               capture_output=True, text=True, timeout=120)
            out = r.stdout + r.stderr
            _PTRACE["error"] = "Operation not permitted" in out and out.strip()
        finally:
            p.kill()
            p.wait()
    if _PTRACE["error"]:
        pytest.skip("ptrace is refused on this machine: %s" % _PTRACE["error"][-200:])


@pytest.fixture(autouse=True)
def _ptrace(tmp_path):
    _require_ptrace(tmp_path)


def _probe_count(snap):
    return {r.type_name: r.count for r in snap.rows}.get("__main__.AttachProbe")


def test_cli_snapshot_of_a_sleeping_child(child, tmp_path):
    c = child("sleep")
    before = c.state()
    out = tmp_path / "x.snap"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "heaplens", "attach", str(c.pid), "snapshot",
                        "-o", str(out)], capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert str(out) in r.stdout
    # The child sleeps 600 s at a time: the attach woke it instead of waiting.
    assert took < 120
    assert _probe_count(heaplens.load(str(out))) == PROBES
    c.assert_intact(before)


def test_snapshot_of_a_child_in_a_tight_loop(child, tmp_path):
    c = child("loop")
    before = c.state()
    result = run_in_process(c.pid, "snapshot", str(tmp_path / "loop.snap"))
    assert result["safe_point"] == "pending" and result["queued"]
    assert result["removed_modules"] and "heaplens" in result["removed_modules"]
    snap = heaplens.load(str(tmp_path / "loop.snap"))
    assert _probe_count(snap) == PROBES
    # heaplens' own modules and the agent are not in the report.
    assert not any("heaplens" in r.type_name for r in snap.rows)
    after = c.assert_intact(before)
    time.sleep(0.2)
    assert c.state()["n"] > after["n"] > before["n"]     # the loop keeps running


def test_sleeping_child_is_woken_through_signal_check(child, tmp_path):
    c = child("sleep")
    before = c.state()
    result = run_in_process(c.pid, "snapshot", str(tmp_path / "s.snap"))
    assert result["safe_point"] == "signals" and result["woke"]
    assert not result["queued"]     # so no pending call is left behind either
    assert _probe_count(heaplens.load(str(tmp_path / "s.snap"))) == PROBES
    c.assert_intact(before)


def test_every_count_writes_snapshots_that_diff_reads(child, tmp_path):
    c = child("loop")
    before = c.state()
    out = tmp_path / "samples"
    r = subprocess.run([sys.executable, "-m", "heaplens", "attach", str(c.pid), "snapshot",
                        "--every", "0.5", "--count", "3", "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    files = sorted(glob.glob(str(out / "sample-*.snap")))
    assert [os.path.basename(f) for f in files] == ["sample-0001.snap", "sample-0002.snap",
                                                    "sample-0003.snap"]
    assert all(_probe_count(heaplens.load(f)) == PROBES for f in files)
    d = subprocess.run([sys.executable, "-m", "heaplens", "diff", files[0], files[-1]],
                       capture_output=True, text=True, timeout=120)
    assert d.returncode == 0, d.stderr
    c.assert_intact(before)


def test_cli_argument_errors(tmp_path):
    def cli(*a):
        return subprocess.run([sys.executable, "-m", "heaplens", "attach"] + list(a),
                              capture_output=True, text=True, timeout=60)
    r = cli("1", "dump", "-o", str(tmp_path), "--every", "1")
    assert r.returncode == 2 and "snapshot only" in r.stderr
    r = cli("1", "snapshot", "-o", str(tmp_path / "x"), "--count", "2")
    assert r.returncode == 2 and "--count needs --every" in r.stderr
    r = cli("1", "snapshot", "-o", str(tmp_path / "d"), "--every", "0")
    assert r.returncode == 2 and "positive" in r.stderr
    r = cli("1", "snapshot", "-o", str(tmp_path / "no" / "such" / "x.snap"))
    assert r.returncode == 2 and "no directory" in r.stderr
    with pytest.raises(AttachError) as e:
        run_in_process(os.getpid(), "snapshot", str(tmp_path / "x"))
    assert e.value.kind == "args"
    with pytest.raises(AttachError) as e:
        run_in_process(1, "_private", str(tmp_path / "x"))
    assert e.value.kind == "args"


def test_nonexistent_pid(tmp_path):
    p = subprocess.Popen(["true"])
    p.wait()
    with pytest.raises(AttachError) as e:
        run_in_process(p.pid, "snapshot", str(tmp_path / "x.snap"))
    assert e.value.kind == "no_process" and str(p.pid) in str(e.value)
    r = subprocess.run([sys.executable, "-m", "heaplens", "attach", str(p.pid), "snapshot",
                        "-o", str(tmp_path / "x.snap")], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "no process with PID" in r.stderr
    assert not (tmp_path / "x.snap").exists()


def test_not_a_python_process(tmp_path):
    p = subprocess.Popen(["sleep", "60"])
    try:
        with pytest.raises(AttachError) as e:
            run_in_process(p.pid, "snapshot", str(tmp_path / "x.snap"))
        assert e.value.kind == "not_python"
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()


def _other_python():
    mine = "%d.%d" % sys.version_info[:2]
    for exe in sorted(glob.glob("/root/.pyenv/versions/3.*/bin/python3.*")
                      + glob.glob("/usr/bin/python3.*")):
        name = os.path.basename(exe)
        if name.count(".") == 1 and not name.endswith("-config") and name[6:] != mine:
            if os.access(exe, os.X_OK):
                return exe
    return None


def test_different_python_version(child, tmp_path):
    other = _other_python()
    if other is None:
        pytest.skip("no Python interpreter of another version on this machine")
    c = child("loop", python=other)
    before = c.state()
    with pytest.raises(AttachError) as e:
        run_in_process(c.pid, "snapshot", str(tmp_path / "x.snap"))
    assert e.value.kind == "version"
    assert "%d.%d" % sys.version_info[:2] in str(e.value)
    assert not (tmp_path / "x.snap").exists()
    time.sleep(0.2)
    after = c.state()
    assert after["n"] > before["n"] and after["path_same"] and after["threads"] == 2


def test_heaplens_not_importable_in_target(child, tmp_path):
    c = child("loop", extra=["noheaplens"])
    before = c.state()
    assert before["blocked"]
    with pytest.raises(AttachError) as e:
        run_in_process(c.pid, "snapshot", str(tmp_path / "x.snap"))
    assert e.value.kind == "import" and "cannot be imported" in str(e.value)
    assert not (tmp_path / "x.snap").exists()
    after = c.assert_intact(before)
    assert after["blocked"]          # the target's own choice is left alone


def test_ptrace_refused_leaves_the_target_untouched(child, tmp_path):
    """A second tracer is refused with EPERM: the child is held by a
    PTRACE_SEIZE (which does not stop it) while heaplens tries."""
    c = child("loop")
    before = c.state()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import ctypes, sys
        libc = ctypes.CDLL(None, use_errno=True)
        PTRACE_SEIZE = 0x4206
        if libc.ptrace(PTRACE_SEIZE, %d, None, None) != 0:
            print("seize failed", ctypes.get_errno(), flush=True)
            sys.exit(1)
        print("held", flush=True)
        sys.stdin.read()
    """ % c.pid)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(AttachError) as e:
            run_in_process(c.pid, "snapshot", str(tmp_path / "x.snap"))
        assert e.value.kind == "ptrace"
        assert "not permitted" in str(e.value) and "ptrace" in str(e.value)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not (tmp_path / "x.snap").exists()
    after = c.assert_intact(before)
    assert after["n"] > before["n"]


def test_timeout_when_no_safe_point_is_reached(child, tmp_path):
    """signal.pause() is not a call heaplens interrupts: the wait for a safe
    point times out, nothing runs in the child, and it is left as it was."""
    c = child("pause")
    before = c.state()
    t0 = time.monotonic()
    with pytest.raises(AttachError) as e:
        run_in_process(c.pid, "snapshot", str(tmp_path / "x.snap"), timeout=2.0)
    assert e.value.kind == "timeout" and "nothing was run" in str(e.value)
    assert "stays queued" in str(e.value)
    assert time.monotonic() - t0 < 60
    assert not (tmp_path / "x.snap").exists()
    after = c.assert_intact(before)
    # signal.pause() returns on EINTR: it must not have been woken.
    assert after["n"] == before["n"] == 0


def test_preflight_reads_the_version_from_proc(child, tmp_path):
    c = child("sleep")
    assert preflight(c.pid) == tuple(sys.version_info[:2])


def test_cli_dump_of_a_child(child, tmp_path):
    """``attach PID dump`` runs heaplens.dump() in the child: the dump holds
    the child's 12,345 AttachProbe instances, and the list that holds them
    retains at least their flat bytes."""
    c = child("loop")
    before = c.state()
    out = tmp_path / "heap.hld"
    r = subprocess.run([sys.executable, "-m", "heaplens", "attach", str(c.pid), "dump",
                        "-o", str(out)], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    d = heaplens.open_dump(str(out))
    ids = d.find("__main__.AttachProbe")
    assert len(ids) == PROBES
    holders = {d.immediate_dominator(i) for i in ids}
    assert len(holders) == 1
    (holder,) = holders
    assert d.object(holder).type_name == "list"
    assert d.retained_size(holder) >= sum(d.object(i).size for i in ids)
    assert not any("heaplens" in row.type_name for row in d.by_type())
    after = c.assert_intact(before)
    time.sleep(0.2)
    assert c.state()["n"] > after["n"]


def _system_python():
    """Debian's own python3.X of this minor version: a stripped binary
    (symbols only in its dynamic table), as users' interpreters are."""
    p = "/usr/bin/python%d.%d" % sys.version_info[:2]
    if not os.path.exists(p) or os.path.realpath(p) == os.path.realpath(sys.executable):
        return None
    return p


@pytest.mark.parametrize("mode", ["sleep", "loop"])
def test_attach_to_a_stripped_system_python(child, tmp_path, mode):
    p = _system_python()
    if p is None:
        pytest.skip("no system python%d.%d beside this one (Debian's is 3.11)"
                    % sys.version_info[:2])
    r = subprocess.run(["file", "-L", p], capture_output=True, text=True) \
        if shutil.which("file") else None
    if r is not None and r.returncode == 0:
        assert ", stripped" in r.stdout, r.stdout      # the case is made
    c = child(mode, python=p)
    before = c.state()
    out = tmp_path / "sys.snap"
    r = subprocess.run([sys.executable, "-m", "heaplens", "attach", str(c.pid), "snapshot",
                        "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert _probe_count(heaplens.load(str(out))) == PROBES
    c.assert_intact(before)
