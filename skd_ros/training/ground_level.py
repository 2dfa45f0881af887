"""Tab. II's data: ground-level (DHF1K-style) folders to train and score the variants on.

`report.ground_root` and `report.ground_eval_root` name a DHF1K-style training and held-out
folder set (`<video>/images`, `maps`, `fixation`). Where there is none (no DHF1K here), the
synthetic generator writes one into the report's folder: `report.ground_videos` clips for
training and for testing, of `data.synthetic_frames` frames at `data.synthetic_size`,
seen by an oblique camera where the generator has one (`ClipSpec.camera`), else by its
only, top-down camera; `view` in the stamp file says which.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from skd_ros.atomic_write import write_json
from skd_ros.training.config import TrainConfig

GROUND_SEED = 50_000  # added to data.synthetic_seed: clips unlike the aerial set's
STAMP = "ground.json"


def ground_folders(config: TrainConfig, out: Path) -> tuple[str, str, str]:
    """(train root, evaluation root, what the data is) for the ground-level report."""
    report = config.report
    if report.ground_root:
        return report.ground_root, report.ground_eval_root, f"folders {report.ground_root}"
    settings = _settings(config)
    root = Path(out) / "data"
    stamp = root / STAMP
    if _read(stamp) != settings:
        _write(root, settings)
        write_json(stamp, settings, indent=1)
    view = settings["view"]
    train, test = settings["videos"]
    what = f"synthetic {view} clips ({train} train, {test} test) in {root}"
    return str(root / "train"), str(root / "test"), what


def _settings(config: TrainConfig) -> dict:
    from skd_ros.data.synthetic import ClipSpec

    oblique = "camera" in {f.name for f in dataclasses.fields(ClipSpec)}
    return {
        "videos": list(config.report.ground_videos),
        "frames": config.data.synthetic_frames,
        "size": list(config.data.synthetic_size),
        "seed": config.data.synthetic_seed + GROUND_SEED,
        "view": "oblique" if oblique else "top-down (this generator has no oblique camera)",
    }


def _read(stamp: Path) -> object:
    try:
        return json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None


def _write(root: Path, settings: dict) -> None:
    """Write the train and test folder sets anew (categories cycle, seeds never repeat)."""
    from skd_ros.data.layout import CATEGORIES
    from skd_ros.data.synthetic import ClipSpec, write_frame_folders

    (root / STAMP).unlink(missing_ok=True)
    seed = settings["seed"]
    width, height = settings["size"]
    camera = {"camera": "oblique"} if settings["view"] == "oblique" else {}
    for split, count in zip(("train", "test"), settings["videos"], strict=True):
        folder = root / split
        if folder.is_symlink():  # never written through
            folder.unlink()
        shutil.rmtree(folder, ignore_errors=True)
        specs = []
        for i in range(count):
            category = CATEGORIES[i % len(CATEGORIES)]
            specs.append(ClipSpec(seed, category, settings["frames"], width, height, **camera))
            seed += 1
        write_frame_folders(folder, specs)
