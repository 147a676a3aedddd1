"""The dump loader maps the file and drops arrays while it computes the
dominator tree (lib/dump_read.c): what it rebuilds afterwards from the
mapping must equal what it had, and a file rewritten in place while open is
a DumpFormatError, not a wrong answer or a crash."""

import os

import pytest

from heaplens import DumpFormatError, dump, open_dump


class Node:
    __slots__ = ("nxt", "payload")  # no instance dict between a node and its payload

    def __init__(self, nxt):
        self.nxt = nxt
        self.payload = ["p-%d" % id(self)]


def _dump(tmp_path):
    path = str(tmp_path / "heap.hld")
    dump(path)
    return path


def test_records_graph_and_paths_survive_the_dominator_tree(tmp_path):
    chain = None
    for _ in range(50):
        chain = Node(chain)
    path = _dump(tmp_path)
    d = open_dump(path)
    n = len(d)
    sample = list(range(0, n, max(1, n // 300)))
    before_records = [d._d.record(i) for i in sample]
    before_refs = [d._d.referents(i) for i in sample]
    before_find = [d._d.find(d._id(i)) for i in sample]
    before_path = d.path_to_root(id(chain.nxt.nxt.payload))
    before_roots = d.roots
    # computing the dominators drops the object table and the graph ...
    retained = d.retained_size(id(chain))
    assert retained >= d.object(id(chain)).size
    # ... and what is rebuilt from the file is what was there
    assert [d._d.record(i) for i in sample] == before_records
    assert [d._d.referents(i) for i in sample] == before_refs
    assert [d._d.find(d._id(i)) for i in sample] == before_find == sample
    after_path = d.path_to_root(id(chain.nxt.nxt.payload))
    assert [o.id for o in after_path.objects] == [o.id for o in before_path.objects]
    assert d.roots == before_roots
    # and the dominators still hold after the graph came back
    assert d.immediate_dominator(id(chain.nxt.payload)) == id(chain.nxt)
    assert d.retained_size(id(chain)) == retained


def test_a_file_rewritten_in_place_while_open(tmp_path):
    path = _dump(tmp_path)
    d = open_dump(path)
    n = len(d)
    assert d._d.record(n // 2)
    first = d._id(0)
    size = os.path.getsize(path)
    # same length, other bytes: the mapping now shows them
    with open(path, "r+b") as f:
        f.write(b"\x00" * size)
    with pytest.raises(DumpFormatError, match="changed while open"):
        d._d.record(n // 2)
    with pytest.raises(DumpFormatError):
        d.retained_size(first)
    # a failed rebuild leaves no dangling table behind: an error again
    with pytest.raises((DumpFormatError, KeyError)):
        d.object(first)
