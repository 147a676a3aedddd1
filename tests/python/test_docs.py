"""The examples in docs/semantics.md run and give the figures shown."""

import doctest
import os
import sys

import pytest

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "semantics.md")


@pytest.mark.skipif(sys.version_info[:2] != (3, 11),
                    reason="the figures in docs/semantics.md are measured on CPython 3.11")
def test_semantics_examples():
    failures, tried = doctest.testfile(os.path.abspath(DOC), module_relative=False,
                                       optionflags=doctest.ELLIPSIS)
    assert tried > 50 and failures == 0
