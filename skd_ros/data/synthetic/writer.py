"""Datasets on disk: clips written in the AVS1K layout or as DHF1K-style frame folders."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from skd_ros.atomic_write import write_image
from skd_ros.data.layout import AVS1K_FOLDER, FIXATIONS, FRAME_FOLDER, GROUND_FOLDER, IMAGES, MAPS
from skd_ros.data.synthetic.clips import generate_clip
from skd_ros.data.synthetic.spec import ClipSpec, video_name

# zlib level 1, run-length strategy and the SUB filter: lossless, and fast on noisy frames
PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.10
    PNG_FAST += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]


def write_avs1k(root: Path | str, clips: dict[str, list[ClipSpec]]) -> Path:
    """Write clips in AVS1K's public layout, so AVS1K readers and tools load them; returns it.

    `root/AVS1K/<split>/Frame/<video>/<video>_%05d.png` holds the frames (numbered from 1),
    `.../Ground/<video>/<video>_%05d.png` the ground-truth maps as 8-bit grayscale.
    """
    dataset = Path(root) / AVS1K_FOLDER
    with _PngWriter() as writer:
        for split, specs in clips.items():
            for spec in specs:
                name = video_name(spec)
                frame_dir = _fresh_dir(dataset / split / FRAME_FOLDER / name)
                ground_dir = _fresh_dir(dataset / split / GROUND_FOLDER / name)
                for frame in generate_clip(spec):
                    stem = f"{name}_{frame.index + 1:05d}.png"
                    writer.write(frame_dir / stem, frame.image)
                    writer.write(ground_dir / stem, _to_u8(frame.saliency))
    return dataset


def write_frame_folders(root: Path | str, specs: Iterable[ClipSpec], n_fixations: int = 15) -> Path:
    """Write clips in the DHF1K-style layout (images, maps, binary fixation maps); returns root.

    `root/<video>/images/%04d.png`, `maps/%04d.png` (8-bit) and `fixation/%04d.png`, where
    `n_fixations` points per frame are drawn from the map as a distribution (255 = fixated),
    deterministically per seed, for metrics that need discrete fixations.
    """
    root = Path(root)
    with _PngWriter() as writer:
        for spec in specs:
            video = root / video_name(spec)
            dirs = {kind: _fresh_dir(video / kind) for kind in (IMAGES, MAPS, FIXATIONS)}
            rng = np.random.default_rng([spec.seed, 1])
            for frame in generate_clip(spec):
                stem = f"{frame.index + 1:04d}.png"
                fixations = sample_fixations(frame.saliency, n_fixations, rng)
                writer.write(dirs[IMAGES] / stem, frame.image)
                writer.write(dirs[MAPS] / stem, _to_u8(frame.saliency))
                writer.write(dirs[FIXATIONS] / stem, fixations)
    return root


def sample_fixations(saliency: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """A binary map of `count` pixels drawn from the map as a distribution (255 = fixated).

    Stands in for recorded eye fixations; repeated draws of one pixel mark it once.
    """
    out = np.zeros(saliency.shape, np.uint8)
    weights = saliency.ravel().astype(np.float64)
    total = weights.sum()
    if total <= 0 or count <= 0:
        return out
    picks = rng.choice(weights.size, size=count, p=weights / total)
    out.ravel()[picks] = 255
    return out


class _PngWriter:
    """Encodes PNGs on a few threads (OpenCV releases the GIL) while the next frame renders.

    At most `depth` writes are pending, so memory stays bounded on long clips; leaving the
    `with` block waits for all of them and re-raises the first failure.
    """

    def __init__(self, workers: int | None = None, depth: int = 12) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1))
        self.pending: deque[Future] = deque()
        self.depth = depth

    def write(self, path: Path, image: np.ndarray) -> None:
        """Queue one PNG; wait for the oldest when more than `depth` are pending."""
        self.pending.append(self.pool.submit(_write_png, path, image))
        while len(self.pending) > self.depth:
            self.pending.popleft().result()

    def __enter__(self) -> _PngWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _write_png(path: Path, image: np.ndarray) -> None:
    """Write one PNG atomically, with the fast lossless settings."""
    write_image(path, image, PNG_FAST)


def _to_u8(saliency: np.ndarray) -> np.ndarray:
    """A [0, 1] map as 8-bit grayscale, rounded."""
    return np.clip(saliency * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _fresh_dir(path: Path) -> Path:
    """Create `path`, removing PNGs left by an earlier run so counts always match (a link
    at `path` is removed, not followed: nothing is deleted or written outside the set)."""
    if path.is_symlink():
        path.unlink()
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):
        old.unlink()
    return path
