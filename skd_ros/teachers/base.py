"""What every teacher is: a callable from a (previous, current) frame pair to a saliency map.

Teachers see full-resolution BGR uint8 frames and return an (H', W') float32 map in [0, 1]
at any resolution they like; callers reduce it with R (`skd_ros.reduction`). A spatial
teacher ignores `previous`; for a video's first frame callers pass the frame twice (the
causal pairing of docs/method.md).

Optional members, looked up with `getattr`:

- `identity: str`, what besides `name` makes the teacher's output what it is (e.g. a
  hash of its weights); the cache keys on (name, identity) so new weights are recomputed.
- `set_frame(video: str, frame: str)`: called before each call with the video name and the
  frame's name (`Sample.name`), for teachers that look maps up instead of computing them
  (precomputed maps). It must keep its state per thread: the cache may run videos in
  parallel threads.

Teachers must be safe to call from several threads at once (the cache runs videos in a
small thread pool); keep non-thread-safe OpenCV objects in `threading.local`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import cv2
import numpy as np

Kind = Literal["spatial", "temporal"]
KINDS = ("spatial", "temporal")
DEEP_NAMES = ("deep-spatial", "deep-temporal")  # built-in deep teachers (skd_ros.teachers.deep)


@runtime_checkable
class Teacher(Protocol):
    """A spatial (one frame) or temporal (frame pair) saliency model."""

    name: str
    kind: Kind

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """Full-resolution BGR uint8 frames in; (H', W') float32 map in [0, 1] out."""
        ...


def check_kind(kind: str) -> Kind:
    """Refuse a teacher kind other than 'spatial' or 'temporal'."""
    if kind not in KINDS:
        raise ValueError(f"teacher kind {kind!r}: choose one of {KINDS}")
    return kind  # type: ignore[return-value]


def identity(teacher: Teacher) -> str:
    """The string the cache keys a teacher's maps on: its name plus its `identity`."""
    return f"{teacher.name}|{getattr(teacher, 'identity', '')}"


def min_max(saliency: np.ndarray, axes: tuple[int, ...] | None = None) -> np.ndarray:
    """Scale to [0, 1] per map (over `axes`, default all); a flat map becomes all zeros."""
    saliency = np.asarray(saliency, np.float32)
    low = saliency.min(axis=axes, keepdims=True)
    span = saliency.max(axis=axes, keepdims=True) - low
    safe = np.where(span > 0, span, 1.0)
    return np.where(span > 0, (saliency - low) / safe, 0.0).astype(np.float32)


def fuse(maps: Sequence[np.ndarray]) -> np.ndarray:
    """Teacher fusion: each map min-max normalised to [0, 1], then the mean of them.

    Takes single maps (H, W), possibly of different resolutions (resized bilinearly to the
    first map's shape), or batches (N, H, W) of one shape (normalised per frame). A flat map
    contributes zeros. This is the training target where there is no ground truth (bags);
    normalising first keeps a teacher with a larger output range from dominating.
    """
    if len(maps) == 0:
        raise ValueError("fuse needs at least one map")
    first = np.asarray(maps[0])
    if first.ndim not in (2, 3):
        raise ValueError(f"expected (H, W) or (N, H, W) maps, got shape {first.shape}")
    axes = (-2, -1)
    total = np.zeros(first.shape, np.float32)
    for saliency in maps:
        saliency = np.asarray(saliency, np.float32)
        if saliency.shape != first.shape:
            if saliency.ndim != 2 or first.ndim != 2:
                raise ValueError(
                    f"batches of maps must have one shape; got {first.shape} and {saliency.shape}"
                )
            size = (first.shape[1], first.shape[0])
            saliency = cv2.resize(saliency, size, interpolation=cv2.INTER_LINEAR)
        total += min_max(saliency, axes)
    return total / np.float32(len(maps))


def resize_width(image: np.ndarray, width: int) -> np.ndarray:
    """Shrink an image to `width` px wide (aspect kept) by area averaging; never enlarges.

    This is a teacher's own working resolution, not the students' reduction R.
    """
    height, current = image.shape[:2]
    if current <= width:
        return image
    size = (width, max(1, round(height * width / current)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
