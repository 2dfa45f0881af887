"""The camera's own motion between two frames, and the previous frame aligned to the current.

A drone camera drifts, rotates and zooms, so a plain frame difference lights up every edge
of the ground. Over flat ground (or a distant scene) the camera's motion between two frames
is a homography. `estimate_homography` fits one to corners tracked from the previous frame
to the current one: Shi-Tomasi corners (at most `MAX_CORNERS`), pyramidal Lucas-Kanade,
RANSAC. `warp_previous` puts the previous frame in the current one's pixel grid, and
`aligned_difference` is what is left after that: the independent motion of vehicles, people
and boats (a cheap temporal saliency map, and the baseline a model must beat).

Everything runs on a small grey copy (`WORK_WIDTH` px wide; `small_grey`), so the cost is
set by that copy, not by the camera (a stream that keeps the previous copy makes one per
frame); `python -m skd_ros.motion` measures it. The work is
bounded: a fixed corner cap, a fixed RANSAC iteration cap, and the identity (with the
reason) whenever the estimate is missing or implausible (flat or dark frames, a cut, too
few inliers).
`scale_homography` moves a matrix between pixel grids (e.g. to a model's 64x64 input).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WORK_WIDTH = 320  # px: the small grey copy the estimate runs on
MAX_CORNERS = 200  # corner cap: bounds the tracking and RANSAC work per pair
MIN_INLIERS = 12  # fewer RANSAC inliers than this: no trustworthy homography
RANSAC_PX = 1.5  # reprojection tolerance on the small copy
RANSAC_ITERATIONS = 500
MAX_SCALE_CHANGE = 1.5  # between consecutive frames; more is a cut or a bad fit
MAX_SHIFT = 0.5  # of the frame's width/height, for the same reason
DIFFERENCE_FLOOR = 12.0  # grey levels: a difference map is divided by max(this, its maximum)


@dataclass(frozen=True)
class Tracking:
    """How corners are found and tracked for one image size (defaults: the small copy)."""

    max_corners: int = MAX_CORNERS
    min_distance: int = 7  # px between corners
    block: int = 7  # corner detector window, px
    window: int = 15  # Lucas-Kanade window, px
    levels: int = 2  # pyramid levels above the image
    min_inliers: int = MIN_INLIERS
    ransac_px: float = RANSAC_PX
    ransac_iterations: int = RANSAC_ITERATIONS


SMALL_COPY = Tracking()


@dataclass(frozen=True)
class EgoMotion:
    """A homography from previous-frame pixels to current-frame pixels, and how it was got."""

    matrix: np.ndarray  # (3, 3) float64; the identity when `fallback` is set
    tracked: int  # corners tracked from the previous frame into the current one
    inliers: int  # of those, consistent with `matrix` (RANSAC)
    fallback: str | None = None  # why the identity is used; None when estimated


def small_grey(image: np.ndarray, width: int = WORK_WIDTH) -> np.ndarray:
    """A grey uint8 copy of a BGR or grey frame, shrunk to `width` px wide (never enlarged).

    Shrinks first, so the colour conversion touches only the small copy; like the model's
    reduction R (`skd_ros.reduction`), a large frame is resampled bilinearly to twice the
    target and then averaged 2x2, a third of the cost of an exact area average.
    """
    height, current = image.shape[:2]
    if current > width:
        size = (width, max(1, round(height * width / current)))
        if current > 2 * width:
            double = (2 * size[0], 2 * size[1])
            image = cv2.resize(image, double, interpolation=cv2.INTER_LINEAR)
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image


def estimate_homography(
    previous_grey: np.ndarray, current_grey: np.ndarray, tracking: Tracking = SMALL_COPY
) -> EgoMotion:
    """The camera's motion between two grey uint8 frames of one size, as a homography.

    Maps pixel (x, y) of `previous_grey` to the current frame's pixel grid. Falls back to
    the identity, saying why in `fallback`, when there are too few corners or inliers or the
    fit is implausible (more than `MAX_SCALE_CHANGE` zoom or `MAX_SHIFT` of the frame).
    `tracking` sizes the corner search and tracking to the image (the small copy by default).
    """
    if previous_grey.shape != current_grey.shape or previous_grey.ndim != 2:
        raise ValueError(
            f"expected two grey frames of one size, got {previous_grey.shape} and "
            f"{current_grey.shape}; make them with small_grey"
        )
    t = tracking
    corners = cv2.goodFeaturesToTrack(
        previous_grey,
        maxCorners=t.max_corners,
        qualityLevel=0.01,
        minDistance=t.min_distance,
        blockSize=t.block,
    )
    if corners is None or len(corners) < t.min_inliers:
        return _identity(0, 0, "too few corners (a flat or dark frame)")
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        previous_grey, current_grey, corners, None, winSize=(t.window, t.window), maxLevel=t.levels
    )
    found = status.ravel() == 1
    source, target = corners[found], moved[found]
    if len(source) < t.min_inliers:
        return _identity(len(source), 0, "too few corners tracked (a cut or a blur)")
    matrix, inlier_mask = cv2.findHomography(
        source, target, cv2.RANSAC, t.ransac_px, maxIters=t.ransac_iterations, confidence=0.995
    )
    inliers = 0 if inlier_mask is None else int(inlier_mask.sum())
    if matrix is None or inliers < t.min_inliers:
        return _identity(len(source), inliers, "too few corners agree on one motion")
    reason = _implausible(matrix, previous_grey.shape)
    if reason:
        return _identity(len(source), inliers, reason)
    return EgoMotion(matrix / matrix[2, 2], len(source), inliers)


def _identity(tracked: int, inliers: int, reason: str) -> EgoMotion:
    return EgoMotion(np.eye(3), tracked, inliers, reason)


def _implausible(matrix: np.ndarray, shape: tuple[int, int]) -> str | None:
    """Why a fitted homography cannot be the camera's frame-to-frame motion, or None."""
    if not np.all(np.isfinite(matrix)) or abs(matrix[2, 2]) < 1e-9:
        return "degenerate fit"
    height, width = shape
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    mapped = cv2.perspectiveTransform(corners[None], matrix)[0]
    area = cv2.contourArea(mapped.astype(np.float32))
    if not 1 / MAX_SCALE_CHANGE**2 <= area / (width * height) <= MAX_SCALE_CHANGE**2:
        return "implausible zoom between consecutive frames"
    shift = np.abs(mapped.mean(axis=0) - corners.mean(axis=0)) / (width, height)
    if np.any(shift > MAX_SHIFT):
        return "implausible shift between consecutive frames"
    return None


def scale_homography(
    matrix: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]
) -> np.ndarray:
    """The same motion in another pixel grid: sizes are (width, height), e.g. the small copy
    to the camera frame, or the camera frame to a model's square input."""
    sx, sy = to_size[0] / from_size[0], to_size[1] / from_size[1]
    scale = np.diag([sx, sy, 1.0])
    return scale @ matrix @ np.diag([1.0 / sx, 1.0 / sy, 1.0])


def warp_previous(previous: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(previous warped into the current frame's grid, bool mask of pixels it covers).

    Pixels the previous frame did not see are 0 in the image and False in the mask; the
    mask is shrunk by 2 px so interpolated border pixels do not count as seen.
    """
    height, width = previous.shape[:2]
    warped = cv2.warpPerspective(
        previous, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=0
    )
    seen = cv2.warpPerspective(
        np.full((height, width), 255, np.uint8), matrix, (width, height), flags=cv2.INTER_NEAREST
    )
    seen = cv2.erode(seen, np.ones((5, 5), np.uint8))
    return warped, seen > 0


def aligned_difference(
    previous: np.ndarray, current: np.ndarray, width: int = WORK_WIDTH
) -> np.ndarray:
    """Motion the camera does not explain: |current - previous aligned to it|, blurred.

    BGR or grey frames of one size in; a float32 map in [0, 1] at the small copy's size out
    (`width` px wide). Divided by its maximum, or by `DIFFERENCE_FLOOR` grey levels when the
    largest difference is smaller, so a still scene gives a dim map instead of amplified
    noise. A video's first frame (`previous is current`) gives all zeros.
    """
    now = small_grey(current, width)
    if previous is current:
        return np.zeros(now.shape, np.float32)
    if previous.shape != current.shape:
        raise ValueError(f"frames of different sizes: {previous.shape} and {current.shape}")
    before = small_grey(previous, width)
    warped, seen = warp_previous(before, estimate_homography(before, now).matrix)
    difference = cv2.absdiff(now, warped).astype(np.float32)
    difference[~seen] = 0.0
    difference = cv2.GaussianBlur(difference, (0, 0), max(1.0, now.shape[1] / 160.0))
    return np.clip(difference / max(float(difference.max()), DIFFERENCE_FLOOR), 0.0, 1.0)


def _measure_cost() -> None:
    """Print the cost of the homography and the aligned difference on 1280x720 frame pairs."""
    import time

    from skd_ros.data.synthetic import ClipSpec, generate_clip

    cv2.setNumThreads(1)
    frames = [f.image for f in generate_clip(ClipSpec(3, "Vehicle", 12, 1280, 720))]
    pairs = list(zip(frames[:-1], frames[1:], strict=True))
    greys = [(small_grey(a), small_grey(b)) for a, b in pairs]
    for label, call in (
        ("small_grey of one 1280x720 frame", lambda a, b: small_grey(b)),
        ("estimate_homography of the small copies", None),
        ("aligned_difference of a 1280x720 pair (both copies made)", aligned_difference),
    ):
        repeats, start = 0, time.perf_counter()
        while time.perf_counter() - start < 2.0:
            for index, (a, b) in enumerate(pairs):
                call(a, b) if call else estimate_homography(*greys[index])
                repeats += 1
        cost = (time.perf_counter() - start) / repeats * 1e3
        print(f"{label}: {cost:.2f} ms per pair")
    fallbacks = [estimate_homography(*g).fallback for g in greys]
    print(f"fallbacks to the identity: {sum(f is not None for f in fallbacks)} of {len(greys)}")


if __name__ == "__main__":
    _measure_cost()
