"""The common interface of every data source: a video is an ordered stream of samples.

A `Video` (AVS1K folder, DHF1K-style frame folder, rosbag2 topic) yields `Sample`s in
temporal order: the full-resolution BGR frame, its ground-truth map and fixation map when
the source has them. Frames that cannot be decoded are logged with their path and skipped
together with their map, never silently replaced. `source_id` is a stable string that
changes whenever the video's content may have changed (paths, sizes and modification
times of its files, or bag path + topic + stride); the cache keys on it.

This module also holds what the file-based sources share: natural sorting of frame files,
reading frames and maps, the category rule of the per-category reports, and `LayoutError`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from skd_ros.data.layout import CATEGORIES
from skd_ros.images import MalformedImage
from skd_ros.images.headers import JPEG_SOI, PNG_SIGNATURE, check_declared
from skd_ros.images.messages import as_bgr8

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
CATEGORY_FILES = ("categories.json", "categories.txt")
_LETTERS = {name[0].lower(): name for name in CATEGORIES}
_WORDS = {name.lower(): name for name in CATEGORIES} | {"other": "Others"}


class LayoutError(ValueError):
    """A dataset folder does not have the expected layout; the message names the path."""


@dataclass(frozen=True)
class Sample:
    """One frame of a video, at full resolution."""

    index: int  # position of the frame in its video's source order (skipped frames count)
    image: np.ndarray  # (H, W, 3) uint8 BGR
    saliency: np.ndarray | None  # (H, W) float32 in [0, 1]; None when unlabelled
    fixations: np.ndarray | None  # (H, W) bool; None when the source has no fixation maps
    stamp_ns: int | None = None  # capture time (bags), None for files
    name: str = ""  # file stem of the frame ("Vehicle_0007_00001"); "00001" style for bags


@runtime_checkable
class Video(Protocol):
    """An ordered stream of frames from one source."""

    name: str
    category: str | None
    labelled: bool
    source_id: str

    def __len__(self) -> int:
        """Frames in the source (before any corrupt frame is skipped)."""
        ...

    def samples(self) -> Iterator[Sample]:
        """Frames in temporal order; corrupt frames are logged and skipped."""
        ...


# Smallest frame side to train on: the flow teacher's optical flow needs more than 8
# pixels a side, and smaller frames carry no usable saliency at any model resolution.
MIN_FRAME_SIDE = 32


def check_frame_size(video: Video, sample: Sample) -> None:
    """Refuse (LayoutError naming the file or bag topic) a frame too small to train on."""
    height, width = sample.image.shape[:2]
    if min(height, width) < MIN_FRAME_SIDE:
        raise LayoutError(
            f"{frame_location(video, sample.index)} is {width}x{height} pixels; frames must be "
            f"at least {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE} to train on or be scored (record at "
            "the camera's resolution, or leave this video out)"
        )


def frame_location(video: object, index: int) -> str:
    """Where frame `index` of `video` is: its file, or its bag, topic and position."""
    frames = getattr(video, "frames", None)
    if isinstance(frames, list) and 0 <= index < len(frames):
        return f"frame {frames[index]}"
    bag = getattr(video, "bag", None)
    if bag is not None:
        return f"frame {index} of topic {getattr(video, 'topic', '?')} in bag {bag}"
    return f"frame {index} of video {getattr(video, 'name', '?')}"


def natural_key(path: Path | str) -> list:
    """Sort key comparing digit runs as numbers: 'f2.png' < 'f10.png'."""
    name = Path(path).name
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def image_files(folder: Path) -> list[Path]:
    """Image files directly in `folder`, in natural order (hidden files ignored)."""
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
        ),
        key=natural_key,
    )


def subfolders(folder: Path) -> list[Path]:
    """Visible sub-folders of `folder` in natural order."""
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=natural_key,
    )


def read_frame(path: Path) -> np.ndarray | None:
    """A frame as (H, W, 3) uint8 BGR, or None (logged) when the file cannot be decoded."""
    image = _imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        return None
    return as_bgr8(image)


def read_map(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    """A ground-truth map as (H, W) float32 in [0, 1] at `shape`, or None when unreadable.

    8- and 16-bit maps are scaled by their type's maximum; colour maps are converted to
    grey. A map of another size than its frame is resized to the frame bilinearly.
    """
    raw = _imread(path, cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH)
    if raw is None:
        return None
    scale = 65535.0 if raw.dtype == np.uint16 else 255.0 if raw.dtype == np.uint8 else 1.0
    saliency = raw.astype(np.float32) / np.float32(scale)
    if saliency.shape != shape:
        saliency = cv2.resize(saliency, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(saliency, 0.0, 1.0)


def read_fixations(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    """A binary fixation map (any non-zero pixel is fixated) as (H, W) bool at `shape`."""
    raw = _imread(path, cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH)
    if raw is None:
        return None
    if raw.shape == shape:
        return raw > 0
    fixations = np.zeros(shape, bool)
    ys, xs = np.nonzero(raw)  # move each fixated pixel, so none is lost by interpolation
    fixations[ys * shape[0] // raw.shape[0], xs * shape[1] // raw.shape[1]] = True
    return fixations


def _imread(path: Path, flags: int) -> np.ndarray | None:
    """Decode an image file; a JPEG or PNG is held to the camera frames' limits first."""
    try:
        data = np.fromfile(str(path), np.uint8)
        if data[:8].tobytes().startswith((JPEG_SOI, PNG_SIGNATURE)):
            check_declared(data.tobytes())
        image = cv2.imdecode(data, flags) if data.size else None
    except (OSError, cv2.error, MalformedImage) as error:
        log.warning("skipping %s: cannot read it (%s)", path, error)
        return None
    if image is None or image.size == 0:
        log.warning("skipping %s: not a decodable image (corrupt or truncated file)", path)
        return None
    return image


def category_from_name(name: str) -> str | None:
    """The AVS1K category a video name encodes, or None.

    Rule (case-insensitive), on the name split into alphabetic tokens at digits and
    separators: a token that is a category word (Building, Human, Vehicle, Others or
    Other) wins; otherwise the first one-letter token B, H, V or O. So 'Vehicle_0007',
    'vehicle-12', 'V012', 'AVS1K_h_003' and 'b17' are recognised, 'bridge_03' is not.
    """
    tokens = [t.lower() for t in re.split(r"[^A-Za-z]+", name) if t]
    for token in tokens:
        if token in _WORDS:
            return _WORDS[token]
    for token in tokens:
        if token in _LETTERS:
            return _LETTERS[token]
    return None


def canonical_category(value: str) -> str:
    """'vehicle', 'V', 'Vehicle' -> 'Vehicle'; other labels are kept as written."""
    key = value.strip().lower()
    return _WORDS.get(key) or _LETTERS.get(key) or value.strip()


def read_category_file(folder: Path) -> dict[str, str]:
    """The explicit video -> category mapping in `folder`, if one exists.

    `categories.json` is an object {"<video>": "<category>"}; `categories.txt` has one
    `<video> <category>` pair per line (separated by spaces, a tab or a comma; '#' starts a
    comment). Categories are normalised like `canonical_category`.
    """
    path = folder / "categories.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise LayoutError(f"{path} is not valid JSON: {error}") from error
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise LayoutError(f'{path}: expected an object {{"<video>": "<category>", ...}}')
        return {str(k): canonical_category(v) for k, v in data.items()}
    path = folder / "categories.txt"
    if not path.is_file():
        return {}
    mapping = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p for p in re.split(r"[\s,]+", line) if p]
        if len(parts) != 2:
            raise LayoutError(f"{path}:{number}: expected '<video> <category>', got {line!r}")
        mapping[parts[0]] = canonical_category(parts[1])
    return mapping


def files_id(kind: str, paths: Sequence[Path]) -> str:
    """Stable identity of a set of files: a hash of their paths, sizes and mtimes."""
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return f"{kind}:{digest.hexdigest()[:24]}"


class FileVideo:
    """A video stored as one image file per frame, with optional maps and fixation maps.

    `maps[i]` and `fixations[i]` belong to `frames[i]` (lists of equal length). A frame,
    map or fixation map that cannot be decoded drops the whole sample with a warning.
    """

    def __init__(
        self,
        name: str,
        frames: list[Path],
        maps: list[Path] | None = None,
        fixations: list[Path] | None = None,
        category: str | None = None,
        kind: str = "files",
    ) -> None:
        self.name, self.category, self.kind = name, category, kind
        self.frames, self.maps, self.fixations = frames, maps, fixations
        self.labelled = maps is not None
        self.has_fixations = fixations is not None

    @cached_property
    def source_id(self) -> str:
        return files_id(self.kind, [*self.frames, *(self.maps or []), *(self.fixations or [])])

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        labels = "labelled" if self.labelled else "unlabelled"
        return f"FileVideo({self.name!r}, {len(self)} frames, {labels}, {self.category})"

    def samples(self) -> Iterator[Sample]:
        for index, path in enumerate(self.frames):
            image = read_frame(path)
            if image is None:
                if self.maps is not None:
                    log.warning("skipping %s with its frame %s", self.maps[index], path)
                continue
            shape = image.shape[:2]
            saliency = fixations = None
            if self.maps is not None:
                saliency = read_map(self.maps[index], shape)
                if saliency is None:
                    log.warning("skipping frame %s: its map could not be read", path)
                    continue
            if self.fixations is not None:
                fixations = read_fixations(self.fixations[index], shape)
                if fixations is None:
                    log.warning("skipping frame %s: its fixation map could not be read", path)
                    continue
            yield Sample(index, image, saliency, fixations, None, path.stem)


def check_counts(frames_dir: Path, frames: list, other_dir: Path, others: list, what: str) -> None:
    """Refuse a frame folder and a map folder with different file counts, or whose files,
    paired by sorted name, disagree on their names (same stem, or at least the same frame
    number: `img_0007.jpg` goes with `0007.png`, not with `0009.png`), naming both."""
    if len(frames) != len(others):
        raise LayoutError(
            f"{frames_dir} has {len(frames)} frames but {other_dir} has {len(others)} {what}; "
            f"expected one {what[:-1]} per frame, paired by sorted name"
        )
    for frame, other in zip(frames, others, strict=True):
        if not _same_frame(Path(frame).stem, Path(other).stem):
            raise LayoutError(
                f"{frame} is paired with {other} (sorted by name), but their names disagree; "
                f"give each frame the {what[:-1]} of the same name or frame number"
            )


def _same_frame(a: str, b: str) -> bool:
    if a == b:
        return True
    numbers_a, numbers_b = re.findall(r"\d+", a), re.findall(r"\d+", b)
    return bool(numbers_a and numbers_b) and int(numbers_a[-1]) == int(numbers_b[-1])
