"""Teachers that need no training: OpenCV static saliency and ego-motion-compensated flow.

- `spectral-residual` (spatial): OpenCV's spectral residual static saliency (Hou & Zhang).
  It works on a 64x64 grey image inside, so the frame is first shrunk to 320 px wide to
  spare OpenCV the full-resolution conversion; the map is 320 px wide.
- `fine-grained` (spatial): OpenCV's fine-grained static saliency (Montabone & Soto,
  centre-surround differences on an integral image). It costs about 100 ms on a 720p
  frame at full resolution, so it runs on the frame shrunk to 320 px wide (about 6 ms);
  the map is 320 px wide.
- `flow` (temporal): the expensive motion cue the temporal student learns to replace.
  DIS optical flow (OpenCV, medium preset) from the current frame to the previous one at
  up to 1280 px wide: a 720p frame keeps its full resolution, where a person is a few
  pixels across (about 90 ms per 720p frame on one core; larger frames are shrunk to 1280
  px wide, `width=640` costs about 24 ms).
  The camera's own motion is a homography fitted with RANSAC to the flow on an 8-px grid
  (drift, rotation and zoom of a downward-looking camera over flat ground); what is left
  after subtracting it is the independent motion of vehicles, people and boats, plus the
  parallax of trees, roofs and posts, which a moving camera sees move against the ground:
  `independent_motion` removes what such static structure can explain (the residual along
  the line to the epipole, up to `parallax` x the camera's own motion there). Its
  magnitude is weighted by a texture confidence E / (E + k), E the local mean squared
  grey-level gradient (Sobel, sigma 2 px), because DIS invents motion on uniform fields and
  water; measured on the synthetic clips, this weighting raises the map's correlation with
  the ground truth from about 0.1 to 0.5 for vehicles. The result is smoothed (Gaussian,
  sigma 1/160 of the width), pixels that were outside the previous view are zeroed, and
  it is divided by its maximum, or by `min_motion` (0.5 px at 640 px wide, in proportion
  at other working widths) when the scene moves less than that, so a static scene gives a dim map
  instead of amplified noise. For a video's first frame (previous is current) the map is
  all zeros.

All maps are float32 in [0, 1]; the shrinking is each teacher's own working resolution,
not the students' reduction R (the cache applies R to the maps).
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from skd_ros.teachers.base import min_max, resize_width

STATIC_WIDTH = 320
FLOW_WIDTH = 1280
MOTION_REFERENCE_WIDTH = 640  # min_motion is in pixels at this width
MIN_PARALLAX_POINTS = 30  # grid points with small residual needed to look for an epipole
EPIPOLE_TRIALS = 200  # RANSAC pairs of residual lines
EPIPOLE_SINE = 0.26  # a residual points at the epipole within 15 degrees
EPIPOLE_SHARE = 0.5  # of those points, at least this share must agree on one epipole


class _PerThread(threading.local):
    """OpenCV algorithm objects keep buffers: one instance per thread."""

    def __init__(self, factory) -> None:
        self.algorithm = factory()


def _saliency_factory(name: str):
    """cv2.saliency.<name>, or a clear error when this OpenCV build lacks the contrib module."""
    module = getattr(cv2, "saliency", None)
    if module is None:
        raise RuntimeError(
            f"OpenCV {cv2.__version__} has no saliency module (an opencv-contrib build has it):"
            " pip install opencv-contrib-python-headless, or use the flow or deep teachers"
        )
    return getattr(module, name)


class StaticSaliencyTeacher:
    """OpenCV static saliency (spectral residual or fine-grained) on a shrunk frame."""

    kind = "spatial"
    FACTORIES = {  # looked up in cv2.saliency, which only opencv-contrib builds have
        "spectral-residual": "StaticSaliencySpectralResidual_create",
        "fine-grained": "StaticSaliencyFineGrained_create",
    }

    def __init__(self, name: str = "spectral-residual", width: int = STATIC_WIDTH) -> None:
        if name not in self.FACTORIES:
            raise ValueError(
                f"unknown static saliency {name!r}; choose one of {list(self.FACTORIES)}"
            )
        self.name, self.width = name, int(width)
        self.identity = f"opencv-{cv2.__version__}-w{self.width}"
        self._local = _PerThread(_saliency_factory(self.FACTORIES[name]))

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        small = resize_width(current, self.width)
        ok, saliency = self._local.algorithm.computeSaliency(small)
        if not ok or saliency is None:
            return np.zeros(small.shape[:2], np.float32)
        return min_max(saliency)


class FlowTeacher:
    """Residual motion after removing the camera's global motion (see the module docstring)."""

    name = "flow"
    kind = "temporal"

    def __init__(
        self,
        width: int = FLOW_WIDTH,
        grid: int = 8,
        ransac_px: float = 1.0,
        texture_k: float = 1e5,
        min_motion: float = 0.5,
        parallax: float = 0.35,
    ) -> None:
        self.width, self.grid, self.ransac_px = int(width), int(grid), float(ransac_px)
        self.texture_k, self.min_motion = float(texture_k), float(min_motion)
        self.parallax = float(parallax)
        self.identity = (
            f"dis-medium-opencv-{cv2.__version__}-w{self.width}-g{self.grid}"
            f"-r{self.ransac_px}-k{self.texture_k}-m{self.min_motion}"
        ) + (f"-p{self.parallax}" if self.parallax else "")
        self._local = _PerThread(
            lambda: cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        )

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        now = _grey(resize_width(current, self.width))
        if previous is current or previous.shape != current.shape:
            return np.zeros(now.shape, np.float32)
        before = _grey(resize_width(previous, self.width))
        flow = self._local.algorithm.calc(now, before, None)  # now(x) ~ before(x + flow(x))
        camera = self.camera_motion(flow)
        motion = self.independent_motion(flow - camera, camera)
        motion *= self.texture_confidence(now)
        sigma = max(1.0, now.shape[1] / 160.0)
        motion = cv2.GaussianBlur(motion, (0, 0), sigma)
        height, width = now.shape
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        target_x, target_y = xs + camera[..., 0], ys + camera[..., 1]
        outside = (target_x < 0) | (target_y < 0) | (target_x > width - 1) | (target_y > height - 1)
        motion[outside] = 0.0
        scale = max(float(motion.max()), self.min_motion * width / MOTION_REFERENCE_WIDTH)
        return np.clip(motion / scale, 0.0, 1.0).astype(np.float32)

    def texture_confidence(self, grey: np.ndarray) -> np.ndarray:
        """E / (E + k) in [0, 1): E the local mean squared gradient; ~0 where flow is guesswork."""
        image = grey.astype(np.float32)
        gx = cv2.Sobel(image, cv2.CV_32F, 1, 0)
        gy = cv2.Sobel(image, cv2.CV_32F, 0, 1)
        energy = cv2.GaussianBlur(gx * gx + gy * gy, (0, 0), 2.0)
        return energy / (energy + np.float32(self.texture_k))

    def independent_motion(self, residual: np.ndarray, camera: np.ndarray) -> np.ndarray:
        """The part of the residual flow that static structure cannot explain.

        After the ground's homography, a static tree, roof or post still moves: parallax,
        along the line through its pixel and the epipole (where the other frame's camera
        centre projects), and at most a fraction of the camera's own image motion there
        (`parallax`: as tall as that fraction of the camera's height). What is kept is the
        residual across that line, and along it only beyond that fraction. A still camera
        makes no parallax (nothing is removed); without a clear epipole (most residuals
        not on one pencil of lines) the whole residual is kept, as with `parallax=0`.
        """
        magnitude = np.sqrt(residual[..., 0] ** 2 + residual[..., 1] ** 2)
        if not self.parallax:
            return magnitude
        allowed = self.parallax * np.sqrt(camera[..., 0] ** 2 + camera[..., 1] ** 2)
        epipole = self.epipole(residual, magnitude, allowed)
        if epipole is None:
            return magnitude
        height, width = magnitude.shape
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        dx = np.float32(epipole[0]) - xs * np.float32(epipole[2])
        dy = np.float32(epipole[1]) - ys * np.float32(epipole[2])
        norm = np.sqrt(dx * dx + dy * dy) + np.float32(1e-6)
        along = np.abs(residual[..., 0] * dx + residual[..., 1] * dy) / norm
        across = np.abs(residual[..., 0] * dy - residual[..., 1] * dx) / norm
        excess = np.maximum(along - allowed, 0.0)
        return np.sqrt(across * across + excess * excess)

    def epipole(self, residual, magnitude, allowed) -> np.ndarray | None:
        """Homogeneous epipole (x, y, w) on which most small residuals' lines meet (RANSAC,
        seeded: the same frames give the same map), or None."""
        step = self.grid
        grid = np.s_[step // 2 :: step, step // 2 :: step]
        ys, xs = np.mgrid[0 : magnitude.shape[0], 0 : magnitude.shape[1]]
        floor = 0.3 * magnitude.shape[1] / MOTION_REFERENCE_WIDTH
        small = (magnitude[grid] > floor) & (magnitude[grid] <= 1.5 * allowed[grid])
        if small.sum() < MIN_PARALLAX_POINTS:
            return None
        points = np.stack([xs[grid][small], ys[grid][small]], axis=1).astype(np.float64)
        vectors = residual[grid][small].astype(np.float64)
        ones = np.ones((len(points), 1))
        lines = np.cross(np.hstack([points, ones]), np.hstack([points + vectors, ones]))
        rng = np.random.default_rng(0)
        best, support = None, 0
        for first, second in rng.integers(0, len(points), (EPIPOLE_TRIALS, 2)):
            candidate = np.cross(lines[first], lines[second])
            if not np.linalg.norm(candidate) > 1e-9:
                continue
            candidate /= np.linalg.norm(candidate)
            toward = candidate[:2] - points * candidate[2]
            cross = np.abs(vectors[:, 0] * toward[:, 1] - vectors[:, 1] * toward[:, 0])
            scale = np.linalg.norm(vectors, axis=1) * np.linalg.norm(toward, axis=1) + 1e-12
            count = int((cross / scale < EPIPOLE_SINE).sum())
            if count > support:
                best, support = candidate, count
        return best if support >= EPIPOLE_SHARE * len(points) else None

    def camera_motion(self, flow: np.ndarray) -> np.ndarray:
        """The flow field of the best-fitting homography (RANSAC) on a grid of flow vectors.

        Falls back to the median translation when no homography can be fitted.
        """
        height, width = flow.shape[:2]
        step = self.grid
        ys, xs = np.mgrid[step // 2 : height : step, step // 2 : width : step]
        source = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
        target = source + flow[ys.ravel(), xs.ravel()]
        homography = None
        if len(source) >= 8:
            homography, _ = cv2.findHomography(
                source, target, cv2.RANSAC, self.ransac_px, maxIters=500, confidence=0.99
            )
        if homography is None:
            median = np.median(flow.reshape(-1, 2), axis=0).astype(np.float32)
            return np.broadcast_to(median, flow.shape).copy()
        grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
        points = np.stack([grid_x, grid_y], axis=-1).reshape(-1, 1, 2)
        mapped = cv2.perspectiveTransform(points, homography).reshape(height, width, 2)
        return mapped - np.stack([grid_x, grid_y], axis=-1)


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def classical_teacher(name: str, **options):
    """Build a classical teacher by name: 'spectral-residual', 'fine-grained' or 'flow'."""
    if name == "flow":
        return FlowTeacher(**options)
    return StaticSaliencyTeacher(name, **options)


CLASSICAL_NAMES = ("spectral-residual", "fine-grained", "flow")
