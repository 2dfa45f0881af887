"""skd_ros.inference.tracking: region ids that persist while their target does."""

import numpy as np
import pytest

from skd_ros.inference.peaks import REGION_DTYPE, find_regions
from skd_ros.inference.tracking import MAX_TRACKS, RegionTracker

FRAME_NS = 33_333_333  # 30 Hz


def _regions(boxes) -> np.ndarray:
    regions = np.zeros(len(boxes), REGION_DTYPE)
    for region, (x0, y0, x1, y1) in zip(regions, boxes, strict=True):
        region["x_min"], region["y_min"], region["x_max"], region["y_max"] = x0, y0, x1, y1
    return regions


def _box(cx: float, cy: float, side: float = 40.0):
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def test_each_target_keeps_its_id_while_the_order_of_the_regions_changes():
    tracker = RegionTracker()
    seen = []
    for index in range(30):
        a, b = _box(100 + 5 * index, 100), _box(500, 300 - 4 * index)
        boxes = [a, b] if index % 2 else [b, a]  # score order swaps every frame
        ids = tracker.update(_regions(boxes), index * FRAME_NS)["id"]
        seen.append(dict(zip(("a", "b") if index % 2 else ("b", "a"), ids.tolist(), strict=True)))
    assert {s["a"] for s in seen} == {seen[0]["a"]} and {s["b"] for s in seen} == {seen[0]["b"]}
    assert seen[0]["a"] != seen[0]["b"] and min(seen[0].values()) >= 1


def test_crossing_targets_keep_their_ids_by_their_motion():
    """Two targets pass through each other (the regions in either order): the boxes predicted
    from each track's velocity keep them apart where the last boxes alone would swap them."""
    tracker = RegionTracker()
    left, right = [], []
    for index in range(40):
        boxes = [_box(100 + 15 * index, 200), _box(587 - 15 * index, 200)]
        order = [1, 0] if index % 3 else [0, 1]
        ids = tracker.update(_regions([boxes[i] for i in order]), index * FRAME_NS)["id"]
        left.append(int(ids[order.index(0)]))
        right.append(int(ids[order.index(1)]))
    assert set(left) == {left[0]} and set(right) == {right[0]}, (left, right)


def test_a_target_missed_briefly_keeps_its_id_and_a_long_absence_gives_a_new_one():
    tracker = RegionTracker(max_age_s=0.1)
    first = tracker.update(_regions([_box(200, 200)]), 0)["id"][0]
    tracker.update(_regions([]), FRAME_NS)
    tracker.update(_regions([]), 2 * FRAME_NS)
    assert tracker.update(_regions([_box(202, 200)]), 3 * FRAME_NS)["id"][0] == first
    assert tracker.update(_regions([_box(204, 200)]), 3 * FRAME_NS + 200_000_000)["id"][0] != first


def test_dropped_frames_are_bridged_by_the_velocity_over_the_stamp_gap():
    tracker = RegionTracker()
    ids = [
        tracker.update(_regions([_box(100 + 30 * i, 300)]), i * FRAME_NS)["id"][0] for i in range(5)
    ]
    # four frames dropped: the target moved 150 px, more than its box size
    ids.append(tracker.update(_regions([_box(100 + 30 * 9, 300)]), 9 * FRAME_NS)["id"][0])
    assert set(ids) == {ids[0]}


def test_a_region_far_from_every_track_is_a_new_target():
    tracker = RegionTracker(max_shift=1.0)
    first = tracker.update(_regions([_box(100, 100)]), 0)["id"][0]
    second = tracker.update(_regions([_box(400, 400)]), FRAME_NS)["id"][0]
    assert second != first


def test_unstamped_frames_keep_the_tracks_bounded():
    """A camera that leaves every stamp 0: no track ever ages out by time."""
    tracker = RegionTracker()
    rng = np.random.default_rng(0)
    for _ in range(100):
        centres = rng.uniform(0, 5000, (10, 2))  # ten new targets every frame
        tracker.update(_regions([_box(x, y) for x, y in centres]), 0)
    assert tracker.track_count == MAX_TRACKS
    first = tracker.update(_regions([_box(100, 100)]), 0)["id"][0]
    assert tracker.update(_regions([_box(101, 100)]), 0)["id"][0] == first  # still tracking


def test_reset_forgets_the_tracks_and_never_reuses_an_id():
    tracker = RegionTracker()
    before = set(tracker.update(_regions([_box(100, 100), _box(300, 100)]), 0)["id"].tolist())
    tracker.reset()
    after = set(tracker.update(_regions([_box(100, 100), _box(300, 100)]), FRAME_NS)["id"].tolist())
    assert not before & after and tracker.track_count == 2


def test_find_regions_leaves_ids_to_the_tracker_and_bearings_unknown():
    saliency = np.zeros((64, 64), np.float32)
    saliency[10:20, 30:40] = 0.9
    regions = find_regions(saliency, (1280, 720))
    assert regions["id"].tolist() == [0] and np.isnan(regions["bearing_x"]).all()
    assert RegionTracker().update(regions, 0)["id"].tolist() == [1]


@pytest.mark.integration  # slow: runs the id-switch report, seconds here
def test_the_id_switch_report_counts_a_targets_region_changing_id(capsys, tmp_path):
    from skd_ros.bench.identity import Count, main

    count = Count()
    target = {7: (90.0, 90.0, 110.0, 110.0)}
    on, off = _box(100, 100), _box(300, 300)  # a region on the target, one elsewhere
    # (boxes, ids): the target's region has ids 1, 1, 1, 5 and ranks 0, 0, 1, 0
    for boxes, ids in (
        ([on, off], (1, 2)),
        ([on, off], (1, 2)),
        ([off, on], (2, 1)),
        ([on, off], (5, 1)),
    ):
        regions = _regions(boxes)
        regions["id"] = ids
        count.add(regions, target)
    count.add(_regions([_box(300, 300)]), target)  # not found: no switch
    assert (count.frames, count.visible, count.matched) == (5, 5, 4)
    assert (count.switches, count.rank_switches) == (1, 2)
    assert main(["--frames", "3", "--footage", str(tmp_path)]) == 0  # an empty folder: no clip
    table = capsys.readouterr().out
    assert "| synthetic Human_0001 | 3 |" in table and "tracking + bearings" in table
