"""What to generate and what comes out: `ClipSpec`, `Frame` and a clip's folder name."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from skd_ros.data.layout import CATEGORIES, MAX_SIDE

CAMERAS = ("any", "nadir", "oblique", "hover", "oblique-hover")
MIN_SIDE = 64  # frame sides in pixels, at least (at most: MAX_SIDE)

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, inclusive


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
    """Refuse a value that is not an integer in [minimum, maximum], naming the field."""
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
