"""The pytest plugin, run in a separate pytest process on example tests."""

import os
import subprocess
import sys
import textwrap

import pytest

EXAMPLE = textwrap.dedent('''
    import unittest
    import pytest

    _registry = []
    SETUPS = []

    class Widget:
        pass

    def test_leaks_widgets():
        _registry.append(Widget())

    def test_clean():
        tmp = [Widget() for _ in range(50)]
        assert len(tmp) == 50

    @pytest.mark.leaks_ok(reason="a known leak, tracked elsewhere")
    def test_opted_out():
        _registry.append(Widget())

    @pytest.fixture(scope="module")
    def module_resource():
        SETUPS.append("module")
        return object()

    @pytest.fixture
    def per_test():
        SETUPS.append("setup")
        yield [1, 2]
        SETUPS.append("teardown")

    def test_fixtures(module_resource, per_test):
        assert per_test == [1, 2]

    class TestCaseStyle(unittest.TestCase):
        def test_unittest_leak(self):
            _registry.append({"k": Widget()})

    def test_leak_check_fixture(leak_check):
        leak_check(lambda: [0] * 100)

    def test_leak_check_fixture_block(leak_check):
        with leak_check:
            tmp = {"a": [1, 2, 3]}
            del tmp
''')


def _run(tmp_path, *args, source=EXAMPLE):
    (tmp_path / "test_example.py").write_text(source)
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    # (a basetemp of its own: an inner session would otherwise prune the
    # outer one's temporary directories, in use by the other xdist worker)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "--basetemp", str(tmp_path / "basetemp"),
                           "-rA", *args, str(tmp_path / "test_example.py")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600, env=env)


def test_leaks_option_flags_leaking_tests(tmp_path):
    r = _run(tmp_path, "--leaks")
    out = r.stdout
    assert r.returncode == 1, out
    assert "LEAKED test_example.py::test_leaks_widgets - test_example.Widget +1/1/1" in out
    assert "LEAKED test_example.py::TestCaseStyle::test_unittest_leak" in out
    assert "2 leaked" in out.splitlines()[-1] and "failed" not in out.splitlines()[-1]
    # The report in the test's section names the holder.
    assert "module test_example -> dict['_registry'] -> list[" in out
    assert "test_opted_out" in out and "LEAKED test_example.py::test_opted_out" not in out


def test_function_fixtures_repeat_and_module_fixtures_do_not(tmp_path):
    src = EXAMPLE + textwrap.dedent('''
        def test_zz_counts():
            assert SETUPS.count("module") == 1, SETUPS
            # The screen: 1 warm-up + 1 or 2 counted runs, then the reported
            # run; when the screen sees growth in both (SETUPS itself grows,
            # and takes new blocks as it does), 1 settling run and 2 full
            # counted runs more.
            n = SETUPS.count("setup")
            assert n in (3, 4, 7) and SETUPS.count("teardown") == n, SETUPS
    ''')
    r = _run(tmp_path, "--leaks=1:2", "-k", "fixtures or zz_counts", source=src)
    assert r.returncode == 0, r.stdout
    assert "2 passed" in r.stdout


def test_markers_without_the_option(tmp_path):
    src = EXAMPLE.replace("def test_leaks_widgets", "@pytest.mark.no_leaks(warmups=1, runs=2)\n"
                          "def test_leaks_widgets")
    r = _run(tmp_path, source=src)
    assert r.returncode == 1
    assert "LEAKED test_example.py::test_leaks_widgets - test_example.Widget +1/1" in r.stdout
    # Without --leaks only the marked test is checked.
    assert "test_unittest_leak PASSED" in r.stdout or "PASSED test_example.py::TestCaseStyle" \
        in r.stdout


def test_bad_option(tmp_path):
    r = _run(tmp_path, "--leaks=three")
    assert r.returncode != 0
    assert "--leaks takes W:R" in r.stderr + r.stdout


def test_under_xdist(tmp_path):
    pytest.importorskip("xdist", reason="pytest-xdist is a test dependency (pip install "
                        "pytest-xdist)")
    r = _run(tmp_path, "--leaks", "-n", "2")
    assert r.returncode == 1, r.stdout
    assert "LEAKED test_example.py::test_leaks_widgets" in r.stdout
    assert "2 leaked" in r.stdout.splitlines()[-1]
