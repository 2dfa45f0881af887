"""Ego-motion compensation of Sst's frame pair: the previous input warped onto the current.

A drone's camera moves, so the raw pair (previous, current) differs along every edge of the
ground and the temporal stream cannot tell a walking person from the passing terrain. A
model exported with `compensation: homography` (its JSON's `model` section) gets instead
the previous input aligned to the current one by the camera's motion, estimated and applied
at model resolution: what then still differs is independent motion (and parallax).

The estimate is `skd_ros.motion.estimate_homography` on the two model inputs' grey copies
(`MODEL_TRACKING`: up to 80 corners, one pyramid level, RANSAC), so it costs a fraction
of a millisecond whatever the camera (`python -m skd_ros.inference.compensation`). Pixels
the previous input did not see are taken from the current one (no motion there). Where no
trustworthy motion is found (a flat frame, a cut, a first frame) the pair is used as it is.

`compensate` is the one function training (`skd_ros.training.batches`), evaluation and the
node (`SaliencyEngine`) build the pair with; `estimate` and `align` are its two halves, for
callers that keep the matrix (training estimates each cached pair once).
"""

from __future__ import annotations

import cv2
import numpy as np

from skd_ros.motion import Tracking, estimate_homography

COMPENSATIONS = ("none", "homography")
MODEL_TRACKING = Tracking(
    max_corners=80,
    min_distance=3,
    block=3,
    window=9,
    levels=1,
    min_inliers=8,
    ransac_px=0.25,
    ransac_iterations=200,
)


def check_compensation(method: object) -> str:
    """`method` if it names a compensation, else a ValueError listing the choices."""
    if method not in COMPENSATIONS:
        raise ValueError(f"compensation={method!r}: choose one of {COMPENSATIONS}")
    return str(method)


def grey_input(frame: np.ndarray) -> np.ndarray:
    """(3, h, w) float RGB model input in [0, 1] -> (h, w) uint8 grey (BT.601 weights)."""
    grey = frame[0] * np.float32(0.299 * 255) + frame[1] * np.float32(0.587 * 255)
    grey += frame[2] * np.float32(0.114 * 255)
    return np.clip(grey + np.float32(0.5), 0, 255).astype(np.uint8)


def estimate(previous: np.ndarray, current: np.ndarray) -> np.ndarray | None:
    """The camera's motion from `previous` to `current` (3, h, w) model inputs as a 3x3
    homography in their pixel grid, or None when there is none to trust (or the same frame)."""
    if previous is current or np.array_equal(previous, current):
        return None
    motion = estimate_homography(grey_input(previous), grey_input(current), MODEL_TRACKING)
    return None if motion.fallback else motion.matrix


def align(previous: np.ndarray, current: np.ndarray, matrix: np.ndarray | None) -> np.ndarray:
    """`previous` (3, h, w) float32 warped by `matrix` onto `current`'s grid; where it did
    not see, `current`'s pixels. `matrix` None: `previous` itself."""
    if matrix is None:
        return previous
    _, height, width = previous.shape
    size, flags = (width, height), cv2.INTER_LINEAR
    planes = np.ascontiguousarray(previous.transpose(1, 2, 0))
    warped = cv2.warpPerspective(planes, matrix, size, flags=flags, borderValue=(0, 0, 0))
    seen = cv2.warpPerspective(np.ones((height, width), np.float32), matrix, size, flags=flags)
    warped += (np.float32(1.0) - seen)[..., None] * current.transpose(1, 2, 0)
    return np.ascontiguousarray(warped.transpose(2, 0, 1), dtype=np.float32)


def compensate(previous: np.ndarray, current: np.ndarray, method: str) -> np.ndarray:
    """The previous input as the model expects it: aligned to `current` when `method` is
    'homography', unchanged when 'none' (see the module docstring)."""
    if method == "none":
        return previous
    if method != "homography":
        check_compensation(method)
    return align(previous, current, estimate(previous, current))


def compensate_batch(previous: np.ndarray, current: np.ndarray, method: str) -> np.ndarray:
    """`compensate` for each pair of (N, 3, h, w) batches."""
    if method == "none":
        return previous
    return np.stack([compensate(p, c, method) for p, c in zip(previous, current, strict=True)])


def _measure_cost() -> None:
    """Print the cost of compensating one 64x64 pair of synthetic drone frames."""
    import time

    from skd_ros.data.synthetic import ClipSpec, generate_clip
    from skd_ros.preprocess import prepare_frame

    cv2.setNumThreads(1)
    frames = [prepare_frame(f.image, 64) for f in generate_clip(ClipSpec(3, "Vehicle", 12))]
    pairs = list(zip(frames[:-1], frames[1:], strict=True))
    repeats, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2.0:
        for previous, current in pairs:
            compensate(previous, current, "homography")
            repeats += 1
    cost = (time.perf_counter() - start) / repeats * 1e3
    found = sum(estimate(p, c) is not None for p, c in pairs)
    print(f"compensate, 64x64 pair: {cost:.3f} ms; motion found in {found} of {len(pairs)} pairs")


if __name__ == "__main__":
    _measure_cost()
