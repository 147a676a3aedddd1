"""Every example in README.md and docs/*.md runs, and gives what the page
shows, so the documentation cannot go stale.

- ``python`` blocks with ``>>>`` prompts are doctests. They run on the
  CPython their figures were measured on (3.11: object sizes differ from
  one version to the next), as ``__main__`` in a fresh module (so that
  ``why_alive`` reads like a REPL's), with ELLIPSIS. Figures that depend on
  the machine or on everything else in the process (counts of the whole
  heap, addresses) are written ``...`` in the page, and the block says so
  with ``# doctest: +ELLIPSIS`` (+NORMALIZE_WHITESPACE for tables whose
  column widths follow them).
- ``python`` blocks without prompts are sketches around the reader's own
  code (``run_the_program()``): on every version they must compile and every
  ``heaplens.name`` they use must exist.
- Command output shown in plain blocks is checked by a test of its own
  where the command is deterministic (``python -m heaplens demo``).
"""

import doctest
import glob
import os
import re
import subprocess
import sys
import textwrap
import types

import pytest

import heaplens

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PAGES = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
MEASURED_ON = (3, 11)
# Fences may be indented (a block inside a list item).
FENCE = re.compile(r"^([ \t]*)```(\w*)[^\n]*\n(.*?)^\1```[ \t]*$", re.M | re.S)


def blocks(path, lang):
    """(first line number, text) of each fenced block of ``lang``."""
    text = open(path, encoding="utf-8").read()
    out = []
    for m in FENCE.finditer(text):
        if m.group(2) == lang:
            out.append((text.count("\n", 0, m.start(3)) + 1, textwrap.dedent(m.group(3))))
    return out


def _name(path):
    return os.path.relpath(path, ROOT)


def _doctest_pages():
    return [p for p in PAGES if any(">>> " in b for _, b in blocks(p, "python"))]


def test_every_prompt_is_in_a_python_block():
    # A '>>>' outside a python block would be skipped by the runner below.
    for p in PAGES:
        text = open(p, encoding="utf-8").read()
        inside = sum(b.count("\n>>> ") + b.startswith(">>> ") for _, b in blocks(p, "python"))
        total = len(re.findall(r"^[ \t]*>>> ", text, re.M))
        assert inside == total, "%s: %d of %d prompts outside ```python blocks" % (
            _name(p), total - inside, total)


def run_page_doctests(path):
    """Run the page's prompts as one doctest in a fresh ``__main__``;
    returns (failures, tried, output)."""
    parser = doctest.DocTestParser()
    examples = []
    for line, text in blocks(path, "python"):
        if ">>> " not in text:
            continue
        for ex in parser.get_examples(text):
            ex.lineno += line - 1
            examples.append(ex)
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = __builtins__
    test = doctest.DocTest(examples, {}, _name(path), path, 0, None)
    test.globs = main.__dict__      # DocTest copies the dict it is given
    out = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    old_main = sys.modules["__main__"]
    sys.modules["__main__"] = main
    try:
        runner.run(test, out=out.append, clear_globs=False)
    finally:
        sys.modules["__main__"] = old_main
        main.__dict__.clear()
    r = runner.summarize(verbose=False)
    return r.failed, r.attempted, "".join(out)


@pytest.mark.skipif(sys.version_info[:2] != MEASURED_ON,
                    reason="the figures in the docs are measured on CPython 3.11; sizes "
                    "differ on other versions")
@pytest.mark.parametrize("path", _doctest_pages(), ids=_name)
def test_page_examples(path, capsys):
    failures, tried, output = run_page_doctests(path)
    assert tried > 0
    assert failures == 0, output


def test_pages_with_examples_are_found():
    names = {_name(p) for p in _doctest_pages()}
    assert {"README.md", os.path.join("docs", "semantics.md"),
            os.path.join("docs", "snapshots.md")} <= names


@pytest.mark.parametrize("path", PAGES, ids=_name)
def test_sketches_compile_and_name_real_api(path):
    for line, text in blocks(path, "python"):
        if ">>> " in text:
            continue
        compile(text, "%s:%d" % (_name(path), line), "exec")
        for name in re.findall(r"\bheaplens\.(\w+)", text):
            assert hasattr(heaplens, name), "%s:%d uses heaplens.%s" % (_name(path), line, name)


def test_readme_demo_output_is_the_demos():
    readme = os.path.join(ROOT, "README.md")
    text = open(readme, encoding="utf-8").read()
    m = re.search(r"`python -m heaplens demo` prints \(CPython (\d+)\.(\d+)\):\n\n```\n(.*?)```",
                  text, re.S)
    assert m, "the README's demo block moved"
    if sys.version_info[:2] != (int(m.group(1)), int(m.group(2))):
        pytest.skip("the README's demo output is measured on CPython %s.%s"
                    % (m.group(1), m.group(2)))
    r = subprocess.run([sys.executable, "-m", "heaplens", "demo"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for line in m.group(3).splitlines():
        assert line in r.stdout.splitlines(), line
