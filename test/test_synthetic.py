"""The synthetic aerial generator: determinism, ground truth, ego-motion, layouts."""

import cv2
import numpy as np
import pytest

from skd_ros.data.synthetic import (
    CATEGORIES,
    ClipSpec,
    default_splits,
    generate_clip,
    video_name,
    write_avs1k,
    write_frame_folders,
)

SMALL = {"width": 320, "height": 180}


def clip(seed=1, category="Vehicle", n_frames=6, **kwargs):
    return list(generate_clip(ClipSpec(seed, category, n_frames, **{**SMALL, **kwargs})))


def test_same_seed_same_bytes_other_seed_other_clip():
    a, b, c = clip(5), clip(5), clip(6)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.saliency, y.saliency)
        assert x.boxes == y.boxes
    assert not np.array_equal(a[0].image, c[0].image)


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_has_targets_with_peaked_ground_truth(category):
    frames = clip(11, category, n_frames=4)
    for frame in frames:
        assert frame.image.shape == (180, 320, 3) and frame.image.dtype == np.uint8
        assert frame.saliency.dtype == np.float32
        assert frame.saliency.min() >= 0.0 and frame.saliency.max() <= 1.0
        assert frame.boxes, f"{category} frame {frame.index} has no visible target"
        for x0, y0, x1, y1 in frame.boxes:
            assert 0 <= x0 < x1 < 320 and 0 <= y0 < y1 < 180
            assert frame.saliency[y0 : y1 + 1, x0 : x1 + 1].max() > 0.9


def test_map_mass_sits_around_the_targets():
    for frame in clip(3, "Human", n_frames=3):
        near = np.zeros_like(frame.saliency, bool)
        for x0, y0, x1, y1 in frame.boxes:
            pad = 12
            near[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = True
        assert frame.saliency[near].sum() > 0.8 * frame.saliency.sum()


def test_camera_moves_and_targets_move_relative_to_the_ground():
    frames = clip(8, "Vehicle", n_frames=12, width=640, height=360)
    grey = [cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY).astype(np.float32) for f in frames]
    steps = np.array([cv2.phaseCorrelate(grey[i], grey[i + 1])[0] for i in range(11)])
    assert np.median(np.hypot(*steps.T)) > 0.3  # ego-motion: the whole view drifts
    centre = [
        np.array(f.boxes[0], float).reshape(2, 2).mean(axis=0) for f in (frames[0], frames[-1])
    ]
    relative = (centre[1] - centre[0]) - steps.sum(axis=0)
    assert np.hypot(*relative) > 4.0  # the car moves over the ground, not only with it


def test_avs1k_layout_and_names(tmp_path):
    splits = default_splits(2, 1, 1, n_frames=3, base_seed=40, **SMALL)
    root = write_avs1k(tmp_path, splits)
    assert root == tmp_path / "AVS1K"
    assert [s.category for s in splits["trainSet"]] == ["Building", "Human"]
    seeds = [s.seed for specs in splits.values() for s in specs]
    assert len(set(seeds)) == len(seeds)
    for split, specs in splits.items():
        for spec in specs:
            name = video_name(spec)
            frames = sorted((root / split / "Frame" / name).iterdir())
            maps = sorted((root / split / "Ground" / name).iterdir())
            assert [p.name for p in frames] == [f"{name}_{i:05d}.png" for i in (1, 2, 3)]
            assert [p.name for p in maps] == [p.name for p in frames]
            assert cv2.imread(str(maps[0]), cv2.IMREAD_UNCHANGED).ndim == 2


def test_frame_folder_layout_with_binary_fixations(tmp_path):
    spec = ClipSpec(9, "Others", 2, **SMALL)
    write_frame_folders(tmp_path, [spec], n_fixations=15)
    video = tmp_path / video_name(spec)
    for kind in ("images", "maps", "fixation"):
        assert sorted(p.name for p in (video / kind).iterdir()) == ["0001.png", "0002.png"]
    fixation = cv2.imread(str(video / "fixation" / "0001.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(fixation)) <= {0, 255} and 0 < (fixation == 255).sum() <= 15


def test_full_hd_shapes():
    frames = list(generate_clip(ClipSpec(0, "Vehicle", 3)))
    assert frames[0].image.shape == (720, 1280, 3) and frames[0].saliency.shape == (720, 1280)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"category": "Boat"}, "category"),
        ({"width": 10}, "width"),
        ({"n_frames": 0}, "n_frames"),
    ],
)
def test_bad_specs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClipSpec(seed=0, **kwargs)
