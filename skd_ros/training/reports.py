"""`train report`: the paper's experiments, reproduced on whatever data the config points to.

- baselines (Tab. I): center bias, the classical teachers, the deep teachers, the students,
  and Sst at 32 and 64.
- ground-level (Tab. II): Sst as the aerial variant and as Modify-A and Modify-B, trained
  and scored on ground-level data (`skd_ros.training.ground_level`).
- resolutions (Tab. IV): Sst with each of `report.spatial_teachers` (and the configured
  temporal teacher) at each input side (default 32, 64, 128, 256).
- teachers (Tab. V): each of `report.spatial_teachers` and `report.temporal_teachers` alone,
  and the fused target of each (spatial, temporal) pair, at the students' resolution: the
  maps the students learn from.
- ablations (Tab. VI): Ablation-S (Ss alone), Ablation-T (St alone), Ablation-O (Sst trained
  without stage 1, from a truncated-normal start) against the full SKD model.
- mu-sweep (Fig. 8): NSS of Sst for mu in 0.0, 0.1, ..., 1.0, with a plot.

Each experiment writes `<output>/report-<name>/report.md`, `report.json` (and `mu_sweep.png`).
Training runs live in sub-folders and are resumed, not redone, when a report is run again;
a run whose deep teachers a sibling run already trained on the same data (same stage-0
settings and seed) starts from a copy of them instead of training them again.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import numpy as np
import torch

from skd_ros.atomic_write import write_atomic, write_json, write_text
from skd_ros.models import Sst
from skd_ros.training import distributed, evaluate, pipeline, sources
from skd_ros.training.batches import PairBatches
from skd_ros.training.cache import build_cache
from skd_ros.training.ground_level import ground_folders
from skd_ros.training.predict import center_bias, predict
from skd_ros.training.stages import fused_target, train_sst

DEFAULT_VALUES = {
    "resolutions": [32, 64, 128, 256],
    "mu-sweep": [round(0.1 * i, 1) for i in range(11)],
}
CLASSICAL = ("spectral-residual", "fine-grained", "flow")


def run_report(name: str, config, values: str | None = None, progress: bool = True) -> dict:
    """Run experiment `name` and write its Markdown + JSON (+ PNG) report."""
    parsed = [float(v) for v in values.split(",")] if values else DEFAULT_VALUES.get(name, [])
    out = Path(config.output) / f"report-{name}"
    out.mkdir(parents=True, exist_ok=True)
    experiment = EXPERIMENTS[name]
    rows, note = experiment(config, out, parsed, progress)
    write_json(out / "report.json", rows, indent=2)
    text = f"# {name}\n\n" + (f"{note}\n\n" if note else "") + evaluate.category_tables(rows)
    write_text(out / "report.md", text + "\n")
    print(text, flush=True)
    return rows


def _variant(config, out: Path, label: str, **changes):
    """A copy of `config` writing to out/label, with dotted-key changes applied."""
    variant = copy.deepcopy(config)
    variant.output = str(out / label)
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        setattr(getattr(variant, section), key, value)
    return variant.validate()


def _train(config, progress: bool, stop_after: str | None = None) -> pipeline.RunResult:
    """Train a report's run, or resume it; see the module docstring for shared teachers."""
    run_dir = Path(config.output)
    shared = _share_stage0(config, run_dir)
    resume = shared or (run_dir / "config.json").exists()
    return pipeline.run(config, resume=resume, stop_after=stop_after, progress=progress)


def _stage0_settings(config: dict) -> dict:
    """What a run's stage-0 teachers depend on, from its config as a dict."""
    teachers = {k: v for k, v in config["teachers"].items() if k.startswith("stage0")}
    return {"data": config["data"], "teachers": teachers, "seed": config["optim"]["seed"]}


def _share_stage0(config, run_dir: Path) -> bool:
    """Copy into `run_dir` the deep teachers a sibling run trained with the same stage-0
    settings; True when one was copied."""
    wanted = _stage0_settings(config.to_dict())
    names = {config.teachers.spatial, config.teachers.temporal} & set(sources.DEEP_TEACHERS)
    copied = False
    for name in sorted(names):
        target = run_dir / "teachers" / f"{name}.json"
        found = None if target.is_file() else _sibling_teacher(run_dir, name, wanted)
        if found is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            for suffix in (".safetensors", ".json"):  # weights first: the JSON marks it done
                source = found.with_suffix(suffix)
                write_atomic(target.with_suffix(suffix), lambda t, s=source: shutil.copyfile(s, t))
            copied = True
    return copied


def _sibling_teacher(run_dir: Path, name: str, wanted: dict) -> Path | None:
    """A deep teacher `name` of another run beside `run_dir` with stage-0 settings `wanted`."""
    for found in sorted(run_dir.parent.glob(f"*/teachers/{name}.json")):
        try:
            other = json.loads((found.parent.parent / "config.json").read_text())
            if _stage0_settings(other) == wanted:
                return found
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return None


def _train_at(config, out: Path, resolution: int, progress: bool) -> pipeline.RunResult:
    variant = _variant(config, out, f"sst-{resolution}", model__resolution=resolution)
    return _train(variant, progress)


def _score(maps: np.ndarray, truth: evaluate.EvalSet) -> dict:
    return evaluate.summarise(evaluate.score_frames(maps, truth), truth)


def _eval_inputs(config, resolution: int, progress: bool):
    videos = sources.evaluation_videos(config, None)
    return build_cache(videos, resolution, [], Path(config.cache_dir), progress)


def _baselines(config, out: Path, values, progress: bool) -> tuple[dict, str]:
    runs = {r: _train_at(config, out, r, progress) for r in (32, 64)}
    videos = sources.evaluation_videos(config, None)
    truth = pipeline.eval_set(videos, config, progress)
    rows = {"center bias": _score(center_bias(len(truth.targets), evaluate.EVAL_SIZE), truth)}
    chosen = [config.teachers.spatial, config.teachers.temporal]
    teacher_names = list(dict.fromkeys([*CLASSICAL, *chosen]))
    teachers = sources.teachers_by_name(teacher_names, Path(runs[64].run_dir), config)
    cache = build_cache(videos, evaluate.EVAL_SIZE, teachers, Path(config.cache_dir), progress)
    for teacher in teachers:
        rows[f"teacher: {teacher.name}"] = _score(cache.teachers[teacher.name], truth)
    inputs = _eval_inputs(config, 64, progress)
    rows["Ss (student)"] = _score(predict(runs[64].spatial, inputs.frames, inputs.previous), truth)
    rows["St (student)"] = _score(predict(runs[64].temporal, inputs.frames, inputs.previous), truth)
    for resolution, result in runs.items():
        inputs = _eval_inputs(config, resolution, progress)
        maps = predict(result.sst, inputs.frames, inputs.previous)
        rows[f"Sst-{resolution}"] = _score(maps, truth)
    return rows, ""


def _ground_level(config, out: Path, values, progress: bool) -> tuple[dict, str]:
    train_root, eval_root, what = ground_folders(config, out)
    rows = {}
    for variant, label in VARIANTS.items():
        changes = {"data__source": "folders", "data__root": train_root}
        changes |= {"data__eval_root": eval_root, "model__variant": variant}
        run_config = _variant(config, out, f"sst-{variant}", **changes)
        result = _train(run_config, progress)
        truth = pipeline.eval_set(sources.evaluation_videos(run_config, None), run_config, progress)
        inputs = _eval_inputs(run_config, run_config.model.resolution, progress)
        rows[label] = _score(predict(result.sst, inputs.frames, inputs.previous), truth)
    return rows, f"Ground-level data: {what}."


VARIANTS = {"aerial": "Sst (aerial)", "modify-a": "Modify-A", "modify-b": "Modify-B"}


def _resolutions(config, out: Path, values, progress: bool) -> tuple[dict, str]:
    truth = pipeline.eval_set(sources.evaluation_videos(config, None), config, progress)
    temporal = config.teachers.temporal
    rows = {}
    for spatial in config.report.spatial_teachers:
        for resolution in (int(v) for v in values):
            label = f"sst-{resolution}"
            if spatial != config.teachers.spatial:  # the configured teacher keeps sst-<side>
                label += f"-{_folder_name(spatial)}"
            changes = {"model__resolution": resolution, "teachers__spatial": spatial}
            result = _train(_variant(config, out, label, **changes), progress)
            inputs = _eval_inputs(config, resolution, progress)
            row = f"{spatial} / {temporal}, {resolution}x{resolution}"
            rows[row] = _score(predict(result.sst, inputs.frames, inputs.previous), truth)
    return rows, ""


def _folder_name(spec: str) -> str:
    """A teacher's name or path as a folder name (unique enough within one report)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", spec).strip("._")[:48] or "teacher"


def _teachers(config, out: Path, values, progress: bool) -> tuple[dict, str]:
    spatial, temporal = config.report.spatial_teachers, config.report.temporal_teachers
    names = list(dict.fromkeys([*spatial, *temporal]))
    run = _variant(config, out, "stage0")  # trains the deep teachers, if any, and stops
    deep = set(names) & set(sources.DEEP_TEACHERS)
    run.teachers.spatial = next((n for n in spatial if n in deep), spatial[0])
    run.teachers.temporal = next((n for n in temporal if n in deep), temporal[0])
    if deep:
        _train(run, progress, stop_after="stage0")
    videos = sources.evaluation_videos(config, None)
    truth = pipeline.eval_set(videos, config, progress)
    teachers = sources.teachers_by_name(names, Path(run.output), config)
    cache_dir = Path(config.cache_dir)
    cache = build_cache(videos, config.model.resolution, teachers, cache_dir, progress)
    rows = {f"teacher: {name}": _score(cache.teachers[name], truth) for name in names}
    for first in spatial:
        for second in temporal:
            fused = fused_target([cache.teachers[first], cache.teachers[second]], cache_dir)
            rows[f"fused: {first} + {second}"] = _score(fused, truth)
    side = config.model.resolution
    return rows, f"Teacher maps reduced to the students' {side}x{side}, as they learn from them."


def _ablations(config, out: Path, values, progress: bool) -> tuple[dict, str]:
    full = _train(_variant(config, out, "skd"), progress)
    truth = pipeline.eval_set(sources.evaluation_videos(config, None), config, progress)
    inputs = _eval_inputs(config, config.model.resolution, progress)
    only = _train_from_scratch(config, out / "ablation-o", progress)
    models = {
        "Ablation-S (Ss only)": full.spatial,
        "Ablation-T (St only)": full.temporal,
        "Ablation-O (no stage 1)": only,
        "SKD (full)": full.sst,
    }
    rows = {
        label: _score(predict(model, inputs.frames, inputs.previous), truth)
        for label, model in models.items()
    }
    return rows, ""


def _train_from_scratch(config, out: Path, progress: bool) -> Sst:
    """Ablation-O: Sst from a truncated-normal start, hard loss only, no students."""
    context = distributed.setup()
    videos = sources.training_videos(config)
    cache = build_cache(videos, config.model.resolution, [], Path(config.cache_dir), progress)
    targets = cache.targets
    if targets is None:
        raise ValueError("Ablation-O needs labelled training data (it uses no teachers)")
    torch.manual_seed(config.optim.seed)
    settings = pipeline.loop_settings(
        config, config.stage2.epochs, (out / "checkpoint.pt").exists(), progress
    )
    model = Sst(config.model_config())
    pairing = model.config.compensation
    data = PairBatches(cache.frames, cache.previous, targets, compensation=pairing)
    return train_sst(model, data, settings, out, context)


def _mu_sweep(config, out: Path, values, progress: bool) -> tuple[dict, str]:
    truth = pipeline.eval_set(sources.evaluation_videos(config, None), config, progress)
    inputs = _eval_inputs(config, config.model.resolution, progress)
    rows = {}
    for mu in values:
        result = _train(_variant(config, out, f"mu-{mu:.2f}", optim__mu=float(mu)), progress)
        rows[f"mu={mu:.2f}"] = _score(predict(result.sst, inputs.frames, inputs.previous), truth)
    _plot_mu(values, [rows[f"mu={mu:.2f}"]["all"]["NSS"] for mu in values], out / "mu_sweep.png")
    return rows, ""


EXPERIMENTS = {
    "baselines": _baselines,
    "ground-level": _ground_level,
    "resolutions": _resolutions,
    "teachers": _teachers,
    "ablations": _ablations,
    "mu-sweep": _mu_sweep,
}


def _plot_mu(mus, nss, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    ax.plot(mus, nss, marker="o")
    ax.set_xlabel("mu (weight of the soft, teacher loss)")
    ax.set_ylabel("NSS of Sst")
    ax.set_title("mu sweep (paper Fig. 8)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    write_atomic(path, fig.savefig)
    plt.close(fig)
    print(f"wrote {path}", flush=True)
