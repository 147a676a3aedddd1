"""``python -m heaplens show heap.hld``: the printed tables, the errors, and
the HTML report - self-contained, small on a big dump, and working when
clicked in headless Chromium (sorting, the dominator tree, paths to a
root)."""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

import heaplens
from heaplens.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ENV = {k: v for k, v in os.environ.items()
       if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONMALLOC")}
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    HAVE_SELENIUM = True
except ImportError:  # pragma: no cover - the test extras install it
    HAVE_SELENIUM = False

needs_driver = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None or not HAVE_SELENIUM,
    reason="needs Chromium, its driver (Debian 'chromium-driver', installed by "
    "scripts/test.sh where apt can) and selenium (the [test] extras)")

# The dumped heap: a child process whose module-level dict HOLDER holds a
# list of 5,000 ShowProbe instances (and, for the size test, 200,000 more
# small objects). It prints the ids the tests look for.
CHILD = textwrap.dedent("""
    import json, sys
    import heaplens

    class ShowProbe:
        def __init__(self, k):
            self.k = k

    HOLDER = {"probes": [ShowProbe(k) for k in range(5000)]}
    if int(sys.argv[2]):
        MANY = [ShowProbe(k) for k in range(int(sys.argv[2]))]
    heaplens.dump(sys.argv[1])
    print(json.dumps({"holder": id(HOLDER), "probes": id(HOLDER["probes"]),
                      "first": id(HOLDER["probes"][0])}))
""")


def _make_dump(path, extra=0):
    r = subprocess.run([sys.executable, "-c", CHILD, str(path), str(extra)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def probe_dump(tmp_path_factory):
    path = tmp_path_factory.mktemp("show") / "heap.hld"
    ids = _make_dump(path)
    return path, ids


def _cli(*args):
    """Run the command in a child, as a user would: exit status, stdout, stderr."""
    r = subprocess.run([sys.executable, "-m", "heaplens", "show"] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


# ---- the text output -----------------------------------------------------------

def _section(out, title):
    return out.split(title, 1)[1].split("\n\n", 1)[0]


def test_text_lists_the_holder_and_the_type(probe_dump):
    path, ids = probe_dump
    rc, out, err = _cli(path, "-n", "8")
    assert rc == 0, err
    d = heaplens.open_dump(path)
    assert out.startswith("%s: %s objects" % (path, "{:,}".format(len(d))))
    top = _section(out, "Top 8 retainers")
    lines = top.strip().splitlines()
    assert lines[1].startswith("id ") and len(lines) == 2 + 8 + 1, top  # title, head, rule, 8
    holder_rows = [l for l in lines if l.startswith("%#x " % ids["probes"])]
    assert len(holder_rows) == 1, top
    row = holder_rows[0].split()
    assert row[1] == "list"
    # the retained column is the list's retained size, formatted like the CLI's sizes
    assert " ".join(row[4:6]) == heaplens.human_size(d.retained_size(ids["probes"]))
    # aligned: every row's retained column ends at the header's
    head = lines[1]
    end = head.index("retained") + len("retained")
    assert all(len(l) >= end and l[end - 1] != " " for l in lines[3:])
    types = _section(out, "By type")
    probe = [l for l in types.splitlines() if l.startswith("__main__.ShowProbe ")]
    assert len(probe) == 1 and probe[0].split()[1] == "5,000", types
    assert types.strip().splitlines()[-1].startswith("total")


def test_top_option_counts_rows(probe_dump):
    path, _ids = probe_dump
    rc, out, err = _cli(path, "--top", "3", "--types", "4")
    assert rc == 0, err
    assert len(_section(out, "Top 3 retainers").strip().splitlines()) == 2 + 3 + 1
    types = _section(out, "By type").strip().splitlines()
    assert types[-2].startswith("(") and "other types" in types[-2]
    assert len(types) == 1 + 2 + 4 + 2


def test_errors_are_messages_not_tracebacks(tmp_path, probe_dump):
    rc, out, err = _cli(tmp_path / "missing.hld")
    assert rc == 2 and "Traceback" not in err and "missing.hld" in err, err
    assert err.startswith("heaplens show: ")
    junk = tmp_path / "junk.hld"
    junk.write_bytes(b"this is not a heap dump\n" * 10)
    with pytest.raises(heaplens.DumpFormatError) as info:
        heaplens.open_dump(junk)
    rc, out, err = _cli(junk)
    assert rc == 2 and "Traceback" not in err
    assert err.strip() == "heaplens show: %s" % info.value
    cut = tmp_path / "cut.hld"
    cut.write_bytes(probe_dump[0].read_bytes()[:5000])
    rc, out, err = _cli(cut)
    assert rc == 2 and "Traceback" not in err and err.startswith("heaplens show: "), err
    rc, out, err = _cli(probe_dump[0], "-n", "-1")
    assert rc == 2 and "--top must be >= 0" in err
    rc, out, err = _cli(probe_dump[0], "--html", tmp_path / "no-such-dir" / "r.html")
    assert rc == 2 and "cannot write" in err and "Traceback" not in err


def test_reader_that_stops_early(probe_dump):
    """``show heap.hld | head``: the closed pipe is no traceback."""
    p = subprocess.Popen([sys.executable, "-m", "heaplens", "show", str(probe_dump[0])],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()           # before the child has loaded the dump and printed
    err = p.stderr.read().decode()
    assert p.wait(timeout=300) == 0 and "Traceback" not in err, err


def test_in_process_main(probe_dump, capsys):
    path, ids = probe_dump
    assert main(["show", str(path), "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert "Top 2 retainers" in out and "__main__.ShowProbe" in out


# ---- the HTML report, without a browser -----------------------------------------

def _html(tmp_path, dump, *args):
    report = tmp_path / "report.html"
    rc, out, err = _cli(dump, "--html", report, *args)
    assert rc == 0, err
    assert "wrote %s" % report in out
    return report.read_text(encoding="utf-8")


def _data(page):
    m = re.search(r'<script type="application/json" id="hl-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def test_html_is_self_contained(tmp_path, probe_dump):
    page = _html(tmp_path, probe_dump[0])
    # The dumped strs may contain URLs (a docstring's link): as text in the
    # JSON data block, never fetched. Outside it, no URL at all.
    data = re.search(r'<script type="application/json" id="hl-data">.*?</script>', page, re.S)
    markup = page[:data.start()] + page[data.end():]
    assert not re.search(r"https?:", markup, re.I), re.search(r".{40}https?:.{40}", markup, re.I)
    assert not re.search(r"\b(src|href|srcset|action|xmlns)\s*=", markup, re.I)
    assert not re.search(r"<(link|img|iframe|object|embed|base)\b", markup, re.I)
    assert "@import" not in markup and "url(" not in markup
    assert "<" not in data.group(0)[len('<script type="application/json" id="hl-data">'):
                                   -len("</script>")]
    assert page.count("<script") == 2  # the data and the code, both inline
    # The rule is stated in the page.
    assert "at least 0.1% of the heap" in page


def test_html_tree_data_is_the_dominator_tree(tmp_path, probe_dump):
    path, ids = probe_dump
    data = _data(_html(tmp_path, path))
    nodes = data["tree"]["nodes"]
    d = heaplens.open_dump(path)
    by_id = {n[0]: k for k, n in enumerate(nodes) if k}
    lst = nodes[by_id["%#x" % ids["probes"]]]
    # Every child is immediately dominated by its parent, largest first.
    for k, n in enumerate(nodes):
        kids = [nodes[c] for c in n[5]]
        for c in kids:
            idom = d.immediate_dominator(int(c[0], 16))
            assert (idom is None) if k == 0 else (idom == int(n[0], 16)), (n[:2], c[:2])
            assert c[3] == d.retained_size(int(c[0], 16))
    # Under the list: 5 ShowProbes as leaves, the other 4,995 on one line,
    # and the bytes add up to the list's retained size.
    kids = [nodes[c] for c in lst[5]]
    assert [c[1] for c in kids] == ["__main__.ShowProbe"] * 5
    assert [c[3] for c in kids] == sorted((c[3] for c in kids), reverse=True)
    assert lst[6] == 4995 and "4,995 __main__.ShowProbe" in lst[8]
    assert lst[2] + sum(c[3] for c in kids) + lst[7] == lst[3] == d.retained_size(ids["probes"])
    # The virtual root's children and rest add up to the whole heap.
    root = nodes[0]
    assert sum(nodes[c][3] for c in root[5]) + root[7] == root[3] == sum(
        r.size for r in d.by_type())
    # Paths: every row has one, from HeapDump.path_to_root.
    assert data["paths"]["%#x" % ids["probes"]] == str(d.path_to_root(ids["probes"]))
    assert "dict['HOLDER']" in data["paths"]["%#x" % ids["probes"]]


def test_html_stays_small_on_a_big_dump(tmp_path):
    """200,000 small objects (plus the 5,000): the page stays under 400 KB
    (the tables, the paths of their rows and at most 2,000 tree nodes with
    5 leaves each; measured 44 KB on CPython 3.11.7)."""
    big = tmp_path / "big.hld"
    ids = _make_dump(big, 200_000)
    d = heaplens.open_dump(big)
    assert len(d) > 200_000
    page = _html(tmp_path, big)
    size = len(page.encode("utf-8"))
    assert size < 400_000, size
    nodes = _data(page)["tree"]["nodes"]
    assert len(nodes) <= 1 + 2000 * 6
    many = [n for n in nodes if n[6] >= 199_000]
    assert len(many) == 1 and "__main__.ShowProbe" in many[0][8], [n[:2] for n in nodes[:20]]
    assert "%#x" % ids["probes"] in page


# ---- in the browser: clicking ----------------------------------------------------

@pytest.fixture
def driver():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1200,1600"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER, env=ENV), options=opts)
    try:
        yield d
    finally:
        d.quit()


def _column(drv, table, col):
    from selenium.webdriver.common.by import By
    return [tr.find_elements(By.TAG_NAME, "td")[col].get_attribute("data-v") or
            tr.find_elements(By.TAG_NAME, "td")[col].text
            for tr in drv.find_elements(By.CSS_SELECTOR, "table.%s tbody tr[data-id]" % table)]


@needs_driver
def test_clicking_sorts_expands_and_shows_paths(tmp_path, probe_dump, driver):
    from selenium.webdriver.common.by import By
    path, ids = probe_dump
    _html(tmp_path, path)
    driver.get((tmp_path / "report.html").as_uri())
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] \
        if hasattr(driver, "get_log") else []
    assert errors == [], errors

    # Sorting: the retainers come largest retained first; clicking "size"
    # orders them by size, descending, then ascending.
    ret = [int(v) for v in _column(driver, "hl-retainers", 3)]
    assert ret == sorted(ret, reverse=True)
    before = [int(v) for v in _column(driver, "hl-retainers", 2)]
    assert before != sorted(before, reverse=True)  # so that the click can show
    head = driver.find_elements(By.CSS_SELECTOR, "table.hl-retainers th")[2]
    head.click()
    assert [int(v) for v in _column(driver, "hl-retainers", 2)] == sorted(before, reverse=True)
    head.click()
    assert [int(v) for v in _column(driver, "hl-retainers", 2)] == sorted(before)
    driver.find_elements(By.CSS_SELECTOR, "table.hl-types th")[0].click()  # by name
    names = _column(driver, "hl-types", 0)
    assert names == sorted(names, reverse=True) or names == sorted(names)
    assert "__main__.ShowProbe" in names

    # A row's path to a root names the holder.
    row = driver.find_element(By.CSS_SELECTOR,
                              'table.hl-retainers tr[data-id="%#x"]' % ids["probes"])
    row.click()
    box = driver.find_element(By.ID, "hl-path")
    assert "dict['HOLDER']" in box.text and "module __main__" in box.text, box.text
    assert box.get_attribute("data-id") == "%#x" % ids["probes"]
    # shown under the clicked row
    assert driver.execute_script(
        "return arguments[0].closest('tr').previousElementSibling.getAttribute('data-id')",
        box) == "%#x" % ids["probes"]
    driver.find_element(By.CSS_SELECTOR, 'table.hl-types tr[data-what="largest '
                        '__main__.ShowProbe"]').click()
    assert "dict['HOLDER']" in box.text and box.text.rstrip().endswith(
        "<__main__.ShowProbe>"), box.text

    # The tree: expand the dominators of the list from the top, then the
    # list itself: its ShowProbe children appear.
    d = heaplens.open_dump(path)
    chain = [ids["probes"]]
    while d.immediate_dominator(chain[-1]) is not None:
        chain.append(d.immediate_dominator(chain[-1]))
    sel = 'li[data-id="%#x"] > span.hl-node'
    assert driver.find_elements(By.CSS_SELECTOR, sel % ids["probes"]) == []  # not yet built
    for obj in reversed(chain):
        driver.find_element(By.CSS_SELECTOR, sel % obj).click()
    li = driver.find_element(By.CSS_SELECTOR, 'li[data-id="%#x"]' % ids["probes"])
    kids = li.find_elements(By.CSS_SELECTOR, ":scope > ul > li")
    assert len(kids) == 6, [k.text for k in kids]
    assert all("__main__.ShowProbe" in k.text for k in kids[:5])
    assert kids[5].text.startswith("4,995 smaller objects,") and "ShowProbe" in kids[5].text
    assert kids[0].is_displayed()
    # Clicking again folds it.
    driver.find_element(By.CSS_SELECTOR, sel % ids["probes"]).click()
    assert not kids[0].is_displayed()
    # A tree node with a recorded path shows it under the node.
    assert box.find_element(By.XPATH, "..").get_attribute("data-id") == "%#x" % ids["probes"]
    assert "dict['HOLDER']" in box.text
    # Sorting after a click leaves no path row among the sorted rows.
    driver.find_elements(By.CSS_SELECTOR, "table.hl-retainers th")[3].click()
    rows = driver.find_elements(By.CSS_SELECTOR, "table.hl-retainers tbody tr")
    assert all(r.get_attribute("data-id") for r in rows)


def test_html_layer_imports_no_analysis_module():
    """_dump_html renders plain data: it imports the formatting helpers only
    (the package is being made acyclic)."""
    import ast
    import heaplens._dump_html as mod
    tree = ast.parse(open(mod.__file__, encoding="utf-8").read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module)
    assert {n for n in names if n.startswith("heaplens")} == {"heaplens._format"}, names
