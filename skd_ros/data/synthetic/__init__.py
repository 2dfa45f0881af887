"""Deterministic synthetic aerial clips with ground-truth saliency.

A clip is what a drone camera sees: textured terrain (grass, soil, crop fields, ponds,
tree clusters), roads with lane markings, houses with shaded roofs, parked cars, dark
clutter, every object and tree with its cast shadow, and the clip's salient targets,
chosen by AVS1K category:

* ``Vehicle``: one to three cars driving along a road (parked cars are distractors),
* ``Human``: one to four people walking near a paved square,
* ``Building``: one distinctive building (vivid hall, dome or tower) among ordinary houses,
* ``Others``: boats on a pond, or animals grazing in a fenced pasture.

Moving targets come in any colour, dark to bright, and beside them stand static look-alikes
(people standing on the square, stopped cars, moored boats, resting animals): only motion
tells a target from its look-alike, so a model has to use the frame pair.

The camera is a pinhole over the ground (`ClipSpec.camera`): looking straight down or
oblique (pitched 15-40 degrees, far ground smaller and hazier), at an altitude that makes a
person 3-18 px and a car 12-80 px at 720p; it follows the targets loosely while it drifts on
a slow orbit, rolls and zooms a little, or it hovers in place (not for Vehicle clips). Roofs
and tree crowns sit on a layer above the ground, so they show parallax that the ground's
homography does not explain. The finish (`ClipSpec.finish`) is the camera's look: exposure
and white balance, vignetting, haze, sensor noise, motion blur, JPEG artefacts. The ground
truth of each frame is a fixation-density-like map: a sum of anisotropic Gaussians (one per
visible target, oriented and sized like it in the image, peak 1, clipped to [0, 1]), with
the targets' boxes and categories.

Everything random comes from ``numpy.random.default_rng(seed)`` (the finish from its own
stream, so turning it off changes no geometry), so a spec always gives the same bytes.
Rendering is cheap (a 100-frame 720p clip takes a few seconds): the terrain is painted once
per clip on a canvas larger than the view, each frame is two ``cv2.warpPerspective`` (the
ground, the raised layer), the moving targets are drawn as a few anti-aliased sub-pixel
polygons in frame coordinates, and the finish is a few whole-frame operations.

Command line: ``python -m skd_ros.data.synthetic --out DIR`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from skd_ros.atomic_write import write_image
from skd_ros.data.layout import (
    AVS1K_FOLDER,
    CATEGORIES,
    FIXATIONS,
    FRAME_FOLDER,
    GROUND_FOLDER,
    IMAGES,
    MAPS,
    MAX_SIDE,
    SPLITS,
)
from skd_ros.logs import setup_logging

GENERATOR_VERSION = 3  # bumped when the clips change: 2 oblique, look-alikes, finish; 3 fps
FRAME_RATES = (10.0, 30.0, 15.0)  # default_splits: a drone's video, subsampled or not
# zlib level 1, run-length strategy and the SUB filter: lossless, and fast on noisy frames
PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.10
    PNG_FAST += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]

ROAM = 0.75  # of the longer view side: how far the look point may roam over the canvas
REACH_CAP = 1.0  # of the longer side: the farthest ground an oblique view shows (then haze)
MAX_ZOOM = 0.07  # the camera's scale stays within 1 +- MAX_ZOOM
CAMERAS = ("any", "nadir", "oblique", "hover", "oblique-hover")
OBLIQUE_SHARE = 0.5  # camera="any": share of oblique clips (pitch 15 deg to MAX_PITCH)
HOVER_SHARE = 0.25  # ...and of clips whose camera stays put (never for Vehicle clips)
MAX_PITCH = 40.0  # degrees from nadir
MIN_SIZE, MAX_SIZE = 0.5, 2.5  # object scale range (altitude): a person 3.6-18 px at 720p
ELEVATED_UNITS = 7.0  # height of the tree-top and roof layer, in object units
FINISH_STREAM = 2  # the finish's random stream is default_rng([seed, FINISH_STREAM])
MAX_MEGAUNITS = 4.0  # painted area counted for object densities, at most (high altitude)
SIGMA_FLOOR = 0.035  # smallest Gaussian spread, as a fraction of the longer frame side
SHIFT = 4  # cv2 drawing precision: coordinates in 1/16 pixel
ONE = 1 << SHIFT

Color = tuple[int, int, int]
Box = tuple[int, int, int, int]

# Palettes, BGR.
LUSH, DRY, SOIL = (62, 122, 88), (92, 140, 146), (74, 100, 128)
CROPS = ((55, 130, 95), (70, 165, 190), (60, 95, 125), (80, 150, 120), (95, 160, 170))
ASPHALT, VERGE, MARKING = (78, 80, 82), (110, 132, 140), (215, 218, 220)
WATER, SHORE = (96, 78, 46), (70, 98, 92)
PAVING, FENCE = (168, 174, 178), (60, 80, 100)
TREE = (38, 78, 48)
VIVID = ((40, 45, 200), (190, 115, 30), (40, 130, 235), (170, 160, 30), (232, 232, 236))
CAR_VIVID = ((35, 35, 215), (30, 205, 245), (215, 130, 25), (235, 235, 238), (40, 140, 250))
CAR_DULL = ((48, 48, 52), (150, 152, 155), (95, 70, 50), (60, 62, 95), (118, 118, 112))
SHIRTS = ((40, 40, 225), (30, 215, 250), (40, 40, 45), (220, 110, 30), (200, 60, 200))
ANIMALS = ((40, 40, 45), (228, 228, 230), (40, 75, 125), (70, 105, 150))
BOATS = ((235, 235, 238), (40, 40, 210), (30, 200, 245))


MIN_SIDE = 64  # frame sides in pixels, at least (at most: MAX_SIDE)


@dataclass(frozen=True)
class ClipSpec:
    """What to generate: one clip of one AVS1K category, fully determined by its fields."""

    seed: int
    category: str = "Vehicle"
    n_frames: int = 100
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    camera: str = "any"  # any (drawn from the seed) | nadir | oblique | hover | oblique-hover
    finish: bool = True  # light, vignetting, haze, sensor noise, motion blur, JPEG

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"category={self.category!r}: must be one of {CATEGORIES}")
        if self.camera not in CAMERAS:
            raise ValueError(f"camera={self.camera!r}: must be one of {CAMERAS}")
        _check_int("seed", self.seed, 0)
        _check_int("n_frames", self.n_frames, 1)
        _check_int("width", self.width, MIN_SIDE, MAX_SIDE)
        _check_int("height", self.height, MIN_SIDE, MAX_SIDE)
        if not (isinstance(self.fps, (int, float)) and math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps={self.fps!r}: must be a positive finite number")


def _check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r}: must be an integer >= {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}={value!r}: must be at most {maximum}")


@dataclass
class Frame:
    """One rendered frame with its ground truth."""

    image: np.ndarray  # (H, W, 3) uint8, BGR (OpenCV order)
    saliency: np.ndarray  # (H, W) float32 in [0, 1], peak 1 on each visible target
    boxes: list[Box]  # visible targets: x0, y0, x1, y1 in pixels, inclusive, inside the image
    index: int  # 0-based frame number in the clip
    labels: list[str] = field(default_factory=list)  # AVS1K category of each box
    camera: np.ndarray = field(default_factory=lambda: np.eye(2, 3))  # 2x3 world -> frame
    identities: list[int] = field(default_factory=list)  # each box's target, same every frame


def video_name(spec: ClipSpec) -> str:
    """Folder name of a clip, e.g. 'Vehicle_0007': the category leads, as AVS1K readers expect."""
    return f"{spec.category}_{spec.seed:04d}"


def generate_clip(spec: ClipSpec) -> Iterator[Frame]:
    """Render the clip frame by frame (a generator, so long clips stream in constant memory)."""
    scene = _Scene(spec)
    for index in range(spec.n_frames):
        yield scene.render(index)
        scene.step()


# --------------------------------------------------------------------------------------------
# Geometry: every shape is a convex polygon in world (canvas) coordinates, mapped by an affine.


def _direction(heading: float) -> np.ndarray:
    return np.array([math.cos(heading), math.sin(heading)])


def _rect(center: np.ndarray, heading: float, length: float, width: float) -> np.ndarray:
    """Corners of a rectangle whose long axis (`length`) points along `heading`."""
    return _local(center, heading, [(1, 1), (1, -1), (-1, -1), (-1, 1)], length / 2, width / 2)


def _local(center, heading: float, points, sx: float, sy: float) -> np.ndarray:
    """Points given in an object's frame (x forward, y left, scaled by sx, sy) -> world."""
    c, s = math.cos(heading), math.sin(heading)
    points = np.asarray(points, float)
    basis = np.array([[c * sx, s * sx], [-s * sy, c * sy]])  # rows: scaled forward, left
    return points @ basis + center


def _ellipse(center, heading: float, a: float, b: float, n: int = 14) -> np.ndarray:
    return _local(center, heading, _circle(n), a, b)


@functools.cache
def _circle(n: int) -> np.ndarray:
    angles = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return np.stack([np.cos(angles), np.sin(angles)], 1)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """World points (N, 2) through a 2x3 affine or a 3x3 homography (with the divide)."""
    mapped = points @ matrix[:2, :2].T + matrix[:2, 2]
    if matrix.shape[0] == 2:
        return mapped
    return mapped / (points @ matrix[2, :2] + matrix[2, 2])[:, None]


def _jacobian(matrix: np.ndarray, point: np.ndarray) -> np.ndarray:
    """The 2x2 local linear part of a 3x3 homography at world `point`: how it stretches
    and turns a small object there (foreshortening in an oblique view)."""
    w = float(point @ matrix[2, :2] + matrix[2, 2])
    mapped = _apply(matrix, point[None])[0]
    return (matrix[:2, :2] - np.outer(mapped, matrix[2, :2])) / w


def _fill(image: np.ndarray, polygon: np.ndarray, color) -> None:
    """Anti-aliased, sub-pixel filled convex polygon."""
    points = np.round(polygon * ONE).astype(np.int32)
    cv2.fillConvexPoly(image, points, color, cv2.LINE_AA, SHIFT)


def _disc(image: np.ndarray, center, radius: float, color) -> None:
    """Anti-aliased, sub-pixel filled circle."""
    cv2.circle(image, _fixed(center), int(round(radius * ONE)), color, -1, cv2.LINE_AA, SHIFT)


def _darken(image: np.ndarray, polygon: np.ndarray, strength: float) -> None:
    """Translucent shadow: scale the pixels under `polygon` by 1 - strength."""
    h, w = image.shape[:2]
    x0, y0 = np.maximum(np.floor(polygon.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(polygon.max(axis=0)).astype(int) + 2, (w, h))
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    _fill(mask, polygon - (x0, y0), 255)
    roi = image[y0:y1, x0:x1]
    factor = 1.0 - strength * mask.astype(np.float32)[..., None] / 255.0
    roi[:] = (roi * factor).astype(np.uint8)


def _shade(color, factor: float) -> Color:
    return tuple(int(min(255, max(0, c * factor))) for c in color)


def _jitter(color, rng: np.random.Generator, amount: float) -> Color:
    noise = rng.normal(0, amount, 3)
    return tuple(int(min(255.0, max(0.0, c + n))) for c, n in zip(color, noise, strict=True))


def _pick(palette, rng: np.random.Generator):
    return palette[int(rng.integers(len(palette)))]


def _any_colour(rng: np.random.Generator, values: tuple[int, int] = (20, 256)) -> Color:
    """Any hue and saturation, of brightness in `values` (default: dark to bright)."""
    hsv = np.array([[[rng.integers(180), rng.integers(256), rng.integers(*values)]]], np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def _target_colour(palette, rng: np.random.Generator) -> Color:
    """A target's (or look-alike's) colour: from its kind's palette, or any colour at all."""
    return _pick(palette, rng) if rng.random() < 0.5 else _any_colour(rng)


# --------------------------------------------------------------------------------------------
# Roads


@dataclass
class _Road:
    """A road's dense centre line with arc length, for drawing and for driving on."""

    points: np.ndarray  # (N, 2)
    arc: np.ndarray  # (N,) cumulative length
    width: float

    @classmethod
    def through(cls, point, heading: float, bend: float, side: int, width: float) -> _Road:
        """A gentle quadratic curve across the whole canvas, passing near `point`."""
        direction = _direction(heading)
        normal = np.array([-direction[1], direction[0]])
        start, end = point - direction * side * 1.5, point + direction * side * 1.5
        control = point + normal * bend
        t = np.linspace(0.0, 1.0, 600)[:, None]
        points = (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
        return cls(points, arc, width)

    def at(self, s: float) -> tuple[np.ndarray, np.ndarray]:
        """Point and unit tangent at arc length `s`."""
        s = min(max(float(s), 0.0), float(self.arc[-1]))
        i = min(max(int(np.searchsorted(self.arc, s)) - 1, 0), len(self.arc) - 2)
        frac = (s - self.arc[i]) / max(self.arc[i + 1] - self.arc[i], 1e-9)
        tangent = self.points[i + 1] - self.points[i]
        point = self.points[i] + frac * tangent
        return point, tangent / max(float(np.linalg.norm(tangent)), 1e-9)

    def sample(self, s: np.ndarray) -> np.ndarray:
        """Centre-line points at many arc lengths at once, (len(s), 2)."""
        return np.stack([np.interp(s, self.arc, self.points[:, k]) for k in (0, 1)], axis=1)

    def nearest(self, point: np.ndarray) -> float:
        """Arc length of the centre-line point closest to `point`."""
        return float(self.arc[np.argmin(np.linalg.norm(self.points - point, axis=1))])

    def distance(self, point: np.ndarray) -> float:
        return float(np.min(np.linalg.norm(self.points - point, axis=1)))

    def offset(self, lateral: float) -> np.ndarray:
        """The centre line shifted sideways by `lateral` pixels (left of travel is positive)."""
        tangent = np.gradient(self.points, axis=0)
        tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
        return self.points + lateral * np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)


# --------------------------------------------------------------------------------------------
# Targets and how they move


@dataclass
class _Target:
    """A salient object in world (canvas) coordinates."""

    kind: str  # car | person | boat | animal | building
    position: np.ndarray
    heading: float  # radians: direction of travel, or long axis
    length: float
    width: float
    color: Color
    speed: float = 0.0  # pixels per frame
    road: _Road | None = None
    s: float = 0.0  # arc length on the road
    sense: int = 1  # +1 along the road's arc, -1 against it
    lateral: float = 0.0  # current sideways offset from the road's centre line
    home: np.ndarray | None = None  # wanderers stay near home
    radius: float = 0.0  # ...within this distance
    accent: Color = (40, 40, 40)  # head, cabin or spots


class _Scene:
    """Terrain canvas, targets and camera of one clip; `render` and `step` advance it."""

    def __init__(self, spec: ClipSpec) -> None:
        self.spec = spec
        self.rng = np.random.default_rng(spec.seed)
        self.lens = _Lens.draw(spec, self.rng)
        # object scale: a car is ~13 units; the lens's size stands for the altitude
        self.unit = min(spec.width, spec.height) / 360.0 * self.lens.size
        self.per_frame = 1.0 / spec.fps  # speeds below are per second
        half_view = self.lens.reach(spec)
        side = int(math.ceil(2 * half_view + ROAM * max(spec.width, spec.height)))
        self.stage = (half_view, side - half_view)  # where the view centre may go
        painter = _Painter(side, self.unit, self.rng, spec.category)
        self.canvas = painter.paint()
        self.top = painter.top  # roofs and tree crowns, drawn at `lift` above the ground
        self.lift = ELEVATED_UNITS * self.unit
        self.shadow = painter.shadow_dir * self.unit
        self.shade = painter.shadow_strength
        self.water = painter.water
        self.targets = self._make_targets(painter)
        for lookalike in self._lookalikes(painter):  # static: painted once, never a target
            _draw_mover(self.canvas, lookalike, np.eye(3), self.shadow, self.unit, self.shade)
        self.camera = _Camera(spec, self.rng, self.stage, self._focus(), self.lens)
        # the finish has its own random stream: turning it off changes no geometry
        self.finish_rng = np.random.default_rng([spec.seed, FINISH_STREAM])
        self.finish = _Finish(spec, self.finish_rng, self.lens, half_view) if spec.finish else None

    # -- targets ------------------------------------------------------------------------------

    def _make_targets(self, painter: _Painter) -> list[_Target]:
        """The clip's salient objects, by category, at the painter's site or on its roads."""
        category, kind = self.spec.category, painter.site_kind
        if category == "Vehicle":
            return self._cars(painter.roads[0])
        if category == "Building":
            return [painter.landmark]
        count = {"plaza": (1, 5), "pond": (1, 3), "pasture": (2, 5)}[kind]
        return [self._wanderer(kind, painter) for _ in range(self.rng.integers(*count))]

    def _wanderer(self, site_kind: str, painter: _Painter) -> _Target:
        """A person near the square, a boat on the pond or an animal in the pasture."""
        u, rng, per_frame = self.unit, self.rng, self.per_frame
        home, radius = painter.site, painter.site_radius
        if site_kind == "plaza":
            length, width = max(3.6 * u, 3.2), max(2.3 * u, 2.4)
            return _Target(
                "person",
                home + rng.normal(0, 18 * u, 2),
                painter.group_heading + rng.normal(0, 0.5),
                length,
                width,
                _target_colour(SHIRTS, rng),
                speed=rng.uniform(8, 14) * u * per_frame,
                home=home,
                radius=radius,
                accent=_pick(((30, 35, 45), (70, 100, 150), (110, 150, 200)), rng),
            )
        if site_kind == "pond":
            return _Target(
                "boat",
                home + rng.normal(0, 0.25 * radius, 2),
                rng.uniform(0, 2 * math.pi),
                rng.uniform(12, 17) * u,
                rng.uniform(4.5, 6) * u,
                _target_colour(BOATS, rng),
                speed=rng.uniform(12, 22) * u * per_frame,
                home=home,
                radius=radius,
                accent=_pick(((150, 110, 60), (200, 200, 200), (60, 60, 60)), rng),
            )
        color = _target_colour(ANIMALS, rng)
        return _Target(
            "animal",
            home + rng.normal(0, 15 * u, 2),
            rng.uniform(0, 2 * math.pi),
            rng.uniform(10, 12) * u,
            rng.uniform(4.5, 5.5) * u,
            color,
            speed=rng.uniform(2, 6) * u * per_frame,
            home=home,
            radius=radius,
            accent=(230, 230, 230) if sum(color) < 300 else (35, 35, 40),
        )

    def _cars(self, road: _Road) -> list[_Target]:
        """One to three cars on the road through the centre, the first one led by the camera."""
        u, rng = self.unit, self.rng
        lo, hi = self.stage
        center = np.full(2, (lo + hi) / 2)
        sense = int(rng.choice([-1, 1]))
        speed = rng.uniform(30, 60) * u * self.per_frame
        # start half a clip's drive behind the centre, but inside the stage
        s_center = road.nearest(center)
        s_start = s_center
        for back in np.linspace(speed * self.spec.n_frames / 2, 0.0, 12):
            if self._inside(road.at(s_center - sense * back)[0], 0.0):
                s_start = s_center - sense * back
                break
        cars = []
        for i in range(rng.integers(1, 4)):
            own_sense = sense if i == 0 or rng.random() < 0.7 else -sense
            s = s_start - own_sense * rng.uniform(18, 60) * u * (i > 0)
            cars.append(
                _Target(
                    "car",
                    road.at(s)[0],
                    0.0,
                    rng.uniform(12, 15) * u,
                    rng.uniform(6, 7) * u,
                    _target_colour(CAR_VIVID + CAR_DULL, rng),
                    speed=speed * (rng.uniform(0.85, 1.15) if i else 1.0),
                    road=road,
                    s=s,
                    sense=own_sense,
                    lateral=-own_sense * road.width / 4,
                )
            )
            self._drive(cars[-1])
        return cars

    def _lookalikes(self, painter: _Painter) -> list[_Target]:
        """Static things that look like the clip's targets: standing people on the square,
        stopped cars on the verge, moored boats, resting animals. Only motion tells them
        from the targets, so a model must look at the pair, not at colours and shapes."""
        movers = [t for t in self.targets if t.kind != "building"]
        if not movers:
            return []
        rng, u = self.rng, self.unit
        alikes = []
        for _ in range(int(rng.integers(2, 7))):
            model = movers[int(rng.integers(len(movers)))]
            if model.kind == "car":
                road = painter.roads[0]
                point, tangent = road.at(rng.uniform(0, road.arc[-1]))
                side = rng.choice([-1, 1]) * (road.width / 2 + rng.uniform(-4, 3) * u)
                position = point + side * np.array([-tangent[1], tangent[0]])
                heading = math.atan2(tangent[1], tangent[0]) + math.pi * rng.integers(2)
                color = _target_colour(CAR_VIVID + CAR_DULL, rng)
            else:
                spread = {"person": 25 * u, "boat": 0.5 * model.radius, "animal": 20 * u}
                position = model.home + rng.normal(0, spread[model.kind], 2)
                if model.kind == "boat" and not self._on_water(position):
                    continue
                heading = rng.uniform(0, 2 * math.pi)
                palette = {"person": SHIRTS, "boat": BOATS, "animal": ANIMALS}[model.kind]
                color = _target_colour(palette, rng)
            scale = rng.uniform(0.85, 1.15)
            alikes.append(
                _Target(
                    model.kind,
                    position,
                    heading,
                    model.length * scale,
                    model.width * scale,
                    color,
                    accent=model.accent,
                )
            )
        return alikes

    def _inside(self, point: np.ndarray, pad: float) -> bool:
        lo, hi = self.stage
        return bool(np.all(point > lo + pad) and np.all(point < hi - pad))

    def _focus(self) -> np.ndarray:
        """Where the camera wants to look: the lead car, or the centroid of the targets."""
        if self.targets[0].kind == "car":
            return self.targets[0].position.copy()
        return np.mean([t.position for t in self.targets], axis=0)

    def step(self) -> None:
        """Advance targets and camera by one frame."""
        for target in self.targets:
            if target.kind == "car":
                self._drive(target)
            elif target.kind != "building":
                self._wander(target)
        self.camera.follow(self._focus())

    def _drive(self, car: _Target) -> None:
        """Move along the road, in the lane of the travel sense; U-turn at the stage's edge."""
        road = car.road
        nxt = car.s + car.sense * car.speed
        if not self._inside(road.at(nxt)[0], car.length):
            car.sense = -car.sense
            nxt = car.s + car.sense * car.speed
        car.s = nxt
        lane = -car.sense * road.width / 4
        car.lateral += float(np.clip(lane - car.lateral, -0.3 * self.unit, 0.3 * self.unit))
        point, tangent = road.at(car.s)
        car.position = point + car.lateral * np.array([-tangent[1], tangent[0]])
        car.heading = math.atan2(tangent[1], tangent[0]) + (math.pi if car.sense < 0 else 0.0)

    def _wander(self, target: _Target) -> None:
        """Correlated random walk near home; boats turn back at the shore."""
        turn = 0.07 if target.kind == "person" else 0.04
        target.heading += self.rng.normal(0, turn)
        away = target.position - target.home
        if np.linalg.norm(away) > target.radius:  # steer back towards home
            back = math.atan2(-away[1], -away[0])
            target.heading += 0.15 * math.remainder(back - target.heading, 2 * math.pi)
        step = _direction(target.heading) * target.speed
        ahead = target.position + step + _direction(target.heading) * target.length * 0.6
        if target.kind == "boat" and not self._on_water(ahead):
            target.heading += math.pi * self.rng.uniform(0.4, 0.8) * self.rng.choice([-1, 1])
            return
        if self._inside(target.position + step, target.length):
            target.position = target.position + step

    def _on_water(self, point: np.ndarray) -> bool:
        x, y = int(round(point[0])), int(round(point[1]))
        side = self.water.shape[0]
        return 0 <= x < side and 0 <= y < side and bool(self.water[y, x])

    # -- rendering ----------------------------------------------------------------------------

    def render(self, index: int) -> Frame:
        """Warp the ground and the elevated layer into the view, draw the movers, build the
        ground truth, then the camera's own look (`_Finish`)."""
        spec = self.spec
        size = (spec.width, spec.height)
        matrix = self.camera.matrix(index)
        raised = self.camera.matrix(index, self.lift)  # parallax: tops move otherwise
        image = cv2.warpPerspective(
            self.canvas, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        top = cv2.warpPerspective(self.top, raised, size, flags=cv2.INTER_LINEAR)
        np.copyto(image, top[..., :3], where=top[..., 3:] > 127)
        for target in self.targets:
            if target.kind != "building":
                _draw_mover(image, target, matrix, self.shadow, self.unit, self.shade)
        saliency = np.zeros((spec.height, spec.width), np.float32)
        boxes, identities = [], []
        for identity, target in enumerate(self.targets):
            box = _add_target(saliency, target, raised if target.kind == "building" else matrix)
            if box is not None:
                boxes.append(box)
                identities.append(identity)
        np.minimum(saliency, 1.0, out=saliency)
        gain = 1.0 + self.rng.normal(0, 0.012)  # a little exposure flicker
        if self.finish is None:
            cv2.convertScaleAbs(image, image, alpha=gain)
        else:
            image = self.finish.apply(image, gain, self.finish_rng)
        labels = [spec.category] * len(boxes)
        return Frame(image, saliency, boxes, index, labels, matrix, identities)


def _draw_mover(
    image, target: _Target, matrix, shadow: np.ndarray, unit: float, shade: float = 0.5
) -> None:
    """Draw a target or a look-alike (and its shadow, `shade` dark) through the camera
    matrix; a moving boat draws its wake."""
    parts = _parts(target, unit)
    body = parts[0][0]
    lift = {"person": 1.6, "car": 1.0, "boat": 0.6, "animal": 1.2}[target.kind]
    if target.kind == "person":  # a long, thin shadow from the feet, away from the sun
        heading = math.atan2(shadow[1], shadow[0])
        length = 2.2 * float(np.linalg.norm(shadow)) + 0.5 * target.length
        center = target.position + _direction(heading) * length / 2
        _darken(
            image, _apply(matrix, _ellipse(center, heading, length / 2, target.width / 2.4)), shade
        )
    else:
        _darken(image, _apply(matrix, body + lift * shadow), shade)
    if target.kind == "boat" and target.speed > 0:  # the wake: pale lines behind the stern
        stern = _local(
            target.position,
            target.heading,
            [(-1, 0.6), (-1, -0.6)],
            target.length / 2,
            target.width / 2,
        )
        for point, sign in zip(stern, (1, -1), strict=True):
            tail = _local(
                point, target.heading, [(-1, sign)], 1.1 * target.length, 0.35 * target.length
            )
            a, b = _apply(matrix, np.stack([point, tail[0]]))
            cv2.line(
                image,
                _fixed(a),
                _fixed(b),
                (150, 140, 120),
                max(1, int(round(0.7 * unit))),
                cv2.LINE_AA,
                SHIFT,
            )
    for polygon, color in parts:
        _fill(image, _apply(matrix, polygon), color)


def _fixed(point) -> tuple[int, int]:
    return int(round(float(point[0]) * ONE)), int(round(float(point[1]) * ONE))


def _parts(target: _Target, unit: float) -> list[tuple[np.ndarray, Color]]:
    """A target's polygons in world coordinates, body first."""
    c, h, length, width = target.position, target.heading, target.length, target.width
    if target.kind == "car":
        return _car_parts(c, h, length, width, target.color)
    if target.kind == "person":
        shoulders = _ellipse(c, h, width / 2, length / 2, 10)
        head = _ellipse(c + _direction(h) * 0.1 * width, h, 0.2 * length, 0.2 * length, 8)
        return [(shoulders, target.color), (head, target.accent)]
    if target.kind == "boat":
        hull = _local(
            c, h, [(1, 0), (0.45, 1), (-1, 0.85), (-1, -0.85), (0.45, -1)], length / 2, width / 2
        )
        cabin = _rect(c - _direction(h) * 0.15 * length, h, 0.3 * length, 0.55 * width)
        return [(hull, target.color), (cabin, target.accent)]
    body = _ellipse(c, h, length * 0.38, width / 2, 12)
    head = _ellipse(c + _direction(h) * length * 0.4, h, length * 0.13, width * 0.27, 8)
    spot = _ellipse(c - _direction(h) * length * 0.08, h + 0.6, length * 0.14, width * 0.25, 8)
    return [(body, target.color), (head, _shade(target.color, 0.8)), (spot, target.accent)]


def _car_parts(center, heading, length, width, color) -> list[tuple[np.ndarray, Color]]:
    """Body with chamfered corners, windshield, rear window and a lighter roof."""
    body = _local(
        center,
        heading,
        [
            (1, 0.75),
            (0.85, 1),
            (-0.9, 1),
            (-1, 0.8),
            (-1, -0.8),
            (-0.9, -1),
            (0.85, -1),
            (1, -0.75),
        ],
        length / 2,
        width / 2,
    )
    windshield = _local(
        center,
        heading,
        [(0.5, 0.72), (0.5, -0.72), (0.12, -0.85), (0.12, 0.85)],
        length / 2,
        width / 2,
    )
    rear = _local(
        center,
        heading,
        [(-0.55, 0.8), (-0.55, -0.8), (-0.72, -0.7), (-0.72, 0.7)],
        length / 2,
        width / 2,
    )
    roof = _rect(center - _direction(heading) * length * 0.2, heading, length * 0.32, width * 0.78)
    glass = (55, 45, 40)
    return [(body, color), (roof, _shade(color, 1.12)), (windshield, glass), (rear, glass)]


def _add_target(saliency: np.ndarray, target: _Target, matrix: np.ndarray) -> Box | None:
    """Add the target's Gaussian to the map if its centre is in view; return its box."""
    h, w = saliency.shape
    center = _apply(matrix, target.position[None])[0]
    if not (0 <= center[0] <= w - 1 and 0 <= center[1] <= h - 1):
        return None
    corners = _apply(matrix, _rect(target.position, target.heading, target.length, target.width))
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int), (w - 1, h - 1))
    x1, y1 = max(x1, min(x0 + 1, w - 1)), max(y1, min(y0 + 1, h - 1))  # a tiny target: 1 px
    if x1 <= x0 or y1 <= y0:
        return None
    local = _jacobian(matrix, target.position)
    axis = local @ _direction(target.heading)
    across = float(np.linalg.norm(local @ _direction(target.heading + math.pi / 2)))
    scale = float(np.linalg.norm(axis))
    add_gaussian(saliency, center, axis / scale, scale * target.length, across * target.width)
    return int(x0), int(y0), int(x1), int(y1)


def add_gaussian(saliency: np.ndarray, center, axis, length: float, width: float) -> None:
    """Add a peak-1 Gaussian for a `length` x `width` target, long side along `axis`.

    Like a fixation density: fixations spread uniformly over the target (sigma = 0.3 x its
    size along each axis), blurred by an isotropic viewer scatter of SIGMA_FLOOR x the frame's
    longer side, so sigma^2 = (0.3 size)^2 + floor^2: round for small targets, elongated for
    large ones. Computed over its +-3 sigma window only.
    """
    h, w = saliency.shape
    floor = SIGMA_FLOOR * max(h, w)
    sigma_u, sigma_v = math.hypot(0.3 * length, floor), math.hypot(0.3 * width, floor)
    reach = 3.0 * max(sigma_u, sigma_v)
    x0, y0 = (max(0, int(center[i] - reach)) for i in (0, 1))
    x1, y1 = min(w, int(center[0] + reach) + 2), min(h, int(center[1] + reach) + 2)
    if x1 <= x0 or y1 <= y0:
        return
    dx = np.arange(x0, x1, dtype=np.float32)[None] - np.float32(center[0])
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(center[1])
    cos, sin = np.float32(axis[0]), np.float32(axis[1])
    u = (dx * cos + dy * sin) / np.float32(sigma_u)
    v = (dy * cos - dx * sin) / np.float32(sigma_v)
    saliency[y0:y1, x0:x1] += np.exp(np.float32(-0.5) * (u * u + v * v))


# --------------------------------------------------------------------------------------------
# Camera


@dataclass(frozen=True)
class _Lens:
    """A clip's camera geometry, drawn before anything is painted (it sizes the canvas).

    `focal` in pixels, `pitch` in radians from nadir (0: looking straight down), `hover`:
    the camera stays put (a hovering drone, a mast camera), `size`: object scale against
    the default altitude (small: high up, targets a few pixels across).
    """

    focal: float
    pitch: float
    hover: bool
    size: float

    @classmethod
    def draw(cls, spec: ClipSpec, rng: np.random.Generator) -> _Lens:
        """Nadir or oblique, moving or hovering, low or high: as `spec.camera` asks."""
        view = spec.camera
        if view == "any":
            oblique = rng.random() < OBLIQUE_SHARE
            hover = spec.category != "Vehicle" and rng.random() < HOVER_SHARE
            view = ("oblique" if oblique else "nadir") + ("-hover" if hover else "")
        focal = rng.uniform(1.0, 1.4) * max(spec.width, spec.height)
        pitch = math.radians(rng.uniform(15, MAX_PITCH)) if "oblique" in view else 0.0
        size = math.exp(rng.uniform(math.log(MIN_SIZE), math.log(MAX_SIZE)))
        if spec.camera == "nadir" or spec.category == "Building":
            size = min(max(size, 0.8), 1.4)  # a landmark fills the view either way
        return cls(focal, pitch, "hover" in view, size if spec.camera != "nadir" else 1.0)

    def reach(self, spec: ClipSpec) -> float:
        """How far from the look point the view can see on the ground (canvas pixels), at
        the widest zoom, capped at REACH_CAP x the longer side (beyond it: haze)."""
        ground = self.ground_points(spec, 1.0 - MAX_ZOOM)
        far = float(np.max(np.linalg.norm(ground, axis=1)))
        return min(far, REACH_CAP * max(spec.width, spec.height)) + 2.0

    def ground_points(self, spec: ClipSpec, scale: float, pixels=None) -> np.ndarray:
        """Ground points (relative to the look point) seen at image `pixels` (default: the
        corners) with yaw 0 and zoom `scale`."""
        if pixels is None:
            pixels = np.array(
                [[0, 0], [spec.width, 0], [spec.width, spec.height], [0, spec.height]], float
            )
        matrix = _ground_homography(self, spec, np.zeros(2), 0.0, scale)
        return _apply(np.linalg.inv(matrix), np.asarray(pixels, float))


def _pose(lens: _Lens, look: np.ndarray, yaw: float, scale: float):
    """(rotation rows, camera centre) of a pinhole camera looking at ground point `look`.

    World: canvas x, y on the ground, z up. The camera's x axis is the image's right, y its
    down, z its optical axis; pitched forward (towards the image top) by `lens.pitch`, at
    slant distance focal / scale from `look`, so the look point is drawn at zoom `scale`.
    """
    c, s = math.cos(yaw), math.sin(yaw)
    right, down_h, up = np.array([c, s, 0.0]), np.array([-s, c, 0.0]), np.array([0.0, 0.0, 1.0])
    cp, sp = math.cos(lens.pitch), math.sin(lens.pitch)
    forward = -cp * up - sp * down_h
    down = cp * down_h - sp * up
    rotation = np.stack([right, down, forward])
    centre = np.array([look[0], look[1], 0.0]) - forward * lens.focal / scale
    return rotation, centre


def _ground_homography(lens, spec, look, yaw, scale, height: float = 0.0) -> np.ndarray:
    """3x3 homography world (x, y) at `height` above the ground -> frame pixels."""
    rotation, centre = _pose(lens, look, yaw, scale)
    k = np.array([[lens.focal, 0, spec.width / 2], [0, lens.focal, spec.height / 2], [0, 0, 1.0]])
    offset = rotation[:, 2] * height - rotation @ centre
    matrix = k @ np.stack([rotation[:, 0], rotation[:, 1], offset], axis=1)
    return matrix / matrix[2, 2]


class _Camera:
    """Drone ego-motion: follows a focus point with lag, orbits it slowly, rolls and zooms;
    a hovering camera stays where it started. A pinhole camera over the ground plane."""

    def __init__(self, spec: ClipSpec, rng, stage: tuple[float, float], focus, lens) -> None:
        tau = 2 * math.pi
        self.spec, self.lens = spec, lens
        self.stage = stage
        self.focus = np.array(focus, float)
        self.lag = 1.0 - math.exp(-1.0 / spec.fps)  # ~1 s time constant
        self.radii = rng.uniform(0.10, 0.20, 2) * min(spec.width, spec.height)
        self.tilt = rng.uniform(0, tau)
        self.orbit = (
            rng.uniform(0, tau),
            rng.choice([-1, 1]) * tau / rng.uniform(10, 20) / spec.fps,
        )
        self.heading = rng.uniform(0, 360)
        self.roll = (rng.uniform(2, 6), rng.uniform(0, tau), tau / rng.uniform(15, 40) / spec.fps)
        self.zoom = (
            rng.uniform(0.02, MAX_ZOOM),
            rng.uniform(0, tau),
            tau / rng.uniform(12, 30) / spec.fps,
        )

    def follow(self, focus: np.ndarray) -> None:
        if not self.lens.hover:
            self.focus += self.lag * (focus - self.focus)

    def matrix(self, index: int, height: float = 0.0) -> np.ndarray:
        """3x3 homography world -> frame for frame `index` (after `index` calls to
        `follow`), of the ground or of a plane `height` above it (tree tops, roofs)."""
        index = 0 if self.lens.hover else index
        theta = self.orbit[0] + self.orbit[1] * index
        local = self.radii * np.array([math.cos(theta), math.sin(theta)])
        c, s = math.cos(self.tilt), math.sin(self.tilt)
        offset = np.array([c * local[0] - s * local[1], s * local[0] + c * local[1]])
        center = np.clip(self.focus + offset, *self.stage)
        amplitude, phase, omega = self.roll
        angle = self.heading + amplitude * math.sin(phase + omega * index)
        amplitude, phase, omega = self.zoom
        scale = 1.0 + amplitude * math.sin(phase + omega * index)
        yaw = -math.radians(angle)  # getRotationMatrix2D's sense, as before
        return _ground_homography(self.lens, self.spec, center, yaw, scale, height)


class _Finish:
    """The camera's own look, the same for a whole clip: exposure and white balance,
    vignetting, haze that thickens with distance (and hides where an oblique view would
    see past the canvas), sensor noise, motion blur and JPEG artefacts."""

    NOISE_PAD = 16  # px: the noise field is this much larger; each frame takes a window

    def __init__(self, spec: ClipSpec, rng, lens: _Lens, reach: float) -> None:
        w, h = spec.width, spec.height
        gain = rng.uniform(0.75, 1.2) * rng.uniform(0.9, 1.1, 3)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        radius2 = ((xs - w / 2) ** 2 + (ys - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
        vignette = 1.0 - rng.uniform(0.0, 0.35) * radius2
        haze = _haze_map(spec, lens, reach, rng.uniform(0.0, 0.3))
        colour = rng.uniform(170, 235) * rng.uniform(0.93, 1.07, 3)
        keep = (1.0 - haze) * vignette
        self.scale = (keep[..., None] * gain.astype(np.float32)).astype(np.float32)
        self.offset = (haze[..., None] * colour.astype(np.float32)).astype(np.float32)
        sigma = rng.uniform(0.0, 5.0) if rng.random() < 0.8 else 0.0
        pad = self.NOISE_PAD
        self.noise = (
            rng.normal(0.0, sigma, (h + pad, w + pad, 3)).astype(np.float32) if sigma else None
        )
        self.blur = _blur_kernel(rng) if rng.random() < 0.35 else None
        self.jpeg = int(rng.integers(35, 91)) if rng.random() < 0.5 else None

    def apply(self, image: np.ndarray, gain: float, rng) -> np.ndarray:
        """The finished frame (a new uint8 BGR image); `gain` is this frame's flicker."""
        if self.blur is not None:
            image = cv2.filter2D(image, -1, self.blur)
        pixels = image.astype(np.float32)
        cv2.multiply(pixels, self.scale, pixels, scale=gain)
        cv2.add(pixels, self.offset, pixels)
        if self.noise is not None:
            dy, dx = (int(v) for v in rng.integers(0, self.NOISE_PAD + 1, 2))
            h, w = image.shape[:2]
            cv2.add(pixels, self.noise[dy : dy + h, dx : dx + w], pixels)
        np.clip(pixels, 0.0, 255.0, out=pixels)
        image = pixels.astype(np.uint8)
        if self.jpeg is not None:
            _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
        return image


def _haze_map(spec: ClipSpec, lens: _Lens, reach: float, amount: float) -> np.ndarray:
    """(H, W) float32 haze opacity: `amount` at the image centre's distance, growing with
    the distance along each pixel's ray, and 1 where the ground is farther than `reach`."""
    step = 8
    us, vs = np.meshgrid(
        np.arange(0, spec.width + step, step, dtype=float),
        np.arange(0, spec.height + step, step, dtype=float),
    )
    pixels = np.stack([us.ravel(), vs.ravel()], axis=1)
    ground = lens.ground_points(spec, 1.0 - MAX_ZOOM, pixels)
    _, centre = _pose(lens, np.zeros(2), 0.0, 1.0 - MAX_ZOOM)
    depth = np.linalg.norm(np.column_stack([ground, np.zeros(len(ground))]) - centre, axis=1)
    density = -math.log(1.0 - amount) / (lens.focal / (1.0 - MAX_ZOOM))
    haze = 1.0 - np.exp(-density * depth)
    distance = np.linalg.norm(ground, axis=1)
    if distance.max() > reach - 2.0:  # the view sees past the canvas: lose that in haze
        haze = np.maximum(haze, _smoothstep(distance, 0.8 * reach, reach - 2.0))
    haze = haze.reshape(us.shape).astype(np.float32)
    big = cv2.resize(haze, (us.shape[1] * step, us.shape[0] * step), cv2.INTER_LINEAR)
    return big[: spec.height, : spec.width]


def _blur_kernel(rng) -> np.ndarray:
    """A short line kernel: the camera moved or shook during the exposure."""
    length = float(rng.uniform(1.5, 5.0))
    size = int(math.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    angle = rng.uniform(0, math.pi)
    half = length / 2 * _direction(angle)
    middle = np.array([size // 2, size // 2], float)
    a, b = middle - half, middle + half
    cv2.line(kernel, _fixed(a), _fixed(b), 1.0, 1, cv2.LINE_AA, SHIFT)
    return kernel / max(float(kernel.sum()), 1e-6)


# --------------------------------------------------------------------------------------------
# Terrain


class _Painter:
    """Paints the static world once per clip: terrain, roads, buildings, trees, parked cars."""

    def __init__(self, side: int, unit: float, rng: np.random.Generator, category: str) -> None:
        self.side, self.unit, self.rng, self.category = side, unit, rng, category
        sun = rng.uniform(0, 2 * math.pi)
        # shadows fall this way, light from opposite; long at a low sun, faint when overcast
        self.shadow_dir = _direction(sun) * rng.uniform(0.6, 2.2)
        self.shadow_strength = rng.uniform(0.2, 0.6)
        self.site = np.full(2, side / 2) + rng.normal(0, 0.02 * side, 2)
        self.site_kind = {
            "Vehicle": "road",
            "Human": "plaza",
            "Building": "landmark",
            "Others": "pond" if rng.random() < 0.5 else "pasture",
        }[category]
        self.site_radius = 0.0
        self.roads: list[_Road] = []
        self.water = np.zeros((side, side), np.uint8)
        self.occupied = np.zeros((side, side), np.uint8)
        self.shadows = np.zeros((side, side), np.uint8)
        self.roofs: list[tuple[np.ndarray, float, float, float, Color, str, float]] = []
        self.trees: list[tuple[np.ndarray, float]] = []
        self.cars: list[tuple[np.ndarray, float, float, float, Color]] = []
        self.landmark: _Target | None = None
        self.group_heading = rng.uniform(0, 2 * math.pi)  # people walk roughly together

    def paint(self) -> np.ndarray:
        """The finished ground canvas (side x side x 3, uint8 BGR); the elevated layer
        (roofs, tree crowns: side x side x 4, BGRA) is left in `self.top`."""
        canvas = self._ground()
        self._fields(canvas)
        self._site_nature(canvas)
        self._ponds(canvas)
        self._tracks(canvas)
        canvas = self._texture(canvas)
        self._roads(canvas)
        self._site_made(canvas)
        self._plan_buildings()
        self._plan_trees()
        self._apply_shadows(canvas)
        self._dark_spots(canvas)
        top, cover = np.zeros_like(canvas), np.zeros(canvas.shape[:2], np.uint8)
        self._draw_objects(canvas, top, cover)
        self.top = np.dstack([self._grain(top), cover])
        return self._grain(canvas)

    # -- natural layers -----------------------------------------------------------------------

    def _noise(self, cells: int, size: int | None = None) -> np.ndarray:
        """Smooth value noise in about [0, 1] with `cells` features across the canvas."""
        size = size or self.side
        grid = self.rng.random((cells + 1, cells + 1), dtype=np.float32)
        return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)

    def _ground(self) -> np.ndarray:
        """Lush and dry grass with bare-soil patches, painted coarse and scaled up."""
        small = max(64, self.side // 4)
        dry = _smoothstep(self._noise(4, small), 0.35, 0.7)[..., None]
        soil = _smoothstep(self._noise(10, small), 0.62, 0.82)[..., None]
        color = np.float32(LUSH) * (1 - dry) + np.float32(DRY) * dry
        color = color * (1 - soil) + np.float32(SOIL) * soil
        return cv2.resize(
            color.astype(np.uint8), (self.side, self.side), interpolation=cv2.INTER_LINEAR
        )

    def _fields(self, canvas: np.ndarray) -> None:
        """Crop fields: rotated rectangles with darker rows."""
        u, rng = self.unit, self.rng
        for _ in range(self._density(7)):
            center = rng.uniform(0.05, 0.95, 2) * self.side
            length, width = rng.uniform(90, 230, 2) * u
            heading = rng.uniform(0, math.pi)
            crop = _jitter(_pick(CROPS, rng), rng, 8)
            _fill(canvas, _rect(center, heading, length, width), crop)
            row = _shade(crop, rng.uniform(0.78, 0.9))
            spacing = rng.uniform(3, 6) * u
            forward = _direction(heading) * length / 2
            for y in np.arange(-width / 2 + spacing / 2, width / 2, spacing):
                mid = center + _direction(heading + math.pi / 2) * y
                cv2.line(
                    canvas,
                    _fixed(mid - forward),
                    _fixed(mid + forward),
                    row,
                    max(1, int(round(0.8 * u))),
                    cv2.LINE_AA,
                    SHIFT,
                )
            if rng.random() < 0.5:  # a hedgerow along one edge
                edge = center + _direction(heading + math.pi / 2) * (width / 2 + 3 * u)
                for t in np.linspace(-0.5, 0.5, int(length / (5 * u))):
                    point = edge + _direction(heading) * length * t + rng.normal(0, u, 2)
                    self.trees.append((point, rng.uniform(2.5, 4.5) * u))

    def _site_nature(self, canvas: np.ndarray) -> None:
        """A pond or fenced pasture at the site, for the 'Others' targets."""
        u, rng = self.unit, self.rng
        if self.site_kind == "pond":
            axes = rng.uniform(55, 85, 2) * u
            self._pond(canvas, self.site, axes)
            self.site_radius = float(min(axes)) * 0.6
        elif self.site_kind == "pasture":
            length, width = rng.uniform(120, 170, 2) * u
            heading = rng.uniform(0, math.pi)
            box = _rect(self.site, heading, length, width)
            _fill(canvas, box, _jitter(LUSH, rng, 6))
            cv2.polylines(
                canvas,
                [np.round(box * ONE).astype(np.int32)],
                True,
                FENCE,
                max(1, int(round(0.7 * u))),
                cv2.LINE_AA,
                SHIFT,
            )
            _fill(self.occupied, box, 255)
            self.site_radius = float(min(length, width)) * 0.35

    def _ponds(self, canvas: np.ndarray) -> None:
        for _ in range(self.rng.integers(0, 3)):
            center = self.rng.uniform(0.1, 0.9, 2) * self.side
            if np.linalg.norm(center - self.site) > 150 * self.unit:
                self._pond(canvas, center, self.rng.uniform(25, 60, 2) * self.unit)

    def _pond(self, canvas: np.ndarray, center: np.ndarray, axes: np.ndarray) -> None:
        """An irregular pond: a few overlapping ellipses, muddy shore, darker deep water."""
        rng, u = self.rng, self.unit
        blobs = [(center, axes, rng.uniform(0, math.pi))]
        for _ in range(rng.integers(2, 4)):
            offset = rng.normal(0, 0.35, 2) * axes
            blobs.append(
                (center + offset, axes * rng.uniform(0.45, 0.75, 2), rng.uniform(0, math.pi))
            )
        for grow, color, layer in ((3 * u, SHORE, None), (0.0, WATER, self.water)):
            for c, a, h in blobs:
                polygon = _ellipse(c, h, a[0] + grow, a[1] + grow, 40)
                _fill(canvas, polygon, color)
                _fill(self.occupied, polygon, 255)
                if layer is not None:
                    _fill(layer, polygon, 255)
        _fill(
            canvas,
            _ellipse(center, blobs[0][2], axes[0] * 0.5, axes[1] * 0.5, 32),
            _shade(WATER, 0.82),
        )

    def _tracks(self, canvas: np.ndarray) -> None:
        """Dirt tracks: pale, narrow, wavy lines across the fields."""
        for _ in range(self._density(2)):
            point = self.rng.uniform(0.1, 0.9, 2) * self.side
            track = _Road.through(
                point,
                self.rng.uniform(0, math.pi),
                self.rng.normal(0, 0.15 * self.side),
                self.side,
                3 * self.unit,
            )
            cv2.polylines(
                canvas,
                [np.round(track.points * ONE).astype(np.int32)],
                False,
                _jitter((120, 150, 165), self.rng, 8),
                int(round(track.width)),
                cv2.LINE_AA,
                SHIFT,
            )

    def _texture(self, canvas: np.ndarray) -> np.ndarray:
        """Multiply by multi-scale brightness noise: patches, clumps and fine grass."""
        cells = max(8, self.side // int(max(6, 5 * self.unit)))
        tex = 1.0 + 0.16 * (self._noise(30) - 0.5) + 0.14 * (self._noise(cells) - 0.5)
        tex += 0.10 * (self._noise(cells * 3) - 0.5)
        return _modulate(canvas, cv2.convertScaleAbs(tex, alpha=128.0), 128.0)

    # -- man-made layers ----------------------------------------------------------------------

    def _roads(self, canvas: np.ndarray) -> None:
        """Two or three asphalt roads with verges, edge lines and dashed centre lines."""
        u, rng = self.unit, self.rng
        width = rng.uniform(20, 24) * u
        clear = self.site_radius + width
        headings: list[float] = []
        for i in range(int(rng.integers(2, 4))):
            for _ in range(20):
                heading = rng.uniform(0, math.pi)
                bend = rng.normal(0, 0.12 * self.side)
                if self.site_kind == "road" and i == 0:
                    point = self.site
                elif i == 0:  # a straight road beside the site
                    point = self.site + _direction(heading + math.pi / 2) * (clear + 40 * u)
                    bend = 0.0
                else:
                    point = rng.uniform(0.15, 0.85, 2) * self.side
                road = _Road.through(point, heading, bend, self.side, width)
                crossing = min(
                    (abs(math.remainder(heading - h, math.pi)) for h in headings), default=math.pi
                )
                beside = self.site_kind == "road" or road.distance(self.site) > clear + 30 * u
                if i == 0 or (crossing > 0.5 and beside):
                    break
            else:
                continue  # no good place for another road
            headings.append(heading)
            self.roads.append(road)
        self._draw_roads(canvas)

    def _draw_roads(self, canvas: np.ndarray) -> None:
        """Layer by layer, so crossings join cleanly: verges, asphalt, then markings."""
        u = self.unit
        lines = [np.round(road.points * ONE).astype(np.int32) for road in self.roads]
        for road, line in zip(self.roads, lines, strict=True):
            cv2.polylines(canvas, [line], False, VERGE, int(road.width + 6 * u), cv2.LINE_AA, SHIFT)
            reserve = int(road.width + 14 * u)
            cv2.polylines(self.occupied, [line], False, 255, reserve, cv2.LINE_8, SHIFT)
        for road, line in zip(self.roads, lines, strict=True):
            asphalt = _jitter(ASPHALT, self.rng, 4)
            cv2.polylines(canvas, [line], False, asphalt, int(road.width), cv2.LINE_AA, SHIFT)
        thin = max(1, int(round(0.6 * u)))
        for road in self.roads:
            for lateral in (-road.width / 2 + 1.5 * u, road.width / 2 - 1.5 * u):
                edge = np.round(road.offset(lateral) * ONE).astype(np.int32)
                cv2.polylines(canvas, [edge], False, MARKING, thin, cv2.LINE_AA, SHIFT)
            dash = 6 * u
            starts = np.arange(0.0, road.arc[-1] - dash, 2 * dash)
            ends = np.stack([road.sample(starts), road.sample(starts + dash)], axis=1)
            dashes = list(np.round(ends * ONE).astype(np.int32))
            cv2.polylines(canvas, dashes, False, MARKING, thin, cv2.LINE_AA, SHIFT)

    def _site_made(self, canvas: np.ndarray) -> None:
        """The paved square (Human) or the landmark building (Building) at the site."""
        u, rng = self.unit, self.rng
        if self.site_kind == "plaza":
            length, width = rng.uniform(80, 120, 2) * u
            heading = rng.uniform(0, math.pi)
            box = _rect(self.site, heading, length, width)
            _fill(canvas, box, _jitter(PAVING, rng, 6))
            joint = _shade(PAVING, 0.9)
            for t in np.arange(-0.5, 0.5, 10 * u / length):
                a, b = _local(self.site, heading, [(2 * t, 1), (2 * t, -1)], length / 2, width / 2)
                cv2.line(canvas, _fixed(a), _fixed(b), joint, 1, cv2.LINE_AA, SHIFT)
            _fill(self.occupied, box, 255)
            self.site_radius = float(min(length, width)) * 0.45
            for corner in box:  # trees at the corners
                self.trees.append((corner + (corner - self.site) * 0.1, rng.uniform(4, 6) * u))
            for _ in range(int(rng.integers(6, 14))):  # benches and bins: people-sized clutter
                spot = _local(
                    self.site, heading, [rng.uniform(-0.9, 0.9, 2)], length / 2, width / 2
                )[0]
                size = rng.uniform(2, 6) * u
                color = _jitter(_pick(((50, 70, 95), (45, 50, 50), (80, 90, 60)), rng), rng, 8)
                _fill(canvas, _rect(spot, heading, size, 2 * u), color)
        elif self.site_kind == "landmark":
            style = _pick(("hall", "dome", "tower"), rng)
            length = rng.uniform(55, 80) * u
            width = length * (1.0 if style == "dome" else rng.uniform(0.55, 0.8))
            heading = rng.uniform(0, math.pi)
            color = _pick(VIVID, rng)
            height = (28 if style == "tower" else 10) * u
            self.roofs.append((self.site, heading, length, width, color, style, height))
            _fill(self.occupied, _rect(self.site, heading, length + 20 * u, width + 20 * u), 255)
            self.landmark = _Target("building", self.site.copy(), heading, length, width, color)
            self.site_radius = 0.6 * length

    def _density(self, per_megaunit: float) -> int:
        """How many of something for this canvas: `per_megaunit` per 10^6 square units."""
        area = min((self.side / self.unit) ** 2 / 1e6, MAX_MEGAUNITS)
        return int(self.rng.poisson(per_megaunit * area))

    def _plan_buildings(self) -> None:
        """Villages of houses along the roads, a few farmsteads, parking lots; no overlaps."""
        u, rng = self.unit, self.rng
        villages = [
            (road, rng.uniform(0, road.arc[-1]), rng.uniform(40, 140) * u)
            for road in self.roads
            for _ in range(int(rng.integers(2, 5)))
        ]
        for _ in range(self._density(260)):
            length, depth = rng.uniform(16, 38) * u, rng.uniform(12, 26) * u
            road, middle, spread = villages[int(rng.integers(len(villages)))]
            if rng.random() < 0.85:
                point, tangent = road.at(middle + rng.normal(0, spread))
                side = rng.choice([-1, 1])
                setback = road.width / 2 + rng.uniform(6, 14) * u + depth / 2
                setback += rng.choice([0.0, 0.0, 1.0]) * rng.uniform(30, 45) * u  # second row
                center = point + side * setback * np.array([-tangent[1], tangent[0]])
                heading = math.atan2(tangent[1], tangent[0]) + rng.normal(0, 0.05)
            else:
                center = rng.uniform(0, self.side, 2)
                heading = rng.uniform(0, math.pi)
            footprint = _rect(center, heading, length + 4 * u, depth + 4 * u)
            if self._free(footprint):
                _fill(self.occupied, footprint, 255)
                style = "gable" if rng.random() < 0.6 else "flat"
                roof = _roof_color(rng)
                self.roofs.append(
                    (center, heading, length, depth, roof, style, rng.uniform(4, 9) * u)
                )
                if style == "flat" and rng.random() < 0.5:
                    self._parking(center, heading, length, depth)
        for road in self.roads:  # cars parked on the verge
            for _ in range(int(rng.integers(2, 6))):
                point, tangent = road.at(rng.uniform(0, road.arc[-1]))
                normal = np.array([-tangent[1], tangent[0]])
                center = point + rng.choice([-1, 1]) * (road.width / 2 + 2.5 * u) * normal
                heading = math.atan2(tangent[1], tangent[0]) + math.pi * rng.integers(2)
                if all(
                    other is road or other.distance(center) > other.width / 2 + 10 * u
                    for other in self.roads
                ):
                    self._park(center, heading)

    def _parking(self, center, heading: float, length: float, depth: float) -> None:
        """A lot in front of a building, with a row of parked cars."""
        u, rng = self.unit, self.rng
        lot_center = center - _direction(heading + math.pi / 2) * (depth / 2 + 11 * u)
        lot = _rect(lot_center, heading, length, 16 * u)
        if not self._free(lot):
            return
        _fill(self.occupied, lot, 255)
        self.roofs.append((lot_center, heading, length, 16 * u, (105, 106, 104), "lot", 0.0))
        for t in np.arange(-length / 2 + 4 * u, length / 2 - 3 * u, 8 * u):
            if rng.random() < 0.65:
                spot = lot_center + _direction(heading) * t
                self._park(spot, heading + math.pi / 2 + math.pi * rng.integers(2))

    def _park(self, center: np.ndarray, heading: float) -> None:
        u, rng = self.unit, self.rng
        color = _jitter(_pick(CAR_DULL, rng), rng, 10)
        self.cars.append(
            (center, heading, rng.uniform(11, 14) * u, rng.uniform(5.5, 6.5) * u, color)
        )

    def _free(self, polygon: np.ndarray) -> bool:
        """Whether the polygon lies inside the canvas and on no occupied pixel."""
        x0, y0 = np.floor(polygon.min(axis=0)).astype(int)
        x1, y1 = np.ceil(polygon.max(axis=0)).astype(int) + 1
        if x0 < 0 or y0 < 0 or x1 > self.side or y1 > self.side:
            return False
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        _fill(mask, polygon - (x0, y0), 255)
        return not (mask & self.occupied[y0:y1, x0:x1]).any()

    def _plan_trees(self) -> None:
        """Clusters of trees and scattered single trees, off the roads and roofs."""
        u, rng = self.unit, self.rng
        for _ in range(self._density(45)):
            center = rng.uniform(0, self.side, 2)
            spread = rng.uniform(10, 40) * u
            for _ in range(int(rng.integers(5, 40))):
                self.trees.append((center + rng.normal(0, spread, 2), rng.uniform(3, 7) * u))
        for _ in range(self._density(120)):
            self.trees.append((rng.uniform(0, self.side, 2), rng.uniform(2.5, 5) * u))
        kept = []
        for center, radius in self.trees:
            x, y = int(center[0]), int(center[1])
            if 0 <= x < self.side and 0 <= y < self.side and not self.occupied[y, x]:
                kept.append((center, radius))
        self.trees = kept

    def _apply_shadows(self, canvas: np.ndarray) -> None:
        """Draw all shadows into one mask, soften it, and darken the canvas once."""
        for center, heading, length, width, _, style, height in self.roofs:
            if style == "lot":
                continue
            base = (
                _ellipse(center, heading, length / 2, width / 2, 32)
                if style == "dome"
                else _rect(center, heading, length, width)
            )
            hull = cv2.convexHull(
                np.concatenate([base, base + self.shadow_dir * height]).astype(np.float32)
            )[:, 0]
            _fill(self.shadows, hull, 255)
        for center, radius in self.trees:
            _disc(self.shadows, center + self.shadow_dir * radius * 0.9, radius, 255)
        for center, heading, length, width, _ in self.cars:
            _fill(
                self.shadows,
                _rect(center + self.shadow_dir * self.unit, heading, length, width),
                255,
            )
        soft = cv2.GaussianBlur(self.shadows, (0, 0), max(0.6, 0.7 * self.unit))
        darkest = -1.1 * self.shadow_strength
        canvas[:] = _modulate(canvas, cv2.convertScaleAbs(soft, alpha=darkest, beta=255), 255.0)

    def _dark_spots(self, canvas: np.ndarray) -> None:
        """Dark static clutter anywhere off the water: bushes, bins, manholes, dark patches,
        each with its shadow. Dark, target-sized and still: not salient."""
        u, rng = self.unit, self.rng
        for _ in range(self._density(150)):
            center = rng.uniform(0, self.side, 2)
            x, y = int(center[0]), int(center[1])
            if self.water[min(y, self.side - 1), min(x, self.side - 1)]:
                continue
            color = _any_colour(rng, (10, 70))
            length, width = rng.uniform(2, 9) * u, rng.uniform(1.5, 5) * u
            heading = rng.uniform(0, math.pi)
            shape = (
                _ellipse(center, heading, length / 2, width / 2, 10)
                if rng.random() < 0.6
                else _rect(center, heading, length, width)
            )
            _darken(canvas, shape + self.shadow_dir * u, self.shadow_strength)
            _fill(canvas, shape, color)

    def _draw_objects(self, canvas: np.ndarray, top: np.ndarray, cover: np.ndarray) -> None:
        """Parked cars and lots on the ground; crowns and roofs on the elevated layer `top`,
        with `cover` (255) where it hides the ground."""
        light = -self.shadow_dir / float(np.linalg.norm(self.shadow_dir))
        for center, radius in self.trees:
            crown = _jitter(TREE, self.rng, 7)
            _disc(top, center, radius, crown)
            _disc(top, center + light * radius * 0.3, radius * 0.55, _shade(crown, 1.25))
            _disc(cover, center, radius, 255)
        for roof in self.roofs:
            center, heading, length, width, _, style, _ = roof
            if style == "lot":
                _draw_roof(canvas, *roof, light=light, unit=self.unit)
                continue
            _draw_roof(top, *roof, light=light, unit=self.unit)
            if style == "dome":
                _fill(cover, _ellipse(center, 0, length / 2, width / 2, 32), 255)
            else:
                _fill(cover, _rect(center, heading, length, width), 255)
        for center, heading, length, width, color in self.cars:
            for polygon, part_color in _car_parts(center, heading, length, width, color):
                _fill(canvas, polygon, part_color)

    def _grain(self, canvas: np.ndarray) -> np.ndarray:
        """Per-pixel sensor/surface grain over everything."""
        grain = self.rng.integers(124, 133, (self.side, self.side), dtype=np.uint8)
        return _modulate(canvas, grain, 128.0)


def _modulate(canvas: np.ndarray, factor: np.ndarray, one: float) -> np.ndarray:
    """canvas * factor / one per pixel (factor: one uint8 channel), saturated, all in 8 bits."""
    return cv2.multiply(canvas, cv2.merge([factor, factor, factor]), scale=1.0 / one)


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _roof_color(rng: np.random.Generator) -> Color:
    """Ordinary roofs: greys, muted terracotta, slate; never the landmark's vivid colours."""
    grey = rng.uniform(95, 165)
    tint = _pick(((1, 1, 1), (0.78, 0.86, 1.1), (1.06, 1.0, 0.92), (0.92, 1.0, 0.96)), rng)
    return tuple(int(min(255, grey * t)) for t in tint)


def _draw_roof(canvas, center, heading, length, width, color, style, height, *, light, unit):
    """Draw one roof: gable (lit and shaded halves), flat (parapet, vents), dome, tower, lot."""
    if style == "lot":
        _fill(canvas, _rect(center, heading, length, width), color)
        for t in np.arange(-length / 2, length / 2 + 1, 8 * unit):
            a, b = _local(
                center + _direction(heading) * t, heading, [(0, 1), (0, 0.1)], 1, width / 2
            )
            cv2.line(canvas, _fixed(a), _fixed(b), (200, 200, 200), 1, cv2.LINE_AA, SHIFT)
        return
    if style == "dome":
        for k in np.linspace(1.0, 0.15, 7):
            offset = light * (1 - k) * length * 0.18
            shade = 0.75 + 0.45 * (1 - k)
            _fill(
                canvas,
                _ellipse(center + offset, 0, k * length / 2, k * width / 2, 32),
                _shade(color, shade),
            )
        return
    _fill(canvas, _rect(center, heading, length, width), _shade(color, 0.85))
    if style in ("gable", "hall"):
        normal = _direction(heading + math.pi / 2)
        lit = 1.0 if float(normal @ light) > 0 else -1.0
        for sign, shade in ((lit, 1.12), (-lit, 0.78)):
            half = _rect(center + sign * normal * width / 4, heading, length, width / 2)
            _fill(canvas, half, _shade(color, shade))
        ends = _local(center, heading, [(1, 0), (-1, 0)], length / 2, 0)
        cv2.line(
            canvas,
            _fixed(ends[0]),
            _fixed(ends[1]),
            _shade(color, 0.6),
            max(1, int(round(0.6 * unit))),
            cv2.LINE_AA,
            SHIFT,
        )
        return
    inset = 2.0 * unit
    _fill(canvas, _rect(center, heading, length - inset, width - inset), color)
    if style == "tower":  # a helipad: ring and cross
        radius = 0.3 * min(length, width)
        cv2.circle(
            canvas,
            _fixed(center),
            int(radius * ONE),
            (235, 235, 235),
            max(1, int(round(unit))),
            cv2.LINE_AA,
            SHIFT,
        )
        _fill(canvas, _rect(center, heading, radius * 1.1, radius * 0.25), (235, 235, 235))
        _fill(
            canvas,
            _rect(center, heading + math.pi / 2, radius * 1.1, radius * 0.25),
            (235, 235, 235),
        )
        return
    for k in range(int(length // (12 * unit))):  # roof vents
        spot = _local(center, heading, [(-0.6 + 0.5 * k, 0.3)], length / 2, width / 2)[0]
        _fill(canvas, _rect(spot, heading, 3 * unit, 3 * unit), _shade(color, 1.25))


# --------------------------------------------------------------------------------------------
# Datasets on disk


def default_splits(
    n_train: int,
    n_valid: int,
    n_test: int,
    n_frames: int = 100,
    width: int = 1280,
    height: int = 720,
    base_seed: int = 0,
) -> dict[str, list[ClipSpec]]:
    """Clip specs for the three AVS1K splits: categories cycle, and for each category the
    frame rate (`FRAME_RATES`: how far things move between frames); seeds never repeat."""
    splits, seed = {}, base_seed
    for split, count in zip(SPLITS, (n_train, n_valid, n_test), strict=True):
        specs = []
        for i in range(count):
            category = CATEGORIES[i % len(CATEGORIES)]
            fps = FRAME_RATES[i // len(CATEGORIES) % len(FRAME_RATES)]
            specs.append(ClipSpec(seed, category, n_frames, width, height, fps))
            seed += 1
        splits[split] = specs
    return splits


def write_avs1k(root: Path | str, clips: dict[str, list[ClipSpec]]) -> Path:
    """Write clips in AVS1K's public layout, so AVS1K readers and tools load them; returns it.

    `root/AVS1K/<split>/Frame/<video>/<video>_%05d.png` holds the frames (numbered from 1),
    `.../Ground/<video>/<video>_%05d.png` the ground-truth maps as 8-bit grayscale.
    """
    dataset = Path(root) / AVS1K_FOLDER
    with _PngWriter() as writer:
        for split, specs in clips.items():
            for spec in specs:
                name = video_name(spec)
                frame_dir = _fresh_dir(dataset / split / FRAME_FOLDER / name)
                ground_dir = _fresh_dir(dataset / split / GROUND_FOLDER / name)
                for frame in generate_clip(spec):
                    stem = f"{name}_{frame.index + 1:05d}.png"
                    writer.write(frame_dir / stem, frame.image)
                    writer.write(ground_dir / stem, _to_u8(frame.saliency))
    return dataset


def write_frame_folders(root: Path | str, specs: Iterable[ClipSpec], n_fixations: int = 15) -> Path:
    """Write clips in the DHF1K-style layout (images, maps, binary fixation maps); returns root.

    `root/<video>/images/%04d.png`, `maps/%04d.png` (8-bit) and `fixation/%04d.png`, where
    `n_fixations` points per frame are drawn from the map as a distribution (255 = fixated),
    deterministically per seed, for metrics that need discrete fixations.
    """
    root = Path(root)
    with _PngWriter() as writer:
        for spec in specs:
            video = root / video_name(spec)
            dirs = {kind: _fresh_dir(video / kind) for kind in (IMAGES, MAPS, FIXATIONS)}
            rng = np.random.default_rng([spec.seed, 1])
            for frame in generate_clip(spec):
                stem = f"{frame.index + 1:04d}.png"
                fixations = sample_fixations(frame.saliency, n_fixations, rng)
                writer.write(dirs[IMAGES] / stem, frame.image)
                writer.write(dirs[MAPS] / stem, _to_u8(frame.saliency))
                writer.write(dirs[FIXATIONS] / stem, fixations)
    return root


def sample_fixations(saliency: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """A binary map of `count` pixels drawn from the map as a distribution (255 = fixated).

    Stands in for recorded eye fixations; repeated draws of one pixel mark it once.
    """
    out = np.zeros(saliency.shape, np.uint8)
    weights = saliency.ravel().astype(np.float64)
    total = weights.sum()
    if total <= 0 or count <= 0:
        return out
    picks = rng.choice(weights.size, size=count, p=weights / total)
    out.ravel()[picks] = 255
    return out


class _PngWriter:
    """Encodes PNGs on a few threads (OpenCV releases the GIL) while the next frame renders.

    At most `depth` writes are pending, so memory stays bounded on long clips; leaving the
    `with` block waits for all of them and re-raises the first failure.
    """

    def __init__(self, workers: int | None = None, depth: int = 12) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1))
        self.pending: deque[Future] = deque()
        self.depth = depth

    def write(self, path: Path, image: np.ndarray) -> None:
        self.pending.append(self.pool.submit(_write_png, path, image))
        while len(self.pending) > self.depth:
            self.pending.popleft().result()

    def __enter__(self) -> _PngWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _write_png(path: Path, image: np.ndarray) -> None:
    write_image(path, image, PNG_FAST)


def _to_u8(saliency: np.ndarray) -> np.ndarray:
    return np.clip(saliency * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _fresh_dir(path: Path) -> Path:
    """Create `path`, removing PNGs left by an earlier run so counts always match (a link
    at `path` is removed, not followed: nothing is deleted or written outside the set)."""
    if path.is_symlink():
        path.unlink()
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):
        old.unlink()
    return path


# --------------------------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
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
    parser.add_argument("--width", type=int, default=1280, help="frame width (default 1280)")
    parser.add_argument("--height", type=int, default=720, help="frame height (default 720)")
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
            args.train, args.valid, args.test, args.frames, args.width, args.height, args.seed
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
        f"wrote {videos} videos x {args.frames} frames of {args.width}x{args.height} "
        f"({args.layout} layout) to {where} in {elapsed:.1f} s"
    )
    return 0
