"""Turn the `data` and `teachers` config sections into videos and teacher objects."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from skd_ros.atomic_write import write_json
from skd_ros.data.layout import AVS1K_FOLDER, FRAME_FOLDER, GROUND_FOLDER
from skd_ros.quoting import shown
from skd_ros.training.config import TrainConfig

UNLABELLED_NOTICE = (
    "NOTE: the training data has no human ground truth (recorded bags). The teachers' maps "
    "(teachers.target: both fused, or one alone) are the target, so Sst learns to imitate "
    "the teachers, not human attention."
)
DEEP_TEACHERS = ("deep-spatial", "deep-temporal")


def prepare(config: TrainConfig) -> None:
    """Write the synthetic set if the source needs it: call in one process (distributed
    runs: the main one, before a barrier), since a rewrite first deletes the old set."""
    if config.data.source == "synthetic":
        _ensure_synthetic(config)


def training_videos(config: TrainConfig) -> list:
    """Videos of the training split of the configured source."""
    return _videos(config, config.data.root, config.data.train_split)


NOT_SCORED_NOTICE = (
    "the model is exported but not scored: bags have no ground truth and data.eval_root "
    "names no labelled folder; score it on footage with boxes (`train footage --model ... "
    "--sequence FRAMES BOXES`) or set data.eval_root"
)


def has_evaluation_data(config: TrainConfig) -> bool:
    """Whether the run has labelled data to score its model on (a bag alone has none)."""
    return config.data.source != "bag" or bool(config.data.eval_root)


def evaluation_videos(config: TrainConfig, split: str | None) -> list:
    """Videos scored by `train evaluate` and the reports."""
    data = config.data
    if data.source in ("folders", "bag"):
        if not data.eval_root:
            raise ValueError(f"data.source={data.source}: {NOT_SCORED_NOTICE}")
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


STAMP = "synthetic.json"  # beside AVS1K/: the settings the generator wrote it with


def _ensure_synthetic(config: TrainConfig) -> None:
    """Generate the configured synthetic set once (see `write_synthetic` for the guard)."""
    data = config.data
    size, videos = data.synthetic_size, data.synthetic_videos
    write_synthetic(Path(data.root), videos, data.synthetic_frames, size, data.synthetic_seed)


def write_synthetic(root: Path, videos: list[int], frames: int, size: list[int], seed: int) -> Path:
    """Write a synthetic dataset in the AVS1K layout under `root` (train/valid/test videos).

    `root/synthetic.json` records the settings; a set already written with the same ones is
    kept as it is, one written with others is replaced: its own videos (named by those
    settings) are deleted first, so none is left over. An `AVS1K` folder without that record
    (a real dataset) is refused: nothing is written into it or deleted from it.
    """
    from skd_ros.data.synthetic import write_avs1k

    if len(videos) != 3:
        raise ValueError(f"expected three video counts (train, valid, test), got {videos}")
    if not any(videos):
        raise ValueError("asked for 0 videos in every split: nothing to write")
    from skd_ros.data.synthetic import GENERATOR_VERSION

    root = Path(root)
    settings = {"videos": list(videos), "frames": frames, "size": list(size), "seed": seed}
    settings["generator"] = GENERATOR_VERSION  # a set an older generator wrote is replaced
    stamp, dataset = root / STAMP, root / AVS1K_FOLDER
    recorded = _read_stamp(stamp)
    if recorded == settings:
        return dataset
    if isinstance(recorded, dict):  # ours: marked unfinished first, in case we are cut short
        write_json(stamp, {**recorded, "complete": False})
        _delete_videos(dataset, recorded, stamp)
    elif dataset.exists():
        raise ValueError(
            f"{dataset} exists and the synthetic generator did not write it (no readable "
            f"{stamp.name} beside it); to train on it set data.source=avs1k, or give the "
            "synthetic set a folder of its own (if it is an unfinished synthetic set, delete it)"
        )
    root.mkdir(parents=True, exist_ok=True)
    write_json(stamp, {**settings, "complete": False})
    path = write_avs1k(root, _splits(settings))
    write_json(stamp, settings)
    print(f"synthetic aerial dataset: {sum(videos)} videos of {frames} frames in {path}")
    return path


def _read_stamp(stamp: Path) -> object:
    try:
        return json.loads(stamp.read_text())
    except (OSError, ValueError):  # absent or damaged
        return None


def _splits(settings: dict) -> dict:
    from skd_ros.data.synthetic import default_splits

    width, height = settings["size"]
    counts, frames, seed = settings["videos"], settings["frames"], settings["seed"]
    return default_splits(*counts, n_frames=frames, width=width, height=height, base_seed=seed)


def _delete_videos(dataset: Path, recorded: dict, stamp: Path) -> None:
    """Delete the videos the generator wrote with the `recorded` settings (and only those)."""
    from skd_ros.data.synthetic import video_name

    try:
        splits = _splits(recorded)
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"{stamp} does not record generator settings ({shown(recorded)}); delete "
            f"{dataset} and {stamp} to write the synthetic set anew"
        ) from None
    for split, specs in splits.items():
        for spec in specs:
            for kind in (FRAME_FOLDER, GROUND_FOLDER):
                shutil.rmtree(dataset / split / kind / video_name(spec), ignore_errors=True)


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
    # each process labels its share of the cache on its own device (its GPU under torchrun)
    return load_deep_teacher(weights, str(context.device) if context is not None else "cpu")
