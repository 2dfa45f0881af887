"""Score exported models and baselines on box-annotated footage, as a tracker would see them.

Every method turns a (previous, current) frame pair into a map, which is brought to the
map the node publishes (the model's square side, `skd_ros.reduction` R) so every method
goes through the same path: `find_regions` with the node's default peak parameters
(`skd_ros.ros.params`, repeated in config/saliency.yaml) and `skd_ros.box_metrics`.

Pairing is the node's causal pairing (`FramePairer`): each frame goes with the frame before
it, the first frame with itself (stamps are frame index / fps). Only frames where a box is
visible are scored (NSS and CC need a target, a hit rate a box); the others still feed the
pairing. `every` scores every n-th frame (each still paired with its true predecessor), for
quick looks at long clips.

Methods: each exported Sst (run by `SaliencyEngine`, ONNX Runtime, as the node does), and
the baselines: `center-bias` (a centred Gaussian), `spectral-residual` and `flow` (the
classical teachers, `skd_ros.teachers.classical`), `aligned-difference` (the previous frame
warped onto the current by the camera's homography, `skd_ros.motion`), and optionally
`fine-grained`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skd_ros import box_metrics, motion
from skd_ros.data.box_sequences import BoxSequence
from skd_ros.data.video import LayoutError
from skd_ros.inference.pairing import FramePairer
from skd_ros.inference.peaks import find_regions
from skd_ros.markdown import table
from skd_ros.preprocess import prepare_frame
from skd_ros.reduction import reduce_resolution

BASELINES = ("center-bias", "spectral-residual", "flow", "aligned-difference")
OPTIONAL_BASELINES = ("fine-grained",)
DEFAULT_SIDE = 64  # published map side for baselines when no model sets it
DEFAULT_FPS = 30.0  # stamps of frame folders, which do not say their rate


@dataclass
class Method:
    """A named map of a (previous, current) BGR frame pair, any resolution, in [0, 1]."""

    name: str
    map_of: Callable[[np.ndarray, np.ndarray], np.ndarray]


class ModelMap:
    """An exported Sst on full frames: reduces each frame with R once, as the node does."""

    def __init__(self, engine) -> None:
        self.engine, self._last = engine, (None, None)

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        return self.engine.predict(self._input(previous), self._input(current))

    def _input(self, image: np.ndarray) -> np.ndarray:
        if self._last[0] is not image:
            self._last = (image, prepare_frame(image, self.engine.resolution))
        return self._last[1]


def model_method(path: Path, threads: int = 1, name: str = "") -> Method:
    """An exported model (.json) as a method, named `name` or after its file."""
    from skd_ros.inference.engine import SaliencyEngine

    engine = SaliencyEngine(path, threads=threads)
    return Method(f"Sst {name or Path(path).stem}", ModelMap(engine))


def model_names(paths: list[Path]) -> list[str]:
    """Short names that tell `paths` apart: each file's stem, with as many of its folders in
    front as it takes to make the names unique (two runs' model/sst.json, say)."""
    stems = [Path(p).resolve().with_suffix("").parts for p in paths]

    def name(parts: tuple[str, ...]) -> str:
        for depth in range(1, len(parts) + 1):
            suffix = parts[-depth:]
            if sum(other[-depth:] == suffix for other in stems) == 1:
                return "/".join(suffix)
        return "/".join(parts)

    return [name(parts) for parts in stems]


def baseline_method(name: str, side: int) -> Method:
    """One of `BASELINES` or `OPTIONAL_BASELINES` by name."""
    if name == "center-bias":
        from skd_ros.training.predict import center_bias

        bias = np.ascontiguousarray(center_bias(1, side)[0])
        return Method(name, lambda previous, current: bias)
    if name == "aligned-difference":
        return Method(name, motion.aligned_difference)
    if name in ("spectral-residual", "fine-grained", "flow"):
        from skd_ros.teachers.classical import classical_teacher

        return Method(name, classical_teacher(name))
    raise ValueError(f"unknown baseline {name!r}; choose from {BASELINES + OPTIONAL_BASELINES}")


def node_peak_settings() -> dict:
    """`find_regions` keyword arguments at the node's default `peaks.*` parameters."""
    return {
        "threshold": float(_node_default("peaks.threshold")),
        "relative": float(_node_default("peaks.relative_threshold")),
        "max_regions": int(_node_default("peaks.max_regions")),
        "nms_iou": float(_node_default("peaks.nms_iou")),
    }


def _node_default(name: str):
    from skd_ros.ros.params import SPECS

    return next(spec.default for spec in SPECS if spec.name == name)


def published(saliency: np.ndarray, side: int) -> np.ndarray:
    """A method's map as the node would publish it: side x side float32 in [0, 1]."""
    saliency = np.asarray(saliency, np.float32)
    if saliency.shape != (side, side):
        saliency = reduce_resolution(saliency, side)
    return np.clip(saliency, 0.0, 1.0)


def evaluate_sequence(
    sequence: BoxSequence,
    methods: list[Method],
    side: int = DEFAULT_SIDE,
    every: int = 1,
    min_iou: float = 0.0,
    peaks: dict | None = None,
    part: tuple[float, float] = (0.0, 1.0),
) -> dict:
    """{frames, visible, scored, methods: {name: summary + ms}} for one sequence.

    `part` (fractions of the clip's frames) scores only those frames, e.g. (0.7, 1.0) the
    last 30 % held out from a model trained on the rest; every frame still pairs with the one
    before it, as in the node.
    """
    peaks = node_peak_settings() if peaks is None else peaks
    first, end = part_rows(sequence, part)
    pairer = FramePairer(max_gap_s=float(_node_default("max_gap_s")))
    period_ns = int(1e9 / (sequence.source.fps or DEFAULT_FPS))
    scores: dict[str, list] = {m.name: [] for m in methods}
    seconds = dict.fromkeys(scores, 0.0)
    frames = visible = 0
    for index, image in sequence.frames():
        pair = pairer.pair(image, index * period_ns, image.shape)
        if not first <= index < end:
            continue
        frames += 1
        size = (image.shape[1], image.shape[0])
        boxes = box_metrics.visible_boxes(_boxes_of(sequence, index), size)
        if len(boxes) == 0:
            continue
        visible += 1
        if (visible - 1) % every == 0:
            for method in methods:
                start = time.perf_counter()
                saliency = published(method.map_of(pair.previous, pair.current), side)
                seconds[method.name] += time.perf_counter() - start
                regions = find_regions(saliency, size, **peaks)
                score = box_metrics.score_frame(saliency, regions, boxes, size, min_iou)
                scores[method.name].append(score)
    scored = len(next(iter(scores.values()), []))
    summaries = {
        name: box_metrics.summarise(rows) | {"ms": 1e3 * seconds[name] / max(scored, 1)}
        for name, rows in scores.items()
    }
    return {"frames": frames, "visible": visible, "scored": scored, "methods": summaries}


def part_rows(sequence: BoxSequence, part: tuple[float, float]) -> tuple[int, int]:
    """The frame indices [first, end) that `part` (fractions) names in `sequence`."""
    from skd_ros.data.video_bag import part_range

    if part != (0.0, 1.0) and not sequence.source.count:
        raise LayoutError(
            f"{sequence.source.path} does not say how many frames it has, so a part of it "
            "cannot be chosen; score it whole (--part 0 1)"
        )
    rows = part_range(sequence.source.count, part) if sequence.source.count else range(1 << 62)
    return rows.start, rows.stop if part[1] < 1 else 1 << 62


def _boxes_of(sequence: BoxSequence, index: int) -> np.ndarray:
    frames = sequence.boxes.frames
    return frames[index] if index < len(frames) else np.zeros((0, 4))


def markdown(results: dict[str, dict]) -> str:
    """One table: a row per clip and method (ms: the method's map per frame, here)."""
    header = ["clip", "method", "NSS", "CC", "top-1", "top-3", "overlap", "no region"]
    lines = []
    for clip, result in results.items():
        label = f"{clip} ({result['scored']} fr.)"
        for name, row in result["methods"].items():
            if not row["frames"]:
                lines.append([label, name, "no frame with a visible box", *[""] * 7])
                continue
            rates = [f"{100 * row[k]:.1f} %" for k in box_metrics.RATES]
            area = "–" if row["region_area"] is None else f"{100 * row['region_area']:.1f} %"
            cells = [f"{row['nss']:.2f}", f"{row['cc']:.3f}", *rates, area, f"{row['ms']:.1f}"]
            lines.append([label, name, *cells])
    return table([*header, "region area", "ms"], lines, "ll" + "r" * 8)
