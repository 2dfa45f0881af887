"""skd_ros.geometry: bearings from pixels through OpenCV's camera models, scaled intrinsics."""

import cv2
import numpy as np
import pytest

from skd_ros.geometry import CalibrationError, Camera, add_bearings
from skd_ros.inference.peaks import REGION_DTYPE

K = np.array([[600.0, 0.0, 330.0], [0.0, 590.0, 235.0], [0.0, 0.0, 1.0]])
DIRECTIONS = np.array([[0.0, 0.0, 1.0], [-0.35, -0.25, 1.0], [0.4, 0.3, 1.0], [0.2, -0.3, 1.0]])
DIRECTIONS = DIRECTIONS / np.linalg.norm(DIRECTIONS, axis=1, keepdims=True)
DISTORTIONS = {
    "plumb_bob": [-0.28, 0.09, 0.001, -0.0015, -0.012],
    "rational_polynomial": [0.4, -0.1, 0.0008, 0.0005, 0.01, 0.7, -0.05, 0.02],
    "equidistant": [0.05, -0.02, 0.004, -0.001],
}


def _project(model: str, d) -> np.ndarray:
    """Where OpenCV's forward model puts DIRECTIONS, in continuous image coordinates."""
    zero = np.zeros(3)
    if model == "equidistant":
        pixels, _ = cv2.fisheye.projectPoints(DIRECTIONS[None], zero, zero, K, np.array(d))
    else:
        pixels, _ = cv2.projectPoints(DIRECTIONS, zero, zero, K, np.array(d))
    return pixels.reshape(-1, 2) + 0.5  # OpenCV puts pixel centres on integers


@pytest.mark.parametrize("model", sorted(DISTORTIONS))
def test_bearings_undo_each_distortion_model(model):
    camera = Camera.from_calibration(640, 480, K, DISTORTIONS[model], model)
    np.testing.assert_allclose(
        camera.bearings(_project(model, DISTORTIONS[model])), DIRECTIONS, atol=1e-7
    )


def test_without_distortion_the_bearing_is_the_pinhole_ray():
    camera = Camera.from_calibration(640, 480, K, [], "")
    centre = camera.bearings(np.array([[330.5, 235.5]]))
    np.testing.assert_allclose(centre, [[0.0, 0.0, 1.0]], atol=1e-12)
    corner = camera.bearings(np.array([[0.0, 0.0]]))[0]
    expected = np.array([(-0.5 - 330.0) / 600.0, (-0.5 - 235.0) / 590.0, 1.0])
    np.testing.assert_allclose(corner, expected / np.linalg.norm(expected))


def test_plane_points_lie_on_their_rays_at_the_depth():
    camera = Camera.from_calibration(640, 480, K, DISTORTIONS["plumb_bob"], "plumb_bob")
    points = camera.plane_points(_project("plumb_bob", DISTORTIONS["plumb_bob"]), 2.5)
    np.testing.assert_allclose(points[:, 2], 2.5)
    np.testing.assert_allclose(
        points / np.linalg.norm(points, axis=1, keepdims=True), DIRECTIONS, atol=1e-7
    )


def test_scaled_camera_matches_what_cv2_resize_does_to_a_blob():
    """A blob drawn at a known pixel of a 640x480 frame lands, in the 64x48 area-resized image,
    where the scaled intrinsics put it: image_proc's resize (cx * s) would be 0.45 px off."""
    x, y = 203.0, 151.0  # OpenCV pixel-centre coordinates
    yy, xx = np.mgrid[0:480, 0:640]
    frame = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 12.0**2))
    small = cv2.resize(frame, (64, 48), interpolation=cv2.INTER_AREA)
    sy, sx = np.mgrid[0:48, 0:64]
    found = np.array([(small * sx).sum(), (small * sy).sum()]) / small.sum()
    camera = Camera.from_calibration(640, 480, K, [], "plumb_bob")
    scaled = camera.scaled(64, 48)
    assert scaled.size == (64, 48)
    # the same ray in both cameras
    ray = camera.bearings(np.array([[x + 0.5, y + 0.5]]))
    np.testing.assert_allclose(scaled.bearings(found[None] + 0.5), ray, atol=2e-4)
    assert scaled.k[0, 0] == pytest.approx(60.0) and scaled.k[1, 1] == pytest.approx(59.0)
    assert scaled.k[0, 2] == pytest.approx((330.0 + 0.5) * 0.1 - 0.5)
    np.testing.assert_allclose(scaled.p[:, :3], scaled.k)


def test_binning_and_roi_are_folded_into_the_delivered_images_camera():
    roi = (100, 60, 400, 300)  # x_offset, y_offset, width, height in full-resolution pixels
    camera = Camera.from_calibration(640, 480, K, [], "plumb_bob", binning=(2, 2), roi=roi)
    assert camera.size == (200, 150)
    full = Camera.from_calibration(640, 480, K, [], "plumb_bob")
    u, v = 321.5, 201.5  # a full-resolution point (continuous); in the binned ROI image:
    delivered = np.array([[(u - 0.5 - 100) / 2 + 0.5, (v - 0.5 - 60) / 2 + 0.5]])
    np.testing.assert_allclose(camera.bearings(delivered), full.bearings(np.array([[u, v]])))


@pytest.mark.parametrize(
    ("k", "d", "model", "says"),
    [
        (np.zeros((3, 3)), [], "plumb_bob", "not calibrated"),
        (K, [0.1, 0.2], "plumb_bob", "takes 4 or 5"),
        (K, [0.0] * 5, "kannala_brandt", "not supported"),
        (K, [np.nan] * 5, "plumb_bob", "non-finite"),
    ],
)
def test_unusable_calibrations_are_refused_with_the_reason(k, d, model, says):
    with pytest.raises(CalibrationError, match=says):
        Camera.from_calibration(640, 480, k, d, model)


def test_add_bearings_fills_the_region_fields_from_the_centroids():
    regions = np.zeros(2, REGION_DTYPE)
    regions["u"], regions["v"] = (330.5, 0.0), (235.5, 0.0)
    add_bearings(regions, Camera.from_calibration(640, 480, K, [], "plumb_bob"))
    np.testing.assert_allclose(
        [regions[0][f] for f in ("bearing_x", "bearing_y", "bearing_z")], [0, 0, 1], atol=1e-7
    )
    assert regions[1]["bearing_x"] < 0 and regions[1]["bearing_y"] < 0
