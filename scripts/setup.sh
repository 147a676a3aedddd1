#!/usr/bin/env bash
# Set up a fresh Debian machine for heaplens: the system packages the build
# needs and a virtual environment (.venv, on the default python3) with
# heaplens installed. Safe to run again. Used by demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need=()
for pkg in uthash-dev check pkg-config gcc; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
dpkg -s gdb >/dev/null 2>&1 || need+=(gdb)  # python -m heaplens attach (tests/python/integration/test_attach.py)
command -v cmake >/dev/null 2>&1 || need+=(cmake)  # ctest; pip builds get their own
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

source scripts/lib.sh

if [ "${1:-}" != "--system-only" ]; then
  echo "==> building and installing heaplens into .venv ($(python3 --version))"
  make_venv .venv python3
fi
