#!/usr/bin/env bash
# The main job: set up (or reuse) the environment, then run the skd_ros demo: a synthetic
# aerial bag replayed into the saliency node; pictures and a summary under outputs/demo_node.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
exec "${SKD_VENV:-$root/.venv}/bin/python" -m skd_ros.demo_node "$@"
