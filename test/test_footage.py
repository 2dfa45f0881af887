"""Box-annotated footage: box files, sequences, box scores, ego-motion, background boxes,
and `train footage` / `train evaluate --sequence` on clips the tests draw themselves."""

import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from skd_ros import box_metrics, motion
from skd_ros.data.background_boxes import (
    BackgroundBoxSettings,
    background_boxes,
    write_background_boxes,
)
from skd_ros.data.box_sequences import find_sequences, frame_source, open_sequence
from skd_ros.data.boxes import BoxFileError, read_boxes, write_mot
from skd_ros.data.video import LayoutError
from skd_ros.inference.peaks import REGION_DTYPE, find_regions
from skd_ros.package_files import SOURCE_ROOT
from skd_ros.training import box_eval, cli

SIZE = (320, 180)  # test clips: width, height
SQUARE = 16  # side of the drawn target (px)
PAN = (3, 1)  # the drawn camera's motion per frame (px): the ground moves, the square more


# ----------------------------------------------------------------------------- drawn clips


def ground(seed: int = 0, size=(480, 300)) -> np.ndarray:
    """A textured terrain larger than the view, so the view can pan over it."""
    noise = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def square_clip(n_frames: int = 12, pan=PAN, step=(9, 2), seed: int = 0):
    """Frames of a panning view over textured ground with a bright square moving across it
    by `step` px a frame (in view), and the square's (x, y, w, h) box in each frame."""
    terrain = ground(seed)
    frames, boxes = [], []
    for k in range(n_frames):
        ox, oy = 20 + pan[0] * k, 20 + pan[1] * k
        view = terrain[oy : oy + SIZE[1], ox : ox + SIZE[0]].copy()
        x, y = 60 + step[0] * k, 70 + step[1] * k
        view[y : y + SQUARE, x : x + SQUARE] = (40, 230, 250)
        frames.append(view)
        boxes.append((x, y, SQUARE, SQUARE))
    return frames, boxes


def write_clip(folder: Path, frames) -> Path:
    folder.mkdir(parents=True)
    for k, frame in enumerate(frames, 1):
        cv2.imwrite(str(folder / f"{k:06d}.png"), frame)
    return folder


def write_single(path: Path, boxes, hidden=()) -> Path:
    lines = [
        "NaN,NaN,NaN,NaN" if k in hidden else ",".join(map(str, b)) for k, b in enumerate(boxes)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def clip_files(tmp_path):
    """A UAV123-like layout: square.txt beside square/ (frames 3 and 7 marked not visible)."""
    frames, boxes = square_clip()
    folder = write_clip(tmp_path / "clips" / "square", frames)
    box_file = write_single(tmp_path / "clips" / "square.txt", boxes, hidden=(3, 7))
    return folder, box_file, boxes


# ----------------------------------------------------------------------------- box files


def test_single_object_file_takes_commas_tabs_spaces_and_nan(tmp_path):
    path = tmp_path / "boxes.txt"
    path.write_text(
        "10,20,30,40\n11\t21\t31\t41\nNaN,NaN,NaN,NaN\n12 22 32 42\n0,0,0,0\n13, 23, 33, 43\n\n\n"
    )
    track = read_boxes(path)
    assert track.format == "single" and len(track) == 6
    assert [track.visible(k) for k in range(6)] == [True, True, False, True, False, True]
    assert track.frames[1].tolist() == [[11, 21, 31, 41]]
    assert track.frames[5].tolist() == [[13, 23, 33, 43]]
    assert not track.visible(6)  # past the end


def test_mot_file_has_several_boxes_per_frame_and_drops_ignored_ones(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text(
        "1,1,10,20,30,40,1,1,1\n"
        "1,2,50,60,10,20,1,1,1\n"
        "3,1,12,22,30,40,1,1,1\n"
        "3,2,70,80,10,20,0,1,1\n"  # flag 0: MOT ground truth's "ignore"
        "\n"
        "4,-1,1,2,3,4\n"
    )
    track = read_boxes(path)
    assert track.format == "mot" and len(track) == 4
    assert track.frames[0].tolist() == [[10, 20, 30, 40], [50, 60, 10, 20]]
    assert not track.visible(1)
    assert track.frames[2].tolist() == [[12, 22, 30, 40]]
    assert track.frames[3].tolist() == [[1, 2, 3, 4]]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("1,2,3,4\n1,2,x,4\n", 2, "'x' is not a number"),
        ("1,2,3,4\n1,2,3,4\n1,2,3\n", 3, "3 numbers"),
        ("1,2,3,4\n\n1,2,3,4\n", 2, "blank line"),
        ("1,2,3,4\ninf,2,3,4\n", 2, "infinite"),
        ("1,2,3,4,5\n", 1, "5 fields"),
        ("1,1,10,20,30,40\n0,1,10,20,30,40\n", 2, "frame 0"),
        ("1,1,10,20,30,40\n2.5,1,10,20,30,40\n", 2, "frame 2.5"),
        ("1,1,10,20,30,40\n2,1,10,20\n", 2, "4 numbers"),
    ],
)
def test_malformed_box_file_is_refused_with_path_and_line(tmp_path, text, line, words):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(BoxFileError) as error:
        read_boxes(path)
    assert f"{path}:{line}:" in str(error.value) and words in str(error.value)


def test_box_file_that_is_not_text_or_empty_is_refused(tmp_path):
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00\x01" * 10)
    with pytest.raises(BoxFileError, match="not a text file"):
        read_boxes(binary)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(BoxFileError, match="holds no boxes"):
        read_boxes(empty)
    with pytest.raises(BoxFileError, match="no such box file"):
        read_boxes(tmp_path / "missing.txt")


def test_mot_round_trip(tmp_path):
    frames = [np.array([[1, 2, 3, 4], [5, 6, 7, 8]]), np.zeros((0, 4)), np.array([[9, 10, 11, 12]])]
    assert write_mot(tmp_path / "out.txt", frames) == 3
    track = read_boxes(tmp_path / "out.txt", "mot")
    assert [f.tolist() for f in track.frames] == [f.tolist() for f in frames]


# ----------------------------------------------------------------------------- sequences


def test_sequence_refuses_a_box_file_of_another_length(tmp_path, clip_files):
    folder, _, boxes = clip_files
    short = write_single(tmp_path / "short.txt", boxes[:-1])
    with pytest.raises(LayoutError, match=r"has 11 lines but .* has 12 frames"):
        open_sequence(folder, short)
    mot = tmp_path / "mot.txt"
    mot.write_text("13,-1,1,2,3,4\n")
    with pytest.raises(LayoutError, match="boxes for frame 13 but .* has 12 frames"):
        open_sequence(folder, mot)
    with pytest.raises(LayoutError, match="no such frame folder or video"):
        open_sequence(tmp_path / "nowhere", short)


def test_find_sequences_pairs_box_files_with_folders_and_videos(tmp_path, clip_files):
    folder, box_file, _ = clip_files
    (tmp_path / "clips" / "README.txt").write_text("not a box file\n")
    video = tmp_path / "clips" / "walk.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, SIZE)
    for frame in square_clip(4)[0]:
        writer.write(frame)
    writer.release()
    (tmp_path / "clips" / "walk.txt").write_text("1,-1,1,2,3,4\n")
    assert find_sequences(tmp_path) == [
        (folder, box_file),
        (video, tmp_path / "clips" / "walk.txt"),
    ]
    sequence = open_sequence(video, tmp_path / "clips" / "walk.txt")
    assert sequence.name == "walk" and sequence.source.fps == pytest.approx(10)
    assert [index for index, _ in sequence.frames()] == [0, 1, 2, 3]


# ----------------------------------------------------------------------------- box scores


def blob(size, centre, sigma=6.0):
    """A (h, w) map with one Gaussian at centre (x, y), peak 1."""
    ys, xs = np.mgrid[: size[1], : size[0]]
    return np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * sigma**2)).astype(
        np.float32
    )


IMAGE = (1280, 720)
BOX = np.array([[600, 300, 80, 120]])  # centre (640, 360)


def score(saliency):
    regions = find_regions(saliency, IMAGE, **box_eval.node_peak_settings())
    return box_metrics.score_frame(saliency, regions, BOX, IMAGE)


def test_map_peaked_inside_the_box_hits():
    result = score(blob((64, 64), (32, 32), 3.0))  # 64x64 covers 1280x720: (32, 32) is centre
    assert (result.top1, result.top3, result.overlap, result.no_region) == (True, True, True, False)
    assert result.nss > 3.0 and result.cc > 0.8
    assert 0 < result.region_area < 0.05


def test_map_peaked_elsewhere_misses():
    result = score(blob((64, 64), (6, 6), 3.0))
    assert (result.top1, result.top3, result.overlap, result.no_region) == (
        False,
        False,
        False,
        False,
    )
    assert result.nss < 0 and result.cc < 0


def test_second_best_region_on_the_box_is_a_top3_hit_only():
    saliency = np.maximum(blob((64, 64), (6, 6), 2.0), 0.8 * blob((64, 64), (32, 32), 2.0))
    result = score(saliency)
    assert (result.top1, result.top3, result.overlap) == (False, True, False)


def test_flat_map_has_no_region_and_scores_zero():
    result = score(np.zeros((64, 64), np.float32))
    assert result.no_region and not (result.top1 or result.top3 or result.overlap)
    assert result.nss == 0.0 and result.cc == 0.0 and np.isnan(result.region_area)


def test_summary_rates_are_shares_of_frames():
    hit, miss = score(blob((64, 64), (32, 32), 3.0)), score(np.zeros((64, 64), np.float32))
    summary = box_metrics.summarise([hit, hit, hit, miss])
    assert summary["frames"] == 4
    assert summary["top1"] == 0.75 and summary["no_region"] == 0.25
    assert summary["region_area"] == pytest.approx(hit.region_area)  # frames with a region
    assert box_metrics.summarise([]) == {"frames": 0}


def test_inside_iou_and_box_map():
    boxes = np.array([[10, 10, 20, 10]])
    points = np.array([[10, 10], [29.9, 19.9], [30, 15], [15, 20]])
    assert box_metrics.inside(points, boxes).tolist() == [True, True, False, False]
    corners = np.array([[10, 10, 30, 20], [20, 10, 40, 20], [30, 20, 40, 30]])
    assert box_metrics.iou(corners, boxes)[:, 0] == pytest.approx([1.0, 1 / 3, 0.0])
    target = box_metrics.box_map(np.array([[600, 300, 90, 130]]), IMAGE, (128, 72))
    # centre (645, 365) px is grid pixel (64, 36): coordinates / 10, less half a pixel
    assert np.unravel_index(target.argmax(), target.shape) == (36, 64)
    assert target.max() == pytest.approx(1.0, abs=0.02)
    assert box_metrics.visible_boxes(
        np.array([[-50, 0, 40, 10], [0, 0, 5, 5]]), IMAGE
    ).tolist() == [[0, 0, 5, 5]]


def test_frame_without_boxes_is_not_scored():
    with pytest.raises(ValueError, match="nothing to score"):
        box_metrics.score_frame(
            np.zeros((8, 8)), np.zeros(0, REGION_DTYPE), np.zeros((0, 4)), IMAGE
        )


def test_node_peak_settings_are_the_ones_in_config_saliency_yaml():
    config = yaml.safe_load((SOURCE_ROOT / "config" / "saliency.yaml").read_text())
    peaks = config["/**"]["ros__parameters"]["peaks"]
    assert box_eval.node_peak_settings() == {
        "threshold": peaks["threshold"],
        "relative": peaks["relative_threshold"],
        "max_regions": peaks["max_regions"],
        "nms_iou": peaks["nms_iou"],
    }


# ----------------------------------------------------------------------------- ego-motion


def test_homography_of_a_known_camera_motion_is_recovered():
    terrain = cv2.cvtColor(ground(3), cv2.COLOR_BGR2GRAY)[:180, :320]
    truth = np.array([[1.01, -0.02, 4.0], [0.02, 1.01, -3.0], [0.0, 0.0, 1.0]])
    moved = cv2.warpPerspective(terrain, truth, (320, 180))
    estimate = motion.estimate_homography(terrain, moved)
    assert estimate.fallback is None and estimate.inliers >= motion.MIN_INLIERS
    inner = np.array([[[80.0, 60.0], [240.0, 60.0], [240.0, 120.0], [80.0, 120.0]]])
    error = cv2.perspectiveTransform(inner, estimate.matrix) - cv2.perspectiveTransform(
        inner, truth
    )
    assert np.abs(error).max() < 0.5


def test_flat_frames_fall_back_to_the_identity_with_the_reason():
    flat = np.full((180, 320), 90, np.uint8)
    estimate = motion.estimate_homography(flat, flat)
    assert estimate.fallback == "too few corners (a flat or dark frame)"
    assert np.array_equal(estimate.matrix, np.eye(3))
    with pytest.raises(ValueError, match="two grey frames of one size"):
        motion.estimate_homography(flat, flat[:90])


def test_scale_homography_moves_a_motion_between_grids():
    shift = np.array([[1.0, 0, 4], [0, 1.0, 2], [0, 0, 1]])
    scaled = motion.scale_homography(shift, (320, 180), (1280, 720))
    assert scaled[:2, 2].tolist() == [16.0, 8.0]
    assert np.allclose(motion.scale_homography(scaled, (1280, 720), (320, 180)), shift)


def test_aligned_difference_shows_the_mover_not_the_panning_ground():
    frames, boxes = square_clip(3)
    saliency = motion.aligned_difference(frames[1], frames[2])
    assert saliency.shape == (180, 320) and saliency.dtype == np.float32
    y, x = np.unravel_index(saliency.argmax(), saliency.shape)
    bx, by, w, h = boxes[2]
    assert bx - 12 <= x <= bx + w + 12 and by - 12 <= y <= by + h + 12
    plain = cv2.absdiff(frames[1], frames[2]).mean()  # unaligned: the whole ground differs
    assert plain > 5 and np.median(saliency) < 0.05
    assert not motion.aligned_difference(frames[0], frames[0]).any()  # first frame
    big = cv2.resize(frames[1], (1280, 720))
    assert motion.small_grey(big).shape == (180, 320)


# ----------------------------------------------------------------------------- evaluation


class BoxOracle:
    """A map with a blob on the clip's box, for a known answer."""

    def __init__(self, boxes, shift=(0, 0)):
        self.boxes, self.shift, self.frame = boxes, shift, 0

    def __call__(self, previous, current):
        x, y, w, h = self.boxes[self.frame]
        self.frame += 1
        centre = (x + w / 2 + self.shift[0], y + h / 2 + self.shift[1])
        return blob(SIZE, centre, 4.0)


def test_evaluation_excludes_hidden_frames_and_scores_known_answers(clip_files):
    folder, box_file, boxes = clip_files
    sequence = open_sequence(folder, box_file)
    oracle = box_eval.Method("oracle", BoxOracle([boxes[k] for k in range(12) if k not in (3, 7)]))
    away = box_eval.Method(
        "away", BoxOracle([boxes[k] for k in range(12) if k not in (3, 7)], (120, 60))
    )
    result = box_eval.evaluate_sequence(sequence, [oracle, away])
    assert (result["frames"], result["visible"], result["scored"]) == (12, 10, 10)
    assert result["methods"]["oracle"]["top1"] == 1.0 and result["methods"]["oracle"]["nss"] > 2
    assert result["methods"]["away"]["top1"] == 0.0 and result["methods"]["away"]["overlap"] == 0.0
    every = box_eval.evaluate_sequence(
        sequence, [box_eval.baseline_method("center-bias", 64)], every=3
    )
    assert every["scored"] == 4  # visible frames 1, 4, 7, 10 of 10


def test_a_part_of_the_clip_scores_only_its_frames(clip_files):
    folder, box_file, _ = clip_files
    sequence = open_sequence(folder, box_file)
    centre = [box_eval.baseline_method("center-bias", 64)]
    tail = box_eval.evaluate_sequence(sequence, centre, part=(0.5, 1.0))
    assert (tail["frames"], tail["visible"]) == (6, 5)  # frames 6-11; 7 is hidden
    head = box_eval.evaluate_sequence(sequence, centre, part=(0.0, 0.5))
    assert (head["frames"], head["visible"]) == (6, 5)  # frames 0-5; 3 is hidden


def test_train_footage_refuses_a_part_that_ends_before_it_starts(clip_files, capsys):
    folder, box_file, _ = clip_files
    argv = ["footage", "--sequence", str(folder), str(box_file), "--part", "0.7", "0.3"]
    assert cli.main(argv) != 0
    assert "START must be below END" in capsys.readouterr().err


def test_aligned_difference_baseline_follows_the_mover_through_the_node_path(clip_files):
    folder, box_file, boxes = clip_files
    sequence = open_sequence(folder, box_file)
    methods = [box_eval.baseline_method(name, 64) for name in ("aligned-difference", "center-bias")]
    result = box_eval.evaluate_sequence(sequence, methods)["methods"]
    # frame 0 pairs with itself (the node's first frame): no motion, no region; then the
    # mover is among the best three every time (a difference also lights where it was, so
    # the best region may sit on its trailing edge: top-1 is not always a hit)
    assert result["aligned-difference"]["top3"] == pytest.approx(9 / 10)
    assert result["aligned-difference"]["top1"] >= 7 / 10
    assert result["aligned-difference"]["no_region"] == pytest.approx(1 / 10)
    visible = np.array([b for k, b in enumerate(boxes) if k not in (3, 7)])
    centre = np.array([SIZE[0] / 2, SIZE[1] / 2])
    on_centre = [box_metrics.inside(centre, box)[0] for box in visible]
    assert 0 < np.mean(on_centre) < 1  # the square crosses the centre once
    assert result["center-bias"]["top1"] == pytest.approx(np.mean(on_centre))


def test_train_footage_scores_the_packaged_models_and_baselines(tmp_path, clip_files, capsys):
    folder, box_file, _ = clip_files
    out = tmp_path / "report"
    argv = ["footage", "--footage", str(folder.parent), "--output", str(out)]
    assert cli.main(argv) == 0
    report = json.loads((out / "footage.json").read_text())
    methods = report["clips"]["square"]["methods"]
    assert list(methods) == ["Sst sst_demo_int8", "Sst sst_demo", *box_eval.BASELINES]
    for row in methods.values():
        assert row["frames"] == 10 and -1 <= row["cc"] <= 1 and 0 <= row["top1"] <= 1
    assert report["map_side"] == 64
    table = (out / "footage.md").read_text()
    assert re.search(r"\| square \(10 fr\.\) \| Sst sst_demo_int8 \| -?\d+\.\d\d \|", table)
    assert "1 sequence(s) under" in capsys.readouterr().out


def test_train_evaluate_with_a_sequence_scores_only_the_model(tmp_path, clip_files, capsys):
    folder, box_file, _ = clip_files
    model = SOURCE_ROOT / "resource" / "models" / "sst_demo_int8.json"
    argv = ["evaluate", "--model", str(model), "--sequence", str(folder), str(box_file)]
    assert cli.main(argv) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| square")]
    assert len(rows) == 1 and "Sst sst_demo_int8" in rows[0]


def test_train_footage_says_when_there_is_no_footage(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["footage"]) == 2
    assert "no ../shared/footage here" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"
    bad.write_text("1,2,3\n")
    frames = write_clip(tmp_path / "frames", square_clip(2)[0])
    assert cli.main(["footage", "--sequence", str(frames), str(bad)]) == 2
    assert f"{bad}:1: 3 fields" in capsys.readouterr().err


# ----------------------------------------------------------------------------- background boxes


def test_background_boxes_find_the_mover_of_a_static_camera(tmp_path):
    frames, boxes = square_clip(40, pan=(0, 0), step=(5, 1))
    found = background_boxes(enumerate(frames), BackgroundBoxSettings(warmup=10))
    assert len(found) == 40 and not any(len(b) for b in found[:10])
    for k in range(12, 40):
        assert len(found[k]) == 1, k
        assert box_metrics.iou(_corners(found[k][0]), np.array(boxes[k]))[0, 0] > 0.6


def _corners(box):
    x, y, w, h = box
    return np.array([x, y, x + w, y + h])


def test_background_boxes_command_writes_mot_outside_the_checkout_only(tmp_path):
    frames, _ = square_clip(20, pan=(0, 0), step=(5, 1))
    folder = write_clip(tmp_path / "still", frames)
    out = tmp_path / "out" / "boxes.txt"
    summary = write_background_boxes(folder, out, BackgroundBoxSettings(warmup=5))
    assert summary["frames"] == 20 and summary["frames_with_boxes"] >= 12
    track = read_boxes(out)
    assert track.format == "mot" and len(track) == 20
    assert len(open_sequence(folder, out).boxes) == 20
    with pytest.raises(LayoutError, match="inside the skd_ros checkout"):
        write_background_boxes(folder, SOURCE_ROOT / "boxes.txt", BackgroundBoxSettings())
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(LayoutError, match="symbolic link"):
        write_background_boxes(folder, link, BackgroundBoxSettings())
    assert not (SOURCE_ROOT / "boxes.txt").exists() and not (tmp_path / "elsewhere.txt").exists()
    assert frame_source(folder).count == 20


def test_train_bag_writes_a_part_of_a_clip_that_bag_training_reads(tmp_path, clip_files, capsys):
    from skd_ros.data.bags import bag_videos
    from skd_ros.data.box_sequences import frame_source

    folder, _, _ = clip_files
    bag = tmp_path / "first_half"
    argv = ["bag", str(folder), "--out", str(bag), "--part", "0", "0.5", "--raw", "--fps", "10"]
    assert cli.main(argv) == 0
    assert "frames 0-5 of" in capsys.readouterr().out
    (video,) = bag_videos(bag)
    originals = [image for _, image in frame_source(folder).frames()]
    assert len(video) == 6
    for k, sample in enumerate(video.samples()):
        assert np.array_equal(sample.image, originals[k])
    assert cli.main(argv) != 0  # never over an existing folder
    assert "exists; choose a new folder" in capsys.readouterr().err
    tail = tmp_path / "tail"
    assert cli.main(["bag", str(folder), "--out", str(tail), "--part", "0.5", "1"]) == 0
    assert len(bag_videos(tail)[0]) == 6  # JPEG by default; the other six frames


def test_models_of_two_runs_get_names_that_tell_them_apart():
    paths = ["/r/scratch/model/sst.json", "/r/tuned/model/sst.json", "/p/sst_demo_int8.json"]
    assert box_eval.model_names(paths) == ["scratch/model/sst", "tuned/model/sst", "sst_demo_int8"]


def test_train_bag_leaves_no_partial_bag_and_keeps_the_gap_of_a_bad_frame(
    tmp_path, clip_files, capsys
):
    from skd_ros.data.bags import bag_videos

    folder, _, _ = clip_files
    empty = tmp_path / "empty"
    assert cli.main(["bag", str(folder), "--out", str(empty), "--part", "0.97", "1"]) != 0
    assert "keeps none" in capsys.readouterr().err and not empty.exists()
    dangling = tmp_path / "link"
    dangling.symlink_to(tmp_path / "nowhere")
    assert cli.main(["bag", str(folder), "--out", str(dangling)]) != 0
    assert "exists; choose a new folder" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    sorted(broken.iterdir())[4].write_bytes(b"not a png")  # frame 4 cannot be read
    bag = tmp_path / "gap"
    assert cli.main(["bag", str(broken), "--out", str(bag), "--fps", "10"]) == 0
    (video,) = bag_videos(bag)
    stamps = [sample.stamp_ns for sample in video.samples()]
    assert len(stamps) == 11 and stamps[4] - stamps[3] == 200_000_000  # frame 4's gap kept
