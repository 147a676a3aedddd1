"""The HTML reports and the Jupyter views render in a real browser
(headless Chromium): charts with hover values and lines that can be told
apart, checked on screenshots."""

import io
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

import heaplens

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# The browser is not ours to sanitize: drop the sanitizer preload if the
# suite runs under ASan (scripts/sanitize.sh).
ENV = {k: v for k, v in os.environ.items()
       if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONMALLOC")}

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian package 'chromium'; "
    "scripts/test.sh installs it where apt can)")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from PIL import Image
    HAVE_SELENIUM = True
except ImportError:  # pragma: no cover - the test extras install both
    HAVE_SELENIUM = False

needs_driver = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None or not HAVE_SELENIUM,
    reason="needs Chromium, its driver (Debian 'chromium-driver', installed by "
    "scripts/test.sh where apt can) and selenium + Pillow (the [test] extras)")


class Grows:
    pass


class AlsoGrows:
    pass


def _report(tmp_path, tracker=True):
    """A Monitor report of a run where two types grow alike (lines of
    similar size) and a lifetime section."""
    keep = []
    t = heaplens.track() if tracker else None
    if t is not None:
        t.start()
    with heaplens.Monitor(interval=0.05) as m:
        for i in range(6):
            keep.append([Grows() for _ in range(2000)])
            keep.append([AlsoGrows() for _ in range(1900)])
            keep.append([str(j) for j in range(3000)])
            time.sleep(0.06)
    if t is not None:
        t.stop()
    report = tmp_path / "report.html"
    m.report_html(report, tracker=t, top=10)
    if t is not None:
        t.clear()
    return report, m, keep


@needs_chromium
def test_report_renders_in_chromium(tmp_path):
    report, _m, _keep = _report(tmp_path)
    r = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--enable-logging=stderr", "--v=0", "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120, env=ENV)
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    assert "<svg" in dom and "polyline" in dom
    assert "Growth from first to last sample" in dom
    assert "Object lifetimes" in dom and dom.count('class="heaplens-chart"') == 4
    console = [l for l in r.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
    assert console == [], console
    shot = tmp_path / "shot.png"
    r = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--window-size=1100,1400", "--screenshot=%s" % shot, report.as_uri()],
        capture_output=True, text=True, timeout=120, env=ENV)
    assert r.returncode == 0 and shot.stat().st_size > 10_000


# ---- the charts, without a browser -------------------------------------------

MiB = 1 << 20


def _ticks(svg, cls):
    return re.findall(r'class="%s"[^>]*>([^<]*)<' % cls, svg)


def _byte_value(label):
    num, unit = label.split()
    return float(num.replace(",", "")) * 1024 ** ["B", "KiB", "MiB", "GiB", "TiB", "PiB"].index(
        unit)


def test_chart_ticks_are_round_and_fit_the_data():
    from heaplens._report import svg_chart
    # The case: data peaking near 11 MiB got ticks at 2.4/4.8/7.2
    # MiB and an axis to 19.1 MiB.
    pts = [(0.0, 1 * MiB), (1.0, 6 * MiB), (2.2, 11 * MiB)]
    svg = svg_chart([("list", pts)], ylabel="size")
    labels = _ticks(svg, "hl-ytick")
    values = [_byte_value(l) for l in labels]
    assert labels[0] == "0 MiB" and labels[-1] == "12 MiB", labels
    step = values[1] - values[0]
    assert step / MiB in (1, 2, 5, 10), labels
    assert all(abs(b - a - step) < 1 for a, b in zip(values, values[1:]))
    assert values[-1] >= 11 * MiB and values[-1] - 11 * MiB < step
    xs = _ticks(svg, "hl-xtick")
    assert xs[0] == "0.0 s" and xs[-1] == "2.5 s", xs
    # A large baseline with small growth: the axis does not start at zero.
    svg = svg_chart([("all", [(0.0, 100 * MiB), (1.0, 103 * MiB)])], ylabel="size")
    values = [_byte_value(l) for l in _ticks(svg, "hl-ytick")]
    assert values[0] <= 100 * MiB and values[0] > 90 * MiB and values[-1] >= 103 * MiB
    # Counts: 1/2/5 steps of plain numbers.
    svg = svg_chart([("n", [(0.0, 0), (1.0, 27_000)])], ylabel="objects")
    assert _ticks(svg, "hl-ytick") == ["0", "5,000", "10,000", "15,000", "20,000",
                                        "25,000", "30,000"]


def test_nice_ticks_units():
    from heaplens._format import nice_ticks, tick_labels
    assert tick_labels(nice_ticks(0, 700, bytes_=True), bytes_=True) == [
        "0 B", "200 B", "400 B", "600 B", "800 B"]
    assert tick_labels(nice_ticks(0, 5 * 1024, bytes_=True), bytes_=True)[-1] == "5 KiB"
    assert tick_labels(nice_ticks(10 * MiB, 10.5 * MiB, bytes_=True), bytes_=True) == [
        "10.0 MiB", "10.1 MiB", "10.2 MiB", "10.3 MiB", "10.4 MiB", "10.5 MiB"]
    assert tick_labels(nice_ticks(0, 0.7)) == ["0.0", "0.2", "0.4", "0.6", "0.8"]


def test_chart_lines_have_distinct_styles_and_hover_points():
    from heaplens._report import svg_chart
    series = [("type%d" % k, [(0.0, 1000 + k), (1.0, 2000 + k)]) for k in range(12)]
    svg = svg_chart(series, ylabel="size")
    styles = re.findall(r'<g class="hl-legend" data-series="([^"]*)" data-marker="([^"]*)">\s*'
                        r'(?:<line[^>]*/>\s*)?<line[^>]*stroke="([^"]*)"[^>]*?'
                        r'(?: stroke-dasharray="([^"]*)")?/>', svg)
    assert len(styles) == 12
    assert len({s[1:] for s in styles}) == 12         # (marker, colour, dash) all differ
    assert svg.count('class="hl-pt"') == 24           # a hover point per sample
    assert "<title>type3: 2.0 KiB (2,003 B) at 1.0 s</title>" in svg


# ---- in the browser: hover and legend on screenshots --------------------------

@pytest.fixture
def driver():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1200,1600", "--force-device-scale-factor=1"):
        opts.add_argument(a)
    service = Service(executable_path=CHROMEDRIVER, env=ENV)
    d = webdriver.Chrome(service=service, options=opts)
    try:
        yield d
    finally:
        d.quit()


def _png(data):
    return Image.open(io.BytesIO(data)).convert("RGB")


def _hex(c):
    return tuple(int(c[i:i + 2], 16) for i in (1, 3, 5))


def _has_colour(img, rgb, tol=40):
    w, h = img.size
    px = img.load()
    for y in range(h):
        for x in range(w):
            p = px[x, y]
            if all(abs(p[i] - rgb[i]) <= tol for i in range(3)):
                return True
    return False


RUN_SCRIPT = """
import time
class Grows: pass
class AlsoGrows: pass
keep = []
for i in range(6):
    keep.append([Grows() for _ in range(3000)])
    keep.append([AlsoGrows() for _ in range(2900)])   # a line close to Grows'
    time.sleep(0.08)
"""


@needs_driver
def test_hover_shows_values_and_legend_is_distinguishable(tmp_path, driver):
    """The report of ``python -m heaplens run``, in Chromium."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    script = tmp_path / "grows.py"
    script.write_text(RUN_SCRIPT)
    report, snaps = tmp_path / "report.html", tmp_path / "snaps"
    r = subprocess.run([sys.executable, "-m", "heaplens", "run", "--interval", "0.05",
                        "--track", "--snapshots", str(snaps), "-o", str(report), str(script)],
                       capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    # The exact sizes of each type at each sample, from the saved samples.
    sizes = {}
    for f in sorted(os.listdir(str(snaps))):
        for row in heaplens.load(str(snaps / f)).rows:
            sizes.setdefault(row.type_name, set()).add(row.size)
    driver.get(report.as_uri())
    driver.save_screenshot(str(tmp_path / "report.png"))
    chart = driver.find_elements(By.CSS_SELECTOR, "svg.heaplens-chart")[0]
    before = _png(chart.screenshot_as_png)
    before.save(str(tmp_path / "chart.png"))

    # Hover: a point of the Grows line shows a series' name, exact size and
    # time (the point drawn on top, where two lines' points overlap).
    names = [e.get_attribute("data-series")
             for e in chart.find_elements(By.CSS_SELECTOR, "g.hl-legend")]
    assert "__main__.Grows" in names and "__main__.AlsoGrows" in names, names
    points = chart.find_elements(By.CSS_SELECTOR, "g.hl-pt")
    titles = [p.find_element(By.CSS_SELECTOR, "title").get_attribute("textContent")
              for p in points]
    mine = [i for i, t in enumerate(titles) if t.startswith("__main__.Grows: ")]
    assert len(mine) >= 3
    assert not any(p.find_element(By.CSS_SELECTOR, "g.hl-tip").is_displayed() for p in points)
    hit = points[mine[len(mine) // 2]].find_element(By.CSS_SELECTOR, "circle.hl-hit")
    ActionChains(driver).move_to_element(hit).perform()
    shown = [(p, t) for p, t in zip(points, titles)
             if p.find_element(By.CSS_SELECTOR, "g.hl-tip").is_displayed()]
    assert len(shown) == 1
    point, title = shown[0]
    tip = point.find_element(By.CSS_SELECTOR, "g.hl-tip")
    assert tip.text == title
    m = re.fullmatch(r"(\S+): \d+(?:\.\d)? [KMG]iB \(([\d,]+) B\) at \d+\.\d s", title)
    assert m and int(m.group(2).replace(",", "")) in sizes[m.group(1)], (title, sizes.get(
        m.group(1) if m else None))
    after = _png(chart.screenshot_as_png)
    after.save(str(tmp_path / "chart-hover.png"))
    box = tip.find_element(By.CSS_SELECTOR, "rect")
    loc, size = box.location, box.size
    cloc = chart.location
    crop = (int(loc["x"] - cloc["x"]), int(loc["y"] - cloc["y"]),
            int(loc["x"] - cloc["x"] + size["width"]), int(loc["y"] - cloc["y"] + size["height"]))
    # The tip's pale box appears on the screenshot where it was not before.
    assert _has_colour(after.crop(crop), _hex("#ffffe8"), tol=3)
    assert not _has_colour(before.crop(crop), _hex("#ffffe8"), tol=3)

    # The legend: one entry per line, entries apart from each other, each
    # drawn in its own colour with its own marker, visible on the screenshot.
    entries = chart.find_elements(By.CSS_SELECTOR, "g.hl-legend")
    assert len(entries) == len(names) == 8
    boxes = []
    for e in entries:
        text = e.find_element(By.CSS_SELECTOR, "text")
        r = driver.execute_script("var b = arguments[0].getBoundingClientRect();"
                                  "return [b.top, b.bottom];", text)
        boxes.append(r)
    boxes.sort()
    assert all(a[1] <= b[0] + 1 for a, b in zip(boxes, boxes[1:])), boxes
    markers = [e.get_attribute("data-marker") for e in entries]
    colours = [e.find_element(By.CSS_SELECTOR, "text").get_attribute("fill") for e in entries]
    assert len(set(zip(markers, colours))) == 8 and len(set(colours)) == 8
    for e, colour in zip(entries, colours):
        shot = _png(e.screenshot_as_png)
        assert _has_colour(shot, _hex(colour), tol=30), colour
    # The run's --track table is in the report too.
    assert "Where the objects that grew were allocated" in driver.page_source
    assert "grows.py:7" in driver.page_source


# ---- Jupyter views -------------------------------------------------------------

class Leaky:
    pass


_LEAKED = []


def _leak():
    _LEAKED.append(Leaky())


@needs_driver
def test_repr_html_of_every_result_renders(tmp_path, driver):
    from selenium.webdriver.common.by import By
    before = heaplens.snapshot()
    keep = [Grows() for _ in range(300)]
    after = heaplens.snapshot()
    diff = after.diff(before)
    with heaplens.track() as t:
        made = [AlsoGrows() for _ in range(50)]
    asz = heaplens.asized({"a": [1000, 2000], "b": "xyz"}, detail=2)
    rep = heaplens.check_leaks(_leak, warmups=1, runs=2)
    chain = heaplens.why_alive(_LEAKED[0])
    objs = {"snapshot": after, "diff": diff.top(3), "asized": asz, "tracker": t,
            "leaks": rep, "chain": chain}
    page = ["<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"]
    for k, o in objs.items():
        assert hasattr(o, "_repr_html_"), k
        page.append("<div id='%s'>%s</div>" % (k, o._repr_html_()))
    page.append("</body></html>")
    path = tmp_path / "notebook.html"
    path.write_text("\n".join(page), encoding="utf-8")
    driver.get(path.as_uri())
    text = {k: driver.find_element(By.ID, k).text for k in objs}
    driver.save_screenshot(str(tmp_path / "notebook.png"))

    def rows_of(table_text):
        return [l.split() for l in table_text.splitlines()]

    # The tables carry the same cells as the printed tables.
    for k, printed in (("snapshot", after.format()), ("diff", diff.top(3).format()),
                       ("tracker", t.format())):
        shown = rows_of(text[k])
        for line in printed.splitlines()[2:]:   # below the header and the rule
            if line.startswith(("...", "(")) or "alive in" in line:
                continue
            assert line.split() in shown, (k, line, text[k])
    assert "(%s other types)" % "{:,}".format(len(diff) - 3) in text["diff"]
    assert "Grows" in text["diff"].splitlines()[2]
    # The asized tree: every node, nested.
    lines = text["asized"].splitlines()

    def shown(a):
        return "%s %s (flat %s)" % (a.name, heaplens.human_size(a.size),
                                    heaplens.human_size(a.flat))
    assert lines[1] == shown(asz)
    for ref in asz.refs:
        assert shown(ref) in lines
    assert shown(asz.get("[V] a: [1000, 2000]").refs[0]) in lines   # two levels down
    assert driver.execute_script(
        "return document.querySelectorAll('#asized ul ul li').length") >= 4
    assert "Leaky" in text["leaks"] and "held by" in text["leaks"]
    assert "_LEAKED" in text["chain"] and "\u2192" in text["chain"]
    del keep, made
    _LEAKED.clear()
    t.clear()
