"""Paints a clip's static world once: the ground canvas and the elevated layer above it."""

from __future__ import annotations

import math

import cv2
import numpy as np

from skd_ros.data.synthetic.drawing import darken, fill_disc, fill_polygon, modulate
from skd_ros.data.synthetic.geometry import ellipse, rect
from skd_ros.data.synthetic.palette import TREE, any_colour, jitter, shaded
from skd_ros.data.synthetic.roofs import draw_roof
from skd_ros.data.synthetic.settlement import paint_roads, paint_site_made, plan_buildings
from skd_ros.data.synthetic.targets import car_parts
from skd_ros.data.synthetic.terrain import (
    add_texture,
    paint_fields,
    paint_ground,
    paint_ponds,
    paint_site_nature,
    paint_tracks,
    plan_trees,
)
from skd_ros.data.synthetic.world import World


def paint(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Paint the world: the ground canvas (side x side x 3, uint8 BGR) and the elevated
    layer of roofs and tree crowns (side x side x 4, BGRA: alpha 255 where it hides the
    ground). Each step draws from `world.rng` in turn, so the order is part of the output."""
    canvas = paint_ground(world)
    paint_fields(world, canvas)
    paint_site_nature(world, canvas)
    paint_ponds(world, canvas)
    paint_tracks(world, canvas)
    canvas = add_texture(world, canvas)
    paint_roads(world, canvas)
    paint_site_made(world, canvas)
    plan_buildings(world)
    plan_trees(world)
    _apply_shadows(world, canvas)
    _dark_spots(world, canvas)
    top, cover = np.zeros_like(canvas), np.zeros(canvas.shape[:2], np.uint8)
    _draw_objects(world, canvas, top, cover)
    elevated = np.dstack([_grain(world, top), cover])
    return _grain(world, canvas), elevated


def _apply_shadows(world: World, canvas: np.ndarray) -> None:
    """Draw all shadows into one mask, soften it, and darken the canvas once."""
    for center, heading, length, width, _, style, height in world.roofs:
        if style == "lot":
            continue
        base = (
            ellipse(center, heading, length / 2, width / 2, 32)
            if style == "dome"
            else rect(center, heading, length, width)
        )
        hull = cv2.convexHull(
            np.concatenate([base, base + world.shadow_dir * height]).astype(np.float32)
        )[:, 0]
        fill_polygon(world.shadows, hull, 255)
    for center, radius in world.trees:
        fill_disc(world.shadows, center + world.shadow_dir * radius * 0.9, radius, 255)
    for center, heading, length, width, _ in world.cars:
        fill_polygon(
            world.shadows,
            rect(center + world.shadow_dir * world.unit, heading, length, width),
            255,
        )
    soft = cv2.GaussianBlur(world.shadows, (0, 0), max(0.6, 0.7 * world.unit))
    darkest = -1.1 * world.shadow_strength
    canvas[:] = modulate(canvas, cv2.convertScaleAbs(soft, alpha=darkest, beta=255), 255.0)


def _dark_spots(world: World, canvas: np.ndarray) -> None:
    """Dark static clutter anywhere off the water: bushes, bins, manholes, dark patches,
    each with its shadow. Dark, target-sized and still: not salient."""
    u, rng = world.unit, world.rng
    for _ in range(world.density(150)):
        center = rng.uniform(0, world.side, 2)
        x, y = int(center[0]), int(center[1])
        if world.water[min(y, world.side - 1), min(x, world.side - 1)]:
            continue
        color = any_colour(rng, (10, 70))
        length, width = rng.uniform(2, 9) * u, rng.uniform(1.5, 5) * u
        heading = rng.uniform(0, math.pi)
        shape = (
            ellipse(center, heading, length / 2, width / 2, 10)
            if rng.random() < 0.6
            else rect(center, heading, length, width)
        )
        darken(canvas, shape + world.shadow_dir * u, world.shadow_strength)
        fill_polygon(canvas, shape, color)


def _draw_objects(world: World, canvas: np.ndarray, top: np.ndarray, cover: np.ndarray) -> None:
    """Parked cars and lots on the ground; crowns and roofs on the elevated layer `top`,
    with `cover` (255) where it hides the ground."""
    light = -world.shadow_dir / float(np.linalg.norm(world.shadow_dir))
    for center, radius in world.trees:
        crown = jitter(TREE, world.rng, 7)
        fill_disc(top, center, radius, crown)
        fill_disc(top, center + light * radius * 0.3, radius * 0.55, shaded(crown, 1.25))
        fill_disc(cover, center, radius, 255)
    for roof in world.roofs:
        center, heading, length, width, _, style, _ = roof
        if style == "lot":
            draw_roof(canvas, *roof, light=light, unit=world.unit)
            continue
        draw_roof(top, *roof, light=light, unit=world.unit)
        if style == "dome":
            fill_polygon(cover, ellipse(center, 0, length / 2, width / 2, 32), 255)
        else:
            fill_polygon(cover, rect(center, heading, length, width), 255)
    for center, heading, length, width, color in world.cars:
        for polygon, part_color in car_parts(center, heading, length, width, color):
            fill_polygon(canvas, polygon, part_color)


def _grain(world: World, canvas: np.ndarray) -> np.ndarray:
    """Per-pixel sensor/surface grain over everything."""
    grain = world.rng.integers(124, 133, (world.side, world.side), dtype=np.uint8)
    return modulate(canvas, grain, 128.0)
