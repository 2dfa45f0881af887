"""Roofs seen from above: ordinary roof colours and the roof styles (gable, flat, dome,
tower, parking lot)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from skd_ros.data.synthetic.drawing import ONE, SHIFT, fill_polygon, fixed_point
from skd_ros.data.synthetic.geometry import ellipse, heading_vector, rect, to_world
from skd_ros.data.synthetic.palette import Color, pick, shaded


def roof_color(rng: np.random.Generator) -> Color:
    """Ordinary roofs: greys, muted terracotta, slate; never the landmark's vivid colours."""
    grey = rng.uniform(95, 165)
    tint = pick(((1, 1, 1), (0.78, 0.86, 1.1), (1.06, 1.0, 0.92), (0.92, 1.0, 0.96)), rng)
    return tuple(int(min(255, grey * t)) for t in tint)


def draw_roof(
    canvas: np.ndarray,
    center: np.ndarray,
    heading: float,
    length: float,
    width: float,
    color: Color,
    style: str,
    height: float,
    *,
    light: np.ndarray,
    unit: float,
) -> None:
    """Draw one roof: gable (lit and shaded halves), flat (parapet, vents), dome, tower, lot."""
    if style == "lot":
        fill_polygon(canvas, rect(center, heading, length, width), color)
        for t in np.arange(-length / 2, length / 2 + 1, 8 * unit):
            a, b = to_world(
                center + heading_vector(heading) * t, heading, [(0, 1), (0, 0.1)], 1, width / 2
            )
            cv2.line(canvas, fixed_point(a), fixed_point(b), (200, 200, 200), 1, cv2.LINE_AA, SHIFT)
        return
    if style == "dome":
        for k in np.linspace(1.0, 0.15, 7):
            offset = light * (1 - k) * length * 0.18
            shade = 0.75 + 0.45 * (1 - k)
            fill_polygon(
                canvas,
                ellipse(center + offset, 0, k * length / 2, k * width / 2, 32),
                shaded(color, shade),
            )
        return
    fill_polygon(canvas, rect(center, heading, length, width), shaded(color, 0.85))
    if style in ("gable", "hall"):
        normal = heading_vector(heading + math.pi / 2)
        lit = 1.0 if float(normal @ light) > 0 else -1.0
        for sign, shade in ((lit, 1.12), (-lit, 0.78)):
            half = rect(center + sign * normal * width / 4, heading, length, width / 2)
            fill_polygon(canvas, half, shaded(color, shade))
        ends = to_world(center, heading, [(1, 0), (-1, 0)], length / 2, 0)
        cv2.line(
            canvas,
            fixed_point(ends[0]),
            fixed_point(ends[1]),
            shaded(color, 0.6),
            max(1, int(round(0.6 * unit))),
            cv2.LINE_AA,
            SHIFT,
        )
        return
    inset = 2.0 * unit
    fill_polygon(canvas, rect(center, heading, length - inset, width - inset), color)
    if style == "tower":  # a helipad: ring and cross
        radius = 0.3 * min(length, width)
        cv2.circle(
            canvas,
            fixed_point(center),
            int(radius * ONE),
            (235, 235, 235),
            max(1, int(round(unit))),
            cv2.LINE_AA,
            SHIFT,
        )
        fill_polygon(canvas, rect(center, heading, radius * 1.1, radius * 0.25), (235, 235, 235))
        fill_polygon(
            canvas,
            rect(center, heading + math.pi / 2, radius * 1.1, radius * 0.25),
            (235, 235, 235),
        )
        return
    for k in range(int(length // (12 * unit))):  # roof vents
        spot = to_world(center, heading, [(-0.6 + 0.5 * k, 0.3)], length / 2, width / 2)[0]
        fill_polygon(canvas, rect(spot, heading, 3 * unit, 3 * unit), shaded(color, 1.25))
