"""The synthetic aerial generator: determinism, ground truth, ego-motion, layouts, CLI."""

import cv2
import numpy as np
import pytest

from skd_ros.data.synthetic import (
    CATEGORIES,
    FRAME_RATES,
    SIGMA_FLOOR,
    ClipSpec,
    default_splits,
    generate_clip,
    main,
    video_name,
    write_avs1k,
    write_frame_folders,
)

W, H = 256, 144
SMALL = {"width": W, "height": H}
MARGIN = int(3 * SIGMA_FLOOR * max(W, H)) + 1  # 3 sigma of the smallest Gaussian


def clip(seed=1, category="Vehicle", n_frames=6, camera="any", finish=True, **size):
    spec = ClipSpec(seed, category, n_frames, **(size or SMALL), camera=camera, finish=finish)
    return list(generate_clip(spec))


def center(box) -> np.ndarray:
    return np.array(box, float).reshape(2, 2).mean(axis=0)


def relative_homography(a, b) -> np.ndarray:
    """The 3x3 homography taking frame a's ground pixels to frame b's (b after a^-1)."""
    return b.camera @ np.linalg.inv(a.camera)


def grey(frame) -> np.ndarray:
    return cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY).astype(np.float32)


# -- determinism --------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_clip():
    a, b, c = clip(5), clip(5), clip(6)
    for x, y in zip(a, b, strict=True):
        assert x.image.tobytes() == y.image.tobytes()
        assert x.saliency.tobytes() == y.saliency.tobytes()
        assert x.boxes == y.boxes and x.labels == y.labels and x.index == y.index
    assert not np.array_equal(a[0].image, c[0].image)
    assert not np.array_equal(a[0].saliency, c[0].saliency)


def test_generation_leaves_global_random_state_alone():
    np.random.seed(0)
    expected = np.random.random()
    np.random.seed(0)
    clip(2, "Human", n_frames=2)
    assert np.random.random() == expected


# -- ground truth -------------------------------------------------------------------------------


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_has_targets_with_peaked_concentrated_ground_truth(category):
    for frame in clip(11, category, n_frames=4):
        assert frame.image.shape == (H, W, 3) and frame.image.dtype == np.uint8
        assert frame.saliency.shape == (H, W) and frame.saliency.dtype == np.float32
        assert frame.saliency.min() >= 0.0 and frame.saliency.max() <= 1.0
        assert frame.boxes, f"{category} frame {frame.index} has no visible target"
        assert frame.labels == [category] * len(frame.boxes)
        near = np.zeros((H, W), bool)
        for box in frame.boxes:
            assert all(isinstance(v, int) for v in box)
            x0, y0, x1, y1 = box
            assert 0 <= x0 < x1 < W and 0 <= y0 < y1 < H
            assert frame.saliency[y0 : y1 + 1, x0 : x1 + 1].max() > 0.95
            near[max(0, y0 - MARGIN) : y1 + MARGIN + 1, max(0, x0 - MARGIN) : x1 + MARGIN + 1] = 1
        assert frame.saliency[near].sum() > 0.8 * frame.saliency.sum()


def spread(frame) -> np.ndarray:
    """Eigenvalues (ascending) of the map's covariance, in squared pixels."""
    ys, xs = np.nonzero(frame.saliency > 0.01)
    return np.linalg.eigvalsh(
        np.cov(np.stack([xs, ys]).astype(float), aweights=frame.saliency[ys, xs])
    )


def test_ground_truth_spread_follows_target_size_and_shape():
    buildings = [spread(clip(seed, "Building", n_frames=1)[0]) for seed in range(6)]
    loner = next(f for seed in range(40) if len((f := clip(seed, "Human", 1)[0]).boxes) == 1)
    low, high = spread(loner)
    assert high < 1.1 * low  # a tiny person: a round scatter of fixations
    assert max(b[1] / b[0] for b in buildings) > 1.25  # long buildings, long Gaussians
    assert min(b[1] for b in buildings) > 1.5 * high  # bigger target, wider spread


# -- motion -------------------------------------------------------------------------------------


def test_camera_ego_motion_is_a_smooth_nearly_rigid_shift():
    frames = clip(8, "Vehicle", 12, "nadir", False, width=640, height=360)
    images = [grey(f) for f in frames]
    window = cv2.createHanningWindow((640, 360), cv2.CV_32F)
    steps, responses = [], []
    for a, b in zip(images[:-1], images[1:], strict=True):
        (dx, dy), response = cv2.phaseCorrelate(a, b, window)
        steps.append((dx, dy))
        responses.append(response)
    steps = np.array(steps)
    speed = np.hypot(*steps.T)
    assert np.all(speed > 0.3), speed  # every frame the whole view moves...
    assert np.all(np.abs(np.diff(steps, axis=0)) < 1.0), steps  # ...smoothly
    assert min(responses) > 0.1  # one dominant translation: the frames are shifted copies
    for a, b in zip(frames[:-1], frames[1:], strict=True):
        assert not np.array_equal(a.image, b.image)
        # the camera matrices explain the motion: warping a onto b removes most of the difference
        smooth_a, smooth_b = (cv2.GaussianBlur(grey(f), (0, 0), 2.0) for f in (a, b))
        smooth_a, smooth_b = smooth_a / smooth_a.mean(), smooth_b / smooth_b.mean()  # flicker
        warped = cv2.warpPerspective(smooth_a, relative_homography(a, b), (640, 360))
        inner = np.s_[20:-20, 20:-20]
        aligned = np.abs(warped - smooth_b)[inner].mean()
        assert aligned < 0.4 * np.abs(smooth_a - smooth_b)[inner].mean()


def test_camera_rolls_and_zooms_a_little():
    frames = clip(3, "Building", 90, "nadir")
    assert np.allclose(frames[0].camera[2], [0, 0, 1])  # looking straight down: a similarity
    first, last = frames[0].camera[:2, :2], frames[-1].camera[:2, :2]
    roll = np.degrees(np.arctan2(last[1, 0], last[0, 0]) - np.arctan2(first[1, 0], first[0, 0]))
    zoom = np.linalg.det(last) ** 0.5 / np.linalg.det(first) ** 0.5
    assert 0.02 < abs((roll + 180) % 360 - 180) < 15
    assert 0.001 < abs(zoom - 1) < 0.15


@pytest.mark.parametrize("category", ["Vehicle", "Human"])
def test_targets_move_relative_to_the_ground(category):
    frames = clip(8, category, 20, "nadir", width=640, height=360)
    first, last = frames[0], frames[-1]
    assert len(first.boxes) == len(last.boxes)
    seen = center(first.boxes[0])[None, None]
    predicted = cv2.perspectiveTransform(seen, relative_homography(first, last))
    own_motion = np.hypot(*(center(last.boxes[0]) - predicted[0, 0]))
    assert own_motion > 5.0  # beyond the ego-motion, the target moved over the ground
    assert not np.allclose(center(first.boxes[0]), center(last.boxes[0]))


@pytest.mark.parametrize("category", CATEGORIES)
def test_the_camera_keeps_targets_in_view_over_a_long_clip(category):
    frames = list(generate_clip(ClipSpec(21, category, 240, width=128, height=72)))
    seen = np.mean([bool(f.boxes) for f in frames])
    assert seen > 0.95, seen


# -- the drone's view ---------------------------------------------------------------------------


def test_an_oblique_view_is_a_perspective_one_with_far_ground_smaller_at_the_top():
    frame = clip(4, "Human", 1, "oblique", width=640, height=360)[0]
    assert np.abs(frame.camera[2, :2]).max() > 1e-5  # projective, not affine
    inverse = np.linalg.inv(frame.camera)

    def ground_per_pixel(y: float) -> float:  # ground length under one pixel of row y
        pixels = np.array([[[320.0, y], [320.0, y + 1.0]]])
        a, b = cv2.perspectiveTransform(pixels, inverse)[0]
        return float(np.linalg.norm(b - a))

    assert ground_per_pixel(20) > 1.2 * ground_per_pixel(340)


def test_a_hovering_camera_stays_put_while_its_targets_move():
    frames = clip(5, "Human", 30, "hover", finish=False, width=640, height=360)
    assert all(np.array_equal(f.camera, frames[0].camera) for f in frames)
    assert np.hypot(*(center(frames[0].boxes[0]) - center(frames[-1].boxes[0]))) > 2.0
    first, last = grey(frames[0]), grey(frames[-1])
    still = np.abs(first * (np.median(last) / np.median(first)) - last)  # exposure flicker out
    for box in frames[0].boxes + frames[-1].boxes:  # away from the movers the view is still
        x0, y0, x1, y1 = box
        m = 12 + max(x1 - x0, y1 - y0)  # and their shadows, as long as they are tall
        still[max(0, y0 - m) : y1 + m, max(0, x0 - m) : x1 + m] = 0
    assert np.percentile(still, 99) < 4.0


def test_the_finish_changes_pixels_not_geometry():
    plain, finished = clip(6, "Vehicle", 3, finish=False), clip(6, "Vehicle", 3)
    for a, b in zip(plain, finished, strict=True):
        assert a.boxes == b.boxes and np.array_equal(a.camera, b.camera)
        assert np.array_equal(a.saliency, b.saliency)
        assert not np.array_equal(a.image, b.image)


@pytest.mark.integration  # slow: over a second here
def test_targets_range_from_a_few_pixels_to_tens_of_pixels():
    sides = [
        max(x1 - x0, y1 - y0) + 1
        for seed in range(12)
        for x0, y0, x1, y1 in clip(seed, CATEGORIES[1 + seed % 3], 1, width=640, height=360)[
            0
        ].boxes
    ]
    assert min(sides) <= 6 and max(sides) >= 30, sorted(sides)  # box: floor and ceil


def test_an_unknown_camera_is_refused():
    with pytest.raises(ValueError, match="camera='fisheye'.*oblique"):
        ClipSpec(1, camera="fisheye")


# -- layouts and CLI ----------------------------------------------------------------------------


def tree(root) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_avs1k_layout_and_names(tmp_path):
    splits = default_splits(2, 1, 1, n_frames=3, base_seed=40, **SMALL)
    root = write_avs1k(tmp_path, splits)
    assert root == tmp_path / "AVS1K"
    expected = {
        f"{split}/{kind}/{video_name(spec)}/{video_name(spec)}_{i:05d}.png"
        for split, specs in splits.items()
        for spec in specs
        for kind in ("Frame", "Ground")
        for i in (1, 2, 3)
    }
    assert tree(root) == expected
    spec = splits["validSet"][0]
    name = video_name(spec)
    frames = list(generate_clip(spec))
    for i, frame in enumerate(frames, start=1):
        image = cv2.imread(str(root / "validSet" / "Frame" / name / f"{name}_{i:05d}.png"))
        ground = cv2.imread(
            str(root / "validSet" / "Ground" / name / f"{name}_{i:05d}.png"), cv2.IMREAD_UNCHANGED
        )
        assert np.array_equal(image, frame.image)
        assert ground.dtype == np.uint8 and ground.shape == (H, W)
        assert np.abs(ground / 255.0 - frame.saliency).max() <= 0.5 / 255 + 1e-6


def test_rewriting_replaces_stale_frames(tmp_path):
    write_avs1k(tmp_path, {"trainSet": [ClipSpec(1, "Human", 4, **SMALL)]})
    write_avs1k(tmp_path, {"trainSet": [ClipSpec(1, "Human", 2, **SMALL)]})
    assert len(tree(tmp_path / "AVS1K")) == 4  # 2 frames + 2 maps


def test_frame_folder_layout_with_binary_fixations(tmp_path):
    specs = [ClipSpec(9, "Others", 2, **SMALL), ClipSpec(10, "Vehicle", 3, **SMALL)]
    assert write_frame_folders(tmp_path, specs, n_fixations=15) == tmp_path
    expected = {
        f"{video_name(spec)}/{kind}/{i:04d}.png"
        for spec in specs
        for kind in ("images", "maps", "fixation")
        for i in range(1, spec.n_frames + 1)
    }
    assert tree(tmp_path) == expected
    for spec in specs:
        video = tmp_path / video_name(spec)
        for i in range(1, spec.n_frames + 1):
            image = cv2.imread(str(video / "images" / f"{i:04d}.png"))
            saliency = cv2.imread(str(video / "maps" / f"{i:04d}.png"), cv2.IMREAD_UNCHANGED)
            fixation = cv2.imread(str(video / "fixation" / f"{i:04d}.png"), cv2.IMREAD_UNCHANGED)
            assert image.shape == (H, W, 3) and saliency.shape == fixation.shape == (H, W)
            assert set(np.unique(fixation)) <= {0, 255} and 0 < (fixation == 255).sum() <= 15
            assert saliency[fixation == 255].min() > 0  # fixations fall where the map is
    again = tmp_path / "again"
    write_frame_folders(again, specs[:1], n_fixations=15)
    first = tmp_path / video_name(specs[0]) / "fixation" / "0001.png"
    assert (
        first.read_bytes() == (again / video_name(specs[0]) / "fixation" / "0001.png").read_bytes()
    )


def test_default_splits_cycle_categories_with_distinct_seeds():
    splits = default_splits(5, 2, 3, n_frames=7, width=320, height=180, base_seed=100)
    assert list(splits) == ["trainSet", "validSet", "testSet"]
    assert [s.category for s in splits["trainSet"]] == [*CATEGORIES, CATEGORIES[0]]
    assert [s.fps for s in splits["trainSet"]] == [FRAME_RATES[0]] * 4 + [FRAME_RATES[1]]
    seeds = [s.seed for specs in splits.values() for s in specs]
    assert len(set(seeds)) == len(seeds) == 10 and min(seeds) == 100
    assert {(s.n_frames, s.width, s.height) for specs in splits.values() for s in specs} == {
        (7, 320, 180)
    }
    assert video_name(ClipSpec(7, "Vehicle")) == "Vehicle_0007"


def test_command_line_writes_both_layouts(tmp_path, capsys):
    args = ["--train", "1", "--valid", "1", "--test", "0", "--frames", "2"]
    args += ["--size", "96", "64", "--seed", "5"]
    assert main(["--out", str(tmp_path / "a"), *args]) == 0
    assert "wrote 2 videos" in capsys.readouterr().out
    assert len(tree(tmp_path / "a" / "AVS1K")) == 8
    assert main(["--out", str(tmp_path / "f"), "--layout", "folders", *args]) == 0
    assert len(tree(tmp_path / "f")) == 12
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--layout" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "b"), "--size", "32", "64"])
    assert "width=32" in capsys.readouterr().err


# -- full size and validation -------------------------------------------------------------------


def test_full_hd_clip_shapes():
    frames = list(generate_clip(ClipSpec(0, "Vehicle", 10)))
    assert len(frames) == 10 and [f.index for f in frames] == list(range(10))
    for frame in frames:
        assert frame.image.shape == (720, 1280, 3) and frame.saliency.shape == (720, 1280)
        assert frame.boxes


@pytest.mark.parametrize("size", [(64, 64), (96, 160), (200, 80)])
@pytest.mark.parametrize("category", CATEGORIES)
def test_tiny_and_odd_frame_sizes_work(category, size):
    width, height = size
    frames = list(generate_clip(ClipSpec(3, category, 2, width, height, fps=12.5)))
    assert all(f.image.shape == (height, width, 3) and f.boxes for f in frames)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"category": "Boat"}, "category.*Building"),
        ({"width": 10}, "width=10.*>= 64"),
        ({"height": 63}, "height=63.*>= 64"),
        ({"n_frames": 0}, "n_frames=0.*>= 1"),
        ({"seed": -1}, "seed=-1.*>= 0"),
        ({"fps": 0.0}, "fps"),
        ({"width": 128.5}, "width"),
    ],
)
def test_bad_specs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClipSpec(**{"seed": 0, **kwargs})
