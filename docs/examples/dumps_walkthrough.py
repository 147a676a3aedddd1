"""The walk-through of docs/dumps.md: a small "service" whose memory grows,
dumped, and the dump read back to find what holds the memory.

    python docs/examples/dumps_walkthrough.py /tmp/service.hld

Its output is what docs/dumps.md shows (addresses and a few whole-heap
figures differ from run to run).
"""

import sys

import heaplens


class Session:
    def __init__(self, user, payload):
        self.user = user
        self.history = [payload] * 1      # a list per session
        self.blob = bytes(2000)


class Service:
    def __init__(self):
        self._sessions = {}               # the leak: never expired

    def handle(self, user):
        self._sessions[user] = Session(user, "request from %s" % user)


service = Service()
for i in range(20000):
    service.handle("user-%d" % i)

path = sys.argv[1] if len(sys.argv) > 1 else "service.hld"
info = heaplens.dump(path)
print("dumped %s objects, %s references into %s (%s bytes)" % (
    "{:,}".format(info.objects), "{:,}".format(info.references), info.path,
    "{:,}".format(info.bytes)))

d = heaplens.open_dump(path)
print()
print(d.top_retainers(5))
print()
print(d.by_type())
print()
# The biggest dict of its own (405 KiB of hash table) among the top retainers:
biggest = d.top_retainers(20)
sessions_dict = max((r for r in biggest if r.type_name == "dict"), key=lambda r: r.size)
print(d.path_to_root(sessions_dict.id))
print()
some_session = d.find("__main__.Session")[0]
print("one Session retains %d bytes; its immediate dominator is a %s" % (
    d.retained_size(some_session),
    d.object(d.immediate_dominator(some_session)).type_name))
