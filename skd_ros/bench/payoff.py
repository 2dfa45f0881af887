"""Section 3: what distillation buys. Each teacher's per-frame cost at 1280x720 against Sst's
(reduction R included), beside the accuracy each reaches on the held-out synthetic split.

Costs: every built-in teacher (deep ones untrained: cost does not depend on weights) and Sst
fp32 / INT8 on ONNX Runtime, one thread. Accuracy: the demo weights' test split
(`config/demo_weights.yaml`), generated if missing; the deep teachers are scored only when
their stage-0 weights exist (`train run --config config/demo_weights.yaml` writes them).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import torch

from skd_ros.bench.timing import time_call
from skd_ros.data.synthetic import ClipSpec, generate_clip
from skd_ros.inference.engine import SaliencyEngine
from skd_ros.preprocess import prepare_frame
from skd_ros.teachers.timing import builtin_teachers_for_timing

DEMO_CONFIG = "config/demo_weights.yaml"
CAMERA = (1280, 720)


def costs(models: dict[str, Path], repeats: int) -> dict[str, float]:
    """ms per 1280x720 frame, one thread: every built-in teacher and each Sst in `models`."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    frames = [f.image for f in generate_clip(ClipSpec(7, "Vehicle", 3, *CAMERA))]
    result = {}
    with tempfile.TemporaryDirectory() as folder:
        for teacher in builtin_teachers_for_timing(Path(folder)):
            timing = time_call(lambda t=teacher: t(frames[0], frames[1]), repeats, run_s=0.5)
            result[f"teacher: {teacher.name}"] = timing.ms
    for label, model_json in models.items():
        result[label] = time_call(whole_frame_call(SaliencyEngine(model_json), frames), repeats).ms
    return result


def whole_frame_call(engine: SaliencyEngine, frames: list) -> Callable[[], object]:
    """A call mapping camera frame 1 (after frame 0) as the node does: R, then Sst."""
    previous = prepare_frame(frames[0], engine.resolution)
    return lambda: engine.predict(previous, prepare_frame(frames[1], engine.resolution))


def accuracy(models: dict[str, Path], config_path: str = DEMO_CONFIG) -> dict[str, dict]:
    """AUC, sAUC, NSS, SIM, CC on the held-out synthetic split: center bias, teachers, Sst."""
    from skd_ros.training import evaluate, pipeline, reports, sources
    from skd_ros.training.cache import build_cache
    from skd_ros.training.config import load_config
    from skd_ros.training.predict import center_bias

    config = load_config(Path(config_path), [])
    videos = sources.evaluation_videos(config, None)
    truth = pipeline.eval_set(videos, config, progress=False)
    maps = {"center bias": center_bias(len(truth.targets), evaluate.EVAL_SIZE)}
    teachers = sources.teachers_by_name(list(reports.CLASSICAL), Path(config.output), config)
    teachers += _trained_deep_teachers(config)
    cache = build_cache(videos, evaluate.EVAL_SIZE, teachers, Path(config.cache_dir), False)
    maps |= {f"teacher: {t.name}": cache.teachers[t.name] for t in teachers}
    for label, model_json in models.items():
        maps[label] = pipeline.exported_maps(config, model_json, videos, progress=False)
    return {label: _scores(m, truth) for label, m in maps.items()}


def _trained_deep_teachers(config) -> list:
    from skd_ros.training import sources

    folder = Path(config.output) / "teachers"
    names = [n for n in sources.DEEP_TEACHERS if (folder / f"{n}.json").is_file()]
    return sources.teachers_by_name(names, Path(config.output), config)


def _scores(maps, truth) -> dict:
    from skd_ros.training import evaluate

    return evaluate.summarise(evaluate.score_frames(maps, truth), truth)["all"]


def table_rows(cost: dict[str, float], scores: dict[str, dict], sst_label: str) -> list[dict]:
    """One row per model: ms per frame, speed-up of `sst_label` over it, NSS and CC."""
    reference = cost[sst_label]
    labels = list(dict.fromkeys([*cost, *scores]))
    return [
        {
            "model": label,
            "ms_per_frame": cost.get(label),
            "sst_speedup": cost[label] / reference if label in cost else None,
            "NSS": scores.get(label, {}).get("NSS"),
            "CC": scores.get(label, {}).get("CC"),
        }
        for label in labels
    ]
