#!/usr/bin/env bash
# The Check suites under valgrind's memcheck, with Python's allocations sent
# through malloc (PYTHONMALLOC=malloc) so that valgrind sees them, and the
# interpreter's known one-time allocations suppressed (tests/c/valgrind.supp).
# CK_FORK=no keeps one process for valgrind to follow.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --system-only || exit 1
command -v valgrind >/dev/null 2>&1 || {
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind >/dev/null; }
PY=$(command -v python3)
cmake -S . -B build/valgrind -DHEAPLENS_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPython_EXECUTABLE="$PY" >build-valgrind.log 2>&1 \
  && cmake --build build/valgrind -j 2 >>build-valgrind.log 2>&1 || { cat build-valgrind.log; exit 1; }
status=0
for suite in $(build/valgrind/tests/c/heaplens_check --list); do
  echo "==> valgrind: check $suite"
  CK_FORK=no PYTHONMALLOC=malloc valgrind --quiet --error-exitcode=99 \
    --suppressions=tests/c/valgrind.supp --leak-check=no --track-origins=no \
    build/valgrind/tests/c/heaplens_check "$suite" || status=1
done

# The tracker against payloads laid out like object headers, on every
# CPython 3.9-3.13 here: an extension built with debug info (so that the
# suppressions above name its functions), the interpreter's allocations
# through malloc. The random run is smaller than pytest's (valgrind is slow).
source scripts/lib.sh
for py in $(find_pythons); do
  ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  venv=".venv-vg-$ver"
  make_venv "$venv" "$py" "" -C cmake.build-type=RelWithDebInfo >/dev/null || { status=1; continue; }
  for what in crafted "random 1 400"; do
    echo "==> valgrind: payloads $what on $ver"
    PYTHONMALLOC=malloc valgrind --quiet --error-exitcode=99 \
      --suppressions=tests/c/valgrind.supp --leak-check=no --track-origins=no \
      "$venv/bin/python" tests/python/integration/lifetimes_payloads.py $what || status=1
  done
done
exit $status
