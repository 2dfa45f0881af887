"""Deterministic synthetic top-down aerial clips with ground-truth saliency.

A clip is a textured terrain (fields, roads, buildings, parked cars) seen by a drone camera
that drifts, turns and zooms slowly, with independently moving targets whose kind follows
the AVS1K categories: vehicles on the roads, people walking, a distinctive building, or
"others" (boats on a pond). The ground truth is a fixation-density-like map: one anisotropic
Gaussian per visible target, peak 1. Everything is drawn from `numpy.random.default_rng(seed)`,
so a seed always gives the same bytes.

Rendering is cheap: the terrain is painted once per clip on a canvas larger than the view,
each frame is one `cv2.warpAffine` of it, and targets are drawn in frame coordinates.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

CATEGORIES = ("Building", "Human", "Vehicle", "Others")
CANVAS_MARGIN = 1.6  # canvas side / view side: room for the camera to wander
BRIGHT = np.array([(30, 30, 220), (225, 225, 235), (20, 200, 240), (210, 70, 20)])  # BGR


@dataclass(frozen=True)
class ClipSpec:
    """What to generate: one clip of one category, fully determined by its fields."""

    seed: int
    category: str = "Vehicle"
    n_frames: int = 100
    width: int = 1280
    height: int = 720
    fps: float = 30.0

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"category={self.category!r}: choose one of {CATEGORIES}")
        if self.width < 64 or self.height < 64:
            raise ValueError(f"width={self.width}, height={self.height}: both must be >= 64")
        if self.n_frames < 1:
            raise ValueError(f"n_frames={self.n_frames}: a clip needs at least one frame")
        if self.fps <= 0:
            raise ValueError(f"fps={self.fps}: must be positive")


@dataclass
class Frame:
    """One rendered frame with its ground truth."""

    image: np.ndarray  # (H, W, 3) uint8 BGR
    saliency: np.ndarray  # (H, W) float32 in [0, 1]
    boxes: list[tuple[int, int, int, int]]  # visible targets: x0, y0, x1, y1 (pixels)
    index: int


@dataclass
class _Target:
    """A salient object in canvas coordinates."""

    position: np.ndarray  # (2,) x, y
    velocity: np.ndarray  # (2,) pixels per frame
    size: tuple[float, float]  # length, width
    color: tuple[int, int, int]
    shape: str  # "car", "person", "boat", "building"
    angle: float = 0.0
    path: np.ndarray | None = None  # road polyline followed by cars
    progress: float = 0.0


def video_name(spec: ClipSpec) -> str:
    """Folder name of a clip, e.g. 'Vehicle_0007': the category leads, as reports expect."""
    return f"{spec.category}_{spec.seed:04d}"


def generate_clip(spec: ClipSpec) -> Iterator[Frame]:
    """Render the clip frame by frame (a generator, so long clips stream)."""
    rng = np.random.default_rng(spec.seed)
    scene = _Scene(spec, rng)
    for index in range(spec.n_frames):
        yield scene.render(index)
        scene.step()


class _Scene:
    """Terrain, camera path and targets of one clip."""

    def __init__(self, spec: ClipSpec, rng: np.random.Generator) -> None:
        self.spec, self.rng = spec, rng
        side = int(max(spec.width, spec.height) * CANVAS_MARGIN)
        self.unit = min(spec.width, spec.height) / 360.0  # scale of objects
        self.canvas, roads, self.ponds = _paint_terrain(side, self.unit, rng)
        self.targets = _make_targets(spec.category, side, self.unit, roads, self.ponds, rng)
        if spec.category == "Building":
            for target in self.targets:
                _draw_building(self.canvas, target, self.unit)
        self.camera = _camera_path(spec, side, rng)

    def step(self) -> None:
        for target in self.targets:
            _move(target, self.unit, self.rng)

    def render(self, index: int) -> Frame:
        spec = self.spec
        matrix = self.camera(index)
        image = cv2.warpAffine(
            self.canvas, matrix, (spec.width, spec.height), flags=cv2.INTER_LINEAR
        )
        saliency = np.zeros((spec.height, spec.width), np.float32)
        boxes = []
        for target in self.targets:
            corners = _transform(_outline(target), matrix)
            if target.shape != "building":
                _draw_mover(image, target, corners, self.unit)
            box = _visible_box(corners, spec.width, spec.height)
            if box is not None:
                boxes.append(box)
                _add_gaussian(saliency, corners, target.shape)
        _sensor_effects(image, self.rng)
        return Frame(image, saliency, boxes, index)


def _paint_terrain(side: int, unit: float, rng: np.random.Generator):
    """Grass and soil patches, fields, roads, buildings, parked cars and ponds."""
    base = np.array([(70, 110, 80), (60, 95, 120), (85, 125, 95)], np.float32)  # BGR
    weights = [_noise(side, scale, rng) for scale in (4, 12, 40)]
    canvas = base[0] + (weights[0][..., None] - 0.5) * (base[1] - base[0]) * 1.6
    canvas += (weights[1][..., None] - 0.5) * (base[2] - base[0]) * 1.2
    canvas += (weights[2][..., None] - 0.5) * 30.0
    canvas = np.clip(canvas, 0, 255).astype(np.uint8)
    _draw_fields(canvas, side, unit, rng)
    ponds = _draw_ponds(canvas, side, unit, rng)
    roads = _draw_roads(canvas, side, unit, rng)
    _draw_clutter(canvas, side, unit, roads, rng)
    return canvas, roads, ponds


def _noise(side: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth value noise in [0, 1] with `cells` features across the canvas."""
    coarse = rng.random((cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(coarse, (side, side), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _draw_fields(canvas: np.ndarray, side: int, unit: float, rng: np.random.Generator) -> None:
    for _ in range(rng.integers(3, 7)):
        center = rng.uniform(0, side, 2)
        size = rng.uniform(60, 160, 2) * unit
        angle = rng.uniform(0, 180)
        box = cv2.boxPoints(((*center,), (*size,), angle)).astype(np.int32)
        color = tuple(int(c) for c in rng.uniform([40, 90, 100], [90, 150, 170]))
        cv2.fillConvexPoly(canvas, box, color, cv2.LINE_AA)
        stripe = tuple(max(0, c - 18) for c in color)
        direction = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
        normal = np.array([-direction[1], direction[0]])
        for offset in np.arange(-size[1] / 2, size[1] / 2, 6 * unit):
            a = center + normal * offset - direction * size[0] / 2
            b = center + normal * offset + direction * size[0] / 2
            cv2.line(canvas, _pt(a), _pt(b), stripe, max(1, int(unit)), cv2.LINE_AA)


def _draw_ponds(canvas, side: int, unit: float, rng: np.random.Generator) -> list[tuple]:
    ponds = []
    for i in range(rng.integers(1, 3)):
        spread = 0.08 if i == 0 else 0.3  # the first pond is in view: boats ("Others") use it
        center = side / 2 + rng.uniform(-spread, spread, 2) * side
        axes = rng.uniform(40, 90, 2) * unit
        cv2.ellipse(
            canvas,
            _pt(center),
            _pt(axes),
            rng.uniform(0, 180),
            0,
            360,
            (110, 80, 40),
            -1,
            cv2.LINE_AA,
        )
        ponds.append((center, axes))
    return ponds


def _draw_roads(canvas, side: int, unit: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Two to three roads crossing the canvas; returns their centre polylines."""
    roads = []
    for i in range(rng.integers(2, 4)):
        start = np.array([0.0, rng.uniform(0.2, 0.8) * side])
        end = np.array([side, rng.uniform(0.2, 0.8) * side])
        if i % 2:
            start, end = start[::-1].copy(), end[::-1].copy()
        bend = (start + end) / 2 + rng.normal(0, 0.08 * side, 2)
        t = np.linspace(0, 1, 60)[:, None]
        line = (1 - t) ** 2 * start + 2 * (1 - t) * t * bend + t**2 * end
        points = line.astype(np.int32)
        cv2.polylines(canvas, [points], False, (70, 72, 75), int(22 * unit), cv2.LINE_AA)
        cv2.polylines(canvas, [points], False, (95, 97, 100), max(1, int(2 * unit)), cv2.LINE_AA)
        roads.append(line)
    return roads


def _draw_clutter(canvas, side, unit, roads, rng: np.random.Generator) -> None:
    """Ordinary buildings and parked cars: the distractors every category has."""
    for _ in range(rng.integers(8, 16)):
        center = rng.uniform(0, side, 2)
        size = rng.uniform(18, 45, 2) * unit
        roof = tuple(int(c) for c in rng.uniform([95, 95, 95], [150, 150, 150]))
        _roof(canvas, center, size, rng.uniform(0, 90), roof, unit)
    for road in roads:
        for _ in range(rng.integers(2, 5)):
            point = road[rng.integers(0, len(road) - 1)] + rng.normal(0, 14 * unit, 2)
            color = tuple(int(c) for c in rng.uniform(60, 120, 3))
            box = cv2.boxPoints(((*point,), (9 * unit, 5 * unit), rng.uniform(0, 180)))
            cv2.fillConvexPoly(canvas, box.astype(np.int32), color, cv2.LINE_AA)


def _roof(canvas, center, size, angle, color, unit) -> None:
    shadow = cv2.boxPoints(((*(center + 4 * unit),), (*size,), angle)).astype(np.int32)
    cv2.fillConvexPoly(canvas, shadow, (35, 45, 40), cv2.LINE_AA)
    box = cv2.boxPoints(((*center,), (*size,), angle)).astype(np.int32)
    cv2.fillConvexPoly(canvas, box, color, cv2.LINE_AA)
    ridge = tuple(max(0, c - 25) for c in color)
    cv2.polylines(canvas, [box], True, ridge, max(1, int(unit)), cv2.LINE_AA)


def _make_targets(category, side, unit, roads, ponds, rng: np.random.Generator) -> list[_Target]:
    """The clip's salient objects, placed near the canvas centre so the camera sees them."""
    center = np.array([side / 2, side / 2])
    if category == "Vehicle":
        return [
            _car(roads[rng.integers(0, len(roads))], center, unit, rng)
            for _ in range(rng.integers(1, 4))
        ]
    if category == "Human":
        return [
            _Target(
                center + rng.normal(0, 60 * unit, 2),
                rng.normal(0, 0.5 * unit, 2),
                (4 * unit, 4 * unit),
                tuple(int(c) for c in rng.choice(BRIGHT)),
                "person",
            )
            for _ in range(rng.integers(1, 5))
        ]
    if category == "Others":
        pond_center, axes = ponds[0]
        return [
            _Target(
                pond_center + rng.normal(0, 0.3, 2) * axes,
                rng.normal(0, 0.5 * unit, 2),
                (14 * unit, 6 * unit),
                (235, 235, 240),
                "boat",
            )
            for _ in range(rng.integers(1, 3))
        ]
    position = center + rng.normal(0, 40 * unit, 2)
    color = tuple(int(c) for c in rng.choice(BRIGHT[[0, 2, 3]]))
    return [
        _Target(
            position,
            np.zeros(2),
            (60 * unit, 40 * unit),
            color,
            "building",
            angle=float(rng.uniform(0, 90)),
        )
    ]


def _car(road: np.ndarray, center: np.ndarray, unit: float, rng: np.random.Generator) -> _Target:
    """A brightly painted car on `road`, starting near the canvas centre."""
    nearest = int(np.argmin(np.linalg.norm(road - center, axis=1)))
    progress = float(np.clip(nearest + rng.uniform(-3, 3), 0, len(road) - 1.001))
    speed = rng.uniform(0.07, 0.16) * rng.choice([-1, 1])  # road points per frame
    color = tuple(int(c) for c in rng.choice(BRIGHT))
    car = _Target(road[0].copy(), np.array([speed, 0.0]), (13 * unit, 7 * unit), color, "car")
    car.path, car.progress = road, progress
    _move(car, unit, rng)
    return car


def _draw_building(canvas, target: _Target, unit: float) -> None:
    _roof(canvas, target.position, np.array(target.size), target.angle, target.color, unit)


def _move(target: _Target, unit: float, rng: np.random.Generator) -> None:
    """Advance a target one frame: cars follow their road, people and boats wander."""
    if target.shape == "car" and target.path is not None:
        path = target.path
        target.progress = float(np.clip(target.progress + target.velocity[0], 0, len(path) - 1.001))
        i = int(target.progress)
        frac = target.progress - i
        target.position = path[i] * (1 - frac) + path[i + 1] * frac
        direction = path[i + 1] - path[i]
        target.angle = float(np.degrees(np.arctan2(direction[1], direction[0])))
        return
    if target.shape in ("person", "boat"):
        target.velocity = 0.9 * target.velocity + rng.normal(0, 0.15 * unit, 2)
        target.position = target.position + target.velocity
        if target.shape == "boat":
            target.angle = float(np.degrees(np.arctan2(target.velocity[1], target.velocity[0])))


def _camera_path(spec: ClipSpec, side: int, rng: np.random.Generator):
    """Frame index -> 2x3 affine canvas->view: slow drift, turn and zoom (ego-motion)."""
    drift = rng.normal(0, 1.0, 2) * spec.width / 900.0
    turn = rng.uniform(-0.15, 0.15)
    zoom = rng.uniform(-0.001, 0.001)
    wobble = rng.uniform(0, 2 * np.pi, 2)
    center0 = np.array([side / 2, side / 2]) - drift * spec.n_frames / 2

    def matrix(index: int) -> np.ndarray:
        center = center0 + drift * index + 6 * np.sin(index / 15 + wobble)
        m = cv2.getRotationMatrix2D(
            (float(center[0]), float(center[1])), turn * index, 1 + zoom * index
        )
        m[:, 2] += np.array([spec.width / 2, spec.height / 2]) - center
        return m

    return matrix


def _outline(target: _Target) -> np.ndarray:
    length, width = target.size
    return cv2.boxPoints(((*target.position,), (length, width), target.angle))


def _transform(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def _draw_mover(image, target: _Target, corners: np.ndarray, unit: float) -> None:
    shadow = (corners + 2 * unit).astype(np.int32)
    cv2.fillConvexPoly(image, shadow, (30, 35, 30), cv2.LINE_AA)
    if target.shape == "person":
        center = corners.mean(axis=0)
        radius = max(1, int(round(target.size[0] / 2)))
        cv2.circle(image, _pt(center), radius, target.color, -1, cv2.LINE_AA)
        cv2.circle(image, _pt(center), max(1, radius // 2), (40, 60, 90), -1, cv2.LINE_AA)
        return
    cv2.fillConvexPoly(image, corners.astype(np.int32), target.color, cv2.LINE_AA)
    if target.shape == "car":
        front = corners[[1, 2]].mean(axis=0) * 0.6 + corners.mean(axis=0) * 0.4
        cv2.circle(image, _pt(front), max(1, int(2 * unit)), (60, 50, 40), -1, cv2.LINE_AA)


def _visible_box(corners: np.ndarray, width: int, height: int):
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width - 1), min(y1, height - 1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def _add_gaussian(saliency: np.ndarray, corners: np.ndarray, shape: str) -> None:
    """Max-combine a Gaussian centred on the target, sized like it (fixation-like spread)."""
    center = corners.mean(axis=0)
    extent = corners.max(axis=0) - corners.min(axis=0)
    floor = 0.02 * max(saliency.shape)  # small targets still attract a spread of fixations
    sigma = np.maximum(extent * (0.35 if shape == "building" else 0.6), floor)
    h, w = saliency.shape
    x0, x1 = (np.clip([center[0] - 3 * sigma[0], center[0] + 3 * sigma[0] + 1], 0, w)).astype(int)
    y0, y1 = (np.clip([center[1] - 3 * sigma[1], center[1] + 3 * sigma[1] + 1], 0, h)).astype(int)
    if x1 <= x0 or y1 <= y0:
        return
    xs = (np.arange(x0, x1, dtype=np.float32) - center[0]) / sigma[0]
    ys = (np.arange(y0, y1, dtype=np.float32) - center[1]) / sigma[1]
    blob = np.exp(-0.5 * (ys[:, None] ** 2 + xs[None] ** 2)).astype(np.float32)
    np.maximum(saliency[y0:y1, x0:x1], blob, out=saliency[y0:y1, x0:x1])


def _sensor_effects(image: np.ndarray, rng: np.random.Generator) -> None:
    """A little exposure flicker, as real cameras have."""
    gain = 1.0 + rng.normal(0, 0.02)
    cv2.convertScaleAbs(image, image, alpha=gain)


def _pt(point) -> tuple[int, int]:
    return int(round(float(point[0]))), int(round(float(point[1])))


PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1]
SPLITS = ("trainSet", "validSet", "testSet")


def default_splits(
    n_train: int,
    n_valid: int,
    n_test: int,
    n_frames: int = 100,
    width: int = 1280,
    height: int = 720,
    base_seed: int = 0,
) -> dict[str, list[ClipSpec]]:
    """Clip specs for the three AVS1K splits; categories cycle, seeds never repeat."""
    counts = dict(zip(SPLITS, (n_train, n_valid, n_test), strict=True))
    splits, seed = {}, base_seed
    for split, count in counts.items():
        specs = []
        for i in range(count):
            specs.append(ClipSpec(seed, CATEGORIES[i % len(CATEGORIES)], n_frames, width, height))
            seed += 1
        splits[split] = specs
    return splits


def write_avs1k(root: Path, clips: dict[str, list[ClipSpec]]) -> Path:
    """Write clips in AVS1K's public layout; returns the `AVS1K` folder.

    `root/AVS1K/<split>/Frame/<video>/<video>_%05d.png` holds the frames (numbered from 1)
    and `.../Ground/<video>/<video>_%05d.png` the 8-bit ground-truth maps.
    """
    dataset = Path(root) / "AVS1K"
    for split, specs in clips.items():
        for spec in specs:
            name = video_name(spec)
            frame_dir = _fresh_dir(dataset / split / "Frame" / name)
            ground_dir = _fresh_dir(dataset / split / "Ground" / name)
            for frame in generate_clip(spec):
                stem = f"{name}_{frame.index + 1:05d}.png"
                cv2.imwrite(str(frame_dir / stem), frame.image, PNG_FAST)
                cv2.imwrite(str(ground_dir / stem), _to_u8(frame.saliency), PNG_FAST)
    return dataset


def write_frame_folders(root: Path, specs: Iterable[ClipSpec], n_fixations: int = 15) -> Path:
    """Write clips in the DHF1K-style layout: <video>/images, maps and fixation (binary)."""
    root = Path(root)
    for spec in specs:
        video = root / video_name(spec)
        dirs = {kind: _fresh_dir(video / kind) for kind in ("images", "maps", "fixation")}
        rng = np.random.default_rng([spec.seed, 1])
        for frame in generate_clip(spec):
            stem = f"{frame.index + 1:04d}.png"
            cv2.imwrite(str(dirs["images"] / stem), frame.image, PNG_FAST)
            cv2.imwrite(str(dirs["maps"] / stem), _to_u8(frame.saliency), PNG_FAST)
            fixations = _sample_fixations(frame.saliency, n_fixations, rng)
            cv2.imwrite(str(dirs["fixation"] / stem), fixations, PNG_FAST)
    return root


def _sample_fixations(saliency: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` fixated pixels drawn from the map as a distribution (255 where fixated)."""
    out = np.zeros(saliency.shape, np.uint8)
    weights = saliency.ravel().astype(np.float64)
    total = weights.sum()
    if total <= 0:
        return out
    picks = rng.choice(weights.size, size=count, p=weights / total)
    out.ravel()[picks] = 255
    return out


def _to_u8(saliency: np.ndarray) -> np.ndarray:
    return np.clip(saliency * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _fresh_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):
        old.unlink()
    return path


def main(argv: list[str] | None = None) -> int:
    """`python -m skd_ros.data.synthetic`: write a synthetic dataset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--layout", choices=["avs1k", "folders"], default="avs1k")
    parser.add_argument("--train", type=int, default=16, help="training videos")
    parser.add_argument("--valid", type=int, default=4, help="validation videos")
    parser.add_argument("--test", type=int, default=8, help="test videos")
    parser.add_argument("--frames", type=int, default=100, help="frames per video")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--seed", type=int, default=0, help="base seed")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    splits = default_splits(
        args.train, args.valid, args.test, args.frames, args.width, args.height, args.seed
    )
    if args.layout == "avs1k":
        where = write_avs1k(args.out, splits)
    else:
        where = write_frame_folders(args.out, [s for specs in splits.values() for s in specs])
    videos = args.train + args.valid + args.test
    print(
        f"wrote {videos} videos x {args.frames} frames to {where} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
