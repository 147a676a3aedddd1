"""The HTML report renders in a real browser (headless Chromium)."""

import os
import shutil
import subprocess
import time

import pytest

import heaplens

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The browser is not ours to sanitize: drop the sanitizer preload if the
# suite runs under ASan (scripts/sanitize.sh).
ENV = {k: v for k, v in os.environ.items()
       if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONMALLOC")}


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package "
                    "'chromium'; scripts/setup.sh installs it where apt can)")
def test_report_renders_in_chromium(tmp_path):
    keep = []
    with heaplens.track() as t, heaplens.Monitor(interval=0.05) as m:
        for i in range(4):
            keep.append([str(j) for j in range(5000)])
            time.sleep(0.06)
    report = tmp_path / "report.html"
    m.report_html(report, tracker=t)
    r = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--enable-logging=stderr", "--v=0", "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120, env=ENV)
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    assert "<svg" in dom and "polyline" in dom and "heaplens-chart" in dom
    assert "Growth from first to last sample" in dom
    assert "Object lifetimes" in dom and dom.count("heaplens-chart") == 4
    console = [l for l in r.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
    assert console == [], console
    shot = tmp_path / "shot.png"
    r = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--window-size=1100,1400", "--screenshot=%s" % shot, report.as_uri()],
        capture_output=True, text=True, timeout=120, env=ENV)
    assert r.returncode == 0 and shot.stat().st_size > 10_000
