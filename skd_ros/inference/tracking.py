"""Region ids that persist across frames while their target does.

A tracker or a gimbal needs to know that region 3 now is region 3 a frame ago. `RegionTracker`
keeps one track per target: its last box, its velocity (pixels per second, from the frame
stamps, so dropped frames do not break it) and when it was last seen. Each frame it predicts
every track's box at the new stamp and associates regions to tracks greedily, best pair first,
by a cost that adds the predicted box's overlap deficit (1 - IoU) and the centre distance
measured in box sizes; a pair farther apart than `max_shift` box sizes that does not overlap
either is never associated. A region left over starts a new track with a new id (ids are never
reused); a track not seen for `max_age_s` is dropped, so a target missed for a frame or two
keeps its id (and at most `MAX_TRACKS` are kept, for frames whose stamps do not advance).
`reset()` (the node calls it whenever the frame pair restarts) forgets the tracks.

Plain NumPy on a handful of regions per frame: about half of what `find_regions` costs
(`python -m skd_ros.inference.tracking` times 10 regions).
"""

from __future__ import annotations

import numpy as np

from skd_ros.inference.peaks import BOX, float_columns

# how fast a track's velocity follows a new measurement (exponential smoothing)
VELOCITY_GAIN = 0.5
UNMATCHED = np.inf
# at most this many tracks, the most recently seen (bounds the work when stamps do not advance,
# e.g. a camera that leaves them 0); above the node's 100 regions a frame
MAX_TRACKS = 256


class RegionTracker:
    """Assigns persistent ids (1, 2, ...) to the `id` field of REGION_DTYPE arrays."""

    def __init__(self, max_age_s: float = 0.5, max_shift: float = 1.0) -> None:
        self.max_age_s = max_age_s
        self.max_shift = max_shift
        self._next_id = 1
        self.reset()

    def reset(self) -> None:
        """Forget every track (the next regions get new ids; old ids are not reused)."""
        self._ids = np.zeros(0, np.uint32)
        self._boxes = np.zeros((0, 4))
        self._velocity = np.zeros((0, 2))
        self._seen_ns = np.zeros(0, np.int64)

    @property
    def track_count(self) -> int:
        """How many targets are being tracked now (seen within `max_age_s`)."""
        return len(self._ids)

    def update(self, regions: np.ndarray, stamp_ns: int) -> np.ndarray:
        """Set `regions["id"]` (in place) for the frame stamped `stamp_ns`; returns `regions`."""
        self._forget_older_than(stamp_ns)
        boxes = float_columns(regions)[:, BOX].astype(np.float64)
        if not len(self._ids):
            regions["id"] = self._start(boxes, stamp_ns)
            return regions
        dt_s = (stamp_ns - self._seen_ns) / 1e9
        motion = self._velocity * dt_s[:, None]
        predicted = self._boxes + np.concatenate([motion, motion], axis=1)
        tracks, matches = _greedy_pairs(_costs(predicted, boxes, self.max_shift))
        ids = np.zeros(len(regions), np.uint32)
        ids[matches] = self._ids[tracks]
        self._follow(tracks, boxes[matches], stamp_ns, dt_s[tracks])
        fresh = np.ones(len(regions), bool)
        fresh[matches] = False
        ids[fresh] = self._start(boxes[fresh], stamp_ns)
        regions["id"] = ids
        return regions

    def _forget_older_than(self, stamp_ns: int) -> None:
        alive = (stamp_ns - self._seen_ns) <= self.max_age_s * 1e9
        alive &= self._seen_ns <= stamp_ns  # a stamp going backwards is a reset's job
        if not alive.all():
            self._ids, self._boxes = self._ids[alive], self._boxes[alive]
            self._velocity, self._seen_ns = self._velocity[alive], self._seen_ns[alive]

    def _follow(self, tracks: np.ndarray, boxes: np.ndarray, stamp_ns: int, dt_s) -> None:
        """Move the matched `tracks` to their new `boxes`; smooth their velocities."""
        if not len(tracks):
            return
        moving = dt_s > 0
        moved = (_centre(boxes) - _centre(self._boxes[tracks])) / np.where(moving, dt_s, 1)[:, None]
        velocity = self._velocity[tracks]
        self._velocity[tracks] = np.where(
            moving[:, None], velocity + VELOCITY_GAIN * (moved - velocity), velocity
        )
        self._boxes[tracks], self._seen_ns[tracks] = boxes, stamp_ns

    def _start(self, boxes: np.ndarray, stamp_ns: int) -> np.ndarray:
        """New tracks for `boxes`; returns their ids."""
        count = len(boxes)
        if not count:
            return np.zeros(0, np.uint32)
        new_ids = np.arange(self._next_id, self._next_id + count, dtype=np.uint32)
        self._next_id += count
        self._ids = np.concatenate([self._ids, new_ids])
        self._boxes = np.concatenate([self._boxes, boxes])
        self._velocity = np.concatenate([self._velocity, np.zeros((count, 2))])
        self._seen_ns = np.concatenate([self._seen_ns, np.full(count, stamp_ns, np.int64)])
        if len(self._ids) > MAX_TRACKS:  # the oldest go first; new ones are last among equals
            keep = np.sort(np.argsort(self._seen_ns, kind="stable")[-MAX_TRACKS:])
            self._ids, self._boxes = self._ids[keep], self._boxes[keep]
            self._velocity, self._seen_ns = self._velocity[keep], self._seen_ns[keep]
        return new_ids


def _centre(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., :2] + boxes[..., 2:]) / 2


def _costs(tracks: np.ndarray, regions: np.ndarray, max_shift: float) -> np.ndarray:
    """(tracks, regions) association costs; UNMATCHED where a pair may not be associated."""
    t, r = tracks[:, None].T, regions[None].T  # x0, y0, x1, y1 rows, broadcast to (tracks, regions)
    w = np.maximum(np.minimum(t[2], r[2]) - np.maximum(t[0], r[0]), 0)
    h = np.maximum(np.minimum(t[3], r[3]) - np.maximum(t[1], r[1]), 0)
    inter = w * h
    area_t, area_r = (t[2] - t[0]) * (t[3] - t[1]), (r[2] - r[0]) * (r[3] - r[1])
    iou = inter / np.maximum(area_t + area_r - inter, 1e-9)
    size = np.sqrt(np.maximum(area_t, area_r)) + 1e-9
    shift = np.hypot(t[0] + t[2] - r[0] - r[2], t[1] + t[3] - r[1] - r[3]) / (2 * size)
    return np.where((iou > 0) | (shift <= max_shift), (1 - iou) + shift, UNMATCHED).T


def _greedy_pairs(costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tracks, regions) index arrays of the pairs taken cheapest first, each track and each
    region at most once, never an UNMATCHED one."""
    costs = costs.copy()
    tracks, regions = [], []
    for _ in range(min(costs.shape)):
        flat = int(np.argmin(costs))
        track, region = divmod(flat, costs.shape[1])
        if costs[track, region] == UNMATCHED:
            break
        tracks.append(track)
        regions.append(region)
        costs[track, :] = UNMATCHED
        costs[:, region] = UNMATCHED
    return np.array(tracks, np.intp), np.array(regions, np.intp)


def _measure_cost() -> None:
    """Print the cost of one update with 10 regions drifting across a 1280x720 frame."""
    import time

    from skd_ros.inference.peaks import REGION_DTYPE

    rng = np.random.default_rng(0)
    start = rng.uniform(0, 1100, (10, 2))
    tracker = RegionTracker()
    repeats = 5000
    frames = []
    for index in range(repeats):
        regions = np.zeros(10, REGION_DTYPE)
        corner = start + index * 0.5 + rng.normal(0, 2, (10, 2))
        regions["x_min"], regions["y_min"] = corner.T
        regions["x_max"], regions["y_max"] = (corner + 60).T
        frames.append(regions)
    began = time.perf_counter()
    for index, regions in enumerate(frames):
        tracker.update(regions, index * 33_333_333)
    cost = (time.perf_counter() - began) / repeats * 1e3
    print(f"RegionTracker.update, 10 regions: {cost:.4f} ms per frame")


if __name__ == "__main__":
    _measure_cost()
