"""Raster drawing: anti-aliased, sub-pixel polygons, discs and translucent shadows.

OpenCV draws at `SHIFT` bits of sub-pixel precision (coordinates in 1/16 pixel), so
small, slowly moving objects move smoothly rather than in whole-pixel steps.
"""

from __future__ import annotations

import cv2
import numpy as np

SHIFT = 4  # cv2 drawing precision: coordinates in 1/16 pixel
ONE = 1 << SHIFT


def fixed_point(point) -> tuple[int, int]:
    """A point in OpenCV's fixed-point coordinates (`SHIFT` fractional bits)."""
    return int(round(float(point[0]) * ONE)), int(round(float(point[1]) * ONE))


def fill_polygon(image: np.ndarray, polygon: np.ndarray, color) -> None:
    """Anti-aliased, sub-pixel filled convex polygon."""
    points = np.round(polygon * ONE).astype(np.int32)
    cv2.fillConvexPoly(image, points, color, cv2.LINE_AA, SHIFT)


def fill_disc(image: np.ndarray, center, radius: float, color) -> None:
    """Anti-aliased, sub-pixel filled circle."""
    cv2.circle(image, fixed_point(center), int(round(radius * ONE)), color, -1, cv2.LINE_AA, SHIFT)


def darken(image: np.ndarray, polygon: np.ndarray, strength: float) -> None:
    """Translucent shadow: scale the pixels under `polygon` by 1 - strength."""
    h, w = image.shape[:2]
    x0, y0 = np.maximum(np.floor(polygon.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(polygon.max(axis=0)).astype(int) + 2, (w, h))
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    fill_polygon(mask, polygon - (x0, y0), 255)
    roi = image[y0:y1, x0:x1]
    factor = 1.0 - strength * mask.astype(np.float32)[..., None] / 255.0
    roi[:] = (roi * factor).astype(np.uint8)


def modulate(canvas: np.ndarray, factor: np.ndarray, one: float) -> np.ndarray:
    """canvas * factor / one per pixel (factor: one uint8 channel), saturated, all in 8 bits."""
    return cv2.multiply(canvas, cv2.merge([factor, factor, factor]), scale=1.0 / one)
