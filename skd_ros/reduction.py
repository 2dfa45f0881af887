"""Resolution reduction R (docs/method.md): the one function that makes a model's input.

Training reduces frames and ground-truth maps with it and the node reduces camera frames
with it, so a model sees at run time exactly what it saw in training.

R is area averaging to a `size` x `size` square (any aspect ratio is squeezed, not cropped).
An exact `cv2.INTER_AREA` from 1280x720 costs more than Sst itself, and grows with the camera
resolution. R instead resamples bilinearly to an intermediate grid of k*size squares (a cost
set by `size`, not by the camera) and then averages each k x k block exactly, which OpenCV does
on a fast integer-factor path. With the intermediate side near 384 px the result stays within a
few grey levels of the exact area average on real imagery at a fraction of the cost (`python -m
skd_ros.reduction` measures both).
"""

from __future__ import annotations

import cv2
import numpy as np

# Side of the intermediate grid; larger is closer to the exact area average and slower.
INTERMEDIATE_SIDE = 384


def reduce_resolution(image: np.ndarray, size: int) -> np.ndarray:
    """Reduce an image or map (H, W) or (H, W, C) to (size, size[, C]) by area averaging.

    Keeps the dtype. A source already at or below `size` on a side is resized directly.
    """
    _check_image(image, size)
    height, width = image.shape[:2]
    factor = _block_factor(min(height, width), size)
    if factor == 1:
        interpolation = cv2.INTER_AREA if min(height, width) > size else cv2.INTER_LINEAR
        return cv2.resize(image, (size, size), interpolation=interpolation)
    grid = cv2.resize(image, (size * factor, size * factor), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_AREA)


def _block_factor(short_side: int, size: int) -> int:
    """Block side k of the intermediate grid: at most the source allows, about 384/size."""
    return max(1, min(short_side // size, max(2, INTERMEDIATE_SIDE // size)))


def _check_image(image: np.ndarray, size: int) -> None:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(image).__name__}")
    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"expected a non-empty (H, W) or (H, W, C) image, got shape {image.shape}")
    if size < 1:
        raise ValueError(f"target size must be positive, got {size}")


def _time_ms(fn, repeats: int = 200) -> float:
    import time

    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e3


def _measure() -> None:
    """Print R's cost and error against exact INTER_AREA on a textured 720p frame."""
    from functools import partial

    from skd_ros.markdown import table

    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    noise = (rng.random((720, 1280, 3)) * 255).astype(np.uint8)
    frame = cv2.GaussianBlur(noise, (0, 0), 1.5)
    rows = []
    for size in (32, 64, 128, 256):
        exact = partial(cv2.resize, frame, (size, size), interpolation=cv2.INTER_AREA)
        ours = partial(reduce_resolution, frame, size)
        rms = float(np.sqrt(np.mean((exact().astype(float) - ours()) ** 2)))
        rows.append([size, f"{_time_ms(ours):.3f}", f"{_time_ms(exact):.3f}", f"{rms:.2f}"])
    header = ["size", "R ms", "INTER_AREA ms", "RMS difference (grey levels)"]
    print(table(header, rows, "rrrr"))


if __name__ == "__main__":
    _measure()
