"""The camera's look: exposure and white balance, vignetting, haze, noise, blur, JPEG."""

from __future__ import annotations

import math

import cv2
import numpy as np

from skd_ros.data.synthetic.camera import MAX_ZOOM, Lens, pose
from skd_ros.data.synthetic.drawing import SHIFT, fixed_point
from skd_ros.data.synthetic.geometry import heading_vector, smoothstep
from skd_ros.data.synthetic.spec import ClipSpec

FINISH_STREAM = 2  # the finish's random stream is default_rng([seed, FINISH_STREAM])


class Finish:
    """The camera's own look, the same for a whole clip: exposure and white balance,
    vignetting, haze that thickens with distance (and hides where an oblique view would
    see past the canvas), sensor noise, motion blur and JPEG artefacts."""

    NOISE_PAD = 16  # px: the noise field is this much larger; each frame takes a window

    def __init__(self, spec: ClipSpec, rng, lens: Lens, reach: float) -> None:
        w, h = spec.width, spec.height
        gain = rng.uniform(0.75, 1.2) * rng.uniform(0.9, 1.1, 3)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        radius2 = ((xs - w / 2) ** 2 + (ys - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
        vignette = 1.0 - rng.uniform(0.0, 0.35) * radius2
        haze = _haze_map(spec, lens, reach, rng.uniform(0.0, 0.3))
        colour = rng.uniform(170, 235) * rng.uniform(0.93, 1.07, 3)
        keep = (1.0 - haze) * vignette
        self.scale = (keep[..., None] * gain.astype(np.float32)).astype(np.float32)
        self.offset = (haze[..., None] * colour.astype(np.float32)).astype(np.float32)
        sigma = rng.uniform(0.0, 5.0) if rng.random() < 0.8 else 0.0
        pad = self.NOISE_PAD
        self.noise = (
            rng.normal(0.0, sigma, (h + pad, w + pad, 3)).astype(np.float32) if sigma else None
        )
        self.blur = _blur_kernel(rng) if rng.random() < 0.35 else None
        self.jpeg = int(rng.integers(35, 91)) if rng.random() < 0.5 else None

    def apply(self, image: np.ndarray, gain: float, rng) -> np.ndarray:
        """The finished frame (a new uint8 BGR image); `gain` is this frame's flicker."""
        if self.blur is not None:
            image = cv2.filter2D(image, -1, self.blur)
        pixels = image.astype(np.float32)
        cv2.multiply(pixels, self.scale, pixels, scale=gain)
        cv2.add(pixels, self.offset, pixels)
        if self.noise is not None:
            dy, dx = (int(v) for v in rng.integers(0, self.NOISE_PAD + 1, 2))
            h, w = image.shape[:2]
            cv2.add(pixels, self.noise[dy : dy + h, dx : dx + w], pixels)
        np.clip(pixels, 0.0, 255.0, out=pixels)
        image = pixels.astype(np.uint8)
        if self.jpeg is not None:
            _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
        return image


def _haze_map(spec: ClipSpec, lens: Lens, reach: float, amount: float) -> np.ndarray:
    """(H, W) float32 haze opacity: `amount` at the image centre's distance, growing with
    the distance along each pixel's ray, and 1 where the ground is farther than `reach`."""
    step = 8
    us, vs = np.meshgrid(
        np.arange(0, spec.width + step, step, dtype=float),
        np.arange(0, spec.height + step, step, dtype=float),
    )
    pixels = np.stack([us.ravel(), vs.ravel()], axis=1)
    ground = lens.ground_points(spec, 1.0 - MAX_ZOOM, pixels)
    _, centre = pose(lens, np.zeros(2), 0.0, 1.0 - MAX_ZOOM)
    depth = np.linalg.norm(np.column_stack([ground, np.zeros(len(ground))]) - centre, axis=1)
    density = -math.log(1.0 - amount) / (lens.focal / (1.0 - MAX_ZOOM))
    haze = 1.0 - np.exp(-density * depth)
    distance = np.linalg.norm(ground, axis=1)
    if distance.max() > reach - 2.0:  # the view sees past the canvas: lose that in haze
        haze = np.maximum(haze, smoothstep(distance, 0.8 * reach, reach - 2.0))
    haze = haze.reshape(us.shape).astype(np.float32)
    big = cv2.resize(haze, (us.shape[1] * step, us.shape[0] * step), cv2.INTER_LINEAR)
    return big[: spec.height, : spec.width]


def _blur_kernel(rng) -> np.ndarray:
    """A short line kernel: the camera moved or shook during the exposure."""
    length = float(rng.uniform(1.5, 5.0))
    size = int(math.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    angle = rng.uniform(0, math.pi)
    half = length / 2 * heading_vector(angle)
    middle = np.array([size // 2, size // 2], float)
    a, b = middle - half, middle + half
    cv2.line(kernel, fixed_point(a), fixed_point(b), 1.0, 1, cv2.LINE_AA, SHIFT)
    return kernel / max(float(kernel.sum()), 1e-6)
