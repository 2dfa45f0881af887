"""Box annotations of a video: the common single-object and MOT text formats.

* single object (UAV123, OTB, LaSOT): line k is frame k, `x,y,w,h` in pixels (top-left
  corner, width, height). A line with NaN in it (`NaN,NaN,NaN,NaN`) or a width or height of
  0 or less (`0,0,0,0`) means the target is not visible in that frame.
* MOT (MOTChallenge): `frame,id,x,y,w,h[,flag,...]`, any number of lines per frame, frames
  numbered from 1; frames without a line have no box. A 7th column of exactly 0 is MOT
  ground truth's "ignore this box" flag, and such boxes are dropped; later columns are not
  read. Boxes with NaN or a width or height of 0 or less are dropped too.

Numbers may be separated by commas, tabs or spaces (or a mix, e.g. `, `); blank lines at the
end of a single-object file and anywhere in a MOT file are skipped. `read_boxes` detects the
format from the first line's field count (4: single object; 6 or more: MOT) unless told.
Anything else is refused with the file's path and line number. Reading is bounded: at most
`MAX_FILE_BYTES` of text, `MAX_FRAMES` frames and `MAX_BOXES_PER_FRAME` boxes per frame.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skd_ros.atomic_write import write_text
from skd_ros.data.video import LayoutError

FORMATS = ("auto", "single", "mot")
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_FRAMES = 1_000_000
MAX_BOXES_PER_FRAME = 10_000
_SEPARATORS = re.compile(r"[,\s]+")


class BoxFileError(LayoutError):
    """A box file that cannot be read as boxes; the message names the path and line."""


@dataclass(frozen=True)
class BoxTrack:
    """The boxes of every frame of one video."""

    path: Path
    format: str  # "single" or "mot"
    frames: list[np.ndarray]  # frame k (0-based): (n, 4) float64 x, y, w, h; n = 0: none

    def __len__(self) -> int:
        return len(self.frames)

    def visible(self, index: int) -> bool:
        """Whether frame `index` has a box (frames past the file's end have none)."""
        return index < len(self.frames) and len(self.frames[index]) > 0


def read_boxes(path: Path | str, format: str = "auto") -> BoxTrack:
    """Parse a single-object or MOT box file (see the module docstring)."""
    path = Path(path)
    if format not in FORMATS:
        raise ValueError(f"box format {format!r}: choose one of {FORMATS}")
    lines = _read_lines(path)
    if format == "auto":
        format = _detect(path, lines)
    frames = _single(path, lines) if format == "single" else _mot(path, lines)
    return BoxTrack(path, format, frames)


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise BoxFileError(f"{path}: no such box file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise BoxFileError(f"{path}: larger than {MAX_FILE_BYTES >> 20} MiB; not a box file?")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise BoxFileError(f"{path}: not a text file ({error})") from None


def _detect(path: Path, lines: list[str]) -> str:
    for number, line in enumerate(lines, 1):
        if line.strip():
            count = len(_fields(line))
            if count == 4:
                return "single"
            if count >= 6:
                return "mot"
            raise BoxFileError(
                f"{path}:{number}: {count} fields; expected 4 (x,y,w,h, one line per frame) "
                "or at least 6 (MOT: frame,id,x,y,w,h,...)"
            )
    raise BoxFileError(f"{path}: holds no boxes")


def _fields(line: str) -> list[str]:
    return [field for field in _SEPARATORS.split(line.strip()) if field]


def _numbers(path: Path, number: int, line: str) -> list[float]:
    values = []
    for field in _fields(line):
        try:
            value = float(field)
        except ValueError:
            raise BoxFileError(f"{path}:{number}: {field!r} is not a number") from None
        if math.isinf(value):
            raise BoxFileError(f"{path}:{number}: {field!r} is infinite")
        values.append(value)
    return values


def _box(values: list[float]) -> np.ndarray:
    """(1, 4) when the box is visible (finite, positive width and height), else (0, 4)."""
    x, y, w, h = values
    if any(math.isnan(v) for v in values) or w <= 0 or h <= 0:
        return np.zeros((0, 4))
    return np.array([[x, y, w, h]])


def _single(path: Path, lines: list[str]) -> list[np.ndarray]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if len(lines) > MAX_FRAMES:
        raise BoxFileError(f"{path}: more than {MAX_FRAMES} lines (frames)")
    frames = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise BoxFileError(
                f"{path}:{number}: blank line; in the one-box-per-line format every line is a "
                "frame (write NaN,NaN,NaN,NaN for a frame without the target)"
            )
        values = _numbers(path, number, line)
        if len(values) != 4:
            raise BoxFileError(f"{path}:{number}: {len(values)} numbers; expected x,y,w,h")
        frames.append(_box(values))
    return frames


def _mot(path: Path, lines: list[str]) -> list[np.ndarray]:
    boxes: dict[int, list[np.ndarray]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        values = _numbers(path, number, line)
        if len(values) < 6:
            raise BoxFileError(
                f"{path}:{number}: {len(values)} numbers; expected frame,id,x,y,w,h[,...]"
            )
        frame = values[0]
        if not (frame.is_integer() and 1 <= frame <= MAX_FRAMES):
            raise BoxFileError(
                f"{path}:{number}: frame {values[0]:g}; expected a whole number from 1 to "
                f"{MAX_FRAMES}"
            )
        if len(values) >= 7 and values[6] == 0:  # MOT ground truth: "do not consider"
            continue
        box = _box(values[2:6])
        if len(box):
            kept = boxes.setdefault(int(frame) - 1, [])
            if len(kept) == MAX_BOXES_PER_FRAME:
                raise BoxFileError(
                    f"{path}:{number}: more than {MAX_BOXES_PER_FRAME} boxes in frame {frame:g}"
                )
            kept.append(box)
    count = max(boxes, default=-1) + 1
    empty = np.zeros((0, 4))
    return [np.concatenate(boxes[k]) if k in boxes else empty for k in range(count)]


def write_mot(path: Path | str, frames: list[np.ndarray]) -> int:
    """Write boxes as a MOT detection file (`frame,-1,x,y,w,h,1,-1,-1,-1`, frames from 1;
    id -1: no identities). Returns the number of boxes written."""
    lines = []
    for index, boxes in enumerate(frames, 1):
        for x, y, w, h in np.asarray(boxes).reshape(-1, 4):
            lines.append(f"{index},-1,{x:g},{y:g},{w:g},{h:g},1,-1,-1,-1")
    write_text(path, "".join(f"{line}\n" for line in lines))
    return len(lines)
