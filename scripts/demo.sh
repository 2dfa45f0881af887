#!/usr/bin/env bash
# The main job: set up (or reuse) the environment, then run the skd_ros demo.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
exec "${SKD_VENV:-$root/.venv}/bin/python" -m skd_ros.demo "$@"
