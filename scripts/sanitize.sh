#!/usr/bin/env bash
# The core and the extension built with AddressSanitizer and
# UndefinedBehaviorSanitizer (-fno-sanitize-recover: the first finding
# fails the run), then ctest and pytest on CPython 3.11 against that build.
# A release interpreter works with ASan once the runtimes are preloaded;
# PYTHONMALLOC=malloc sends Python's own allocations through malloc so ASan
# sees them, and leaks are not checked because the interpreter does not free
# everything at exit.
set -uo pipefail
cd "$(dirname "$0")/.."
# Hypothesis draws the same examples on every run (tests/python/unit/test_properties.py):
# a failure then means a change, not a new draw. HEAPLENS_EXAMPLES=1000 CI=
# hunts longer with fresh draws.
export CI=${CI-1}
./scripts/setup.sh --system-only || exit 1
source scripts/lib.sh

PY=${HEAPLENS_SAN_PYTHON:-}
if [ -z "$PY" ]; then
  for p in /root/.pyenv/versions/3.11*/bin/python "$(command -v python3.11 || true)" "$(command -v python3)"; do
    [ -x "$p" ] && PY=$p && break
  done
fi
echo "==> sanitizers (ASan+UBSan) with $PY ($("$PY" --version 2>&1))"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PYTHONMALLOC=malloc
status=0

cmake -S . -B build/asan -DHEAPLENS_BUILD_TESTS=ON -DHEAPLENS_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython_EXECUTABLE="$PY" >build-asan.log 2>&1 \
  && cmake --build build/asan -j 2 >>build-asan.log 2>&1 || { cat build-asan.log; exit 1; }
ctest --test-dir build/asan --output-on-failure || status=1

venv=.venv-asan
[ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
"$venv/bin/python" -m pip install -q ".[test]" 2>&1 | sed "/^WARNING: Location/d"
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps \
  -C cmake.define.HEAPLENS_SANITIZE=ON -C cmake.build-type=RelWithDebInfo . 2>&1 \
  | sed "/^WARNING: Location/d"
preload="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
LD_PRELOAD="$preload" "$venv/bin/python" -c \
  'import heaplens._heaplens as m, sys; sys.exit(0 if m.__file__ else 1)' || { echo "sanitized build did not load"; exit 1; }
LD_PRELOAD="$preload" "$venv/bin/python" -m pytest -q -p no:cacheprovider -n 2 tests/python || status=1

# The tracker against payloads laid out like object headers, on every other
# CPython 3.9-3.13 here too (lib/lifetimes_types.c, THE INVARIANT).
for py in $(find_pythons); do
  ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [ "$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$ver" ] && continue
  v=".venv-asan-$ver"
  # (not make_venv: its import check would run without the runtimes preloaded)
  { [ -x "$v/bin/python" ] || "$py" -m venv "$v"; } \
    && { "$v/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true; } \
    && "$v/bin/python" -m pip install -q \
    --force-reinstall -C cmake.define.HEAPLENS_SANITIZE=ON -C cmake.build-type=RelWithDebInfo . \
    2>&1 | sed "/^WARNING: Location/d" || { status=1; continue; }
  for what in crafted fake "random 3 1500"; do
    echo "==> ASan+UBSan: payloads $what on $ver"
    LD_PRELOAD="$preload" "$v/bin/python" tests/python/integration/lifetimes_payloads.py $what || status=1
  done
  # 3.12+: the hooks read the thread state at a learned distance from the
  # thread pointer (lib/compat.c); threads, sub-interpreters and fork here.
  if "$v/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
    echo "==> ASan+UBSan: the tracker's thread tests on $ver"
    "$v/bin/python" -m pip install -q pytest 2>&1 | sed "/^WARNING: Location/d"
    LD_PRELOAD="$preload" "$v/bin/python" -m pytest -q -p no:cacheprovider \
      tests/python/integration/test_lifetimes_truth.py tests/python/unit/test_lifetimes.py \
      -k "route or own_gil or threads or fork" || status=1
  fi
done
exit $status
