"""The planned static world of a clip: the state that the painting steps share."""

from __future__ import annotations

import math

import cv2
import numpy as np

from skd_ros.data.synthetic.drawing import fill_polygon
from skd_ros.data.synthetic.geometry import heading_vector
from skd_ros.data.synthetic.palette import Color
from skd_ros.data.synthetic.roads import Road
from skd_ros.data.synthetic.targets import Target

MAX_MEGAUNITS = 4.0  # painted area counted for object densities, at most (high altitude)

Roof = tuple[np.ndarray, float, float, float, Color, str, float]  # centre, heading, length,
# width, colour, style (gable | flat | hall | dome | tower | lot), height
Tree = tuple[np.ndarray, float]  # centre, crown radius
ParkedCar = tuple[np.ndarray, float, float, float, Color]  # centre, heading, length, width


class World:
    """The static world of one clip while it is planned and painted: sun and shadows, the
    site of the targets, roads, water, the ground already taken, and the roofs, trees and
    parked cars still to draw (the painter draws them, `skd_ros.data.synthetic.painter`)."""

    def __init__(self, side: int, unit: float, rng: np.random.Generator, category: str) -> None:
        self.side, self.unit, self.rng, self.category = side, unit, rng, category
        sun = rng.uniform(0, 2 * math.pi)
        # shadows fall this way, light from opposite; long at a low sun, faint when overcast
        self.shadow_dir = heading_vector(sun) * rng.uniform(0.6, 2.2)
        self.shadow_strength = rng.uniform(0.2, 0.6)
        self.site = np.full(2, side / 2) + rng.normal(0, 0.02 * side, 2)
        self.site_kind = {
            "Vehicle": "road",
            "Human": "plaza",
            "Building": "landmark",
            "Others": "pond" if rng.random() < 0.5 else "pasture",
        }[category]
        self.site_radius = 0.0
        self.roads: list[Road] = []
        self.water = np.zeros((side, side), np.uint8)
        self.occupied = np.zeros((side, side), np.uint8)
        self.shadows = np.zeros((side, side), np.uint8)
        self.roofs: list[Roof] = []
        self.trees: list[Tree] = []
        self.cars: list[ParkedCar] = []
        self.landmark: Target | None = None
        self.group_heading = rng.uniform(0, 2 * math.pi)  # people walk roughly together

    def noise(self, cells: int, size: int | None = None) -> np.ndarray:
        """Smooth value noise in about [0, 1] with `cells` features across the canvas."""
        size = size or self.side
        grid = self.rng.random((cells + 1, cells + 1), dtype=np.float32)
        return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)

    def density(self, per_megaunit: float) -> int:
        """How many of something for this canvas: `per_megaunit` per 10^6 square units."""
        area = min((self.side / self.unit) ** 2 / 1e6, MAX_MEGAUNITS)
        return int(self.rng.poisson(per_megaunit * area))

    def is_free(self, polygon: np.ndarray) -> bool:
        """Whether the polygon lies inside the canvas and on no occupied pixel."""
        x0, y0 = np.floor(polygon.min(axis=0)).astype(int)
        x1, y1 = np.ceil(polygon.max(axis=0)).astype(int) + 1
        if x0 < 0 or y0 < 0 or x1 > self.side or y1 > self.side:
            return False
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        fill_polygon(mask, polygon - (x0, y0), 255)
        return not (mask & self.occupied[y0:y1, x0:x1]).any()
