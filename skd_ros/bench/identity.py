"""`python -m skd_ros.bench.identity`: region id switches per 100 frames, and what ids cost.

Each clip runs through the node's pipeline without ROS: the packaged model on frame pairs
(`SaliencyStream`), `find_regions` and `RegionTracker` with the node's default parameters,
and the bearings of a calibrated 1280x720 camera (plumb_bob distortion). Ground truth with
target identities: synthetic clips (`skd_ros.data.synthetic`; people, cars, boats or animals
that move) and box-annotated footage (`--footage DIR`: `<name>.txt` of `x,y,w,h` lines, one
target, beside the `<name>/` frames; default `../shared/footage/uav123` when it is there).

A visible target is matched in a frame to the region whose box holds the centre of the
target's box (the nearest centroid if several do). An id switch is a matched target whose
region id differs from the one it had when last matched (CLEAR-MOT's IDSW); the count is
given per 100 frames, beside the same count with the region's rank as its id (what a consumer
had before ids). The cost is the CPU time (this thread) of the tracker's update plus the
bearings, per frame.
Prints Markdown.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skd_ros.geometry import Camera, add_bearings
from skd_ros.inference.engine import SaliencyEngine, SaliencyStream
from skd_ros.inference.peaks import find_regions
from skd_ros.inference.tracking import RegionTracker
from skd_ros.logs import setup_logging
from skd_ros.markdown import table
from skd_ros.preprocess import prepare_frame
from skd_ros.ros.params import BY_NAME

SYNTHETIC = [(seed, category) for category in ("Human", "Vehicle", "Others") for seed in (1, 2, 3)]
DEFAULT_FOOTAGE = Path("../shared/footage/uav123")
CAMERA = Camera.from_calibration(
    1280, 720, [[900.0, 0, 640.0], [0, 900.0, 360.0], [0, 0, 1]], [-0.2, 0.05, 0, 0, 0], ""
)


@dataclass
class Clip:
    """Frames (BGR) with each visible target's box (x0, y0, x1, y1, exclusive) by identity."""

    name: str
    fps: float
    frames: Iterator[tuple[np.ndarray, dict[int, tuple[float, float, float, float]]]]


@dataclass
class Count:
    """Id switches of one clip, with the tracker's ids and with ranks as ids."""

    frames: int = 0
    visible: int = 0  # target-frames with the target in view
    matched: int = 0  # ... and a region on it
    switches: int = 0
    rank_switches: int = 0
    costs_s: list[float] = field(default_factory=list)
    regions: int = 0
    _last: dict[int, int] = field(default_factory=dict)
    _last_rank: dict[int, int] = field(default_factory=dict)

    def add(self, regions: np.ndarray, targets: dict) -> None:
        self.frames += 1
        self.regions += len(regions)
        for identity, box in targets.items():
            self.visible += 1
            index = _region_on(regions, box)
            if index is None:
                continue
            self.matched += 1
            track = int(regions[index]["id"])
            self.switches += self._last.get(identity, track) != track
            self.rank_switches += self._last_rank.get(identity, index) != index
            self._last[identity], self._last_rank[identity] = track, index


def _region_on(regions: np.ndarray, box) -> int | None:
    """Index of the region holding the centre of `box`, the nearest centroid if several."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    holds = (regions["x_min"] <= cx) & (cx < regions["x_max"])
    holds &= (regions["y_min"] <= cy) & (cy < regions["y_max"])
    if not holds.any():
        return None
    distance = np.hypot(regions["u"] - cx, regions["v"] - cy)
    return int(np.argmin(np.where(holds, distance, np.inf)))


def run_clip(clip: Clip, stream: SaliencyStream) -> Count:
    """Feed the clip through model, peaks and tracker; count its id switches."""
    tracker, count = RegionTracker(), Count()
    defaults = {name: BY_NAME[f"peaks.{name}"].default for name in ("threshold", "nms_iou")}
    stream.reset()
    step_ns = round(1e9 / clip.fps)
    for index, (image, targets) in enumerate(clip.frames):
        height, width = image.shape[:2]
        stamp = index * step_ns
        result = stream.step(prepare_frame(image, stream.engine.resolution), stamp, (width, height))
        regions = find_regions(
            result.saliency,
            (width, height),
            threshold=defaults["threshold"],
            max_regions=BY_NAME["peaks.max_regions"].default,
            nms_iou=defaults["nms_iou"],
            relative=BY_NAME["peaks.relative_threshold"].default,
        )
        began = time.thread_time()
        if result.reset is not None:
            tracker.reset()
        tracker.update(regions, stamp)
        add_bearings(regions, CAMERA.scaled(width, height))
        count.costs_s.append(time.thread_time() - began)
        count.add(regions, targets)
    return count


def synthetic_clip(seed: int, category: str, n_frames: int) -> Clip:
    """A synthetic 1280x720 clip at 30 fps; identities from the generator."""
    from skd_ros.data.synthetic import ClipSpec, generate_clip

    def frames():
        for frame in generate_clip(ClipSpec(seed, category, n_frames, 1280, 720)):
            boxes = {
                i: (b[0], b[1], b[2] + 1, b[3] + 1)
                for i, b in zip(frame.identities, frame.boxes, strict=True)
            }
            yield frame.image, boxes

    return Clip(f"synthetic {category}_{seed:04d}", 30.0, frames())


def footage_clips(folder: Path, fps: float = 10.0) -> list[Clip]:
    """Every box-annotated sequence in `folder` (`data.box_sequences.find_sequences`); the
    first box of a frame is the target, id 0."""
    from skd_ros.data.box_sequences import find_sequences, open_sequence

    clips = []
    for frames, boxes in find_sequences(folder):
        sequence = open_sequence(frames, boxes)
        clips.append(Clip(f"footage {sequence.name}", fps, _footage_frames(sequence)))
    return clips


def _footage_frames(sequence):
    for index, image in sequence.frames():
        visible = sequence.boxes.visible(index)
        x, y, w, h = sequence.boxes.frames[index][0] if visible else (0.0,) * 4
        yield image, ({0: (x, y, x + w, y + h)} if visible else {})


def markdown(results: dict[str, Count]) -> str:
    """One row per clip, and the totals."""
    header = ["clip", "frames", "target in view", "matched", "id switches", "per 100 frames"]
    header += ["rank as id: switches", "per 100 frames"]
    cells = []
    total = Count()
    for name, c in results.items():
        cells.append(_row(name, c))
        for key in ("frames", "visible", "matched", "switches", "rank_switches", "regions"):
            setattr(total, key, getattr(total, key) + getattr(c, key))
        total.costs_s += c.costs_s
    cells.append(_row("**all**", total))
    costs = np.array(total.costs_s) * 1e3
    rows = [
        table(header, cells),
        "",
        f"tracking + bearings (CPU): median {np.median(costs):.3f} ms, p99 "
        f"{np.percentile(costs, 99):.3f} ms per frame, {total.regions / total.frames:.1f} "
        f"regions per frame on average ({total.frames} frames)",
    ]
    return "\n".join(rows)


def _row(name: str, c: Count) -> list:
    per = 100.0 / max(c.frames, 1)
    counts = [name, c.frames, c.visible, c.matched, c.switches]
    return [*counts, f"{c.switches * per:.2f}", c.rank_switches, f"{c.rank_switches * per:.2f}"]


def main(argv: list[str] | None = None) -> int:
    """Run every clip and print the table."""
    setup_logging()
    parser = argparse.ArgumentParser(prog="python -m skd_ros.bench.identity", description=__doc__)
    parser.add_argument("--frames", type=int, default=150, help="frames per synthetic clip")
    parser.add_argument("--footage", type=Path, default=None, help="folder of <name>.txt + <name>/")
    parser.add_argument("--model", default="", help="exported model .json (default: packaged)")
    args = parser.parse_args(argv)
    stream = SaliencyStream(SaliencyEngine(args.model or None), max_gap_s=1.0)
    clips = [synthetic_clip(seed, category, args.frames) for seed, category in SYNTHETIC]
    footage = args.footage or DEFAULT_FOOTAGE
    if footage.is_dir():
        clips += footage_clips(footage)
    elif args.footage:
        parser.error(f"--footage {footage}: not a folder")
    results = {clip.name: run_clip(clip, stream) for clip in clips}
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
