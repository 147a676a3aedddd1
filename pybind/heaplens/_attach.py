"""Run a heaplens function inside another CPython process (Linux): the
machinery behind ``python -m heaplens attach``. See docs/attach.md.

The target is stopped by gdb only long enough to reach a *safe point*: a
place where its main thread holds the GIL and the interpreter is in a
consistent state, namely

* the entry of a pending call that we queue with ``Py_AddPendingCall``
  (the eval loop runs pending calls between bytecodes, on the main thread),
  or
* the entry of ``PyErr_CheckSignals`` on the main thread (where CPython runs
  Python signal handlers, e.g. after a ``time.sleep`` was interrupted).

A main thread asleep in one of CPython's own blocking calls (``time.sleep``,
``Lock.acquire``, ``os.read``...) is woken by making its system call return
``EINTR``: every such call retries after checking signals (PEP 475), which
takes it through one of the two safe points. Nothing is executed at the
instruction where gdb happened to stop the process except
``Py_AddPendingCall`` itself, which CPython documents as callable without
the GIL or a thread state; the main thread is first checked not to be inside
CPython's pending-call code (whose lock it would then hold).

At the safe point gdb allocates a short bootstrap string with ``malloc``,
runs it with ``PyRun_SimpleString``, frees it, and detaches. The bootstrap
executes an agent file (written here) in a namespace of its own; the agent
checks the version, imports heaplens from this interpreter's package
directory, runs the job, writes a status file, and restores ``sys.path``,
``sys.path_importer_cache`` and ``sys.modules`` (the ``heaplens`` modules it
imported are removed again; the extension's shared object stays mapped,
because CPython never unloads one).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Optional, Tuple

_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class AttachError(Exception):
    """Attaching to a process, or the job run in it, failed.

    ``kind`` says why: ``"args"``, ``"no_process"``, ``"not_python"``,
    ``"version"``, ``"ptrace"``, ``"no_gdb"``, ``"busy"``, ``"timeout"``,
    ``"exited"``, ``"import"``, ``"job"`` or ``"internal"``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# ---------------------------------------------------------------------------
# Checks made without touching the target (only /proc is read).

def _read(path: str) -> Optional[str]:
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def ptrace_scope() -> Optional[int]:
    """The Yama ``ptrace_scope`` setting, or None where Yama is absent."""
    text = _read("/proc/sys/kernel/yama/ptrace_scope")
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


_LIBPYTHON = re.compile(r"libpython(\d+)\.(\d+)")
_PYEXE = re.compile(r"python(\d+)\.(\d+)")


def target_python_version(pid: int) -> Optional[Tuple[int, int]]:
    """The (major, minor) version of the CPython that ``pid`` runs, as its
    mappings or executable name say, or None when they do not say."""
    maps = _read("/proc/%d/maps" % pid) or ""
    m = _LIBPYTHON.search(maps)
    if m:
        return int(m.group(1)), int(m.group(2))
    try:
        exe = os.path.basename(os.readlink("/proc/%d/exe" % pid))
    except OSError:
        exe = ""
    m = _PYEXE.match(exe)
    if m:
        return int(m.group(1)), int(m.group(2))
    return None


def preflight(pid: int) -> Optional[Tuple[int, int]]:
    """Refuse what can be refused before attaching; returns the target's
    version when /proc tells it."""
    if not sys.platform.startswith("linux"):
        raise AttachError("args", "attaching is supported on Linux only")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        raise AttachError("args", "PID must be a positive integer, not %r" % (pid,))
    if pid == os.getpid():
        raise AttachError("args", "cannot attach to this process itself")
    if not os.path.isdir("/proc/%d" % pid):
        raise AttachError("no_process", "no process with PID %d" % pid)
    status = _read("/proc/%d/status" % pid) or ""
    if re.search(r"^State:\s+Z", status, re.M):
        raise AttachError("no_process", "process %d is a zombie (it has exited)" % pid)
    if re.search(r"^State:\s+T", status, re.M):
        # gdb would resume it: attaching must not change whether it runs.
        raise AttachError("args", "process %d is stopped (SIGSTOP); resume it first "
                                  "(kill -CONT %d)" % (pid, pid))
    version = target_python_version(pid)
    maps = _read("/proc/%d/maps" % pid)
    if version is None and maps is not None and "python" not in maps.lower():
        raise AttachError("not_python", "process %d is not a CPython process (no python "
                                        "in its executable or libraries)" % pid)
    if version is not None and version != tuple(sys.version_info[:2]):
        raise AttachError("version", "process %d runs Python %d.%d; attach from a Python "
                                     "%d.%d with heaplens installed (this is %d.%d)"
                          % ((pid,) + version + version + tuple(sys.version_info[:2])))
    return version


def _ptrace_hint() -> str:
    scope = ptrace_scope()
    if scope is None:
        return ("the kernel refused ptrace (no Yama here: the likely cause is a container "
                "without CAP_SYS_PTRACE, a seccomp profile, a different user, or another "
                "debugger already attached)")
    hints = {
        1: "kernel.yama.ptrace_scope is 1: only a parent may attach; run as root, give "
           "this user CAP_SYS_PTRACE, or set it to 0 (sysctl kernel.yama.ptrace_scope=0)",
        2: "kernel.yama.ptrace_scope is 2: only a process with CAP_SYS_PTRACE may attach",
        3: "kernel.yama.ptrace_scope is 3: ptrace is disabled until reboot",
    }
    return hints.get(scope, "kernel.yama.ptrace_scope is %d; another debugger may also "
                            "be attached already" % scope)


# ---------------------------------------------------------------------------
# The agent: executed inside the target with the GIL held. It imports nothing
# that a running CPython does not already have (sys and os are always loaded)
# and writes its status with repr(), so that json is not imported there.

_AGENT = r'''
def _heaplens_attach_agent(P):
    import sys, os
    status = {"ok": False, "kind": "internal", "error": "no status"}
    saved_path = list(sys.path)
    before = set(sys.modules)
    before_cache = set(sys.path_importer_cache)
    try:
        if tuple(sys.version_info[:2]) != tuple(P["version"]):
            status = {"ok": False, "kind": "version",
                      "error": "the target runs Python %d.%d, the attaching heaplens is "
                               "built for %d.%d" % (tuple(sys.version_info[:2])
                                                    + tuple(P["version"]))}
            return
        if "heaplens" in sys.modules and sys.modules["heaplens"] is None:
            status = {"ok": False, "kind": "import",
                      "error": "heaplens cannot be imported in the target: "
                               "sys.modules['heaplens'] is None"}
            return
        if "heaplens" not in sys.modules:
            sys.path.insert(0, P["pkg_parent"])
        try:
            import heaplens
            func = getattr(heaplens, P["action"])
        except Exception as e:
            status = {"ok": False, "kind": "import",
                      "error": "heaplens cannot be imported in the target (from %s): "
                               "%s: %s" % (P["pkg_parent"], type(e).__name__, e)}
            return
        try:
            if P["action"] == "snapshot":
                func(addresses=False).save(P["path"])
            else:
                func(P["path"])
        except BaseException as e:
            status = {"ok": False, "kind": "job",
                      "error": "heaplens.%s() failed in the target: %s: %s"
                               % (P["action"], type(e).__name__, e)}
            return
        status = {"ok": True, "kind": "ok", "error": "",
                  "heaplens": os.path.dirname(getattr(heaplens, "__file__", "") or "")}
    finally:
        sys.path[:] = saved_path
        for key in set(sys.path_importer_cache) - before_cache:
            sys.path_importer_cache.pop(key, None)
        new = [m for m in list(sys.modules) if m not in before]
        ours = sorted(m for m in new if m == "heaplens" or m.startswith("heaplens."))
        for m in ours:
            sys.modules.pop(m, None)
        status["removed_modules"] = ours
        status["left_modules"] = sorted(set(new) - set(ours))
        tmp = P["status"] + ".tmp"
        with open(tmp, "w") as f:
            f.write(repr(status))
        os.replace(tmp, P["status"])

_heaplens_attach_agent(PARAMS)
'''

# The bootstrap that gdb passes to PyRun_SimpleString: it runs the agent in a
# namespace of its own (so __main__ gains no name) and swallows every error
# (PyRun_SimpleString would print it on the target's stderr).
# The file is closed explicitly: an unclosed one would emit a ResourceWarning,
# and even an ignored warning adds __warningregistry__ to __main__.
_BOOTSTRAP = ("try:\n"
              " exec(compile((lambda f:(f.read(),f.close())[0])(open(%r,'rb')),%r,'exec'),"
              "{'__name__':'_heaplens_attach'})\n"
              "except BaseException:\n"
              " pass\n")


# ---------------------------------------------------------------------------
# The gdb side: a script for gdb's own Python. It writes its phase to a file
# so that the attacher knows whether gdb may be killed on a timeout (it may
# not while it runs a function in the target: the target would return into
# gdb's dummy-frame breakpoint after gdb died, and get SIGTRAP).

_GDB_SCRIPT = r'''
import json, os, signal, threading, time
import gdb

P = json.load(open(os.environ["HEAPLENS_ATTACH_PARAMS"]))
PID = P["pid"]
T0 = time.monotonic()
TIMES = {}

def phase(name):
    TIMES.setdefault(name, round(time.monotonic() - T0, 3))
    with open(P["phase"] + ".tmp", "w") as f:
        f.write(name)
    os.replace(P["phase"] + ".tmp", P["phase"])

def finish(**status):
    status["times"] = TIMES
    with open(P["gdb_status"] + ".tmp", "w") as f:
        json.dump(status, f)
    os.replace(P["gdb_status"] + ".tmp", P["gdb_status"])

def run(cmd):
    return gdb.execute(cmd, to_string=True)

def value(expr):
    return int(gdb.parse_and_eval(expr))

# Blocking calls of CPython's own that retry after EINTR once they have
# checked signals (PEP 475) with the GIL held: through PyErr_CheckSignals
# (no pending call is needed to stop there) or, for a lock acquired from
# Python, through Py_MakePendingCalls (which runs our pending call).
SIGNAL_WAKE = {"pysleep", "time_sleep", "_Py_read", "_Py_write", "sock_call_ex",
               "select_select_impl", "select_poll_poll_impl", "select_epoll_poll_impl",
               "os_waitpid_impl", "os_wait_impl", "os_read_impl", "os_write_impl"}
PENDING_WAKE = {"acquire_timed"}
# The same, by the C library's function names (for a stripped libpython).
LIBC_WAKE = ("nanosleep", "select", "poll", "epoll_wait", "read", "write", "recv", "send",
             "accept", "connect", "wait4", "waitpid", "futex", "sem_")
NEVER_WAKE = ("pause", "sigsuspend", "sigwait", "sigtimedwait")
# -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK:
# the thread was stopped inside an interruptible system call.
RESTART = {-512, -513, -514, -516}

hit = {"where": None}


def main_thread():
    for t in gdb.selected_inferior().threads():
        if t.ptid[1] == PID:
            return t
    return None


def interpreter_syscall():
    """True when the thread is in a C-library call made by the interpreter
    itself (libpython or the python executable), not by an extension, and one
    that CPython retries after EINTR (PEP 475): sleeping, waiting on a lock,
    reading, writing, polling, waiting for a child. Not pause() or sigwait:
    signal.pause() returns on EINTR, so waking it would change the program.
    For a stripped libpython (a distribution's), whose static functions have
    no names; the C library's names are always there."""
    import re
    f = first = gdb.newest_frame()
    libc_names = []
    while f is not None:
        lib = gdb.solib_name(f.pc()) or ""
        if not re.search(r"/(libc|libpthread|ld-linux)[.-]", lib):
            break
        libc_names.append((f.name() or "").lower())
        try:
            f = f.older()
        except gdb.error:
            return False
    if f is None or f == first:
        return False
    if any(bad in n for n in libc_names for bad in NEVER_WAKE):
        return False
    if not any(ok in n for n in libc_names for ok in LIBC_WAKE):
        return False
    lib = gdb.solib_name(f.pc())
    if lib is None:
        exe = gdb.selected_inferior().progspace.filename or ""
        return re.search(r"python[0-9.]*$", os.path.basename(exe)) is not None
    return re.search(r"/libpython[0-9.]+\.so", lib) is not None


def frame_names(limit=16):
    names, f = [], gdb.newest_frame()
    while f is not None and len(names) < limit:
        names.append(f.name())
        try:
            f = f.older()
        except gdb.error:
            break
    return names


class SafePoint(gdb.Breakpoint):
    def __init__(self, spec, what):
        super().__init__(spec, type=gdb.BP_HARDWARE_BREAKPOINT, internal=True)
        self.what = what

    def stop(self):
        t = gdb.selected_thread()
        if t is None or t.ptid[1] != PID:
            return False
        if self.what == "pending":
            if value("$rdi") != 0:
                return False
            older = gdb.newest_frame().older()
            name = older.name() if older is not None else None
            if name is not None and "pending" not in name.lower():
                return False
        hit["where"] = self.what
        return True


def body():
    for cmd in ("set pagination off", "set confirm off", "set print thread-events off",
                "set print inferior-events off", "set scheduler-locking off",
                "set unwindonsignal on", "handle all nostop noprint pass",
                "handle SIGWINCH stop print nopass"):
        try:
            run(cmd)
        except gdb.error:
            pass
    phase("attach")
    try:
        run("attach %d" % PID)
    except gdb.error as e:
        msg = str(e)
        kind = "ptrace" if ("not permitted" in msg or "EPERM" in msg) else (
            "no_process" if "No such process" in msg else "internal")
        return finish(ok=False, kind=kind, error=msg)
    try:
        return attached()
    finally:
        phase("detach")
        try:
            for b in gdb.breakpoints() or ():
                b.delete()
        except Exception:
            pass
        try:
            run("detach")
        except gdb.error:
            pass
        phase("done")


def attached():
    for sym in ("Py_AddPendingCall", "PyRun_SimpleString", "PyCallable_Check",
                "PyErr_CheckSignals", "PyMem_RawMalloc", "PyMem_RawFree"):
        try:
            value("(long)&%s" % sym)
        except gdb.error:
            return finish(ok=False, kind="not_python",
                          error="process %d is not a CPython process (no %s symbol)"
                                % (PID, sym))
    try:
        pyver = value("*(unsigned long *)&Py_Version")
        ver = [pyver >> 24, (pyver >> 16) & 0xFF]
        if ver != P["version"]:
            return finish(ok=False, kind="version",
                          error="process %d runs Python %d.%d; attach from a Python %d.%d "
                                "with heaplens installed" % ((PID,) + tuple(ver) + tuple(ver)))
    except gdb.error:
        pass  # 3.9/3.10 have no Py_Version; the agent checks sys.version_info
    t = main_thread()
    if t is None:
        return finish(ok=False, kind="not_python", error="process %d has no main thread" % PID)
    t.switch()
    run("frame 0")
    names = frame_names()
    try:
        rax, orig = value("$rax"), value("$orig_rax")
    except gdb.error:
        rax, orig = 0, -1
    in_syscall = orig >= 0 and (rax in RESTART or rax == -4)
    signal_hits = [n for n in names if n in SIGNAL_WAKE]
    pending_hits = [n for n in names if n in PENDING_WAKE]
    woke = (signal_hits or pending_hits or [None])[0] if in_syscall else None
    if in_syscall and woke is None and interpreter_syscall():
        woke = "interpreter"   # nameless frames: wake it and queue the pending call too
    # A main thread that will come through PyErr_CheckSignals needs no
    # pending call (none is left queued behind); any other gets one.
    queued = not (in_syscall and signal_hits)
    if queued:
        lowered = [n.lower() for n in names if n]
        if any("pending" in n or "parkinglot" in n or "rawmutex" in n for n in lowered):
            return finish(ok=False, kind="busy",
                          error="the main thread is inside CPython's pending-call or "
                                "locking code; try again")
        phase("call")
        rc = value("((int (*)(int (*)(void *), void *))Py_AddPendingCall)"
                   "((int (*)(void *))PyCallable_Check, (void *)0)")
        if rc != 0:
            return finish(ok=False, kind="busy", error="Py_AddPendingCall failed (queue full?)")
        t.switch()
        run("frame 0")
    phase("wait")
    if woke is not None and rax != -4:
        run("set var $orig_rax = -1")
        run("set var $rax = -4")
    bps = [SafePoint("*%d" % value("(long)&PyCallable_Check"), "pending"),
           SafePoint("*%d" % value("(long)&PyErr_CheckSignals"), "signals")]
    # gdb's Python keeps its GIL while "continue" runs, so no timer thread
    # here could interrupt the wait: the attacher sends the target a SIGWINCH
    # when the time is up, which gdb stops on and does not pass on.
    start = time.monotonic()
    while True:
        try:
            run("continue")
        except gdb.error as e:
            if gdb.selected_inferior().pid:   # e.g. no hardware breakpoint available
                return finish(ok=False, kind="internal", error="gdb: %s" % e, queued=queued)
            return finish(ok=False, kind="exited", error="the target exited: %s" % e)
        if not gdb.selected_inferior().pid:
            return finish(ok=False, kind="exited", error="the target exited")
        if hit["where"] is not None:
            break
        if time.monotonic() - start >= P["timeout"] - 0.5:
            return finish(ok=False, kind="timeout", queued=queued,
                          error="the main thread did not reach a safe point within %g s "
                                "(it is %s); nothing was run in the target"
                                % (P["timeout"], "in " + " < ".join(
                                    n for n in names[:6] if n) if names else "busy"))
        run("queue-signal SIGWINCH")   # the target's own SIGWINCH: deliver it
    for b in bps:
        b.delete()
    code = P["bootstrap"].encode() + b"\0"
    phase("call")
    # CPython's raw allocator, not "malloc": under an LD_PRELOADed allocator
    # (ASan) gdb could resolve malloc and free to different libraries.
    buf = value("((void *(*)(unsigned long))PyMem_RawMalloc)(%d)" % len(code))
    if buf == 0:
        return finish(ok=False, kind="internal", error="out of memory in the target")
    try:
        gdb.selected_inferior().write_memory(buf, code)
        phase("job")
        t0 = time.time()
        rc = value("((int (*)(const char *))PyRun_SimpleString)((const char *)%d)" % buf)
        job = time.time() - t0
    finally:
        phase("call")
        run("call (void)((void (*)(void *))PyMem_RawFree)((void *)%d)" % buf)
    TIMES["job_done"] = round(time.monotonic() - T0, 3)
    finish(ok=True, kind="ok", error="", safe_point=hit["where"], woke=woke, rc=rc,
           job_seconds=job, queued=queued)


try:
    body()
except Exception as e:
    try:
        finish(ok=False, kind="internal", error="%s: %s" % (type(e).__name__, e))
    except Exception:
        pass
'''


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


def _workdir(pid: int) -> str:
    """A private directory for the agent file and the status files. The
    target reads the agent and writes its status there, so when root
    attaches to another user's process the directory is given to that
    user."""
    tmp = tempfile.mkdtemp(prefix="heaplens-attach-")
    try:
        st = os.stat("/proc/%d" % pid)
        if os.geteuid() == 0 and st.st_uid != 0:
            os.chown(tmp, st.st_uid, st.st_gid)
    except OSError:
        pass
    return tmp


def _status(path: str) -> Optional[Dict[str, Any]]:
    text = _read(path)
    if text is None:
        return None
    try:
        return ast.literal_eval(text) if not text.startswith("{\"") else json.loads(text)
    except (ValueError, SyntaxError):
        return None


def gdb_env(**extra: str) -> Dict[str, str]:
    """The environment gdb runs in: this one without what would change gdb
    itself (it embeds the system's Python, and a sanitizer run preloads ASan
    for heaplens, not for gdb: gdb under ASan takes minutes to start)."""
    env = dict(os.environ, **extra)
    for var in ("PYTHONHOME", "PYTHONPATH", "LD_PRELOAD", "PYTHONMALLOC"):
        env.pop(var, None)
    return env


_GRACE = 15.0   # for gdb to load symbols, stop, and detach


def _supervise(proc: "subprocess.Popen[bytes]", pid: int, phase_path: str, t0: float,
               timeout: float, job_timeout: float) -> None:
    """Wait for gdb, enforcing the timeouts by phase. Killing gdb is safe
    while it attaches or waits (its breakpoints are hardware ones, which the
    kernel clears when the tracer goes), never while it runs a function in
    the target: then the target would return into gdb's dummy-frame
    breakpoint after gdb died (the AttachError then has ``gdb_left``)."""
    seen: Dict[str, float] = {}
    nudged = False
    while proc.poll() is None:
        now = time.monotonic()
        ph = _read(phase_path) or "start"
        first = seen.setdefault(ph, now)
        if ph == "wait" and not nudged and now - first > timeout:
            try:
                os.kill(pid, signal.SIGWINCH)   # gdb stops on it and does not pass it on
            except OSError:
                pass
            nudged = True
        overdue = {"start": t0 + timeout + 2 * _GRACE, "attach": first + timeout + 2 * _GRACE,
                   "wait": first + timeout + _GRACE, "job": first + job_timeout}.get(ph)
        if overdue is None:
            overdue = first + 2 * _GRACE if ph != "call" else first + job_timeout
        if now > overdue:
            if ph in ("call", "job"):
                err = AttachError(
                    "timeout", "the job is still running in process %d after %.0f s; gdb "
                    "(PID %d) is left to finish and detach, because killing a debugger while "
                    "it runs a function in the target would kill the target"
                    % (pid, now - first, proc.pid))
                err.gdb_left = True   # type: ignore[attr-defined]
                raise err
            proc.kill()
            proc.wait()
            raise AttachError("timeout", "gdb did not finish (phase %s, %.0f s); it was "
                                         "killed before anything ran in the target"
                              % (ph, now - t0))
        time.sleep(0.02)


def run_in_process(pid: int, action: str, path: str, timeout: float = 30.0,
                   job_timeout: float = 600.0, gdb: Optional[str] = None) -> Dict[str, Any]:
    """Run ``heaplens.<action>(path)`` inside process ``pid`` (for
    ``"snapshot"``: ``heaplens.snapshot(addresses=False).save(path)``) and
    return a dict of what happened (``seconds``, ``safe_point``,
    ``removed_modules``, ``left_modules``...). ``timeout`` bounds the wait
    for a safe point; ``job_timeout`` bounds the job. Raises AttachError."""
    if not isinstance(action, str) or not action.isidentifier() or action.startswith("_"):
        raise AttachError("args", "action must be a public heaplens function name, not %r"
                          % (action,))
    for name, t in (("timeout", timeout), ("job_timeout", job_timeout)):
        if not isinstance(t, (int, float)) or not t > 0:
            raise AttachError("args", "%s must be a positive number of seconds, not %r"
                              % (name, t))
    preflight(pid)
    path = os.path.abspath(os.fspath(path))
    if hasattr(sys, "remote_exec"):
        return _run_remote_exec(pid, action, path, timeout + job_timeout)
    gdb = gdb or shutil.which("gdb")
    if not gdb:
        raise AttachError("no_gdb", "gdb is not installed (apt-get install gdb; "
                                    "scripts/setup.sh installs it)")
    t0 = time.monotonic()
    tmp = _workdir(pid)
    keep_tmp = False
    try:
        agent_path = os.path.join(tmp, "agent.py")
        params = {
            "pid": pid, "version": list(sys.version_info[:2]), "timeout": float(timeout),
            "phase": os.path.join(tmp, "phase"), "gdb_status": os.path.join(tmp, "gdb.json"),
            "bootstrap": _BOOTSTRAP % (agent_path, agent_path),
        }
        agent_params = {"version": list(sys.version_info[:2]), "pkg_parent": _PKG_PARENT,
                        "action": action, "path": path,
                        "status": os.path.join(tmp, "agent.status")}
        _write(agent_path, "PARAMS = %r\n%s" % (agent_params, _AGENT))
        _write(os.path.join(tmp, "params.json"), json.dumps(params))
        script = os.path.join(tmp, "attach_gdb.py")
        _write(script, _GDB_SCRIPT)
        env = gdb_env(HEAPLENS_ATTACH_PARAMS=os.path.join(tmp, "params.json"))
        with open(os.path.join(tmp, "gdb.log"), "w") as log:
            proc = subprocess.Popen(
                [gdb, "-nx", "-q", "-batch", "-iex", "set auto-load off",
                 "-iex", "set debuginfod enabled off", "-x", script],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)   # the user's Ctrl-C must not reach gdb mid-call
            try:
                _supervise(proc, pid, params["phase"], t0, timeout, job_timeout)
            except AttachError as e:
                keep_tmp = getattr(e, "gdb_left", False)
                raise
        gst = _status(params["gdb_status"])
        if gst is None:
            log_text = (_read(os.path.join(tmp, "gdb.log")) or "").strip()
            raise AttachError("internal", "gdb exited (%s) without a result: %s"
                              % (proc.returncode, log_text[-800:]))
        if not gst.get("ok"):
            kind, msg = gst.get("kind", "internal"), gst.get("error", "")
            if kind == "ptrace":
                msg = "cannot attach to process %d: %s; %s" % (pid, msg, _ptrace_hint())
            if gst.get("queued"):
                msg += ("; a pending call that does nothing (PyCallable_Check(NULL)) stays "
                        "queued until the main thread next runs Python code")
            raise AttachError(kind, msg)
        ast_ = _status(agent_params["status"])
        if ast_ is None:
            raise AttachError("internal", "the code run in process %d left no status "
                                          "(PyRun_SimpleString returned %s)"
                              % (pid, gst.get("rc")))
        if not ast_.get("ok"):
            raise AttachError(ast_.get("kind", "internal"), ast_.get("error", ""))
        result = dict(gst)
        result.update(ast_)
        result["seconds"] = time.monotonic() - t0
        result["path"] = path
        return result
    finally:
        if not keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _run_remote_exec(pid: int, action: str, path: str, limit: float) -> Dict[str, Any]:
    """Python 3.14+: ``sys.remote_exec`` runs a script file in the target at
    its next safe point (PEP 768). UNTESTED HERE: no 3.14 interpreter on the
    machine where this was written."""
    t0 = time.monotonic()
    tmp = _workdir(pid)
    try:
        agent_path = os.path.join(tmp, "agent.py")
        status = os.path.join(tmp, "agent.status")
        _write(agent_path, "PARAMS = %r\n%s" % (
            {"version": list(sys.version_info[:2]), "pkg_parent": _PKG_PARENT,
             "action": action, "path": path, "status": status}, _AGENT))
        try:
            getattr(sys, "remote_exec")(pid, agent_path)
        except PermissionError as e:
            raise AttachError("ptrace", "cannot attach to process %d: %s; %s"
                              % (pid, e, _ptrace_hint()))
        except (OSError, RuntimeError) as e:
            raise AttachError("not_python", "sys.remote_exec(%d) failed: %s" % (pid, e))
        while not os.path.exists(status):
            if time.monotonic() - t0 > limit:
                raise AttachError("timeout", "no result from process %d within %g s"
                                  % (pid, limit))
            time.sleep(0.05)
        st = _status(status) or {}
        if not st.get("ok"):
            raise AttachError(st.get("kind", "internal"), st.get("error", "no status"))
        st["seconds"] = time.monotonic() - t0
        st["path"] = path
        st["safe_point"] = "remote_exec"
        return st
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["AttachError", "preflight", "ptrace_scope", "run_in_process",
           "target_python_version"]
