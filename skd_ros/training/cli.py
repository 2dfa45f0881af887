"""`train`: the command line of skd_ros.training (`ros2 run skd_ros train <command>`).

Commands:
  run        stage 0 (deep teachers, when chosen) -> cache -> stage 1 -> stage 2 -> export ->
             evaluate, all into one run folder; --resume continues an interrupted run
  evaluate   AUC, sAUC, NSS, SIM, CC of an exported model on a split, overall and per category;
             with --sequence FRAMES BOXES: NSS, CC and region hit rates on box-annotated footage
  export     write a run's trained Sst as ONNX + safetensors + JSON (run does this itself)
  quantize   INT8 copy of an exported model (ONNX Runtime static quantization, calibrated on
             synthetic aerial frames), scored beside the fp32 model on the evaluation split
  report     the paper's experiments on your data: baselines, ground-level, resolutions,
             teachers, ablations, mu-sweep
  synthetic  generate a synthetic aerial dataset in the AVS1K layout
  footage    models vs baselines on box-annotated footage: NSS, CC, region hit rates
  background-boxes  MOT boxes for a static camera's video, by background subtraction

Multi-process: `torchrun --nproc_per_node N -m skd_ros.training.cli run ...`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from skd_ros.cli_args import add_size_option, non_negative_int, positive_int
from skd_ros.logs import setup_logging
from skd_ros.training import footage

DEFAULT_CONFIG = "config/train.yaml"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    run = commands.add_parser("run", help="train Sst end to end (both distillation stages)")
    _config_args(run)
    run.add_argument("--resume", action="store_true", help="continue an interrupted run")
    run.add_argument(
        "--stop-after",
        choices=["stage0", "cache", "stage1", "stage2"],
        help="stop after this step (default: run everything, then export and evaluate)",
    )

    evaluate = commands.add_parser("evaluate", help="score an exported model on a split")
    _config_args(evaluate)
    evaluate.add_argument("--model", required=True, type=Path, help="exported model .json")
    evaluate.add_argument("--split", help="split to score (default: data.eval_split)")
    footage.add_sequence_args(evaluate)

    export = commands.add_parser("export", help="export the Sst of a finished run")
    export.add_argument("--run", required=True, type=Path, help="run folder of `train run`")
    export.add_argument("--out", type=Path, help="output folder (default: <run>/model)")
    export.add_argument("--name", default="sst", help="file name stem (default: sst)")
    export.add_argument(
        "--what", default="", help="one line stored in the metadata: what these weights are"
    )

    quantize = commands.add_parser(
        "quantize",
        help="INT8 copy of an exported model, scored",
        description="Write <model>_int8.onnx and <model>_int8.json next to an exported model "
        "(ONNX Runtime static quantization, calibrated on synthetic aerial frame pairs), then "
        "score both models on the config's evaluation split and record their NSS in the INT8 "
        "JSON. --config / --set choose the evaluation data; nothing is written to `output`. "
        "An INT8 model whose NSS drops more than 1 % below the fp32 model's is not written "
        "and the command exits non-zero, unless --keep-below-bar is given.",
    )
    _config_args(quantize)
    quantize.add_argument("--model", required=True, type=Path, help="exported model .json")
    quantize.add_argument(
        "--keep-below-bar",
        action="store_true",
        help="write the INT8 model (and exit 0) even when it misses the 1 %% NSS bar",
    )

    report = commands.add_parser("report", help="reproduce one of the paper's experiments")
    report.add_argument(
        "experiment",
        choices=["baselines", "ground-level", "resolutions", "teachers", "ablations", "mu-sweep"],
        help="baselines: Tab. I; ground-level: aerial vs Modify-A/-B on ground-level data, "
        "Tab. II; resolutions: teacher x resolution, Tab. IV; teachers: each teacher and "
        "the fused targets, Tab. V; ablations: Ablation-S/-T/-O, Tab. VI; mu-sweep: Fig. 8",
    )
    _config_args(report)
    report.add_argument(
        "--values", help="comma-separated values to sweep (resolutions or mu); default: paper's"
    )

    synthetic = commands.add_parser("synthetic", help="generate a synthetic aerial dataset")
    synthetic.add_argument("--out", type=Path, required=True, help="folder to write AVS1K/ into")
    synthetic.add_argument(
        "--videos", type=non_negative_int, nargs=3, default=[16, 4, 8], metavar="N"
    )
    synthetic.add_argument("--frames", type=positive_int, default=40, help="frames per video")
    add_size_option(synthetic, (640, 360), "clip size")
    synthetic.add_argument("--seed", type=int, default=1000, help="base seed")
    footage.add_commands(commands)
    return parser


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help=f"YAML config (default: {DEFAULT_CONFIG} if present)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set optim.mu=0.3 (repeatable)",
    )
    parser.add_argument("--output", type=Path, help="output folder (overrides `output`)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def load(args: argparse.Namespace):
    """The training config of a command: file, then --set overrides, then --output."""
    from skd_ros.training.config import load_config

    path = args.config
    if path is None and Path(DEFAULT_CONFIG).is_file():
        path = Path(DEFAULT_CONFIG)
    config = load_config(path, list(args.overrides))
    if args.output is not None:  # a path as typed, not YAML (`a: b` is a folder name too)
        config.output = str(args.output)
    return config


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `train` console script."""
    setup_logging()
    from skd_ros.inference.model_files import ModelFileError

    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except (ValueError, OSError, ModelFileError) as exc:  # OSError: a path that cannot be used
        print(f"train {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = " (every finished epoch is saved: rerun it with --resume)"
        print(
            f"train {args.command}: interrupted{hint if args.command == 'run' else ''}",
            file=sys.stderr,
        )
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from skd_ros.training import pipeline, reports

    if args.command == "synthetic":
        pipeline.write_synthetic(args.out, args.videos, args.frames, args.size, args.seed)
        return 0
    if args.command == "export":
        pipeline.export_run(args.run, args.out, args.name, args.what)
        return 0
    if args.command in footage.COMMANDS or getattr(args, "sequences", None):
        return footage.run(args)
    config = load(args)
    progress = not args.no_progress
    if args.command == "run":
        pipeline.run(config, resume=args.resume, stop_after=args.stop_after, progress=progress)
    elif args.command == "evaluate":
        pipeline.evaluate_model(config, args.model, args.split, progress=progress)
    elif args.command == "quantize":
        pipeline.quantize(config, args.model, progress=progress, keep_below_bar=args.keep_below_bar)
    elif args.command == "report":
        reports.run_report(args.experiment, config, args.values, progress=progress)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
