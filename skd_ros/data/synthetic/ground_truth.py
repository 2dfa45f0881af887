"""Ground truth: a fixation-density-like map of anisotropic Gaussians, and the boxes."""

from __future__ import annotations

import math

import numpy as np

from skd_ros.data.synthetic.geometry import heading_vector, jacobian, project, rect
from skd_ros.data.synthetic.spec import Box
from skd_ros.data.synthetic.targets import Target

SIGMA_FLOOR = 0.035  # smallest Gaussian spread, as a fraction of the longer frame side


def add_target(saliency: np.ndarray, target: Target, matrix: np.ndarray) -> Box | None:
    """Add the target's Gaussian to the map if its centre is in view; return its box."""
    h, w = saliency.shape
    center = project(matrix, target.position[None])[0]
    if not (0 <= center[0] <= w - 1 and 0 <= center[1] <= h - 1):
        return None
    corners = project(matrix, rect(target.position, target.heading, target.length, target.width))
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int), (w - 1, h - 1))
    x1, y1 = max(x1, min(x0 + 1, w - 1)), max(y1, min(y0 + 1, h - 1))  # a tiny target: 1 px
    if x1 <= x0 or y1 <= y0:
        return None
    local = jacobian(matrix, target.position)
    axis = local @ heading_vector(target.heading)
    across = float(np.linalg.norm(local @ heading_vector(target.heading + math.pi / 2)))
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
