"""heaplens: how much memory Python objects take, what grew, what leaked
and who holds it.

    >>> import heaplens
    >>> heaplens.asizeof([1, 2, 3])   # deep size in bytes, like pympler
    184

The sizing functions have pympler.asizeof's API and figures (see
docs/semantics.md for the deliberate differences); ``model="allocator"``
gives the bytes the allocators really hold. ``snapshot()`` counts every live
object by type; ``newer.diff(older)`` shows what grew; ``Monitor`` samples on
a timer. ``track()`` records when objects are born and die and where they
were allocated. ``check_leaks``/``no_leaks`` (and the pytest plugin: ``pytest
--leaks``) say what leaked, where it was allocated and what holds it.
``capabilities()`` says which of these work on this interpreter (all of them
on CPython 3.9-3.13; others run a generic mode that raises
``UnsupportedError`` for what needs CPython internals).
"""

from heaplens._asizeof import (
    Asized, Asizer, asized, asizeof, asizesof, basicsize, flatsize, itemsize, refs,
)
from heaplens._capabilities import UnsupportedError, capabilities
from heaplens._format import human_size
from heaplens._chains import Chain, referrer_chain, referrers, why_alive
from heaplens._graph_view import graph
from heaplens._leaks import (
    LeakError, LeakReport, LeakedGroup, add_cache_clearer, check_leaks, clear_caches,
    no_leaks,
)
from heaplens._registry import register_type, registered_types, unregister_type
from heaplens._lifetimes import (
    Frame, LifetimeRow, Survivor, Tracker, allocation_site, track,
)
from heaplens._snapshot import (
    DiffRow, Monitor, Sample, Snapshot, SnapshotDiff, SnapshotFormatError, SnapshotRow, load,
    new_objects, snapshot,
)
from heaplens._dump import DumpFormatError, HeapDump, dump, open_dump

__version__ = "0.1.0"

__all__ = [
    "Chain", "LeakError", "LeakReport", "LeakedGroup", "add_cache_clearer", "check_leaks",
    "clear_caches", "graph", "no_leaks", "referrer_chain", "referrers", "why_alive",
    "UnsupportedError", "capabilities",
    "Asized", "Asizer", "DiffRow", "Monitor", "Sample", "Snapshot", "SnapshotDiff",
    "SnapshotFormatError", "SnapshotRow", "asized", "asizeof", "asizesof", "basicsize",
    "flatsize", "human_size", "Frame", "LifetimeRow", "Survivor", "Tracker", "allocation_site",
    "track", "itemsize", "load", "new_objects", "refs", "snapshot",
    "register_type", "registered_types", "unregister_type",
    "DumpFormatError", "HeapDump", "dump", "open_dump",
]
