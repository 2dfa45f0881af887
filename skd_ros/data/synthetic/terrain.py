"""The natural layers of the ground: grass and soil, crop fields, ponds, a pasture, dirt
tracks, texture, and where trees grow."""

from __future__ import annotations

import math

import cv2
import numpy as np

from skd_ros.data.synthetic.drawing import ONE, SHIFT, fill_polygon, fixed_point, modulate
from skd_ros.data.synthetic.geometry import ellipse, heading_vector, rect, smoothstep
from skd_ros.data.synthetic.palette import (
    CROPS,
    DRY,
    FENCE,
    LUSH,
    SHORE,
    SOIL,
    WATER,
    jitter,
    pick,
    shaded,
)
from skd_ros.data.synthetic.roads import Road
from skd_ros.data.synthetic.world import World


def paint_ground(world: World) -> np.ndarray:
    """Lush and dry grass with bare-soil patches, painted coarse and scaled up."""
    small = max(64, world.side // 4)
    dry = smoothstep(world.noise(4, small), 0.35, 0.7)[..., None]
    soil = smoothstep(world.noise(10, small), 0.62, 0.82)[..., None]
    color = np.float32(LUSH) * (1 - dry) + np.float32(DRY) * dry
    color = color * (1 - soil) + np.float32(SOIL) * soil
    return cv2.resize(
        color.astype(np.uint8), (world.side, world.side), interpolation=cv2.INTER_LINEAR
    )


def paint_fields(world: World, canvas: np.ndarray) -> None:
    """Crop fields: rotated rectangles with darker rows."""
    u, rng = world.unit, world.rng
    for _ in range(world.density(7)):
        center = rng.uniform(0.05, 0.95, 2) * world.side
        length, width = rng.uniform(90, 230, 2) * u
        heading = rng.uniform(0, math.pi)
        crop = jitter(pick(CROPS, rng), rng, 8)
        fill_polygon(canvas, rect(center, heading, length, width), crop)
        row = shaded(crop, rng.uniform(0.78, 0.9))
        spacing = rng.uniform(3, 6) * u
        forward = heading_vector(heading) * length / 2
        for y in np.arange(-width / 2 + spacing / 2, width / 2, spacing):
            mid = center + heading_vector(heading + math.pi / 2) * y
            cv2.line(
                canvas,
                fixed_point(mid - forward),
                fixed_point(mid + forward),
                row,
                max(1, int(round(0.8 * u))),
                cv2.LINE_AA,
                SHIFT,
            )
        if rng.random() < 0.5:  # a hedgerow along one edge
            edge = center + heading_vector(heading + math.pi / 2) * (width / 2 + 3 * u)
            for t in np.linspace(-0.5, 0.5, int(length / (5 * u))):
                point = edge + heading_vector(heading) * length * t + rng.normal(0, u, 2)
                world.trees.append((point, rng.uniform(2.5, 4.5) * u))


def paint_site_nature(world: World, canvas: np.ndarray) -> None:
    """A pond or fenced pasture at the site, for the 'Others' targets."""
    u, rng = world.unit, world.rng
    if world.site_kind == "pond":
        axes = rng.uniform(55, 85, 2) * u
        _pond(world, canvas, world.site, axes)
        world.site_radius = float(min(axes)) * 0.6
    elif world.site_kind == "pasture":
        length, width = rng.uniform(120, 170, 2) * u
        heading = rng.uniform(0, math.pi)
        box = rect(world.site, heading, length, width)
        fill_polygon(canvas, box, jitter(LUSH, rng, 6))
        cv2.polylines(
            canvas,
            [np.round(box * ONE).astype(np.int32)],
            True,
            FENCE,
            max(1, int(round(0.7 * u))),
            cv2.LINE_AA,
            SHIFT,
        )
        fill_polygon(world.occupied, box, 255)
        world.site_radius = float(min(length, width)) * 0.35


def paint_ponds(world: World, canvas: np.ndarray) -> None:
    """Up to two more ponds, away from the site."""
    for _ in range(world.rng.integers(0, 3)):
        center = world.rng.uniform(0.1, 0.9, 2) * world.side
        if np.linalg.norm(center - world.site) > 150 * world.unit:
            _pond(world, canvas, center, world.rng.uniform(25, 60, 2) * world.unit)


def _pond(world: World, canvas: np.ndarray, center: np.ndarray, axes: np.ndarray) -> None:
    """An irregular pond: a few overlapping ellipses, muddy shore, darker deep water."""
    rng, u = world.rng, world.unit
    blobs = [(center, axes, rng.uniform(0, math.pi))]
    for _ in range(rng.integers(2, 4)):
        offset = rng.normal(0, 0.35, 2) * axes
        blobs.append((center + offset, axes * rng.uniform(0.45, 0.75, 2), rng.uniform(0, math.pi)))
    for grow, color, layer in ((3 * u, SHORE, None), (0.0, WATER, world.water)):
        for c, a, h in blobs:
            polygon = ellipse(c, h, a[0] + grow, a[1] + grow, 40)
            fill_polygon(canvas, polygon, color)
            fill_polygon(world.occupied, polygon, 255)
            if layer is not None:
                fill_polygon(layer, polygon, 255)
    fill_polygon(
        canvas,
        ellipse(center, blobs[0][2], axes[0] * 0.5, axes[1] * 0.5, 32),
        shaded(WATER, 0.82),
    )


def paint_tracks(world: World, canvas: np.ndarray) -> None:
    """Dirt tracks: pale, narrow, wavy lines across the fields."""
    for _ in range(world.density(2)):
        point = world.rng.uniform(0.1, 0.9, 2) * world.side
        track = Road.through(
            point,
            world.rng.uniform(0, math.pi),
            world.rng.normal(0, 0.15 * world.side),
            world.side,
            3 * world.unit,
        )
        cv2.polylines(
            canvas,
            [np.round(track.points * ONE).astype(np.int32)],
            False,
            jitter((120, 150, 165), world.rng, 8),
            int(round(track.width)),
            cv2.LINE_AA,
            SHIFT,
        )


def add_texture(world: World, canvas: np.ndarray) -> np.ndarray:
    """Multiply by multi-scale brightness noise: patches, clumps and fine grass."""
    cells = max(8, world.side // int(max(6, 5 * world.unit)))
    tex = 1.0 + 0.16 * (world.noise(30) - 0.5) + 0.14 * (world.noise(cells) - 0.5)
    tex += 0.10 * (world.noise(cells * 3) - 0.5)
    return modulate(canvas, cv2.convertScaleAbs(tex, alpha=128.0), 128.0)


def plan_trees(world: World) -> None:
    """Clusters of trees and scattered single trees, off the roads and roofs."""
    u, rng = world.unit, world.rng
    for _ in range(world.density(45)):
        center = rng.uniform(0, world.side, 2)
        spread = rng.uniform(10, 40) * u
        for _ in range(int(rng.integers(5, 40))):
            world.trees.append((center + rng.normal(0, spread, 2), rng.uniform(3, 7) * u))
    for _ in range(world.density(120)):
        world.trees.append((rng.uniform(0, world.side, 2), rng.uniform(2.5, 5) * u))
    kept = []
    for center, radius in world.trees:
        x, y = int(center[0]), int(center[1])
        if 0 <= x < world.side and 0 <= y < world.side and not world.occupied[y, x]:
            kept.append((center, radius))
    world.trees = kept
