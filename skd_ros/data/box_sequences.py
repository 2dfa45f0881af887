"""Box-annotated sequences: a frame folder or a video file, plus one box file.

`open_sequence` pairs the frames with a box file (`skd_ros.data.boxes`) and refuses a pair
that cannot belong together: a single-object file whose line count is not the frame count,
or a MOT file naming a frame the video does not have. `find_sequences` finds them in a
folder laid out like UAV123 / OTB: `<name>.txt` next to a frame folder `<name>/` or a video
`<name>.mp4` (any of `VIDEO_SUFFIXES`). Frames are read in order as (H, W, 3) uint8 BGR; an
undecodable frame of a folder is logged and skipped (its index is kept, so the boxes stay
in step); a video ends at its first frame that does not decode.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from skd_ros.data.boxes import MAX_FRAMES, BoxTrack, read_boxes
from skd_ros.data.layout import MAX_SIDE
from skd_ros.data.video import LayoutError, as_bgr8, image_files, read_frame

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")


@dataclass(frozen=True)
class FrameSource:
    """A frame folder or a video file, read in order."""

    path: Path
    files: tuple[Path, ...] | None  # a folder's frames in order; None for a video
    count: int  # a folder's file count; a video's own count (0: it does not say)
    fps: float  # a video's frame rate; 0.0 when unknown (frame folders)

    def frames(self, limit: int = MAX_FRAMES) -> Iterator[tuple[int, np.ndarray]]:
        """(index, BGR frame) in order, at most `limit` frames; see the module docstring."""
        if self.files is None:
            yield from _video_frames(self.path, limit)
            return
        for index, path in enumerate(self.files[:limit]):
            image = read_frame(path)
            if image is not None:
                yield index, image


def frame_source(path: Path | str) -> FrameSource:
    """The frames of a folder of images or of a video file (checked to be readable)."""
    path = Path(path)
    if path.is_dir():
        files = tuple(image_files(path))
        if not files:
            raise LayoutError(f"{path} holds no frames (.png/.jpg)")
        return FrameSource(path, files, len(files), 0.0)
    if not path.is_file():
        raise LayoutError(f"{path}: no such frame folder or video file")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise LayoutError(f"{path}: OpenCV cannot open it as a video")
        count = int(max(0.0, capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        return FrameSource(path, None, count, float(max(0.0, capture.get(cv2.CAP_PROP_FPS))))
    finally:
        capture.release()


@dataclass(frozen=True)
class BoxSequence:
    """Frames of one clip and the boxes of its target(s)."""

    name: str
    source: FrameSource
    boxes: BoxTrack

    def frames(self, limit: int = MAX_FRAMES) -> Iterator[tuple[int, np.ndarray]]:
        """(index, BGR frame) in order, at most `limit` frames."""
        return self.source.frames(limit)


def open_sequence(frames: Path | str, boxes: Path | str, box_format: str = "auto") -> BoxSequence:
    """A frame folder or video file with its box file, checked to belong together."""
    source, track = frame_source(frames), read_boxes(boxes, box_format)
    name = source.path.name if source.files is not None else source.path.stem
    _check_counts(source, track)
    return BoxSequence(name, source, track)


def _check_counts(source: FrameSource, track: BoxTrack) -> None:
    count = source.count
    if count == 0:
        return
    if track.format == "single" and len(track) != count:
        raise LayoutError(
            f"{track.path} has {len(track)} lines but {source.path} has {count} frames; "
            "a one-box-per-line file needs one line per frame (NaN,NaN,NaN,NaN where the "
            "target is not visible)"
        )
    if track.format == "mot" and len(track) > count:
        raise LayoutError(
            f"{track.path} has boxes for frame {len(track)} but {source.path} has "
            f"{count} frames; is it the box file of another clip?"
        )


def _video_frames(path: Path, limit: int) -> Iterator[tuple[int, np.ndarray]]:
    capture = cv2.VideoCapture(str(path))
    try:
        for index in range(limit):
            ok, image = capture.read()
            if not ok or image is None:
                return
            if max(image.shape[:2]) > MAX_SIDE:
                raise LayoutError(
                    f"{path}: frames of {image.shape[1]}x{image.shape[0]} px; "
                    f"at most {MAX_SIDE} px a side"
                )
            yield index, as_bgr8(image)
    finally:
        capture.release()


def find_sequences(root: Path | str) -> list[tuple[Path, Path]]:
    """(frames, box file) pairs under `root`: every `<name>.txt` with a frame folder or video
    of the same name beside it, sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root} does not exist or is not a folder")
    pairs = []
    for box_file in sorted(root.rglob("*.txt")):
        folder = box_file.with_suffix("")
        if folder.is_dir():
            pairs.append((folder, box_file))
            continue
        videos = [box_file.with_suffix(s) for s in VIDEO_SUFFIXES]
        pairs += [(video, box_file) for video in videos if video.is_file()][:1]
    return pairs
