"""The model-only demo: the SKD networks working on a synthetic aerial clip, without ROS.

(The README's demo is `skd_ros.demo_node`, executable `demo_node`: the model inside the ROS node.)
Builds Ss, St and Sst, generates a synthetic aerial clip, reduces every frame with R,
runs Sst on each (previous, current) pair, prints what it cost and writes a contact sheet.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from skd_ros import metrics
from skd_ros.atomic_write import write_image
from skd_ros.cli_args import add_size_option, positive_int
from skd_ros.data.synthetic import ClipSpec, generate_clip
from skd_ros.export import load_sst
from skd_ros.inference.compensation import compensate
from skd_ros.inference.model_files import default_model_path
from skd_ros.logs import setup_logging
from skd_ros.models import Sst
from skd_ros.models.summary import format_summary, summary
from skd_ros.preprocess import prepare_frame, prepare_map
from skd_ros.training.predict import center_bias
from skd_ros.visualize import contact_sheet, label, overlay


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m skd_ros.model_demo", description=__doc__)
    parser.add_argument("--frames", type=positive_int, default=60, help="clip length (default 60)")
    parser.add_argument("--seed", type=int, default=7, help="synthetic clip seed (default 7)")
    add_size_option(parser, (640, 360), "clip size (the demo weights' training size)")
    parser.add_argument(
        "--model", type=Path, help="exported model .json (default: the packaged demo weights)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("outputs/model_demo"),
        help="output folder (outputs/model_demo)",
    )
    return parser.parse_args(argv)


def run_clip(model: Sst, spec: ClipSpec, size: int) -> tuple[list, dict[str, list[float]]]:
    """Run R and Sst over the clip; return sample rows for the sheet and per-frame costs."""
    costs: dict[str, list[float]] = {"reduce_ms": [], "sst_ms": []}
    scores: dict[str, list[float]] = {"sst_nss": [], "center_nss": []}
    center = center_bias(1, size)[0]
    previous, samples = None, []
    for frame in generate_clip(spec):
        start = time.perf_counter()
        current = torch.from_numpy(prepare_frame(frame.image, size))[None]
        costs["reduce_ms"].append((time.perf_counter() - start) * 1e3)
        previous = current if previous is None else previous  # first frame pairs with itself
        start = time.perf_counter()
        before = compensate(previous[0].numpy(), current[0].numpy(), model.config.compensation)
        with torch.inference_mode():
            saliency = model(torch.from_numpy(before)[None], current)[0, 0].numpy()
        costs["sst_ms"].append((time.perf_counter() - start) * 1e3)
        previous = current
        target = prepare_map(frame.saliency, size)[0]
        scores["sst_nss"].append(metrics.nss_weighted(saliency, target))
        scores["center_nss"].append(metrics.nss_weighted(center, target))
        if frame.index % max(1, spec.n_frames // 4) == 0 and len(samples) < 4:
            samples.append(_sheet_row(frame, saliency))
    return samples, {**costs, **scores}


def _sheet_row(frame, saliency: np.ndarray) -> list[np.ndarray]:
    return [
        label(frame.image, f"frame {frame.index}"),
        label(overlay(frame.image, frame.saliency), "ground truth"),
        label(overlay(frame.image, saliency), "Sst"),
    ]


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m skd_ros.model_demo` (the node's demo is `demo_node`)."""
    setup_logging()
    args = parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    model = load_sst(args.model or default_model_path())
    config = model.config
    print(f"SKD networks at {config.resolution}x{config.resolution}:\n")
    print(format_summary(summary(config)))

    width, height = args.size
    spec = ClipSpec(args.seed, "Vehicle", args.frames, width, height)
    print(f"\nsynthetic clip: {spec.n_frames} frames {spec.width}x{spec.height}, seed {spec.seed}")
    samples, stats = run_clip(model, spec, config.resolution)

    print("\n| per frame, one thread | median | p90 |\n|---|---:|---:|")
    for key in ("reduce_ms", "sst_ms"):
        values = np.asarray(stats[key][1:])  # the first call pays one-off set-up costs
        print(f"| {key} | {np.median(values):.3f} | {np.percentile(values, 90):.3f} |")
    print(
        f"\nNSS against ground truth (mean over frames): Sst "
        f"{np.mean(stats['sst_nss']):.2f}, center bias {np.mean(stats['center_nss']):.2f}.\n"
        "(Packaged weights: synthetic-trained demo weights; docs/demo-weights.md.)"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    sheet_path = args.out / "contact_sheet.png"
    write_image(sheet_path, contact_sheet(samples))
    print(f"\nwrote {sheet_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
