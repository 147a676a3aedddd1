"""What `pytest --leaks` costs on real test suites from PyPI, and whether it
flags anything: plain pytest vs `--leaks`, and `-n 2` vs `-n 2 --leaks`, in
one run.

    python bench/leaks.py [--repeat R] [--suites cachetools,tomlkit,more-itertools,idna,toolz]
                          [--workdir DIR]

Downloads the pinned sdists below with `pip download --no-binary :all:
--no-deps` into a temporary directory (or --workdir, reused when present),
runs each suite's tests with the current interpreter (which needs pytest,
pytest-xdist and heaplens installed), and prints per suite: the median wall
and CPU (user+sys) seconds of each mode, their ratios to plain, the test
counts of the summary line, and every LEAKED test.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

# name: (sdist pin, directory to put on PYTHONPATH, test arguments)
SUITES = {
    "cachetools": ("cachetools==5.5.0", "src", ["tests"]),
    "tomlkit": ("tomlkit==0.13.2", ".",
                # the TOML spec tests need PyYAML: left out to keep one dependency
                ["tests", "--ignore", "tests/test_toml_spec_tests.py"]),
    "more-itertools": ("more-itertools==10.5.0", ".", ["tests"]),
    # 32 tests, clean
    "idna": ("idna==3.10", ".", ["tests"]),
    # 180 tests; test_inspect_wrapped_property truly leaks on CPython before
    # 3.11.9/3.12.3 (it adds a class made in each run to
    # toolz._signatures.signatures and never removes it): LEAKED there
    "toolz": ("toolz==1.0.0", ".", ["toolz/tests"]),
}

MODES = {
    "plain": [],
    "--leaks": ["--leaks"],
    "-n 2": ["-n", "2"],              # xdist's own cost, for the row below
    "-n 2 --leaks": ["-n", "2", "--leaks"],
}


def fetch(pin: str, workdir: str) -> str:
    name, version = pin.split("==")
    for d in os.listdir(workdir):
        if d.lower().replace("_", "-") == ("%s-%s" % (name, version)).lower() and \
                os.path.isdir(os.path.join(workdir, d)):
            return os.path.join(workdir, d)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:",
                    "--no-deps", "-d", workdir, pin], check=True)
    for f in os.listdir(workdir):
        if f.endswith(".tar.gz") and f.lower().replace("_", "-").startswith(
                "%s-%s" % (name, version)):
            with tarfile.open(os.path.join(workdir, f)) as t:
                t.extractall(workdir, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
            return os.path.join(workdir, f[:-len(".tar.gz")])
    raise SystemExit("no sdist of %s in %s" % (pin, workdir))


def run(src: str, pythonpath: str, args: list, extra: list) -> tuple:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.path.join(src, pythonpath), env.get("PYTHONPATH")) if p)
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA",
           *extra, *args]
    r0 = os.times()
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    r1 = os.times()
    cpu = (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
    lines = p.stdout.strip().splitlines()
    summary = re.sub(r" in [0-9.]+s.*$", "", lines[-1].strip("= ")) if lines else "?"
    leaked = [ln for ln in lines if ln.startswith("LEAKED ")]
    return wall, cpu, summary, leaked


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--suites", default=",".join(SUITES))
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="heaplens-bench-leaks-")
    os.makedirs(workdir, exist_ok=True)
    print("CPython %s; suites in %s; median of %d" % (sys.version.split()[0], workdir,
                                                      args.repeat))
    print("%-15s %-13s %8s %8s %7s %7s  %s" % ("suite", "mode", "wall s", "cpu s", "wall x",
                                               "cpu x", "summary"))
    for name in args.suites.split(","):
        pin, pythonpath, targs = SUITES[name]
        src = fetch(pin, workdir)
        res = {m: [] for m in MODES}
        for _ in range(args.repeat):
            for mode, extra in MODES.items():    # interleaved: same load for each
                res[mode].append(run(src, pythonpath, targs, extra))
        base_w = statistics.median(r[0] for r in res["plain"])
        base_c = statistics.median(r[1] for r in res["plain"])
        for mode in MODES:
            w = statistics.median(r[0] for r in res[mode])
            c = statistics.median(r[1] for r in res[mode])
            print("%-15s %-13s %8.2f %8.2f %6.2fx %6.2fx  %s" % (
                name, mode, w, c, w / base_w, c / base_c, res[mode][-1][2]))
        for mode in MODES:
            for ln in res[mode][-1][3]:
                print("    %s: %s" % (mode, ln))


if __name__ == "__main__":
    main()
