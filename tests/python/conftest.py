import os
import sys

# The standard workloads live in ../shared/bench beside the repository.
_SHARED_BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "bench")
if os.path.isdir(_SHARED_BENCH):
    sys.path.insert(0, os.path.abspath(_SHARED_BENCH))
