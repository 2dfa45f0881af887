"""The command line: ``python -m skd_ros.data.synthetic --out DIR`` (see ``--help``)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from skd_ros.cli_args import add_size_option
from skd_ros.data.synthetic.clips import default_splits
from skd_ros.data.synthetic.writer import write_avs1k, write_frame_folders
from skd_ros.logs import setup_logging


def _parser() -> argparse.ArgumentParser:
    """The options: where, which layout, how many videos of what size, the first seed."""
    parser = argparse.ArgumentParser(
        prog="python -m skd_ros.data.synthetic",
        description="Write a deterministic synthetic aerial saliency dataset "
        "(top-down clips with ground-truth maps), in the AVS1K or frame-folder layout.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--layout",
        choices=["avs1k", "folders"],
        default="avs1k",
        help="avs1k: OUT/AVS1K/<split>/{Frame,Ground}/<video>/<video>_00001.png; "
        "folders: OUT/<video>/{images,maps,fixation}/0001.png (default avs1k)",
    )
    parser.add_argument("--train", type=int, default=16, help="training videos (default 16)")
    parser.add_argument("--valid", type=int, default=4, help="validation videos (default 4)")
    parser.add_argument("--test", type=int, default=8, help="test videos (default 8)")
    parser.add_argument("--frames", type=int, default=100, help="frames per video (default 100)")
    add_size_option(parser, (1280, 720))
    parser.add_argument("--seed", type=int, default=0, help="seed of the first video (default 0)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m skd_ros.data.synthetic`: write a synthetic dataset and say what and how fast."""
    setup_logging()
    parser = _parser()
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        splits = default_splits(
            args.train, args.valid, args.test, args.frames, *args.size, args.seed
        )
    except ValueError as error:  # a bad size, frame count or seed: say which, like argparse
        parser.error(str(error))
    if args.layout == "avs1k":
        where = write_avs1k(args.out, splits)
    else:
        where = write_frame_folders(args.out, [s for specs in splits.values() for s in specs])
    videos = sum(len(specs) for specs in splits.values())
    elapsed = time.perf_counter() - start
    print(
        f"wrote {videos} videos x {args.frames} frames of {args.size[0]}x{args.size[1]} "
        f"({args.layout} layout) to {where} in {elapsed:.1f} s"
    )
    return 0
