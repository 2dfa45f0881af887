"""Turn the `data` and `teachers` config sections into videos and teacher objects."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from skd_ros.training.config import TrainConfig

UNLABELLED_NOTICE = (
    "NOTE: the training data has no human ground truth (recorded bags). The teachers' fused "
    "map is used as the target, so Sst learns to imitate the teachers, not human attention."
)
DEEP_TEACHERS = ("deep-spatial", "deep-temporal")


def training_videos(config: TrainConfig) -> list:
    """Videos of the training split of the configured source."""
    return _videos(config, config.data.root, config.data.train_split)


def evaluation_videos(config: TrainConfig, split: str | None) -> list:
    """Videos scored by `train evaluate` and the reports."""
    data = config.data
    if data.source in ("folders", "bag"):  # eval_root is required there (config.validate)
        return _videos(config, data.eval_root, split or data.eval_split, source="folders")
    return _videos(config, data.root, split or data.eval_split)


def _videos(config: TrainConfig, root: str, split: str, source: str | None = None) -> list:
    data = config.data
    source = source or data.source
    if source == "synthetic":
        _ensure_synthetic(config)
        source = "avs1k"
    if source == "avs1k":
        from skd_ros.data.avs1k import scan_avs1k

        return scan_avs1k(Path(root), split)
    if source == "folders":
        from skd_ros.data.folders import scan_frame_folders

        return scan_frame_folders(Path(root))
    from skd_ros.data.bags import bag_videos

    return bag_videos(Path(root), topic=data.bag_topic or None, stride=data.bag_stride)


def _ensure_synthetic(config: TrainConfig) -> None:
    """Generate the configured synthetic set once; regenerate if its settings changed."""
    data = config.data
    root = Path(data.root)
    settings = {
        "videos": data.synthetic_videos,
        "frames": data.synthetic_frames,
        "size": data.synthetic_size,
        "seed": data.synthetic_seed,
    }
    stamp, dataset = root / "synthetic.json", root / "AVS1K"
    if stamp.is_file():
        if _read_stamp(stamp) == settings:
            return
        shutil.rmtree(dataset, ignore_errors=True)  # ours: regenerated whole, no stale videos
    elif dataset.exists():  # never write into (or train on a mix with) a real dataset
        raise ValueError(
            f"data.root {root} already holds {dataset}, which the synthetic generator did not "
            f"write (no {stamp.name} beside it); to train on it set data.source=avs1k, or "
            "give the synthetic set a data.root of its own"
        )
    root.mkdir(parents=True, exist_ok=True)
    # claimed before writing: a generation cut short is still ours, and redone next time
    stamp.write_text(json.dumps({**settings, "complete": False}) + "\n")
    write_synthetic(root, **settings)
    stamp.write_text(json.dumps(settings) + "\n")


def _read_stamp(stamp: Path) -> object:
    try:
        return json.loads(stamp.read_text())
    except (OSError, ValueError):  # damaged: regenerate
        return None


def write_synthetic(root: Path, videos: list[int], frames: int, size: list[int], seed: int) -> Path:
    """Write a synthetic dataset in the AVS1K layout under `root` (train/valid/test videos)."""
    from skd_ros.data.synthetic import default_splits, write_avs1k

    if len(videos) != 3:
        raise ValueError(f"expected three video counts (train, valid, test), got {videos}")
    if not any(videos):
        raise ValueError("asked for 0 videos in every split: nothing to write")
    splits = default_splits(*videos, n_frames=frames, width=size[0], height=size[1], base_seed=seed)
    path = write_avs1k(Path(root), splits)
    print(f"synthetic aerial dataset: {sum(videos)} videos of {frames} frames in {path}")
    return path


def stage0_teachers(config: TrainConfig, run_dir: Path, videos: list, context, progress: bool):
    """The (spatial, temporal) teachers; deep ones are trained first (stage 0) if needed."""
    names = [config.teachers.spatial, config.teachers.temporal]
    return teachers_by_name(names, run_dir, config, videos, context, progress)


def teachers_by_name(
    names: list[str], run_dir: Path, config: TrainConfig, videos=None, context=None, progress=True
) -> list:
    """Build teachers by name or path; deep built-ins load (or train) their weights in run_dir."""
    from skd_ros.teachers import build_teacher

    teachers = []
    for name in names:
        if name in DEEP_TEACHERS:
            teachers.append(_deep_teacher(name, run_dir, config, videos, context, progress))
        else:
            teachers.append(build_teacher(name))
    return teachers


def _deep_teacher(name, run_dir: Path, config: TrainConfig, videos, context, progress):
    from skd_ros.teachers.deep import load_deep_teacher, train_deep_teacher
    from skd_ros.training import distributed

    kind = name.removeprefix("deep-")
    weights = Path(run_dir) / "teachers" / f"{name}.json"
    if not weights.is_file():
        if videos is None:
            raise FileNotFoundError(f"{weights} does not exist; run `train run` first (stage 0)")
        if not any(v.labelled for v in videos):
            raise ValueError(
                f"teacher {name} must be trained on labelled data (stage 0), and this data has "
                "none; choose a classical teacher (spectral-residual, flow) or a model file"
            )
        if context is None or context.is_main:
            t = config.teachers
            train_deep_teacher(
                kind,
                videos,
                weights,
                epochs=t.stage0_epochs,
                lr=t.stage0_lr,
                batch_size=t.stage0_batch_size,
                input_size=tuple(t.stage0_input_size),
                seed=config.optim.seed,
                progress=progress,
            )
        if context is not None:
            distributed.barrier(context)
    return load_deep_teacher(weights)
