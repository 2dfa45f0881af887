"""The man-made layers of the ground: roads with markings, the paved square or the
landmark at the site, villages of houses, parking lots and parked cars."""

from __future__ import annotations

import math

import cv2
import numpy as np

from skd_ros.data.synthetic.drawing import ONE, SHIFT, fill_polygon, fixed_point
from skd_ros.data.synthetic.geometry import heading_vector, rect, to_world
from skd_ros.data.synthetic.palette import (
    ASPHALT,
    CAR_DULL,
    MARKING,
    PAVING,
    VERGE,
    VIVID,
    jitter,
    pick,
    shaded,
)
from skd_ros.data.synthetic.roads import Road
from skd_ros.data.synthetic.roofs import roof_color
from skd_ros.data.synthetic.targets import Target
from skd_ros.data.synthetic.world import World


def paint_roads(world: World, canvas: np.ndarray) -> None:
    """Two or three asphalt roads with verges, edge lines and dashed centre lines."""
    u, rng = world.unit, world.rng
    width = rng.uniform(20, 24) * u
    clear = world.site_radius + width
    headings: list[float] = []
    for i in range(int(rng.integers(2, 4))):
        for _ in range(20):
            heading = rng.uniform(0, math.pi)
            bend = rng.normal(0, 0.12 * world.side)
            if world.site_kind == "road" and i == 0:
                point = world.site
            elif i == 0:  # a straight road beside the site
                point = world.site + heading_vector(heading + math.pi / 2) * (clear + 40 * u)
                bend = 0.0
            else:
                point = rng.uniform(0.15, 0.85, 2) * world.side
            road = Road.through(point, heading, bend, world.side, width)
            crossing = min(
                (abs(math.remainder(heading - h, math.pi)) for h in headings), default=math.pi
            )
            beside = world.site_kind == "road" or road.distance(world.site) > clear + 30 * u
            if i == 0 or (crossing > 0.5 and beside):
                break
        else:
            continue  # no good place for another road
        headings.append(heading)
        world.roads.append(road)
    _draw_roads(world, canvas)


def _draw_roads(world: World, canvas: np.ndarray) -> None:
    """Layer by layer, so crossings join cleanly: verges, asphalt, then markings."""
    u = world.unit
    lines = [np.round(road.points * ONE).astype(np.int32) for road in world.roads]
    for road, line in zip(world.roads, lines, strict=True):
        cv2.polylines(canvas, [line], False, VERGE, int(road.width + 6 * u), cv2.LINE_AA, SHIFT)
        reserve = int(road.width + 14 * u)
        cv2.polylines(world.occupied, [line], False, 255, reserve, cv2.LINE_8, SHIFT)
    for road, line in zip(world.roads, lines, strict=True):
        asphalt = jitter(ASPHALT, world.rng, 4)
        cv2.polylines(canvas, [line], False, asphalt, int(road.width), cv2.LINE_AA, SHIFT)
    thin = max(1, int(round(0.6 * u)))
    for road in world.roads:
        for lateral in (-road.width / 2 + 1.5 * u, road.width / 2 - 1.5 * u):
            edge = np.round(road.offset(lateral) * ONE).astype(np.int32)
            cv2.polylines(canvas, [edge], False, MARKING, thin, cv2.LINE_AA, SHIFT)
        dash = 6 * u
        starts = np.arange(0.0, road.arc[-1] - dash, 2 * dash)
        ends = np.stack([road.sample(starts), road.sample(starts + dash)], axis=1)
        dashes = list(np.round(ends * ONE).astype(np.int32))
        cv2.polylines(canvas, dashes, False, MARKING, thin, cv2.LINE_AA, SHIFT)


def paint_site_made(world: World, canvas: np.ndarray) -> None:
    """The paved square (Human) or the landmark building (Building) at the site."""
    u, rng = world.unit, world.rng
    if world.site_kind == "plaza":
        length, width = rng.uniform(80, 120, 2) * u
        heading = rng.uniform(0, math.pi)
        box = rect(world.site, heading, length, width)
        fill_polygon(canvas, box, jitter(PAVING, rng, 6))
        joint = shaded(PAVING, 0.9)
        for t in np.arange(-0.5, 0.5, 10 * u / length):
            a, b = to_world(world.site, heading, [(2 * t, 1), (2 * t, -1)], length / 2, width / 2)
            cv2.line(canvas, fixed_point(a), fixed_point(b), joint, 1, cv2.LINE_AA, SHIFT)
        fill_polygon(world.occupied, box, 255)
        world.site_radius = float(min(length, width)) * 0.45
        for corner in box:  # trees at the corners
            world.trees.append((corner + (corner - world.site) * 0.1, rng.uniform(4, 6) * u))
        for _ in range(int(rng.integers(6, 14))):  # benches and bins: people-sized clutter
            spot = to_world(
                world.site, heading, [rng.uniform(-0.9, 0.9, 2)], length / 2, width / 2
            )[0]
            size = rng.uniform(2, 6) * u
            color = jitter(pick(((50, 70, 95), (45, 50, 50), (80, 90, 60)), rng), rng, 8)
            fill_polygon(canvas, rect(spot, heading, size, 2 * u), color)
    elif world.site_kind == "landmark":
        style = pick(("hall", "dome", "tower"), rng)
        length = rng.uniform(55, 80) * u
        width = length * (1.0 if style == "dome" else rng.uniform(0.55, 0.8))
        heading = rng.uniform(0, math.pi)
        color = pick(VIVID, rng)
        height = (28 if style == "tower" else 10) * u
        world.roofs.append((world.site, heading, length, width, color, style, height))
        fill_polygon(
            world.occupied, rect(world.site, heading, length + 20 * u, width + 20 * u), 255
        )
        world.landmark = Target("building", world.site.copy(), heading, length, width, color)
        world.site_radius = 0.6 * length


def plan_buildings(world: World) -> None:
    """Villages of houses along the roads, a few farmsteads, parking lots; no overlaps."""
    u, rng = world.unit, world.rng
    villages = [
        (road, rng.uniform(0, road.arc[-1]), rng.uniform(40, 140) * u)
        for road in world.roads
        for _ in range(int(rng.integers(2, 5)))
    ]
    for _ in range(world.density(260)):
        length, depth = rng.uniform(16, 38) * u, rng.uniform(12, 26) * u
        road, middle, spread = villages[int(rng.integers(len(villages)))]
        if rng.random() < 0.85:
            point, tangent = road.at(middle + rng.normal(0, spread))
            side = rng.choice([-1, 1])
            setback = road.width / 2 + rng.uniform(6, 14) * u + depth / 2
            setback += rng.choice([0.0, 0.0, 1.0]) * rng.uniform(30, 45) * u  # second row
            center = point + side * setback * np.array([-tangent[1], tangent[0]])
            heading = math.atan2(tangent[1], tangent[0]) + rng.normal(0, 0.05)
        else:
            center = rng.uniform(0, world.side, 2)
            heading = rng.uniform(0, math.pi)
        footprint = rect(center, heading, length + 4 * u, depth + 4 * u)
        if world.is_free(footprint):
            fill_polygon(world.occupied, footprint, 255)
            style = "gable" if rng.random() < 0.6 else "flat"
            roof = roof_color(rng)
            world.roofs.append((center, heading, length, depth, roof, style, rng.uniform(4, 9) * u))
            if style == "flat" and rng.random() < 0.5:
                _parking(world, center, heading, length, depth)
    for road in world.roads:  # cars parked on the verge
        for _ in range(int(rng.integers(2, 6))):
            point, tangent = road.at(rng.uniform(0, road.arc[-1]))
            normal = np.array([-tangent[1], tangent[0]])
            center = point + rng.choice([-1, 1]) * (road.width / 2 + 2.5 * u) * normal
            heading = math.atan2(tangent[1], tangent[0]) + math.pi * rng.integers(2)
            if all(
                other is road or other.distance(center) > other.width / 2 + 10 * u
                for other in world.roads
            ):
                _park(world, center, heading)


def _parking(world: World, center, heading: float, length: float, depth: float) -> None:
    """A lot in front of a building, with a row of parked cars."""
    u, rng = world.unit, world.rng
    lot_center = center - heading_vector(heading + math.pi / 2) * (depth / 2 + 11 * u)
    lot = rect(lot_center, heading, length, 16 * u)
    if not world.is_free(lot):
        return
    fill_polygon(world.occupied, lot, 255)
    world.roofs.append((lot_center, heading, length, 16 * u, (105, 106, 104), "lot", 0.0))
    for t in np.arange(-length / 2 + 4 * u, length / 2 - 3 * u, 8 * u):
        if rng.random() < 0.65:
            spot = lot_center + heading_vector(heading) * t
            _park(world, spot, heading + math.pi / 2 + math.pi * rng.integers(2))


def _park(world: World, center: np.ndarray, heading: float) -> None:
    """Plan one parked car, of a dull colour, to be drawn with the other objects."""
    u, rng = world.unit, world.rng
    color = jitter(pick(CAR_DULL, rng), rng, 10)
    world.cars.append((center, heading, rng.uniform(11, 14) * u, rng.uniform(5.5, 6.5) * u, color))
