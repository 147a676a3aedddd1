"""Smoke test of every heaplens feature, for an installed heaplens (a wheel in
a clean virtual environment: standard library only, no test dependencies).

    python scripts/smoke_test.py

Run it from outside the source tree so that the installed package is the
one imported. Features that capabilities() refuses on this interpreter are
checked to raise UnsupportedError instead. Exits non-zero on any failure.
"""
import os
import sys
import tempfile

import heaplens

failures = []


def check(name, cond, detail=""):
    print("%-4s %s%s" % ("ok" if cond else "FAIL", name, (": " + detail) if detail else ""))
    if not cond:
        failures.append(name)


def refused(feature, fn):
    try:
        fn()
    except heaplens.UnsupportedError as e:
        return e.feature == feature
    return False


class Node:
    def __init__(self, payload):
        self.payload = payload
        self.children = []


_registry = []  # holds the leaked objects of the leak check below


def leaky():
    _registry.append(Node([1, 2, 3]))


def clean():
    n = Node("x")
    n.children.append(Node("y"))


def main():
    here = os.path.dirname(os.path.abspath(heaplens.__file__))
    print("heaplens %s from %s on %s" % (heaplens.__version__, here, sys.version.split()[0]))
    check("not imported from a source tree", "site-packages" in here, here)

    caps = heaplens.capabilities()
    check("capabilities", set(caps) >= {"asizeof", "allocator_model", "snapshot", "track",
                                        "leaks", "graph"}
          and all(v is True or isinstance(v, str) for v in caps.values()), repr(caps))

    # asizeof, both models
    data = {"k%d" % i: [i, str(i), (i, float(i))] for i in range(100)}
    size = heaplens.asizeof(data)
    check("asizeof", size > sys.getsizeof(data) + 100 * sys.getsizeof([]), str(size))
    check("asizeof == sum(asizesof)",
          heaplens.asizeof(data, [1]) == sum(heaplens.asizesof(data, [1])))
    if caps["allocator_model"] is True:
        alloc = heaplens.asizeof(data, model="allocator")
        check("asizeof(model='allocator')", alloc > 0 and abs(alloc - size) < size, str(alloc))
    else:
        check("asizeof(model='allocator') refused",
              refused("allocator_model", lambda: heaplens.asizeof(data, model="allocator")))

    # snapshot, diff, save, load
    s1 = heaplens.snapshot()
    keep = [Node(i) for i in range(5000)]
    s2 = heaplens.snapshot()
    d = s2.diff(s1)
    grew = {r.type_name: r for r in d.rows}
    node = next((r for name, r in grew.items() if name.endswith("Node")), None)
    check("snapshot diff sees 5000 new Node", node is not None and node.count_diff == 5000,
          repr(node))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "snap.hls")
        s2.save(path)
        back = heaplens.load(path)
        check("snapshot save/load", back.total_count == s2.total_count
              and back.total_size == s2.total_size)
    del keep

    # track
    if caps["track"] is True:
        with heaplens.track(types=Node) as t:
            made = [Node(i) for i in range(100)]
        site = heaplens.allocation_site(made[0])
        check("track allocation site", site is not None and site[0].filename == __file__,
              repr(site and site[0]))
        rows = {r.type_name: r for r in t.stats()}
        check("track stats", any(k.endswith("Node") and r.born == 100 for k, r in rows.items()),
              repr(rows))
        t.clear()
        del made
    else:
        check("track refused", refused("track", heaplens.track))

    # leak checks
    report = heaplens.check_leaks(leaky, warmups=1, runs=3, sites=False)
    check("check_leaks finds a leak", report.leaked and any(
        g.type_name.endswith("Node") for g in report.groups), report.format()[:300])
    check("check_leaks passes clean code", not heaplens.check_leaks(clean, warmups=1, runs=3,
                                                                    sites=False).leaked)

    # referrer chains and graphs
    target = _registry[0]
    chain = heaplens.why_alive(target)
    text = str(chain)
    check("why_alive names the holder", "_registry" in text, text)
    dot = heaplens.graph(target, depth=2)
    check("graph", dot.startswith("digraph") and "Node" in dot, dot[:80])

    print("%d failure(s)" % len(failures) if failures else "all smoke tests passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
