"""World-coordinate geometry: every shape is a convex polygon in canvas coordinates.

Rectangles and ellipses placed by centre and heading, points given in an object's own
frame, and the maps that take world points into a frame (an affine or a homography).
"""

from __future__ import annotations

import functools
import math

import numpy as np


def heading_vector(heading: float) -> np.ndarray:
    """The unit vector pointing along `heading` (radians from the x axis)."""
    return np.array([math.cos(heading), math.sin(heading)])


def rect(center: np.ndarray, heading: float, length: float, width: float) -> np.ndarray:
    """Corners of a rectangle whose long axis (`length`) points along `heading`."""
    return to_world(center, heading, [(1, 1), (1, -1), (-1, -1), (-1, 1)], length / 2, width / 2)


def to_world(center, heading: float, points, sx: float, sy: float) -> np.ndarray:
    """Points given in an object's frame (x forward, y left, scaled by sx, sy) -> world."""
    c, s = math.cos(heading), math.sin(heading)
    points = np.asarray(points, float)
    basis = np.array([[c * sx, s * sx], [-s * sy, c * sy]])  # rows: scaled forward, left
    return points @ basis + center


def ellipse(center, heading: float, a: float, b: float, n: int = 14) -> np.ndarray:
    """`n` points of an ellipse with semi-axes `a` along `heading` and `b` across it."""
    return to_world(center, heading, _unit_circle(n), a, b)


@functools.cache
def _unit_circle(n: int) -> np.ndarray:
    angles = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return np.stack([np.cos(angles), np.sin(angles)], 1)


def project(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """World points (N, 2) through a 2x3 affine or a 3x3 homography (with the divide)."""
    mapped = points @ matrix[:2, :2].T + matrix[:2, 2]
    if matrix.shape[0] == 2:
        return mapped
    return mapped / (points @ matrix[2, :2] + matrix[2, 2])[:, None]


def jacobian(matrix: np.ndarray, point: np.ndarray) -> np.ndarray:
    """The 2x2 local linear part of a 3x3 homography at world `point`: how it stretches
    and turns a small object there (foreshortening in an oblique view)."""
    w = float(point @ matrix[2, :2] + matrix[2, 2])
    mapped = project(matrix, point[None])[0]
    return (matrix[:2, :2] - np.outer(mapped, matrix[2, :2])) / w


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 below `lo`, 1 above `hi`, a smooth cubic ramp between: soft edges and blends."""
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)
