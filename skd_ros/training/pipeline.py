"""`train run`, `evaluate`, `quantize`: data -> teachers -> cache -> stage 1 -> stage 2 -> export.

A run folder holds everything a run made: `teachers/` (stage-0 weights), `stage1-spatial/`,
`stage1-temporal/`, `stage2-sst/` (checkpoint.pt and log.jsonl each), `model/` (the
exported Sst) and `metrics.json` / `metrics.md`. Every step that finished is reused by
`--resume`, so a killed run loses at most the epoch it was in.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from skd_ros.atomic_write import write_json, write_text
from skd_ros.export import export_sst, load_sst
from skd_ros.inference.engine import SaliencyEngine
from skd_ros.inference.model_files import read_description
from skd_ros.models import SpatialStudent, Sst, TemporalStudent
from skd_ros.preprocess import unit_scale
from skd_ros.quoting import shown
from skd_ros.training import distributed, evaluate, sources
from skd_ros.training.batches import PairBatches
from skd_ros.training.cache import build_cache
from skd_ros.training.checkpoint import load_checkpoint
from skd_ros.training.config import TrainConfig
from skd_ros.training.loop import CHECKPOINT, LoopSettings, earlier_run
from skd_ros.training.output_check import silence_warning, silent_share
from skd_ros.training.predict import predict
from skd_ros.training.stages import fused_target, train_sst, train_student
from skd_ros.training.teacher_check import check_teachers

INT8_MAX_NSS_DROP = 0.01  # an INT8 model may lose at most 1 % of the fp32 NSS
STAGE_DIRS = {"spatial": "stage1-spatial", "temporal": "stage1-temporal", "sst": "stage2-sst"}


@dataclass
class RunResult:
    """What `run` produced."""

    run_dir: Path
    spatial: SpatialStudent | None = None
    temporal: TemporalStudent | None = None
    sst: Sst | None = None
    model_json: Path | None = None
    metrics: dict | None = None


def loop_settings(config: TrainConfig, epochs: int, resume: bool, progress: bool) -> LoopSettings:
    """Epoch-loop settings of a stage from the `optim` section."""
    o = config.optim
    return LoopSettings(epochs, o.batch_size, o.lr, o.seed, o.workers, resume, progress)


def run(
    config: TrainConfig,
    resume: bool = False,
    stop_after: str | None = None,
    progress: bool = True,
) -> RunResult:
    """Train Sst end to end as configured; see the module docstring for the folder layout."""
    if stop_after == "stage1" and config.model.init:
        raise ValueError(
            "--stop-after stage1 with model.init: fine-tuning skips stage 1; "
            "use --stop-after cache or stage2"
        )
    context = distributed.setup()
    if config.threads:
        torch.set_num_threads(config.threads)
    run_dir = Path(config.output)
    result = RunResult(run_dir)
    started = time.perf_counter()
    try:
        _start_run(config, run_dir, resume, context)
        if context.is_main:
            sources.prepare(config)
        distributed.barrier(context)
        videos = sources.training_videos(config)
        scored = sources.has_evaluation_data(config)
        if stop_after is None and scored:  # the run scores its model only at the end: check now
            sources.evaluation_videos(config, None)
        if not any(v.labelled for v in videos):
            _say(context, sources.UNLABELLED_NOTICE)
        teachers = sources.stage0_teachers(config, run_dir, videos, context, progress)
        if stop_after == "stage0":
            return result
        cache = _shared_cache(videos, config.model.resolution, teachers, config, context, progress)
        if stop_after == "cache":
            return result
        steps = (config, cache, teachers, run_dir, resume, context, progress)
        result = _train_stages(*steps, students_only=stop_after == "stage1")
        if stop_after in ("stage1", "stage2") or not context.is_main:
            return result
        _check_output(result.sst, cache, config)
        result.model_json = _export(result.sst, run_dir, config, time.perf_counter() - started)
        if not scored:
            _say(context, sources.NOT_SCORED_NOTICE)
            return result
        result.metrics = evaluate_model(config, result.model_json, progress=progress)
        return result
    finally:
        distributed.teardown(context)


def _start_run(config: TrainConfig, run_dir: Path, resume: bool, context) -> None:
    saved = run_dir / "config.json"
    if context.is_main:
        if not resume and (done := _earlier_steps(run_dir)):  # before config.json is replaced
            raise earlier_run(done[0])
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume and saved.exists():
            now = json.loads(json.dumps(config.to_dict()))
            if changed := _changed_keys(_recorded_config(saved), now):
                raise ValueError(
                    f"--resume with a different config than {saved} recorded "
                    f"({', '.join(changed)}); resume with the same settings, or start a new "
                    "run in another --output folder"
                )
        write_json(saved, config.to_dict(), indent=2)
    distributed.barrier(context)
    distributed.check_shared(run_dir, context, "output")  # stage 0 and checkpoints go there


# settings that do not change what a run computes: free to differ on --resume
RESUME_FREE = ("output", "cache_dir", "threads", "optim.workers", "report")


def _recorded_config(saved: Path) -> dict:
    try:
        recorded = json.loads(saved.read_text())
    except (OSError, ValueError) as error:
        recorded = error
    if not isinstance(recorded, dict):
        raise ValueError(
            f"{saved} is not the config a `train run` writes ({shown(recorded)}); restore it, "
            "or start a new run in another --output folder"
        )
    return recorded


def _changed_keys(before: dict, now: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ (RESUME_FREE ones aside)."""
    changed = []
    for key in sorted(set(before) | set(now)):
        dotted, old, new = f"{prefix}{key}", before.get(key), now.get(key)
        if dotted in RESUME_FREE:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changed += _changed_keys(old, new, f"{dotted}.")
        elif old != new:
            changed.append(f"{dotted}: {shown(old)} -> {shown(new)}")
    return changed


def _earlier_steps(run_dir: Path) -> list[Path]:
    """What an earlier run in `run_dir` finished: stage-0 teachers and stage checkpoints."""
    checkpoints = (run_dir / name / CHECKPOINT for name in STAGE_DIRS.values())
    return sorted(run_dir.glob("teachers/*.json")) + [p for p in checkpoints if p.exists()]


def _shared_cache(videos, resolution, teachers, config, context, progress):
    """Build the cache, every process labelling its share of the videos, and load it."""
    bar = progress and context.is_main
    workers = config.threads or None  # `threads` is per process: labelling threads too
    return build_cache(videos, resolution, teachers, Path(config.cache_dir), bar, workers, context)


def _train_stages(
    config, cache, teachers, run_dir, resume, context, progress, students_only: bool = False
) -> RunResult:
    shape = config.model_config()
    spatial_name, temporal_name = (teacher.name for teacher in teachers)
    targets = cache.targets
    if targets is None:
        chosen = {"fused": [spatial_name, temporal_name], "spatial": [spatial_name]}
        names = chosen.get(config.teachers.target, [temporal_name])
        _say(context, f"Sst's target on this unlabelled data: {' + '.join(names)}")
        targets = fused_target([cache.teachers[name] for name in names], Path(config.cache_dir))
        _report_teachers(cache, [spatial_name, temporal_name], run_dir, context, config)
    init = config.init_model()
    if init is not None:
        return _fine_tune(config, init, cache, targets, run_dir, resume, context, progress)
    stage1 = loop_settings(config, config.stage1.epochs, resume, progress)
    students = {}
    for kind, teacher_name in (("spatial", spatial_name), ("temporal", temporal_name)):
        teacher = cache.teachers[teacher_name]
        pairing = shape.compensation if kind == "temporal" else "none"
        data = PairBatches(cache.frames, cache.previous, targets, teacher, pairing)
        stage_dir = run_dir / STAGE_DIRS[kind]
        students[kind] = train_student(
            kind, shape, data, config.optim.mu, stage1, stage_dir, context
        )
    if students_only:
        return RunResult(run_dir, students["spatial"], students["temporal"])
    torch.manual_seed(config.optim.seed)  # the head's init must not depend on stage 1's path
    sst = Sst.from_students(students["spatial"], students["temporal"])
    stage2 = loop_settings(config, config.stage2.epochs, resume, progress)
    data = PairBatches(cache.frames, cache.previous, targets, compensation=shape.compensation)
    sst = train_sst(sst, data, stage2, run_dir / STAGE_DIRS["sst"], context)
    return RunResult(run_dir, students["spatial"], students["temporal"], sst)


def _check_output(sst: Sst, cache, config: TrainConfig) -> None:
    """Warn when the trained Sst is silent where the node would look for regions."""
    share = silent_share(sst, cache.frames, cache.previous)
    warning = silence_warning(share, fine_tuned=bool(config.model.init))
    print(
        f"WARNING: {warning}"
        if warning
        else f"Sst speaks on {100 - 100 * share:.0f} % of "
        "the sampled training frames (map above the node's peaks.threshold)",
        flush=True,
    )


def _two(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _report_teachers(cache, names: list[str], run_dir: Path, context, config) -> None:
    """Say how far the teachers of unlabelled data can be trusted (teacher_check.json)."""
    maps = {name: cache.teachers[name] for name in names}
    report = check_teachers(maps, cache.previous, config.teachers.target)
    stability = ", ".join(f"{name} {_two(value)}" for name, value in report["stability"].items())
    _say(
        context,
        f"teachers on this data: stability (CC with the frame before) {stability}; "
        f"agreement of the two {_two(report['agreement'])}",
    )
    for warning in report["warnings"]:
        _say(context, f"WARNING: {warning}")
    if context.is_main:
        write_json(run_dir / "teacher_check.json", report, indent=2)


def _fine_tune(config, init: Path, cache, targets, run_dir, resume, context, progress):
    """Stage 2 from an exported Sst's weights (`model.init`) instead of fresh students."""
    _say(context, f"model.init: stage 2 starts from {init} (fine-tuning; stage 1 is skipped)")
    sst = load_sst(init).train()
    stage2 = loop_settings(config, config.stage2.epochs, resume, progress)
    shape = config.model_config()
    data = PairBatches(cache.frames, cache.previous, targets, compensation=shape.compensation)
    sst = train_sst(sst, data, stage2, run_dir / STAGE_DIRS["sst"], context, calibrate_head=False)
    return RunResult(run_dir, sst=sst)


def _export(sst: Sst, run_dir: Path, config: TrainConfig, seconds: float) -> Path:
    info = {
        "data": {"source": config.data.source, "root": config.data.root},
        "teachers": {"spatial": config.teachers.spatial, "temporal": config.teachers.temporal},
        "init": str(config.init_model() or ""),
        "config": config.to_dict(),
        "training_seconds": round(seconds, 1),
        "history": {
            stage: load_checkpoint(run_dir / folder / CHECKPOINT).history
            for stage, folder in STAGE_DIRS.items()
            if (run_dir / folder / CHECKPOINT).is_file()  # fine-tuning has no stage 1
        },
    }
    paths = export_sst(sst.cpu(), run_dir / "model", "sst", info)
    print(f"exported {paths.onnx}, {paths.weights}, {paths.metadata}", flush=True)
    return paths.metadata


def export_run(run_dir: Path, out: Path | None = None, name: str = "sst", what: str = "") -> Path:
    """Export the stage-2 checkpoint of `run_dir`: for runs stopped before export, or to
    publish a run's model elsewhere with its provenance (`what` describes it in one line)."""
    run_dir = Path(run_dir)
    saved = run_dir / "config.json"
    if not saved.is_file():
        raise FileNotFoundError(f"{saved} does not exist: {run_dir} is not a `train run` folder")
    from skd_ros.training.config import load_config

    config = load_config(None)
    try:
        saved_config = json.loads(saved.read_text())
        shape_dict = saved_config["model"]
        config.model.resolution = int(shape_dict["resolution"])
        config.model.variant = str(shape_dict["variant"])
        config.model.compensation = str(shape_dict.get("compensation", "none"))
        config.model.motion_input = shape_dict.get("motion_input", False) is True
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{saved} is not the config a `train run` writes ({type(exc).__name__}: {exc}); "
            "export from an untouched run folder"
        ) from None
    checkpoint = run_dir / STAGE_DIRS["sst"] / CHECKPOINT
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint} does not exist: stage 2 has not run yet")
    sst = Sst(config.model_config())
    sst.load_state_dict(load_checkpoint(checkpoint).model)
    info = _run_info(run_dir, saved_config) | ({"what": what} if what else {})
    paths = export_sst(sst, out or run_dir / "model", name, info)
    print(f"exported {paths.onnx}, {paths.weights}, {paths.metadata}")
    return paths.metadata


def _run_info(run_dir: Path, config: dict) -> dict:
    """What the run's own export recorded (data, teachers, config, time) and its scores,
    without the per-epoch history, which stays in the run folder."""
    info: dict = {"run": str(run_dir), "config": config}
    own = run_dir / "model" / "sst.json"
    if own.is_file():
        info |= json.loads(own.read_text()).get("info", {})
        info.pop("history", None)
    metrics = run_dir / "model" / "metrics.json"
    if metrics.is_file():
        data = info["config"].get("data", {})
        info["metrics"] = {
            "data": f"{data.get('source', '?')} {data.get('eval_split', '?')}",
            "scores": json.loads(metrics.read_text()),
        }
    return info


def evaluate_model(
    config: TrainConfig,
    model_json: Path,
    split: str | None = None,
    progress: bool = True,
    write: bool = True,
) -> dict:
    """Score an exported Sst, as the node runs it (ONNX Runtime), on the evaluation split.

    Prints the table and (`write`) saves it as metrics.json and metrics.md next to the model
    (a packaged model's under `<output>/evaluate/<name>/`: the package's files stay as
    installed). The model is loaded (and checked) before any data is read.
    """
    engine = exported_engine(config, model_json)
    videos = sources.evaluation_videos(config, split)
    truth = eval_set(videos, config, progress)
    summary = _score_exported(config, engine, videos, truth, progress)
    table = evaluate.category_tables({Path(model_json).stem: summary})
    if write:
        out = _metrics_folder(config, Path(model_json))
        write_json(out / "metrics.json", summary, indent=2)
        write_text(out / "metrics.md", table + "\n")
        print(f"wrote {out / 'metrics.json'} and metrics.md", flush=True)
    print(table, flush=True)
    return summary


def _metrics_folder(config: TrainConfig, model_json: Path) -> Path:
    """Next to the model, unless it is one of the package's own files."""
    from skd_ros.package_files import find_package_file

    packaged = find_package_file("resource/models", "models", model_json.name)
    if packaged is not None and packaged.resolve() == model_json.resolve():
        return Path(config.output) / "evaluate" / model_json.stem
    return model_json.parent


def _score_exported(config: TrainConfig, engine, videos, truth, progress: bool) -> dict:
    maps = exported_maps(config, engine, videos, progress)
    return evaluate.summarise(evaluate.score_frames(maps, truth), truth)


def exported_engine(config: TrainConfig, model_json: Path) -> SaliencyEngine:
    """An exported model loaded as the node runs it (ONNX Runtime), with the run's threads."""
    return SaliencyEngine(model_json, threads=config.threads or torch.get_num_threads())


def exported_maps(config: TrainConfig, model: Path | SaliencyEngine, videos, progress: bool = True):
    """Maps of an exported model (its JSON, or its loaded engine), run as the node runs it,
    for every frame of `videos`."""
    engine = model if isinstance(model, SaliencyEngine) else exported_engine(config, model)
    inputs = build_cache(videos, engine.resolution, [], Path(config.cache_dir), progress)
    return exported_predictions(engine, inputs)


def exported_predictions(engine: SaliencyEngine, cache, batch: int = 64) -> np.ndarray:
    """Maps of an exported model for every cached frame (paired with its predecessor; the
    engine compensates the pair as the model asks, as the node's does)."""
    maps = []
    for start in range(0, len(cache.frames), batch):
        index = np.arange(start, min(start + batch, len(cache.frames)))
        current = unit_scale(cache.frames[index])
        previous = unit_scale(cache.frames[cache.previous[index]])
        maps.append(engine.predict_batch(previous, current))
    return np.concatenate(maps)


class AccuracyBarMissed(ValueError):
    """The INT8 model loses more NSS than INT8_MAX_NSS_DROP allows; nothing was written."""


def quantize(
    config: TrainConfig, model_json: Path, progress: bool = True, keep_below_bar: bool = False
) -> Path:
    """`train quantize`: INT8 copy of an exported model, scored beside the fp32 one.

    The INT8 files are made and scored in a scratch folder beside the model and moved into
    place only when the NSS drop is within INT8_MAX_NSS_DROP (or `keep_below_bar`);
    otherwise AccuracyBarMissed is raised and an earlier INT8 model stays as it was. Both
    NSS values, the relative drop and the verdict are recorded in the INT8 model's JSON.
    """
    from skd_ros.quantize import quantize_model

    description = read_description(model_json)
    folder = description.path.parent
    fp32_engine = exported_engine(config, description.path)  # checked before any work
    with tempfile.TemporaryDirectory(dir=folder, prefix=".quantize-") as scratch:
        int8_json = quantize_model(description.path, out_dir=Path(scratch))
        engines = (fp32_engine, exported_engine(config, int8_json))
        videos = sources.evaluation_videos(config, None)
        truth = eval_set(videos, config, progress)
        scored = [_score_exported(config, e, videos, truth, progress) for e in engines]
        print(evaluate.category_tables({"fp32": scored[0], "int8": scored[1]}), flush=True)
        fp32, int8 = (summary["all"]["NSS"] for summary in scored)
        drop = (fp32 - int8) / abs(fp32) if fp32 else 0.0
        within = drop <= INT8_MAX_NSS_DROP  # NaN (a flat INT8 map) is outside
        scores = f"NSS fp32 {fp32:.3f}, int8 {int8:.3f} (drop {100 * drop:.2f} %"
        bar = f"the {100 * INT8_MAX_NSS_DROP:.0f} % bar"
        if not within and not keep_below_bar:
            raise AccuracyBarMissed(
                f"{scores}, outside {bar}): the INT8 model was not written (an earlier one in "
                f"{folder} is unchanged); rerun with --keep-below-bar to keep it anyway"
            )
        record = {"nss_fp32": fp32, "nss_int8": int8, "nss_drop": drop, "within_bar": within}
        target = _install_int8(int8_json, folder, record)
    verdict = "within" if within else "OUTSIDE (kept: --keep-below-bar)"
    print(f"wrote {target}: {scores}, {verdict} {bar})", flush=True)
    return target


def _install_int8(int8_json: Path, folder: Path, record: dict) -> Path:
    """Record the scores in the scratch INT8 JSON, then move its ONNX file and it into
    `folder` (renames: a link at either name is replaced, not written through)."""
    metadata = json.loads(int8_json.read_text())
    metadata["quantization"].update(record)
    write_json(int8_json, metadata, indent=2, sort_keys=True)
    onnx_name = metadata["files"]["onnx"]
    os.replace(int8_json.parent / onnx_name, folder / onnx_name)
    os.replace(int8_json, folder / int8_json.name)
    return folder / int8_json.name


def eval_set(videos, config: TrainConfig, progress: bool = True) -> evaluate.EvalSet:
    """Ground truth of `videos` at the evaluation resolution (cached like the inputs)."""
    cache = build_cache(videos, evaluate.EVAL_SIZE, [], Path(config.cache_dir), progress)
    if cache.targets is None:
        raise ValueError(
            "the evaluation data has no ground-truth maps; evaluate on labelled data "
            "(AVS1K, frame folders with maps, or the synthetic set)"
        )
    categories = [v.get("category") for v in cache.videos]
    return evaluate.EvalSet.from_maps(cache.targets, cache.video, categories)


def write_synthetic(out: Path, videos: list[int], frames: int, size: list[int], seed: int) -> Path:
    """`train synthetic`: write a synthetic AVS1K-layout dataset."""
    return sources.write_synthetic(Path(out), videos, frames, size, seed)


def _say(context, text: str) -> None:
    if context.is_main:
        print(text, flush=True)


def predictions_of(model: torch.nn.Module, cache) -> np.ndarray:
    """Maps of a trained network for every frame of `cache`."""
    return predict(model, cache.frames, cache.previous)
