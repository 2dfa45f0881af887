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
  "$tmp/venv/bin/pip" freeze | sed -e 's/^torch==\(.*\)+cpu$/torch==\1/' | sort -f
} > "$root/scripts/requirements.txt"
echo "wrote scripts/requirements.txt"
