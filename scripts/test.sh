#!/usr/bin/env bash
# Set everything up and run every test: the Check suites through ctest, then
# pytest on the default python3 and on every other CPython 3.9-3.13 found on
# this machine (pyenv's under /root/.pyenv/versions and python3.X on PATH);
# also the free-threaded/generic compile checks (after ctest) and pytest on a
# generic-mode build of 3.11 (last). Exits non-zero if any of them fails.
set -uo pipefail
cd "$(dirname "$0")/.."
# Hypothesis draws the same examples on every run (tests/python/unit/test_properties.py):
# a failure then means a change, not a new draw. HEAPLENS_EXAMPLES=1000 CI=
# hunts longer with fresh draws.
export CI=${CI-1}
./scripts/setup.sh --system-only || exit 1
source scripts/lib.sh

# The HTML report test opens reports in headless Chromium (driven through
# chromium-driver for hover checks); it is skipped, saying so, where Chromium
# cannot be installed.
# The graph test renders with Graphviz's dot. Both are optional: without
# them those tests check the error path or skip, saying why.
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
updated=""
for pkg in chromium chromium-driver graphviz; do
  if ! dpkg -s "$pkg" >/dev/null 2>&1; then
    echo "==> installing $pkg for the report and graph tests"
    [ -n "$updated" ] || { $SUDO apt-get update -qq >/dev/null 2>&1; updated=1; }
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$pkg" >/dev/null 2>&1 \
      || echo "    ($pkg could not be installed; its test checks the fallback instead)"
  fi
done

status=0
echo "==> C core: cmake, ctest"
cmake -S . -B build/ctest -DHEAPLENS_BUILD_TESTS=ON -DPython_EXECUTABLE="$(command -v python3)" \
  >build-ctest.log 2>&1 && cmake --build build/ctest -j 2 >>build-ctest.log 2>&1 \
  || { cat build-ctest.log; exit 1; }
ctest --test-dir build/ctest --output-on-failure || status=1

# Free-threaded CPython cannot be installed here: compile what such a build
# compiles, with Py_GIL_DISABLED forced, against the newest CPython's headers
# (3.13's select the free-threaded object header), plus the generic option.
newest=$(find_pythons | while read -r p; do
  "$p" -c 'import sys; print("%d%02d %s" % (sys.version_info[0], sys.version_info[1], sys.executable))'
done | sort -n | tail -1 | cut -d' ' -f2)
echo "==> free-threaded and generic compile checks against $("$newest" --version 2>&1)"
{ cmake -S . -B build/modes -DHEAPLENS_BUILD_TESTS=ON -DPython_EXECUTABLE="$newest" \
  && cmake --build build/modes --target heaplens_mode_free_threaded heaplens_mode_generic_option; } \
  >build-modes.log 2>&1 || { cat build-modes.log; status=1; }

for py in $(find_pythons); do
  ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  echo "==> pytest on $py ($("$py" --version 2>&1))"
  venv=".venv-$ver"
  make_venv "$venv" "$py" "[test]" || { status=1; continue; }
  if [ -z "${linted-}" ]; then
    # Unused imports and names, undefined names, shadowed tests: pyflakes
    # (the [test] extra), once, on the first version's venv.
    echo "==> pyflakes"
    "$venv/bin/python" -m pyflakes pybind/heaplens tests/python bench scripts || status=1
    linted=1
  fi
  "$venv/bin/python" -m pytest -q -p no:cacheprovider -n 2 tests/python || status=1
done

# Generic mode (public API only), built with the option on a supported
# version so that it is tested: tests needing a refused feature are skipped
# with capabilities()' reason; tests/python/unit/test_capabilities.py checks the
# refusals themselves.
gpy=$(find_pythons | while read -r p; do
  "$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' && echo "$p"; done | head -1)
if [ -n "$gpy" ]; then
  echo "==> pytest on $gpy in generic mode (HEAPLENS_GENERIC=ON)"
  if make_venv .venv-3.11-generic "$gpy" "[test]" -C cmake.define.HEAPLENS_GENERIC=ON \
     && .venv-3.11-generic/bin/python -c 'import sys, heaplens._heaplens as c; sys.exit(c.LAYOUT_MODE != "generic-option")'; then
    .venv-3.11-generic/bin/python -m pytest -q -p no:cacheprovider -n 2 tests/python || status=1
  else
    echo "generic mode did not build"; status=1
  fi
else
  echo "==> no CPython 3.11 found: generic mode NOT tested"; status=1
fi

if [ $status -ne 0 ]; then echo "==> SOME TESTS FAILED"; else echo "==> all tests passed"; fi
exit $status
