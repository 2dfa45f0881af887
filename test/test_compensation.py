"""Ego-motion compensation of the frame pair: the estimate, the warp, and one pairing for all."""

import json
import shutil

import cv2
import numpy as np
import pytest

from skd_ros.data.avs1k import scan_avs1k
from skd_ros.data.synthetic import ClipSpec, default_splits, generate_clip, write_avs1k
from skd_ros.inference.compensation import align, compensate, estimate
from skd_ros.inference.engine import SaliencyEngine
from skd_ros.inference.model_files import ModelFileError, read_description
from skd_ros.models import ModelConfig
from skd_ros.preprocess import prepare_frame
from skd_ros.training.batches import PairBatches
from skd_ros.training.cache import build_cache
from skd_ros.training.config import load_config

SIDE = 64


def terrain(seed: int = 4, width: int = 960, height: int = 540) -> np.ndarray:
    """A textured synthetic ground frame (BGR, larger than the crops taken from it)."""
    return next(generate_clip(ClipSpec(seed, "Vehicle", 1, width, height))).image


def crop_pair(dx: int, dy: int) -> tuple[np.ndarray, np.ndarray]:
    """Two 640x360 views of one frame, the second `dx`, `dy` px further right and down:
    the camera moved, so the ground moves by (-dx, -dy) in the image."""
    image = terrain()
    return image[100:460, 100:740], image[100 + dy : 460 + dy, 100 + dx : 740 + dx]


def test_a_known_camera_shift_is_recovered_at_model_resolution():
    before, after = crop_pair(30, -20)
    previous, current = prepare_frame(before, SIDE), prepare_frame(after, SIDE)
    matrix = estimate(previous, current)
    assert matrix is not None
    expected = (-30 * SIDE / 640, 20 * SIDE / 360)  # the shift in model pixels
    points = np.array([[[16.0, 16.0], [48.0, 16.0], [32.0, 32.0], [16.0, 48.0], [48.0, 48.0]]])
    moved = cv2.perspectiveTransform(points, matrix)[0] - points[0]
    assert np.abs(moved - expected).max() < 0.35, moved
    aligned = compensate(previous, current, "homography")
    inner = np.s_[:, 8:-8, 8:-8]
    assert np.abs(aligned - current)[inner].mean() < 0.4 * np.abs(previous - current)[inner].mean()


def test_pixels_the_previous_frame_did_not_see_come_from_the_current_one():
    previous, current = (prepare_frame(x, SIDE) for x in crop_pair(40, 0))
    aligned = compensate(previous, current, "homography")
    assert aligned.shape == previous.shape and aligned.dtype == np.float32
    assert np.allclose(aligned[:, :, -2:], current[:, :, -2:])  # right edge: newly in view
    assert aligned.min() >= 0.0 and aligned.max() <= 1.0


def test_the_same_frame_flat_frames_and_none_leave_the_pair_as_it_is():
    frame = prepare_frame(terrain(), SIDE)
    assert estimate(frame, frame.copy()) is None
    flat = np.full((3, SIDE, SIDE), 0.5, np.float32)
    assert estimate(flat, flat * 0.9) is None  # no corners: no motion to trust
    assert align(frame, flat, None) is frame
    other = prepare_frame(crop_pair(20, 10)[1], SIDE)
    assert compensate(frame, other, "none") is frame
    with pytest.raises(ValueError, match="compensation='affine'.*homography"):
        compensate(frame, other, "affine")


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("compensation-data")
    write_avs1k(root, default_splits(2, 0, 0, n_frames=4, width=320, height=180, base_seed=90))
    return scan_avs1k(root, "trainSet")


def test_training_builds_the_pair_exactly_as_the_node(videos, tmp_path):
    cache = build_cache(videos, SIDE, [], tmp_path, progress=False)
    batch = PairBatches(cache.frames, cache.previous, cache.targets, compensation="homography")
    plain = PairBatches(cache.frames, cache.previous, cache.targets)
    samples = list(videos[1].samples())
    first = cache.videos[1]["first"]
    rows = [first, first + 2, first + 3]
    got = batch[rows]
    for k, index in enumerate((0, 2, 3)):
        current = prepare_frame(samples[index].image, SIDE)  # what the node feeds the engine
        before = prepare_frame(samples[max(0, index - 1)].image, SIDE)
        previous = before if index else current  # a first frame pairs with itself
        assert np.array_equal(got["current"][k].numpy(), current)
        expected = compensate(previous, current, "homography")
        assert np.array_equal(got["previous"][k].numpy(), expected)
    assert not np.array_equal(got["previous"][1:], plain[rows]["previous"][1:])
    assert np.array_equal(batch[rows]["previous"], got["previous"])  # kept estimates agree


def _with_compensation(model_path, directory, value) -> object:
    for suffix in (".onnx", ".safetensors"):
        shutil.copy(model_path.with_suffix(suffix), directory)
    metadata = json.loads(model_path.read_text())
    if value is None:
        metadata["model"].pop("compensation", None)
    else:
        metadata["model"]["compensation"] = value
    path = directory / model_path.name
    path.write_text(json.dumps(metadata))
    return path


def test_the_engine_compensates_as_its_model_says_and_old_models_pair_as_before(
    tmp_path, model_path
):
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = _with_compensation(model_path, tmp_path / "old", None)
    new = _with_compensation(model_path, tmp_path / "new", "homography")
    assert read_description(old).compensation == "none"
    assert read_description(new).compensation == "homography"
    plain, compensated = SaliencyEngine(old), SaliencyEngine(new)
    previous, current = (prepare_frame(x, plain.resolution) for x in crop_pair(30, 15))
    aligned = compensate(previous, current, "homography")
    assert np.array_equal(compensated.predict(previous, current), plain.predict(aligned, current))
    assert not np.array_equal(plain.predict(previous, current), plain.predict(aligned, current))
    batch = compensated.predict_batch(previous[None], current[None])[0]
    assert np.allclose(batch, compensated.predict(previous, current), atol=1e-6)


def test_an_unknown_compensation_is_refused_with_the_file_and_the_choices(tmp_path, model_path):
    path = _with_compensation(model_path, tmp_path, "affine")
    with pytest.raises(ModelFileError, match="model.compensation 'affine'.*homography"):
        read_description(path)


def test_training_config_and_model_config_carry_the_compensation():
    config = load_config(None, ["model.compensation=homography"])
    assert config.model.compensation == "homography"
    with pytest.raises(ValueError, match="compensation='warp'"):
        load_config(None, ["model.compensation=warp"])
    shape = ModelConfig.variant("aerial", 64, "homography")
    assert ModelConfig.from_dict(shape.to_dict()) == shape
    assert ModelConfig.from_dict({"resolution": 64}).compensation == "none"  # older exports
