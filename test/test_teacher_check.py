"""The run's check of unlabelled data's teachers: stable, agreeing maps pass; flicker warns."""

import numpy as np

from skd_ros.training.teacher_check import check_teachers, map_correlations


def blob_maps(centres, side: int = 32) -> np.ndarray:
    ys, xs = np.mgrid[:side, :side]
    return np.stack([np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / 18.0) for x, y in centres]).astype(
        np.float16
    )


def chained(n: int) -> np.ndarray:
    """Each frame's predecessor: the frame before (frame 0 pairs with itself)."""
    return np.maximum(np.arange(n) - 1, 0)


def test_a_target_that_persists_is_stable_and_both_teachers_agree():
    walk = blob_maps([(8 + k, 10 + k // 2) for k in range(16)])
    report = check_teachers({"a": walk, "b": walk.copy()}, chained(16))
    assert report["stability"]["a"] > 0.9 and report["agreement"] > 0.99
    assert report["warnings"] == []


def test_a_map_that_jumps_every_frame_and_teachers_apart_are_said():
    rng = np.random.default_rng(0)
    jumping = blob_maps([tuple(rng.integers(2, 30, 2)) for _ in range(16)])
    steady = blob_maps([(16, 16)] * 16)
    report = check_teachers({"steady": steady, "jumping": jumping}, chained(16))
    assert report["stability"]["steady"] > 0.99 and report["stability"]["jumping"] < 0.5
    assert report["agreement"] < 0.1
    text = " ".join(report["warnings"])
    assert "jumping's map changes a lot" in text and "disagree" in text and "steady's" not in text


def test_flat_maps_are_counted_apart_not_as_flicker():
    flat = np.zeros((6, 8, 8), np.float16)
    assert np.isnan(map_correlations(flat, flat)).all()
    report = check_teachers({"silent": flat, "other": blob_maps([(4, 4)] * 6, 8)}, chained(6))
    assert report["stability"]["silent"] is None and report["flat"]["silent"] == 1.0
    text = " ".join(report["warnings"])
    assert "silent's map is flat on 100 %" in text and "changes a lot" not in text


def test_one_frame_per_video_has_nothing_to_compare_and_says_none():
    walk = blob_maps([(8, 8), (20, 20)])
    report = check_teachers({"a": walk}, np.arange(2))  # each frame is its video's first
    assert report["stability"] == {"a": None} and report["agreement"] is None
