"""Targets and look-alikes: what they are, the polygons they are drawn with, and drawing them.

A target is a salient object (car, person, boat, animal, building) in world coordinates;
a look-alike is the same kind of object standing still. Both are drawn through a frame's
camera matrix, with their shadow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from skd_ros.data.synthetic.drawing import SHIFT, darken, fill_polygon, fixed_point
from skd_ros.data.synthetic.geometry import ellipse, heading_vector, project, rect, to_world
from skd_ros.data.synthetic.palette import Color, shaded
from skd_ros.data.synthetic.roads import Road


@dataclass
class Target:
    """A salient object in world (canvas) coordinates."""

    kind: str  # car | person | boat | animal | building
    position: np.ndarray
    heading: float  # radians: direction of travel, or long axis
    length: float
    width: float
    color: Color
    speed: float = 0.0  # pixels per frame
    road: Road | None = None
    s: float = 0.0  # arc length on the road
    sense: int = 1  # +1 along the road's arc, -1 against it
    lateral: float = 0.0  # current sideways offset from the road's centre line
    home: np.ndarray | None = None  # wanderers stay near home
    radius: float = 0.0  # ...within this distance
    accent: Color = (40, 40, 40)  # head, cabin or spots


def draw_mover(
    image: np.ndarray,
    target: Target,
    matrix: np.ndarray,
    shadow: np.ndarray,
    unit: float,
    shade: float = 0.5,
) -> None:
    """Draw a target or a look-alike (and its shadow, `shade` dark) through the camera
    matrix; a moving boat draws its wake."""
    parts = target_parts(target, unit)
    body = parts[0][0]
    lift = {"person": 1.6, "car": 1.0, "boat": 0.6, "animal": 1.2}[target.kind]
    if target.kind == "person":  # a long, thin shadow from the feet, away from the sun
        heading = math.atan2(shadow[1], shadow[0])
        length = 2.2 * float(np.linalg.norm(shadow)) + 0.5 * target.length
        center = target.position + heading_vector(heading) * length / 2
        darken(
            image, project(matrix, ellipse(center, heading, length / 2, target.width / 2.4)), shade
        )
    else:
        darken(image, project(matrix, body + lift * shadow), shade)
    if target.kind == "boat" and target.speed > 0:  # the wake: pale lines behind the stern
        stern = to_world(
            target.position,
            target.heading,
            [(-1, 0.6), (-1, -0.6)],
            target.length / 2,
            target.width / 2,
        )
        for point, sign in zip(stern, (1, -1), strict=True):
            tail = to_world(
                point, target.heading, [(-1, sign)], 1.1 * target.length, 0.35 * target.length
            )
            a, b = project(matrix, np.stack([point, tail[0]]))
            cv2.line(
                image,
                fixed_point(a),
                fixed_point(b),
                (150, 140, 120),
                max(1, int(round(0.7 * unit))),
                cv2.LINE_AA,
                SHIFT,
            )
    for polygon, color in parts:
        fill_polygon(image, project(matrix, polygon), color)


def target_parts(target: Target, unit: float) -> list[tuple[np.ndarray, Color]]:
    """A target's polygons in world coordinates, body first."""
    c, h, length, width = target.position, target.heading, target.length, target.width
    if target.kind == "car":
        return car_parts(c, h, length, width, target.color)
    if target.kind == "person":
        shoulders = ellipse(c, h, width / 2, length / 2, 10)
        head = ellipse(c + heading_vector(h) * 0.1 * width, h, 0.2 * length, 0.2 * length, 8)
        return [(shoulders, target.color), (head, target.accent)]
    if target.kind == "boat":
        hull = to_world(
            c, h, [(1, 0), (0.45, 1), (-1, 0.85), (-1, -0.85), (0.45, -1)], length / 2, width / 2
        )
        cabin = rect(c - heading_vector(h) * 0.15 * length, h, 0.3 * length, 0.55 * width)
        return [(hull, target.color), (cabin, target.accent)]
    body = ellipse(c, h, length * 0.38, width / 2, 12)
    head = ellipse(c + heading_vector(h) * length * 0.4, h, length * 0.13, width * 0.27, 8)
    spot = ellipse(c - heading_vector(h) * length * 0.08, h + 0.6, length * 0.14, width * 0.25, 8)
    return [(body, target.color), (head, shaded(target.color, 0.8)), (spot, target.accent)]


def car_parts(
    center: np.ndarray, heading: float, length: float, width: float, color: Color
) -> list[tuple[np.ndarray, Color]]:
    """Body with chamfered corners, windshield, rear window and a lighter roof."""
    body = to_world(
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
    windshield = to_world(
        center,
        heading,
        [(0.5, 0.72), (0.5, -0.72), (0.12, -0.85), (0.12, 0.85)],
        length / 2,
        width / 2,
    )
    rear = to_world(
        center,
        heading,
        [(-0.55, 0.8), (-0.55, -0.8), (-0.72, -0.7), (-0.72, 0.7)],
        length / 2,
        width / 2,
    )
    roof = rect(
        center - heading_vector(heading) * length * 0.2, heading, length * 0.32, width * 0.78
    )
    glass = (55, 45, 40)
    return [(body, color), (roof, shaded(color, 1.12)), (windshield, glass), (rear, glass)]
