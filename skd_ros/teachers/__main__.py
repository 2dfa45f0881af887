"""`python -m skd_ros.teachers`: per-frame cost of every built-in teacher on 720p frames.

Runs on one thread by default (OpenCV and torch), on a synthetic 1280x720 Vehicle clip.
The deep teachers are timed untrained (the cost does not depend on the weights).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import torch

from skd_ros.cli_args import add_size_option, positive_int
from skd_ros.data.synthetic import ClipSpec, generate_clip
from skd_ros.logs import setup_logging
from skd_ros.markdown import table
from skd_ros.teachers.timing import builtin_teachers_for_timing


def main(argv: list[str] | None = None) -> int:
    setup_logging()
    parser = argparse.ArgumentParser(prog="python -m skd_ros.teachers", description=__doc__)
    parser.add_argument("--threads", type=positive_int, default=1, help="OpenCV and torch threads")
    parser.add_argument("--repeats", type=positive_int, default=20, help="timed calls per teacher")
    add_size_option(parser, (1280, 720))
    args = parser.parse_args(argv)
    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    width, height = args.size
    frames = [f.image for f in generate_clip(ClipSpec(7, "Vehicle", 3, width, height))]
    with tempfile.TemporaryDirectory() as folder:
        teachers = builtin_teachers_for_timing(Path(folder))
        rows = []
        for teacher in teachers:
            teacher(frames[0], frames[1])  # warm up
            started = time.perf_counter()
            for i in range(args.repeats):
                teacher(frames[i % 2], frames[1 + i % 2])
            ms = (time.perf_counter() - started) / args.repeats * 1e3
            rows.append([teacher.name, teacher.kind, f"{ms:.1f}"])
    header = ["teacher", "kind", f"ms / frame at {width}x{height}, {args.threads} thread(s)"]
    print(table(header, rows, "llr"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
