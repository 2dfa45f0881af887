"""Resolution reduction R and the model-input preparation built on it."""

import cv2
import numpy as np
import pytest

from skd_ros.preprocess import prepare_frame, prepare_map
from skd_ros.reduction import reduce_resolution


def textured_frame(height=720, width=1280, seed=0):
    rng = np.random.default_rng(seed)
    noise = (rng.random((height, width, 3)) * 255).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_any_frame_becomes_a_square_of_the_model_side(size):
    for shape in [(720, 1280, 3), (480, 640, 3), (1080, 1920, 3), (100, 90, 3), (720, 1280)]:
        out = reduce_resolution(np.zeros(shape, np.uint8), size)
        assert out.shape == (size, size, *shape[2:])
        assert out.dtype == np.uint8


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_close_to_exact_area_average(size):
    frame = textured_frame()
    exact = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA).astype(float)
    rms = np.sqrt(np.mean((reduce_resolution(frame, size) - exact) ** 2))
    assert rms < 2.0, rms


def test_fine_detail_is_averaged_not_aliased():
    checker = (np.indices((720, 1280)).sum(axis=0) % 2 * 255).astype(np.uint8)
    out = reduce_resolution(checker, 64).astype(float)
    assert abs(out.mean() - 127.5) < 3
    assert out.std() < 10  # point sampling would give a black/white pattern


def test_constant_image_and_map_mass_are_preserved():
    assert np.all(reduce_resolution(np.full((720, 1280, 3), 77, np.uint8), 64) == 77)
    saliency = np.zeros((720, 1280), np.float32)
    saliency[300:420, 500:700] = 1.0
    small = reduce_resolution(saliency, 64)
    assert small.dtype == np.float32
    assert small.mean() == pytest.approx(saliency.mean(), rel=0.03)


def test_empty_or_wrong_input_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        reduce_resolution(np.zeros((0, 10, 3), np.uint8), 64)
    with pytest.raises(TypeError, match="numpy array"):
        reduce_resolution([[1, 2], [3, 4]], 64)


def test_prepare_frame_gives_rgb_chw_in_unit_range():
    blue_bgr = np.zeros((720, 1280, 3), np.uint8)
    blue_bgr[..., 0] = 255
    tensor = prepare_frame(blue_bgr, 64)
    assert tensor.shape == (3, 64, 64) and tensor.dtype == np.float32
    assert np.allclose(tensor[2], 1.0) and np.allclose(tensor[:2], 0.0)
    assert np.allclose(prepare_frame(blue_bgr, 64, bgr=False)[0], 1.0)


def test_prepare_frame_accepts_grey_and_refuses_four_channels():
    grey = np.full((480, 640), 255, np.uint8)
    assert np.allclose(prepare_frame(grey, 32), 1.0)
    with pytest.raises(ValueError, match="alpha"):
        prepare_frame(np.zeros((480, 640, 4), np.uint8), 32)


def test_prepare_map_scales_8_bit_maps():
    saliency = np.full((720, 1280), 255, np.uint8)
    target = prepare_map(saliency, 64)
    assert target.shape == (1, 64, 64) and np.allclose(target, 1.0)
    assert np.allclose(prepare_map(np.full((720, 1280), 0.5, np.float32), 64), 0.5)
