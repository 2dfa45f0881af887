#!/usr/bin/env bash
# Set up (or reuse) the environment, lint, then run the whole test suite.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
venv="${SKD_VENV:-$root/.venv}"
cd "$root"
"$venv/bin/ruff" check skd_ros test
"$venv/bin/ruff" format --check skd_ros test
exec "$venv/bin/python" -m pytest "$@"
