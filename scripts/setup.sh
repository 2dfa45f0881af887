#!/usr/bin/env bash
# Create or reuse the project's virtual environment (.venv) and install everything pinned in
# scripts/requirements.txt plus skd_ros itself (editable). Safe to run again: it reinstalls
# only when the lock file changed. Needs python3 (3.10+) with venv; no ROS installation.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${SKD_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
lock="$root/scripts/requirements.txt"
stamp="$venv/.skd_ros-lock.sha256"

if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating virtual environment $venv"
  "$python" -m venv "$venv" || {
    echo "[setup] could not create a venv: install python3-venv (Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
  }
fi
want="$(sha256sum "$lock" "$root/setup.py" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing pinned dependencies (first run takes about a minute)"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -r "$lock"
  "$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$root"
  echo "$want" > "$stamp"
fi
echo "[setup] environment ready: $venv"
