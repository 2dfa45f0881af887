"""One clip's world in motion: its targets and look-alikes, how they move, and rendering.

The static world is painted once (`painter`); each frame warps it and its elevated layer
into the view of the moving camera, draws the moving targets over it, builds the ground
truth, then applies the camera's finish.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from skd_ros.data.synthetic.camera import Camera, Lens
from skd_ros.data.synthetic.finish import FINISH_STREAM, Finish
from skd_ros.data.synthetic.geometry import heading_vector
from skd_ros.data.synthetic.ground_truth import add_target
from skd_ros.data.synthetic.painter import paint
from skd_ros.data.synthetic.palette import (
    ANIMALS,
    BOATS,
    CAR_DULL,
    CAR_VIVID,
    SHIRTS,
    pick,
    target_colour,
)
from skd_ros.data.synthetic.roads import Road
from skd_ros.data.synthetic.spec import ClipSpec, Frame
from skd_ros.data.synthetic.targets import Target, draw_mover
from skd_ros.data.synthetic.world import World

ROAM = 0.75  # of the longer view side: how far the look point may roam over the canvas
ELEVATED_UNITS = 7.0  # height of the tree-top and roof layer, in object units


class Scene:
    """Terrain canvas, targets and camera of one clip; `render` and `step` advance it."""

    def __init__(self, spec: ClipSpec) -> None:
        self.spec = spec
        self.rng = np.random.default_rng(spec.seed)
        self.lens = Lens.draw(spec, self.rng)
        # object scale: a car is ~13 units; the lens's size stands for the altitude
        self.unit = min(spec.width, spec.height) / 360.0 * self.lens.size
        self.per_frame = 1.0 / spec.fps  # speeds below are per second
        half_view = self.lens.reach(spec)
        side = int(math.ceil(2 * half_view + ROAM * max(spec.width, spec.height)))
        self.stage = (half_view, side - half_view)  # where the view centre may go
        world = World(side, self.unit, self.rng, spec.category)
        self.canvas, self.top = paint(world)  # top: roofs and crowns, `lift` above the ground
        self.lift = ELEVATED_UNITS * self.unit
        self.shadow = world.shadow_dir * self.unit
        self.shade = world.shadow_strength
        self.water = world.water
        self.targets = self._make_targets(world)
        for lookalike in self._lookalikes(world):  # static: painted once, never a target
            draw_mover(self.canvas, lookalike, np.eye(3), self.shadow, self.unit, self.shade)
        self.camera = Camera(spec, self.rng, self.stage, self._focus(), self.lens)
        # the finish has its own random stream: turning it off changes no geometry
        self.finish_rng = np.random.default_rng([spec.seed, FINISH_STREAM])
        self.finish = Finish(spec, self.finish_rng, self.lens, half_view) if spec.finish else None

    # -- targets ------------------------------------------------------------------------------

    def _make_targets(self, world: World) -> list[Target]:
        """The clip's salient objects, by category, at the world's site or on its roads."""
        category, kind = self.spec.category, world.site_kind
        if category == "Vehicle":
            return self._cars(world.roads[0])
        if category == "Building":
            return [world.landmark]
        count = {"plaza": (1, 5), "pond": (1, 3), "pasture": (2, 5)}[kind]
        return [self._wanderer(kind, world) for _ in range(self.rng.integers(*count))]

    def _wanderer(self, site_kind: str, world: World) -> Target:
        """A person near the square, a boat on the pond or an animal in the pasture."""
        u, rng, per_frame = self.unit, self.rng, self.per_frame
        home, radius = world.site, world.site_radius
        if site_kind == "plaza":
            length, width = max(3.6 * u, 3.2), max(2.3 * u, 2.4)
            return Target(
                "person",
                home + rng.normal(0, 18 * u, 2),
                world.group_heading + rng.normal(0, 0.5),
                length,
                width,
                target_colour(SHIRTS, rng),
                speed=rng.uniform(8, 14) * u * per_frame,
                home=home,
                radius=radius,
                accent=pick(((30, 35, 45), (70, 100, 150), (110, 150, 200)), rng),
            )
        if site_kind == "pond":
            return Target(
                "boat",
                home + rng.normal(0, 0.25 * radius, 2),
                rng.uniform(0, 2 * math.pi),
                rng.uniform(12, 17) * u,
                rng.uniform(4.5, 6) * u,
                target_colour(BOATS, rng),
                speed=rng.uniform(12, 22) * u * per_frame,
                home=home,
                radius=radius,
                accent=pick(((150, 110, 60), (200, 200, 200), (60, 60, 60)), rng),
            )
        color = target_colour(ANIMALS, rng)
        return Target(
            "animal",
            home + rng.normal(0, 15 * u, 2),
            rng.uniform(0, 2 * math.pi),
            rng.uniform(10, 12) * u,
            rng.uniform(4.5, 5.5) * u,
            color,
            speed=rng.uniform(2, 6) * u * per_frame,
            home=home,
            radius=radius,
            accent=(230, 230, 230) if sum(color) < 300 else (35, 35, 40),
        )

    def _cars(self, road: Road) -> list[Target]:
        """One to three cars on the road through the centre, the first one led by the camera."""
        u, rng = self.unit, self.rng
        lo, hi = self.stage
        center = np.full(2, (lo + hi) / 2)
        sense = int(rng.choice([-1, 1]))
        speed = rng.uniform(30, 60) * u * self.per_frame
        # start half a clip's drive behind the centre, but inside the stage
        s_center = road.nearest(center)
        s_start = s_center
        for back in np.linspace(speed * self.spec.n_frames / 2, 0.0, 12):
            if self._inside(road.at(s_center - sense * back)[0], 0.0):
                s_start = s_center - sense * back
                break
        cars = []
        for i in range(rng.integers(1, 4)):
            own_sense = sense if i == 0 or rng.random() < 0.7 else -sense
            s = s_start - own_sense * rng.uniform(18, 60) * u * (i > 0)
            cars.append(
                Target(
                    "car",
                    road.at(s)[0],
                    0.0,
                    rng.uniform(12, 15) * u,
                    rng.uniform(6, 7) * u,
                    target_colour(CAR_VIVID + CAR_DULL, rng),
                    speed=speed * (rng.uniform(0.85, 1.15) if i else 1.0),
                    road=road,
                    s=s,
                    sense=own_sense,
                    lateral=-own_sense * road.width / 4,
                )
            )
            self._drive(cars[-1])
        return cars

    def _lookalikes(self, world: World) -> list[Target]:
        """Static things that look like the clip's targets: standing people on the square,
        stopped cars on the verge, moored boats, resting animals. Only motion tells them
        from the targets, so a model must look at the pair, not at colours and shapes."""
        movers = [t for t in self.targets if t.kind != "building"]
        if not movers:
            return []
        rng, u = self.rng, self.unit
        alikes = []
        for _ in range(int(rng.integers(2, 7))):
            model = movers[int(rng.integers(len(movers)))]
            if model.kind == "car":
                road = world.roads[0]
                point, tangent = road.at(rng.uniform(0, road.arc[-1]))
                side = rng.choice([-1, 1]) * (road.width / 2 + rng.uniform(-4, 3) * u)
                position = point + side * np.array([-tangent[1], tangent[0]])
                heading = math.atan2(tangent[1], tangent[0]) + math.pi * rng.integers(2)
                color = target_colour(CAR_VIVID + CAR_DULL, rng)
            else:
                spread = {"person": 25 * u, "boat": 0.5 * model.radius, "animal": 20 * u}
                position = model.home + rng.normal(0, spread[model.kind], 2)
                if model.kind == "boat" and not self._on_water(position):
                    continue
                heading = rng.uniform(0, 2 * math.pi)
                palette = {"person": SHIRTS, "boat": BOATS, "animal": ANIMALS}[model.kind]
                color = target_colour(palette, rng)
            scale = rng.uniform(0.85, 1.15)
            alikes.append(
                Target(
                    model.kind,
                    position,
                    heading,
                    model.length * scale,
                    model.width * scale,
                    color,
                    accent=model.accent,
                )
            )
        return alikes

    def _inside(self, point: np.ndarray, pad: float) -> bool:
        lo, hi = self.stage
        return bool(np.all(point > lo + pad) and np.all(point < hi - pad))

    def _focus(self) -> np.ndarray:
        """Where the camera wants to look: the lead car, or the centroid of the targets."""
        if self.targets[0].kind == "car":
            return self.targets[0].position.copy()
        return np.mean([t.position for t in self.targets], axis=0)

    def step(self) -> None:
        """Advance targets and camera by one frame."""
        for target in self.targets:
            if target.kind == "car":
                self._drive(target)
            elif target.kind != "building":
                self._wander(target)
        self.camera.follow(self._focus())

    def _drive(self, car: Target) -> None:
        """Move along the road, in the lane of the travel sense; U-turn at the stage's edge."""
        road = car.road
        nxt = car.s + car.sense * car.speed
        if not self._inside(road.at(nxt)[0], car.length):
            car.sense = -car.sense
            nxt = car.s + car.sense * car.speed
        car.s = nxt
        lane = -car.sense * road.width / 4
        car.lateral += float(np.clip(lane - car.lateral, -0.3 * self.unit, 0.3 * self.unit))
        point, tangent = road.at(car.s)
        car.position = point + car.lateral * np.array([-tangent[1], tangent[0]])
        car.heading = math.atan2(tangent[1], tangent[0]) + (math.pi if car.sense < 0 else 0.0)

    def _wander(self, target: Target) -> None:
        """Correlated random walk near home; boats turn back at the shore."""
        turn = 0.07 if target.kind == "person" else 0.04
        target.heading += self.rng.normal(0, turn)
        away = target.position - target.home
        if np.linalg.norm(away) > target.radius:  # steer back towards home
            back = math.atan2(-away[1], -away[0])
            target.heading += 0.15 * math.remainder(back - target.heading, 2 * math.pi)
        step = heading_vector(target.heading) * target.speed
        ahead = target.position + step + heading_vector(target.heading) * target.length * 0.6
        if target.kind == "boat" and not self._on_water(ahead):
            target.heading += math.pi * self.rng.uniform(0.4, 0.8) * self.rng.choice([-1, 1])
            return
        if self._inside(target.position + step, target.length):
            target.position = target.position + step

    def _on_water(self, point: np.ndarray) -> bool:
        x, y = int(round(point[0])), int(round(point[1]))
        side = self.water.shape[0]
        return 0 <= x < side and 0 <= y < side and bool(self.water[y, x])

    # -- rendering ----------------------------------------------------------------------------

    def render(self, index: int) -> Frame:
        """Warp the ground and the elevated layer into the view, draw the movers, build the
        ground truth, then the camera's own look (`Finish`)."""
        spec = self.spec
        size = (spec.width, spec.height)
        matrix = self.camera.matrix(index)
        raised = self.camera.matrix(index, self.lift)  # parallax: tops move otherwise
        image = cv2.warpPerspective(
            self.canvas, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        top = cv2.warpPerspective(self.top, raised, size, flags=cv2.INTER_LINEAR)
        np.copyto(image, top[..., :3], where=top[..., 3:] > 127)
        for target in self.targets:
            if target.kind != "building":
                draw_mover(image, target, matrix, self.shadow, self.unit, self.shade)
        saliency = np.zeros((spec.height, spec.width), np.float32)
        boxes, identities = [], []
        for identity, target in enumerate(self.targets):
            box = add_target(saliency, target, raised if target.kind == "building" else matrix)
            if box is not None:
                boxes.append(box)
                identities.append(identity)
        np.minimum(saliency, 1.0, out=saliency)
        gain = 1.0 + self.rng.normal(0, 0.012)  # a little exposure flicker
        if self.finish is None:
            cv2.convertScaleAbs(image, image, alpha=gain)
        else:
            image = self.finish.apply(image, gain, self.finish_rng)
        labels = [spec.category] * len(boxes)
        return Frame(image, saliency, boxes, index, labels, matrix, identities)
