"""Colours of the synthetic world (BGR, OpenCV's order) and how to vary them.

Palettes for terrain, roads, water, buildings and the targets, and the helpers that
shade, jitter and draw colours from them with a clip's random generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import cv2
import numpy as np

Color = tuple[int, int, int]
Item = TypeVar("Item")

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


def shaded(color: Color, factor: float) -> Color:
    """The colour scaled by `factor` (darker below 1, lighter above), clipped to 8 bits."""
    return tuple(int(min(255, max(0, c * factor))) for c in color)


def jitter(color: Color, rng: np.random.Generator, amount: float) -> Color:
    """The colour with Gaussian noise of spread `amount` per channel: no two alike."""
    noise = rng.normal(0, amount, 3)
    return tuple(int(min(255.0, max(0.0, c + n))) for c, n in zip(color, noise, strict=True))


def pick(palette: Sequence[Item], rng: np.random.Generator) -> Item:
    """One entry of `palette`, uniformly at random."""
    return palette[int(rng.integers(len(palette)))]


def any_colour(rng: np.random.Generator, values: tuple[int, int] = (20, 256)) -> Color:
    """Any hue and saturation, of brightness in `values` (default: dark to bright)."""
    hsv = np.array([[[rng.integers(180), rng.integers(256), rng.integers(*values)]]], np.uint8)
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def target_colour(palette: Sequence[Color], rng: np.random.Generator) -> Color:
    """A target's (or look-alike's) colour: from its kind's palette, or any colour at all."""
    return pick(palette, rng) if rng.random() < 0.5 else any_colour(rng)
