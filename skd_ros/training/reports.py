"""`train report`: the paper's experiments, reproduced on whatever data the config points to.

- baselines (Tab. I): center bias, the classical teachers, the deep teachers, the students,
  and Sst at 32 and 64.
- resolutions (Tab. IV): Sst trained at each input side (default 32, 64, 128, 256).
- ablations (Tab. VI): Ablation-S (Ss alone), Ablation-T (St alone), Ablation-O (Sst trained
  without stage 1, from a truncated-normal start) against the full SKD model.
- mu-sweep (Fig. 8): NSS of Sst for mu in 0.0, 0.1, ..., 1.0, with a plot.

Each experiment writes `<output>/report-<name>/report.md`, `report.json` (and `mu_sweep.png`).
Training runs live in sub-folders and are resumed, not redone, when a report is run again.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from skd_ros.atomic_write import write_atomic, write_json, write_text
from skd_ros.models import Sst
from skd_ros.training import distributed, evaluate, pipeline, sources
from skd_ros.training.batches import PairBatches
from skd_ros.training.cache import build_cache
from skd_ros.training.predict import center_bias, predict
from skd_ros.training.stages import train_sst

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
    experiment = {
        "baselines": _baselines,
        "resolutions": _resolutions,
        "ablations": _ablations,
        "mu-sweep": _mu_sweep,
    }[name]
    rows = experiment(config, out, parsed, progress)
    write_json(out / "report.json", rows, indent=2)
    text = f"# {name}\n\n" + pipeline._category_tables(rows)
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


def _train(config, progress: bool) -> pipeline.RunResult:
    resume = (Path(config.output) / "config.json").exists()
    return pipeline.run(config, resume=resume, progress=progress)


def _train_at(config, out: Path, resolution: int, progress: bool) -> pipeline.RunResult:
    variant = _variant(config, out, f"sst-{resolution}", model__resolution=resolution)
    return _train(variant, progress)


def _score(maps: np.ndarray, truth: evaluate.EvalSet) -> dict:
    return evaluate.summarise(evaluate.score_frames(maps, truth), truth)


def _eval_inputs(config, resolution: int, progress: bool):
    videos = sources.evaluation_videos(config, None)
    return build_cache(videos, resolution, [], Path(config.cache_dir), progress)


def _baselines(config, out: Path, values, progress: bool) -> dict:
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
    return rows


def _resolutions(config, out: Path, values, progress: bool) -> dict:
    truth = pipeline.eval_set(sources.evaluation_videos(config, None), config, progress)
    rows = {}
    for resolution in (int(v) for v in values):
        result = _train_at(config, out, resolution, progress)
        inputs = _eval_inputs(config, resolution, progress)
        label = f"{config.teachers.spatial} / {config.teachers.temporal}, {resolution}x{resolution}"
        rows[label] = _score(predict(result.sst, inputs.frames, inputs.previous), truth)
    return rows


def _ablations(config, out: Path, values, progress: bool) -> dict:
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
    return {
        label: _score(predict(model, inputs.frames, inputs.previous), truth)
        for label, model in models.items()
    }


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
    model = Sst(pipeline.model_config(config))
    pairing = model.config.compensation
    data = PairBatches(cache.frames, cache.previous, targets, compensation=pairing)
    return train_sst(model, data, settings, out, context)


def _mu_sweep(config, out: Path, values, progress: bool) -> dict:
    truth = pipeline.eval_set(sources.evaluation_videos(config, None), config, progress)
    inputs = _eval_inputs(config, config.model.resolution, progress)
    rows = {}
    for mu in values:
        result = _train(_variant(config, out, f"mu-{mu:.2f}", optim__mu=float(mu)), progress)
        rows[f"mu={mu:.2f}"] = _score(predict(result.sst, inputs.frames, inputs.previous), truth)
    _plot_mu(values, [rows[f"mu={mu:.2f}"]["all"]["NSS"] for mu in values], out / "mu_sweep.png")
    return rows


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
