#!/usr/bin/env bash
# Set everything up (system packages, .venv, heaplens) and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/python -m heaplens demo
