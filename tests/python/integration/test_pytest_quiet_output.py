"""`pytest --leaks` with output that reaches the terminal: under ``-s``
(print, writes to file descriptor 1, a subprocess's output) and under
``log_cli=true`` or ``log_file`` (log records), only the final run of a
test reports; the silent repetitions write nothing (issue 10, item 1)."""

import textwrap

import pytest

pytest_plugins = ["pytester"]

SRC = '''
    import logging
    import os
    import subprocess
    import sys

    _keep = []
    log = logging.getLogger("machinery")

    def test_clean():
        print("PRINT-clean")
        sys.stderr.write("STDERR-clean\\n")
        os.write(1, b"FD-clean\\n")
        log.warning("LOG-clean")

    def test_leaky():
        _keep.append(object())
        print("PRINT-leaky")
        log.warning("LOG-leaky")

    def test_subprocess():
        subprocess.run([sys.executable, "-c", "print('CHILD-out')"], check=True)
'''


def _run(pytester, *args):
    pytester.makepyfile(test_quiet=textwrap.dedent(SRC))
    r = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    return r.stdout.str() + r.stderr.str()


def _count(out, word):
    return out.count(word)


@pytest.mark.parametrize("leaks", ["--leaks=1:2", "--leaks"])
def test_dash_s_shows_each_tests_output_once(pytester, leaks):
    plain = _run(pytester, "-s")
    out = _run(pytester, "-s", leaks)
    for word in ("PRINT-clean", "STDERR-clean", "FD-clean", "PRINT-leaky", "CHILD-out"):
        assert _count(plain, word) == 1, (word, plain)
        assert _count(out, word) == 1, (word, out)
    assert "1 leaked" in out and "2 passed" in out, out


def test_capture_sys_shows_fd_output_once(pytester):
    plain = _run(pytester, "--capture=sys")
    out = _run(pytester, "--capture=sys", "--leaks=1:2")
    for word in ("FD-clean", "CHILD-out"):
        assert _count(plain, word) == _count(out, word) == 1, (word, out)


def test_log_cli_shows_each_record_once(pytester):
    args = ("-o", "log_cli=true", "-o", "log_cli_level=WARNING")
    plain = _run(pytester, *args)
    out = _run(pytester, *args, "--leaks=1:2")
    for word in ("LOG-clean", "LOG-leaky"):
        assert _count(plain, word) == 1, (word, plain)
        assert _count(out, word) == 1, (word, out)
    assert "1 leaked" in out, out


def test_log_file_gets_each_record_once(pytester):
    log = pytester.path / "run.log"
    out = _run(pytester, "-o", "log_file=%s" % log, "-o", "log_file_level=WARNING",
               "--leaks=1:2")
    text = log.read_text()
    assert _count(text, "LOG-clean") == 1 and _count(text, "LOG-leaky") == 1, text
    assert "1 leaked" in out, out
