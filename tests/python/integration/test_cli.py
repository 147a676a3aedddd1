"""``python -m heaplens run`` and ``diff`` as a person uses them, and the
REPL echo of the result objects."""

import os
import re
import subprocess
import sys

import pytest

import heaplens
from heaplens import Snapshot

GROW = (
    "import sys, time\n"
    "import json, decimal, fractions\n"       # imports whose objects are not growth
    "class Leaky: pass\n"
    "keep = []\n"
    "for i in range(5):\n"
    "    keep.extend(Leaky() for _ in range(1000))\n"
    "    time.sleep(0.02)\n"
    "print('args', sys.argv[1:])\n"
    "if '--fail' in sys.argv:\n"
    "    raise ValueError('boom')\n"
    "if '--exit' in sys.argv:\n"
    "    sys.exit(3)\n")


def _run(args, cwd, timeout=180):
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    return subprocess.run([sys.executable, "-m", "heaplens"] + args, capture_output=True,
                          text=True, timeout=timeout, cwd=str(cwd), env=env)


def _total(stderr):
    """The growth table's total objects."""
    line = [l for l in stderr.splitlines() if l.startswith("total")][0]
    m = re.match(r"total(?: \(all [\d,]+ types\))?\s+([+-]?[\d,]+)", line)
    return int(m.group(1).replace(",", ""))


@pytest.fixture
def script(tmp_path):
    p = tmp_path / "grow.py"
    p.write_text(GROW)
    return p


def _growth_rows(stderr):
    rows = {}
    for line in stderr.splitlines():
        parts = line.split()
        if len(parts) >= 5 and re.match(r"^[+-]\d", parts[2]):
            rows[parts[0]] = parts
    return rows


def test_run_without_o_writes_a_default_report_and_says_where(tmp_path, script):
    r = _run(["run", "--interval", "0.05", str(script)], tmp_path)
    assert r.returncode == 0, r.stderr
    m = re.search(r"heaplens: report written to (\S+)", r.stderr)
    assert m, r.stderr
    path = m.group(1)
    assert os.path.isabs(path) and os.path.dirname(path) == str(tmp_path)
    assert re.match(r"heaplens-grow-\d{8}-\d{6}\.html$", os.path.basename(path))
    assert "<svg" in open(path, encoding="utf-8").read()


def test_run_writes_growth_and_report_when_the_script_raises(tmp_path, script):
    out = tmp_path / "r.html"
    r = _run(["run", "--interval", "0.05", "-o", str(out), str(script), "--fail"], tmp_path)
    assert r.returncode == 1, r.stderr
    assert "ValueError: boom" in r.stderr and 'File "%s", line 10' % script in r.stderr
    assert "heaplens/cli" not in r.stderr        # our frames are not in its traceback
    assert _growth_rows(r.stderr)["__main__.Leaky"][2] == "+5,000"
    assert out.exists() and "__main__.Leaky" in out.read_text(encoding="utf-8")
    assert "report written to %s" % out in r.stderr
    # sys.exit(3) is the script's status.
    r = _run(["run", "--interval", "0.05", "-o", str(out), str(script), "--exit"], tmp_path)
    assert r.returncode == 3 and "report written" in r.stderr


def test_run_baseline_is_after_the_imports(tmp_path, script):
    out = str(tmp_path / "r.html")
    r = _run(["run", "--interval", "0.05", "-o", out, str(script)], tmp_path)
    assert r.returncode == 0, r.stderr
    rows = _growth_rows(r.stderr)
    assert "after the script's imports" in r.stderr
    # Importing json/decimal/fractions compiles code and makes classes;
    # none of that is the script's growth.
    def grew(name):
        return int(rows[name][2].replace(",", "")) if name in rows else 0
    # (A code object can change size when it runs: the count is the test.)
    assert grew("code") <= 0 and grew("function") <= 2 and grew("type") <= 2, r.stderr
    assert rows["__main__.Leaky"][2] == "+5,000"
    # What the script made (5,000 instances, a list, a class) is nearly all.
    assert _total(r.stderr) < 5_100, r.stderr
    r = _run(["run", "--baseline", "start", "--interval", "0.05", "-o", out, str(script)],
             tmp_path)
    rows = _growth_rows(r.stderr)
    assert "before the script started" in r.stderr
    assert int(rows["code"][2].replace(",", "")) > 10, r.stderr


def test_run_module(tmp_path):
    pkg = tmp_path / "hlpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(
        "import sys\nfrom . import part\nprint('mod', __name__, __package__, sys.argv[1:])\n"
        "held = [part.Item() for _ in range(700)]\n")
    (pkg / "part.py").write_text("class Item: pass\n")
    r = _run(["run", "-o", str(tmp_path / "r.html"), "-m", "hlpkg", "--x", "y"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "mod __main__ hlpkg ['--x', 'y']" in r.stdout
    assert _growth_rows(r.stderr)["hlpkg.part.Item"][2] == "+700"
    r = _run(["run", "-o", str(tmp_path / "r.html"), "-m", "no_such_module_hl"], tmp_path)
    assert r.returncode == 2 and "No module named no_such_module_hl" in r.stderr


def test_run_saves_samples_for_diff(tmp_path, script):
    snaps = tmp_path / "snaps"
    r = _run(["run", "--interval", "0.05", "-o", str(tmp_path / "r.html"), "--snapshots",
              str(snaps), str(script)], tmp_path)
    assert r.returncode == 0, r.stderr
    files = sorted(os.listdir(str(snaps)))
    assert len(files) >= 2 and files[0] == "sample-0001.snap"
    # Saving the samples is invisible in the growth (struct.pack cached a
    # Struct per new format: +3 _struct.Struct, +3 bytes).
    rows = _growth_rows(r.stderr)
    assert "_struct.Struct" not in rows and not any(n.startswith("heaplens") for n in rows)
    assert _total(r.stderr) < 5_100, r.stderr
    assert "%d samples saved" % len(files) in r.stderr
    first, last = heaplens.load(str(snaps / files[0])), heaplens.load(str(snaps / files[-1]))
    assert last.diff(first).row("__main__.Leaky").count_diff == 5000
    r = _run(["diff", str(snaps / files[0]), str(snaps / files[-1]), "--top", "1"], tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[2].split()[:3] == ["__main__.Leaky", "5,000", "+5,000"]


def test_run_track_names_allocation_sites(tmp_path, script):
    out = tmp_path / "r.html"
    r = _run(["run", "--interval", "0.05", "--track", "-o", str(out), str(script)], tmp_path)
    assert r.returncode == 0, r.stderr
    head, _, sites = r.stderr.partition("where the objects of the types that grew")
    assert _total(head) < 5_100, head          # tracking is invisible in the growth
    row = [l.split() for l in sites.splitlines() if l.startswith("__main__.Leaky")]
    assert row and row[0][1] == "%s:6" % script and row[0][2] == "5,000", sites
    # Sized as the growth table sizes them.
    assert row[0][3:] == _growth_rows(head)["__main__.Leaky"][3:4] + [
        _growth_rows(head)["__main__.Leaky"][4]], (row, head)
    assert "heaplens/" not in sites.replace(str(out), "")
    html = out.read_text(encoding="utf-8")
    assert "Where the objects that grew were allocated" in html and "grow.py:6" in html


def test_diff_total_is_the_whole_diffs(tmp_path):
    a, b = tmp_path / "a.snap", tmp_path / "b.snap"
    Snapshot([("x", 1, 10), ("y", 5, 50), ("z", 1, 8)], 1.0).save(a)
    Snapshot([("x", 3, 30), ("y", 6, 60), ("z", 2, 16)], 2.0).save(b)
    r = _run(["diff", str(a), str(b), "--top", "1"], tmp_path)
    assert r.returncode == 0, r.stderr
    rows = [l.split() for l in r.stdout.splitlines()[2:]]
    assert rows[0][:3] == ["x", "3", "+2"]
    assert rows[1] == ["(2", "other", "types)", "+2", "+18", "B"]
    assert rows[2] == ["total", "(all", "3", "types)", "+4", "+38", "B"]   # which total
    d = heaplens.load(str(b)).diff(heaplens.load(str(a)))
    top = d.top(1)
    # The API agrees with the command: top(n) keeps the whole total.
    assert (top.count_diff, top.size_diff) == (4, 38) == (d.count_diff, d.size_diff)
    assert top.other == (2, 2, 18)
    assert str(top).splitlines()[-1].split() == ["total", "(all", "3", "types)", "+4", "+38",
                                                 "B"]


def test_run_errors(tmp_path):
    r = _run(["run", str(tmp_path / "nope.py")], tmp_path)
    assert r.returncode == 2 and "no such script" in r.stderr
    r = _run(["run"], tmp_path)
    assert r.returncode == 2 and "give a script to run, or -m MODULE" in r.stderr
    r = _run(["run", "--interval", "0", "x.py"], tmp_path)
    assert r.returncode == 2 and "--interval must be positive" in r.stderr


def test_repl_shows_tracker_report_once():
    code = ("import heaplens\n"
            "t = heaplens.track()\n"
            "_ = t.start()\n"
            "x = [object() for _ in range(3)]\n"
            "_ = t.stop()\n"
            "t.report()\n")
    r = subprocess.run([sys.executable, "-i", "-q"], input=code, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("life p50") == 1, r.stdout
    assert "\\n" not in r.stdout and "'type" not in r.stdout
