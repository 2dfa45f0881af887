"""`train footage`, `train background-boxes`, `train bag` and `train evaluate --sequence`:
real footage on the command line (the scoring is `skd_ros.training.box_eval`).

`train footage` scores models (default: the packaged demo models, INT8 and fp32) beside the
baselines on every `--sequence FRAMES BOXES` and every sequence found under `--footage DIR`;
with neither, it looks for `../shared/footage` and says when that is not there. It prints
one table and writes it to `<output>/footage.md` and `.json` (numbers only).
`train background-boxes` writes MOT boxes for a static camera's video (`skd_ros.data.
background_boxes`) to a file of your choice outside the skd_ros checkout. `train bag`
writes a video file or frame folder, or a part of it, as a rosbag2 bag to train on
(`skd_ros.data.video_bag`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from skd_ros.atomic_write import write_json, write_text
from skd_ros.cli_args import add_part_option, non_negative_float, non_negative_int, positive_int

COMMANDS = ("footage", "background-boxes", "bag")
DEFAULT_FOOTAGE = Path("../shared/footage")
DEFAULT_OUTPUT = Path("outputs/footage")
PACKAGED = ("sst_demo_int8.json", "sst_demo.json")


def add_commands(commands) -> None:
    """The `footage` and `background-boxes` sub-parsers of `train`."""
    from skd_ros.training.box_eval import BASELINES, OPTIONAL_BASELINES

    footage = commands.add_parser(
        "footage",
        help="models vs baselines on box-annotated footage (NSS, CC, region hit rates)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_sequence_args(footage)
    footage.add_argument("--footage", type=Path, help="folder of <name>.txt + <name>/ clips")
    footage.add_argument(
        "--model",
        dest="models",
        action="append",
        type=Path,
        help="exported model .json (repeatable; default: the packaged sst_demo_int8 and sst_demo)",
    )
    footage.add_argument(
        "--baselines",
        nargs="*",
        default=list(BASELINES),
        choices=BASELINES + OPTIONAL_BASELINES,
        help=f"baselines to score (default: {' '.join(BASELINES)}; none: give the flag alone)",
    )
    footage.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"folder (default {DEFAULT_OUTPUT})"
    )

    bag = commands.add_parser(
        "bag",
        help="a video file or frame folder (or part of it) as a rosbag2 bag to train on",
    )
    bag.add_argument("video", type=Path, help="video file or frame folder")
    bag.add_argument("--out", type=Path, required=True, help="new bag folder")
    add_part_option(bag, "keep only this part, as fractions of the frames (e.g. 0 0.7)")
    bag.add_argument("--topic", default="/camera/image_raw", help="image topic")
    bag.add_argument("--fps", type=non_negative_float, default=0.0, help="0: the video's own")
    bag.add_argument("--raw", action="store_true", help="bgr8 Image messages instead of JPEG")
    bag.add_argument("--storage", choices=["sqlite3", "mcap"], default="sqlite3")

    boxes = commands.add_parser(
        "background-boxes",
        help="MOT boxes of moving things in a static camera's video (background subtraction)",
    )
    boxes.add_argument("video", type=Path, help="video file or frame folder")
    boxes.add_argument("--out", type=Path, required=True, help="MOT box file to write")
    boxes.add_argument("--method", choices=["mog2", "knn"], default="mog2")
    boxes.add_argument("--history", type=positive_int, default=300, help="background memory")
    boxes.add_argument("--warmup", type=non_negative_int, default=30, help="frames with no box")
    boxes.add_argument(
        "--min-area-fraction", type=float, default=0.0008, help="smallest box, of the frame area"
    )


def add_sequence_args(parser: argparse.ArgumentParser) -> None:
    """--sequence, --box-format, --every, --iou: shared by `footage` and `evaluate`."""
    parser.add_argument(
        "--sequence",
        dest="sequences",
        nargs=2,
        action="append",
        default=[],
        type=Path,
        metavar=("FRAMES", "BOXES"),
        help="a frame folder or video file and its box file (single-object x,y,w,h lines or "
        "MOT); repeatable",
    )
    parser.add_argument("--box-format", choices=["auto", "single", "mot"], default="auto")
    parser.add_argument("--every", type=positive_int, default=1, help="score every n-th frame")
    parser.add_argument(
        "--iou", type=float, default=0.0, help="overlap hit: best region's IoU above (default 0)"
    )
    add_part_option(
        parser,
        "score only this part of each clip, as fractions of its frames (e.g. 0.7 1.0: the "
        "last 30 %%, held out from a model trained on the rest)",
    )


def run(args: argparse.Namespace) -> int:
    """Run `footage`, `background-boxes` or `evaluate --sequence`."""
    if args.command == "background-boxes":
        return _background_boxes(args)
    if args.command == "bag":
        return _video_bag(args)
    if args.command == "evaluate":
        return _score([args.model], [], args.sequences, args, args.output)
    sequences = list(args.sequences)
    folder = args.footage
    if folder is None and not sequences:
        if not DEFAULT_FOOTAGE.is_dir():
            print(
                f"train footage: no {DEFAULT_FOOTAGE} here (resolved: {DEFAULT_FOOTAGE.resolve()})"
                "; pass --sequence FRAMES BOXES or --footage DIR",
                file=sys.stderr,
            )
            return 2
        folder = DEFAULT_FOOTAGE
    if folder is not None:
        from skd_ros.data.box_sequences import find_sequences

        found = find_sequences(folder)
        print(f"train footage: {len(found)} sequence(s) under {folder}", flush=True)
        sequences = found + sequences
    return _score(args.models or _packaged(), args.baselines, sequences, args, args.output)


def _packaged() -> list[Path]:
    from skd_ros.package_files import find_package_file

    found = [find_package_file("resource/models", "models", name) for name in PACKAGED]
    if None in found:
        raise ValueError(f"the packaged models {PACKAGED} are not installed; pass --model")
    return found


def _score(models, baselines, sequences, args, output: Path | None) -> int:
    from skd_ros.data.box_sequences import open_sequence
    from skd_ros.training import box_eval

    if args.part[0] >= args.part[1]:
        raise ValueError(f"--part {args.part[0]:g} {args.part[1]:g}: START must be below END")
    opened = [open_sequence(frames, boxes, args.box_format) for frames, boxes in sequences]
    models = list(dict.fromkeys(Path(model).resolve() for model in models))  # each once
    names = box_eval.model_names(models)
    pairs = zip(models, names, strict=True)
    methods = [box_eval.model_method(model, name=name) for model, name in pairs]
    side = methods[0].map_of.engine.resolution if methods else box_eval.DEFAULT_SIDE
    methods += [box_eval.baseline_method(name, side) for name in baselines]
    results = {}
    for sequence in opened:
        print(f"scoring {sequence.name} ({sequence.source.path})", flush=True)
        results[sequence.name] = box_eval.evaluate_sequence(
            sequence, methods, side, args.every, args.iou, part=tuple(args.part)
        )
    table = box_eval.markdown(results)
    print(table, flush=True)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        report = {"every": args.every, "iou": args.iou, "part": args.part, "map_side": side}
        report["clips"] = results
        write_json(output / "footage.json", report, indent=2)
        write_text(output / "footage.md", table + "\n")
        print(f"wrote {output / 'footage.md'} and {output / 'footage.json'}")
    return 0


def _video_bag(args: argparse.Namespace) -> int:
    from skd_ros.data.video_bag import write_video_bag

    part = (args.part[0], args.part[1])
    written = write_video_bag(
        args.video, args.out, part, args.topic, args.fps, args.raw, args.storage
    )
    print(
        f"wrote {args.out}: frames {written['first']}-{written['last']} of {args.video} "
        f"({written['frames']} frames at {written['fps']:g} Hz) on {written['topic']}"
    )
    return 0


def _background_boxes(args: argparse.Namespace) -> int:
    from skd_ros.data.background_boxes import BackgroundBoxSettings, write_background_boxes

    settings = BackgroundBoxSettings(
        method=args.method,
        history=args.history,
        warmup=args.warmup,
        min_area_fraction=args.min_area_fraction,
    )
    summary = write_background_boxes(args.video, args.out, settings)
    print(
        f"wrote {args.out}: {summary['boxes']} boxes in {summary['frames_with_boxes']} of "
        f"{summary['frames']} frames",
        flush=True,
    )
    return 0
