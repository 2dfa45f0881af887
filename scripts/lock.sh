#!/usr/bin/env bash
# Re-resolve scripts/requirements.in into the pinned scripts/requirements.txt.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --upgrade pip
"$tmp/venv/bin/pip" install -q -r "$root/scripts/requirements.in"
{
  echo "# Pinned by scripts/lock.sh from scripts/requirements.in; do not edit by hand."
  # The ROS wheels also register each ROS package under its bare name (rclpy, std_msgs...),
  # which PyPI does not serve: keep only the ros-* distribution of such pairs.
  "$tmp/venv/bin/pip" freeze \
    | sed -e 's/^torch==\(.*\)+cpu$/torch==\1/' \
    | python3 -c '
import re, sys
lines = [l.strip() for l in sys.stdin if l.strip()]
names = {re.split("==", l)[0].lower().replace("_", "-") for l in lines}
for l in lines:
    name = l.split("==")[0].lower().replace("_", "-")
    if not name.startswith("ros-") and "ros-" + name in names:
        continue
    print(l)
' | sort -f
} > "$root/scripts/requirements.txt"
echo "wrote scripts/requirements.txt"
