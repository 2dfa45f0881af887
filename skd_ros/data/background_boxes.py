"""Boxes of moving things in a STATIC camera's video, from OpenCV background subtraction.

A fair, documented box source for footage that has none (e.g. OpenCV's `vtest.avi`): a
background model (MOG2 or KNN, shadows detected and dropped), then a morphological opening
(speckle out) and closing (a walker's parts joined), then connected components of at least
`min_area` px. The first `warmup` frames get no boxes (the model is still learning the
background; those frames are then left out of scoring). Only for a camera that does not
move: on a moving camera everything is foreground. Moving things are what the boxes cover,
so motion-based methods are favoured on them by construction; a person standing still
fades into the background and loses the box.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from skd_ros.data.boxes import write_mot
from skd_ros.data.video import LayoutError
from skd_ros.package_files import SOURCE_ROOT

SUBTRACTORS = ("mog2", "knn")
FOREGROUND = 255  # MOG2 and KNN mark shadows 127


@dataclass(frozen=True)
class BackgroundBoxSettings:
    """How foreground becomes boxes (defaults tuned on nothing but common sense)."""

    method: str = "mog2"
    history: int = 300  # frames the background model remembers
    warmup: int = 30  # first frames without boxes
    min_area_fraction: float = 0.0008  # of the frame's area (e.g. 354 px at 768x576)
    close_fraction: float = 1 / 48  # closing kernel side, of the frame's height (12 px at 576)

    def __post_init__(self) -> None:
        if self.method not in SUBTRACTORS:
            raise ValueError(f"method={self.method!r}: choose one of {SUBTRACTORS}")
        if self.history < 1 or self.warmup < 0:
            raise ValueError("history must be >= 1 and warmup >= 0")
        if not 0 < self.min_area_fraction < 1 or not 0 < self.close_fraction < 1:
            raise ValueError("min_area_fraction and close_fraction must lie in (0, 1)")


def _subtractor(settings: BackgroundBoxSettings):
    if settings.method == "knn":
        return cv2.createBackgroundSubtractorKNN(history=settings.history, detectShadows=True)
    return cv2.createBackgroundSubtractorMOG2(history=settings.history, detectShadows=True)


def foreground_boxes(mask: np.ndarray, min_area: int, close: int) -> np.ndarray:
    """(n, 4) x, y, w, h boxes of a foreground mask's cleaned-up connected components."""
    binary = (mask == FOREGROUND).astype(np.uint8)
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close, close))
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, kernel)
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    stats = stats[1:count]
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    return stats[keep, :4].astype(np.float64)


def background_boxes(frames, settings: BackgroundBoxSettings) -> list[np.ndarray]:
    """Boxes per frame for an iterable of (index, BGR frame) in order (frames from 0)."""
    subtractor, boxes = _subtractor(settings), []
    for index, image in frames:
        height, width = image.shape[:2]
        mask = subtractor.apply(image)
        while len(boxes) < index:  # a skipped (undecodable) frame: no boxes
            boxes.append(np.zeros((0, 4)))
        if index < settings.warmup:
            boxes.append(np.zeros((0, 4)))
            continue
        min_area = max(1, round(settings.min_area_fraction * width * height))
        close = max(3, round(settings.close_fraction * height) | 1)
        boxes.append(foreground_boxes(mask, min_area, close))
    return boxes


def refuse_inside_checkout(path: Path) -> None:
    """Refuse to write footage-derived files into the skd_ros source checkout (or the
    folder it is installed in), or through a symbolic link (it could point anywhere)."""
    if Path(path).is_symlink():
        raise LayoutError(f"{path} is a symbolic link; give the output file's real path")
    resolved = Path(path).resolve()
    if resolved.is_relative_to(SOURCE_ROOT):
        raise LayoutError(
            f"{path} lies inside the skd_ros checkout {SOURCE_ROOT}; write boxes derived from "
            "footage outside it (e.g. /tmp/vtest_boxes.txt), so they are never committed"
        )


def write_background_boxes(video, out: Path, settings: BackgroundBoxSettings) -> dict:
    """Run `background_boxes` over a video or frame folder and write a MOT file to `out`."""
    from skd_ros.data.box_sequences import frame_source

    refuse_inside_checkout(out)
    source = frame_source(Path(video))
    boxes = background_boxes(source.frames(), settings)
    if not boxes:
        raise LayoutError(f"{video}: no frame could be read")
    out.parent.mkdir(parents=True, exist_ok=True)
    written = write_mot(out, boxes)
    with_boxes = sum(len(b) > 0 for b in boxes)
    return {"frames": len(boxes), "frames_with_boxes": with_boxes, "boxes": written}
