"""Files shipped with the package, found the same way from a source tree or an install.

The packaged model and the Fast DDS profile live in the source tree (resource/, config/) and
are installed to share/skd_ros/ by setup.py (a venv's sys.prefix, or a colcon workspace on
AMENT_PREFIX_PATH). Plain Python; no torch, no rclpy.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

PACKAGE = "skd_ros"
SOURCE_ROOT = Path(__file__).resolve().parents[1]


def package_file_candidates(source_dir: str, share_dir: str, name: str) -> list[Path]:
    """Where `name` may be, in order: source tree, this Python's prefix, AMENT_PREFIX_PATH."""
    prefixes = [Path(sys.prefix)]
    prefixes += [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return [SOURCE_ROOT / source_dir / name] + [
        prefix / "share" / PACKAGE / share_dir / name for prefix in prefixes
    ]


def find_package_file(source_dir: str, share_dir: str, name: str) -> Path | None:
    """The first existing candidate of `package_file_candidates`, or None."""
    candidates = package_file_candidates(source_dir, share_dir, name)
    return next((path for path in candidates if path.is_file()), None)


def demo_config() -> str:
    """Where `train run --config` finds the demo weights' configuration on this install: the
    source tree's config/demo_weights.yaml, else the installed share/skd_ros/config copy."""
    path = find_package_file("config", "config", "demo_weights.yaml")
    if path is None:
        return "config/demo_weights.yaml"
    with_source = path.is_relative_to(SOURCE_ROOT) and Path.cwd() == SOURCE_ROOT
    return str(path.relative_to(SOURCE_ROOT)) if with_source else str(path)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MB blocks (model files are checked against it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
