#!/usr/bin/env bash
# Set everything up and run every test: the Check suites through ctest, then
# pytest on the default python3 and on every other CPython 3.9-3.13 found on
# this machine (pyenv's under /root/.pyenv/versions and python3.X on PATH).
# Exits non-zero if any of them fails.
set -uo pipefail
cd "$(dirname "$0")/.."
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

for py in $(find_pythons); do
  ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  echo "==> pytest on $py ($("$py" --version 2>&1))"
  venv=".venv-$ver"
  make_venv "$venv" "$py" "[test]" || { status=1; continue; }
  "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/python || status=1
done

if [ $status -ne 0 ]; then echo "==> SOME TESTS FAILED"; else echo "==> all tests passed"; fi
exit $status
