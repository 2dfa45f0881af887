"""The drone's camera: its lens and pose (a pinhole over the ground plane), and its motion.

`Lens` is drawn per clip (nadir or oblique, hovering or not, its altitude), `Camera`
moves it frame by frame, and `ground_homography` maps the ground, or a plane above it,
into the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from skd_ros.data.synthetic.geometry import project
from skd_ros.data.synthetic.spec import ClipSpec

REACH_CAP = 1.0  # of the longer side: the farthest ground an oblique view shows (then haze)
MAX_ZOOM = 0.07  # the camera's scale stays within 1 +- MAX_ZOOM
OBLIQUE_SHARE = 0.5  # camera="any": share of oblique clips (pitch 15 deg to MAX_PITCH)
HOVER_SHARE = 0.25  # ...and of clips whose camera stays put (never for Vehicle clips)
MAX_PITCH = 40.0  # degrees from nadir
MIN_SIZE, MAX_SIZE = 0.5, 2.5  # object scale range (altitude): a person 3.6-18 px at 720p


@dataclass(frozen=True)
class Lens:
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
    def draw(cls, spec: ClipSpec, rng: np.random.Generator) -> Lens:
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
        matrix = ground_homography(self, spec, np.zeros(2), 0.0, scale)
        return project(np.linalg.inv(matrix), np.asarray(pixels, float))


def pose(lens: Lens, look: np.ndarray, yaw: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
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


def ground_homography(
    lens: Lens,
    spec: ClipSpec,
    look: np.ndarray,
    yaw: float,
    scale: float,
    height: float = 0.0,
) -> np.ndarray:
    """3x3 homography world (x, y) at `height` above the ground -> frame pixels."""
    rotation, centre = pose(lens, look, yaw, scale)
    k = np.array([[lens.focal, 0, spec.width / 2], [0, lens.focal, spec.height / 2], [0, 0, 1.0]])
    offset = rotation[:, 2] * height - rotation @ centre
    matrix = k @ np.stack([rotation[:, 0], rotation[:, 1], offset], axis=1)
    return matrix / matrix[2, 2]


class Camera:
    """Drone ego-motion: follows a focus point with lag, orbits it slowly, rolls and zooms;
    a hovering camera stays where it started. A pinhole camera over the ground plane."""

    def __init__(
        self,
        spec: ClipSpec,
        rng: np.random.Generator,
        stage: tuple[float, float],
        focus: np.ndarray,
        lens: Lens,
    ) -> None:
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
        """Move a step (about 1 s time constant) towards `focus`, unless hovering."""
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
        return ground_homography(self.lens, self.spec, center, yaw, scale, height)
