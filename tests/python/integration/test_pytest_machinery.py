"""`pytest --leaks` against pytest's own machinery: each test file below has
a clean test and a leaking one using the same machinery; the clean one must
pass, the leaking one must be LEAKED with its holder named, and the silent
repetitions must leave no trace (reports, subtests, warnings, captured
output, log records, fixture finalizers) in what pytest shows."""

import re
import textwrap

import pytest

pytest_plugins = ["pytester"]

LEAKS = "--leaks=1:2"


def _run(pytester, src, *args, name="test_machinery"):
    pytester.makepyfile(**{name: textwrap.dedent(src)})
    # -v counts passed subtests in the summary (pytest >= 9).
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", "-v", *args)
    return r, r.stdout.str()


def _outcomes(out):
    """The counts of the final summary line, e.g. {'passed': 2, 'leaked': 1}."""
    line = out.strip().splitlines()[-1].strip("= ")
    line = re.sub(r" in [0-9.]+s.*$", "", line)
    counts = {}
    for part in line.split(", "):
        n, word = part.split(" ", 1)
        counts[word] = int(n)
    return counts


def _check_pair(pytester, src, *args, extra=None):
    """Plain and --leaks runs of ``src``: the summaries agree except that
    test_leaky is LEAKED (and so not passed)."""
    plain, pout = _run(pytester, src, *args)
    leaks, lout = _run(pytester, src, LEAKS, *args)
    po, lo = _outcomes(pout), _outcomes(lout)
    assert po.get("passed", 0) >= 2 and "failed" not in po, pout
    assert lo.get("leaked") == 1, lout
    assert "LEAKED test_machinery.py::test_leaky" in lout or \
        re.search(r"LEAKED test_machinery.py::\S+::test_leaky", lout), lout
    assert "dict['_keep']" in lout, lout
    expected = dict(po)
    expected["passed"] -= 1
    expected["leaked"] = 1
    assert lo == expected, (po, lo, lout)
    # only the leaky test
    assert sum(line.startswith("LEAKED ") for line in lout.splitlines()) == 1, lout
    return pout, lout


HEAD = '''
    import pytest
    _keep = []

    class Thing:
        pass
'''


def test_unittest_subtest(pytester):
    src = '''
        import unittest
        _keep = []

        class T(unittest.TestCase):
            def test_clean(self):
                for i in range(3):
                    with self.subTest(i=i):
                        self.assertEqual(i, i)

            def test_leaky(self):
                for i in range(3):
                    with self.subTest(i=i):
                        self.assertEqual(i, i)
                _keep.append(object())
    '''
    pout, lout = _check_pair(pytester, src)
    # pytest < 9 does not count unittest subtests; where it does, each once.
    po, lo = _outcomes(pout), _outcomes(lout)
    assert po.get("subtests passed") == lo.get("subtests passed"), (pout, lout)


def test_pytest_subtests_fixture(pytester):
    if int(pytest.__version__.split(".")[0]) < 9:
        pytest.skip("the subtests fixture is built into pytest from 9.0 on")
    src = HEAD + '''
    def test_clean(subtests):
        for i in range(3):
            with subtests.test(i=i):
                assert i == i

    def test_leaky(subtests):
        for i in range(3):
            with subtests.test(i=i):
                assert i == i
        _keep.append(Thing())

    def test_failing_subtest_counted_once(subtests):
        with subtests.test(i=0):
            assert False
    '''
    plain, pout = _run(pytester, src)
    leaks, lout = _run(pytester, src, LEAKS)
    po, lo = _outcomes(pout), _outcomes(lout)
    # The failing subtest and its test count as failed, each once.
    assert po.get("failed") == lo.get("failed") == 2, (pout, lout)
    assert lo.get("leaked") == 1 and lo.get("passed") == po.get("passed") - 1, lout
    assert "contains 1 failed subtest" in lout and "contains 2 failed" not in lout, lout
    assert "dict['_keep']" in lout


def test_tmp_path_and_factory(pytester):
    src = HEAD + '''
    def test_clean(tmp_path, tmp_path_factory):
        (tmp_path / "f.txt").write_text("x")
        d = tmp_path_factory.mktemp("data")
        assert d.exists()

    def test_leaky(tmp_path):
        _keep.append(Thing())
    '''
    _check_pair(pytester, src)


def test_function_fixture_over_wider_fixtures(pytester):
    src = HEAD + '''
    @pytest.fixture(scope="session")
    def sess():
        return {"session": True}

    @pytest.fixture(scope="module")
    def mod(sess):
        return {"module": sess}

    @pytest.fixture(scope="class")
    def klass(mod):
        return {"class": mod}

    @pytest.fixture
    def per_test(sess, mod, klass):
        yield [sess, mod, klass]

    def test_clean(per_test):
        assert len(per_test) == 3

    class TestInClass:
        def test_clean_in_class(self, per_test, klass):
            assert per_test[2] is klass

    def test_leaky(per_test):
        _keep.append(Thing())
    '''
    _check_pair(pytester, src)


def test_capture_and_logging(pytester):
    src = HEAD + '''
    import logging
    import os
    import sys

    def test_clean_capsys(capsys):
        print("MARK-OUT")
        assert capsys.readouterr().out == "MARK-OUT\\n"

    def test_clean_capfd(capfd):
        os.write(1, b"fd-out\\n")
        assert capfd.readouterr().out == "fd-out\\n"

    def test_clean_caplog(caplog):
        logging.getLogger("x").warning("MARK-LOG")
        assert [r.getMessage() for r in caplog.records] == ["MARK-LOG"]

    def test_clean_prints():
        print("PRINTED-ONCE")
        logging.getLogger("y").warning("LOGGED-ONCE")

    def test_leaky(capsys):
        print("LEAKY-PRINT")
        _keep.append(Thing())
    '''
    pout, lout = _check_pair(pytester, src)
    # -rA shows each passed test's captured sections: once, not per run.
    assert pout.count("PRINTED-ONCE") == lout.count("PRINTED-ONCE") == 1, lout
    assert pout.count("LOGGED-ONCE") == lout.count("LOGGED-ONCE") == 1, lout
    assert lout.count("LEAKY-PRINT") <= 1, lout


def test_warnings(pytester):
    src = HEAD + '''
    import warnings

    def test_clean_recwarn(recwarn):
        warnings.warn("rw", UserWarning)
        assert len(recwarn) == 1

    def test_clean_pytest_warns():
        with pytest.warns(DeprecationWarning):
            warnings.warn("old", DeprecationWarning)

    def test_clean_plain_warn():
        warnings.warn("plain warning", UserWarning)

    def test_leaky():
        warnings.warn("leaky warning", UserWarning)
        _keep.append(Thing())
    '''
    pout, lout = _check_pair(pytester, src)
    assert _outcomes(pout)["warnings"] == _outcomes(lout)["warnings"] == 2, lout
    assert lout.count("UserWarning: plain warning") == 1, lout


def test_monkeypatch(pytester):
    src = HEAD + '''
    import os

    def test_clean(monkeypatch):
        monkeypatch.setenv("HEAPLENS_X", "1")
        monkeypatch.setattr(os, "sep", "/")
        monkeypatch.setitem(os.environ, "HEAPLENS_Y", "2")
        assert os.environ["HEAPLENS_X"] == "1"

    def test_leaky(monkeypatch):
        monkeypatch.setenv("HEAPLENS_Z", "1")
        _keep.append(Thing())
    '''
    _check_pair(pytester, src)


def test_parametrize(pytester):
    src = HEAD + '''
    @pytest.mark.parametrize("n", [1, 2, 3])
    def test_clean(n):
        assert [0] * n

    @pytest.mark.parametrize("n", [1])
    def test_leaky(n):
        _keep.append(Thing())
    '''
    _check_pair(pytester, src)


def test_setup_method_classes(pytester):
    src = HEAD + '''
    class TestThings:
        def setup_method(self, method):
            self.data = [Thing() for _ in range(5)]

        def teardown_method(self, method):
            del self.data

        def test_clean(self):
            assert len(self.data) == 5

        def test_leaky(self):
            _keep.append(self.data[0])
    '''
    _check_pair(pytester, src)


def test_doctest_items(pytester):
    src = '''
    _keep = []
    BASE = 40

    def clean():
        """
        >>> BASE + 2
        42
        """

    def leaky():
        """
        >>> _keep.append([object()])
        >>> BASE
        40
        """
    '''
    pytester.makepyfile(docmod=textwrap.dedent(src))
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", "--doctest-modules",
                                      LEAKS, "docmod.py")
    out = r.stdout.str()
    assert _outcomes(out) == {"passed": 1, "leaked": 1}, out
    assert "LEAKED docmod.py::docmod.leaky" in out, out
    assert "dict['_keep']" in out, out


def test_under_xdist(pytester):
    pytest.importorskip("xdist", reason="pytest-xdist is a test dependency (pip install "
                        "pytest-xdist)")
    src = HEAD + '''
    import warnings

    @pytest.mark.parametrize("n", range(6))
    def test_clean(n, tmp_path, subtests_or_none):
        print("XDIST-PRINT")
        warnings.warn("xdist warning %d" % n)

    @pytest.fixture
    def subtests_or_none(request):
        return None

    def test_leaky():
        _keep.append(Thing())
    '''
    pout, lout = _check_pair(pytester, src, "-n", "2")
    assert _outcomes(lout).get("warnings") == 6, lout
