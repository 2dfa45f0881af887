"""The camera's geometry: directions instead of pixels, and intrinsics for the saliency map.

A `Camera` is the calibration of the images the node actually receives (sensor_msgs/CameraInfo
without the message type: size, K, D and the distortion model; binning and region of
interest already folded into K, as image_geometry does). From it:

* `bearings`: the unit vector in the camera's optical frame (x right, y down, z forward)
  towards each image point, distortion removed (OpenCV's `undistortPoints`, which handles
  plumb_bob and rational_polynomial; `cv2.fisheye` for equidistant);
* `plane_points`: where those rays meet a plane `depth` in front of the camera (RViz markers);
* `scaled`: the camera of the same view resized to another size (the saliency map's), as
  image_pipeline's resize node scales K and P, plus the half-pixel term of a resize that keeps
  pixel centres aligned (cv2.resize's; image_proc leaves it out, an error of (1 - s) / 2 pixels).

Image points here use the project's continuous coordinates (the regions' and the peak's): (0, 0)
is the top-left corner of the image, the first pixel's centre is (0.5, 0.5). OpenCV and
CameraInfo put pixel centres on integers; the conversion happens in this module only.
Plain NumPy and OpenCV, no ROS.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from skd_ros.inference.peaks import BEARING, CENTROID, float_columns

PLUMB_BOB, RATIONAL, EQUIDISTANT = "plumb_bob", "rational_polynomial", "equidistant"
# distortion model -> the coefficient counts OpenCV takes for it (CameraInfo's D)
COEFFICIENTS = {PLUMB_BOB: (4, 5), RATIONAL: (8, 12, 14), EQUIDISTANT: (4,)}
# the iterative inverse of the distortion: converged well below a thousandth of a pixel
UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10)


class CalibrationError(ValueError):
    """A calibration that gives no usable geometry (uncalibrated K, unknown model, ...)."""


@dataclass(frozen=True, eq=False)
class Camera:
    """Intrinsics of images of `width` x `height` pixels: K (3x3), D, the distortion model."""

    width: int
    height: int
    k: np.ndarray
    d: np.ndarray
    model: str
    r: np.ndarray  # 3x3 rectification (stereo), kept as it is
    p: np.ndarray  # 3x4 projection matrix (CameraInfo's P), scaled along with K

    @classmethod
    def from_calibration(
        cls,
        width: int,
        height: int,
        k,
        d,
        model: str,
        r=None,
        p=None,
        binning: tuple[int, int] = (0, 0),
        roi: tuple[int, int, int, int] = (0, 0, 0, 0),
    ) -> Camera:
        """The camera of the delivered images from CameraInfo's fields; `roi` is (x_offset,
        y_offset, width, height), all 0 for the full image; binning 0 or 1 means none.
        Raises `CalibrationError` naming what is wrong."""
        k = np.asarray(k, np.float64).reshape(3, 3)
        d = np.asarray(d, np.float64).reshape(-1)
        r = np.eye(3) if r is None or not np.any(r) else np.asarray(r, np.float64).reshape(3, 3)
        p = k @ np.eye(3, 4) if p is None or not np.any(p) else np.asarray(p, np.float64)
        _check_calibration(width, height, k, d, model)
        bx, by = (max(1, int(b)) for b in binning)
        x0, y0, roi_w, roi_h = (int(v) for v in roi)
        full_w, full_h = (roi_w, roi_h) if roi_w and roi_h else (width, height)
        # delivered pixel (centre convention) = (full-resolution pixel - offset) / binning
        pixels = np.array([[1 / bx, 0, -x0 / bx], [0, 1 / by, -y0 / by], [0, 0, 1]])
        model = model or PLUMB_BOB
        p = pixels @ p.reshape(3, 4)
        return cls(full_w // bx, full_h // by, pixels @ k, d, model, r, p)

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    def scaled(self, width: int, height: int) -> Camera:
        """The camera of these images resized to `width` x `height` (the map's size)."""
        if (width, height) == self.size:
            return self
        sx, sy = width / self.width, height / self.height
        # continuous coordinates scale by s: pixel centres (c + 0.5) * s - 0.5
        resize = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])
        k, p = resize @ self.k, resize @ self.p
        return Camera(width, height, k, self.d, self.model, self.r, p)

    def bearings(self, points: np.ndarray) -> np.ndarray:
        """(n, 3) float64 unit vectors towards the (n, 2) image points (continuous coordinates)."""
        pixels = np.asarray(points, np.float64).reshape(-1, 1, 2) - 0.5
        if len(pixels) == 0:
            return np.zeros((0, 3))
        if not np.any(self.d):
            normal = (pixels.reshape(-1, 2) - self.k[:2, 2]) / np.diag(self.k)[:2]
        elif self.model == EQUIDISTANT:
            normal = cv2.fisheye.undistortPoints(
                pixels, self.k, self.d, criteria=UNDISTORT_CRITERIA
            ).reshape(-1, 2)
        else:
            normal = cv2.undistortPoints(
                pixels, self.k, self.d, criteria=UNDISTORT_CRITERIA
            ).reshape(-1, 2)
        rays = np.concatenate([normal, np.ones((len(normal), 1))], axis=1)
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def plane_points(self, points: np.ndarray, depth: float) -> np.ndarray:
        """(n, 3) points where the rays through the image points meet the plane z = depth."""
        rays = self.bearings(points)
        return rays * (depth / rays[:, 2:3])

    def pixel_angle(self) -> float:
        """The angle one pixel spans at the image centre, in radians (for line widths)."""
        return 1.0 / float(min(self.k[0, 0], self.k[1, 1]))


def _check_calibration(width: int, height: int, k: np.ndarray, d: np.ndarray, model: str) -> None:
    if width <= 0 or height <= 0:
        raise CalibrationError(f"image size {width}x{height} is empty")
    fx, fy = k[0, 0], k[1, 1]
    if not (np.all(np.isfinite(k)) and fx > 0 and fy > 0 and k[2, 2] == 1.0):
        raise CalibrationError(
            f"K has fx={fx:g}, fy={fy:g}, K[2][2]={k[2, 2]:g}: the camera is not calibrated "
            "(a driver without a calibration file publishes zeros); calibrate it with "
            "camera_calibration, or remove the camera_info publisher"
        )
    model = model or PLUMB_BOB
    if model not in COEFFICIENTS:
        raise CalibrationError(
            f"distortion model {model!r} is not supported (use one of {sorted(COEFFICIENTS)})"
        )
    if len(d) and len(d) not in COEFFICIENTS[model]:
        raise CalibrationError(
            f"{model} takes {' or '.join(map(str, COEFFICIENTS[model]))} distortion "
            f"coefficients, D has {len(d)}"
        )
    if not np.all(np.isfinite(d)):
        raise CalibrationError(f"D has a non-finite coefficient: {d.tolist()}")


def add_bearings(regions: np.ndarray, camera: Camera) -> np.ndarray:
    """Fill each region's `bearing_*` fields (REGION_DTYPE, in place) from its centroid."""
    if len(regions):
        columns = float_columns(regions)
        columns[:, BEARING] = camera.bearings(columns[:, CENTROID])
    return regions
