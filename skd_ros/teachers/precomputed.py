"""Teacher maps computed elsewhere, read from a folder: `<dir>/<video>/<frame>.<ext>`.

Naming rule: the map of a frame is `<dir>/<video>/<frame name>` with `<video>` the video's
name and `<frame name>` the frame's own file stem (`Sample.name`), with the extension
`.png`, `.jpg`, `.jpeg` or `.npy`. So maps for AVS1K use the names of the Ground folder
(`Vehicle_0007/Vehicle_0007_00001.png`), for frame folders those of `images/`
(`0001.png`), and for bags the 1-based frame number in the video with five digits
(`<bag>_camera_image_raw/00001.png`). 8-bit and 16-bit images are scaled by their type's
maximum; `.npy` arrays are taken as they are; then each map is min-max normalised. A
missing map is an error naming the file that was expected.

The cache tells the teacher which frame comes next through `set_frame(video, frame)`
(per thread, so parallel videos do not mix). The folder's identity (for the cache key) is
its path and the count, total size and newest modification time of its files.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import cv2
import numpy as np

from skd_ros.teachers.base import check_kind, min_max

MAP_SUFFIXES = (".png", ".jpg", ".jpeg", ".npy")


class PrecomputedTeacher:
    """Reads the map of the frame named by the last `set_frame` call in this thread."""

    def __init__(self, folder: Path, kind: str = "spatial", name: str | None = None) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"precomputed teacher maps: {self.folder} is not a folder")
        self.kind = check_kind(kind)
        self.name = name or self.folder.name
        self._frame = threading.local()

    @property
    def identity(self) -> str:
        digest = hashlib.sha256(str(self.folder.resolve()).encode())
        count = size = newest = 0
        for path in self.folder.rglob("*"):
            if path.suffix.lower() in MAP_SUFFIXES and path.is_file():
                stat = path.stat()
                count, size = count + 1, size + stat.st_size
                newest = max(newest, stat.st_mtime_ns)
        digest.update(f"{count}:{size}:{newest}".encode())
        return digest.hexdigest()[:16]

    def set_frame(self, video: str, frame: str) -> None:
        """Name the frame the next call (in this thread) is for."""
        self._frame.key = (video, frame)

    def path_for(self, video: str, frame: str) -> Path:
        """The map file of a frame; FileNotFoundError naming the expected file."""
        base = self.folder / video / frame
        for suffix in MAP_SUFFIXES:
            candidate = base.with_name(base.name + suffix)
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(
            f"precomputed teacher {self.name}: no map for frame {frame!r} of video {video!r}; "
            f"expected {base}.png (or {', '.join(MAP_SUFFIXES[1:])})"
        )

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        key = getattr(self._frame, "key", None)
        if key is None:
            raise RuntimeError(
                f"precomputed teacher {self.name} needs set_frame(video, frame) before each call"
            )
        self._frame.key = None
        path = self.path_for(*key)
        return min_max(read_map_file(path))


def read_map_file(path: Path) -> np.ndarray:
    """An (H, W) float32 map from a .npy array or an 8/16-bit image."""
    if path.suffix.lower() == ".npy":
        data = np.load(path, allow_pickle=False)
        data = np.squeeze(np.asarray(data, np.float32))
    else:
        raw = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE | cv2.IMREAD_ANYDEPTH)
        if raw is None:
            raise ValueError(f"{path} is not a readable image")
        scale = 65535.0 if raw.dtype == np.uint16 else 255.0 if raw.dtype == np.uint8 else 1.0
        data = raw.astype(np.float32) / np.float32(scale)
    if data.ndim != 2:
        raise ValueError(f"{path}: a map must be 2-D, got shape {data.shape}")
    return data
