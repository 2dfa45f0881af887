"""A video file or a frame folder as a rosbag2 image bag, to train on or to replay.

A drone's recording often exists only as a video file (or a folder of frames); `train bag`
writes it as the bag the node and `data.source: bag` read, so a new camera's footage can
be trained on (`train run`), replayed into the node (`replay`) and scored (`train footage
--part`, which takes the same fractions). `part` keeps a share of the frames, e.g. the
first 70 % to train on and leave the rest for scoring. Frames are stamped at the video's
own frame rate (or `fps` where it has none, as frame folders), frame i at 1 s + i / rate
(so the two parts of one clip keep their times), and written as JPEG `CompressedImage`
messages (raw bgr8 `Image` with `raw`). A conversion that fails or is interrupted removes
the bag folder it had begun.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from skd_ros.data.bags import write_image_bag
from skd_ros.data.box_sequences import frame_source
from skd_ros.data.video import LayoutError

DEFAULT_FPS = 30.0


def part_range(count: int, part: tuple[float, float]) -> range:
    """The frame indices a `part` (fractions of `count` frames) keeps, as `train footage
    --part` counts them."""
    start, end = part
    if not 0.0 <= start < end <= 1.0:
        raise ValueError(f"part {start:g} {end:g}: need 0 <= START < END <= 1")
    return range(round(start * count), round(end * count))


def write_video_bag(
    source: Path | str,
    out: Path | str,
    part: tuple[float, float] = (0.0, 1.0),
    topic: str = "/camera/image_raw",
    fps: float = 0.0,
    raw: bool = False,
    storage: str = "sqlite3",
) -> dict:
    """Write `part` of the video or frame folder `source` as a bag in the new folder `out`;
    returns what was written (frames, first and last index, fps, topic)."""
    out = Path(out)
    if out.exists() or out.is_symlink():
        raise FileExistsError(f"{out} exists; choose a new folder for the bag")
    frames = frame_source(source)
    if frames.count == 0 and part != (0.0, 1.0):
        raise LayoutError(
            f"{frames.path} does not say how many frames it has, so a part of it cannot be "
            "chosen; convert it whole (--part 0 1)"
        )
    keep = part_range(frames.count, part) if frames.count else range(1 << 62)
    if not keep:
        raise LayoutError(
            f"part {part[0]:g} {part[1]:g} of the {frames.count} frames of {frames.path} "
            "keeps none; choose a wider part"
        )
    rate = fps or frames.fps or DEFAULT_FPS
    kept: list[int] = []

    def images():
        for index, image in frames.frames(keep.stop):
            if index in keep:
                kept.append(index)
                yield image

    stamps = _StampsByIndex(kept, rate)  # a skipped (unreadable) frame leaves its gap
    try:
        write_image_bag(out, images(), topic, storage, compressed=not raw, stamps=stamps)
        if not kept:
            raise LayoutError(f"{frames.path}: no readable frame in part {part[0]:g} {part[1]:g}")
    except BaseException:
        if out.is_dir() and not out.is_symlink():
            shutil.rmtree(out)  # our own new folder: a partial bag is no use to anyone
        raise
    return {"frames": len(kept), "first": kept[0], "last": kept[-1], "fps": rate, "topic": topic}


class _StampsByIndex:
    """The stamp of the n-th written frame, from its index in the source (read lazily, as
    each frame is written, so frames that could not be read keep their gap in time)."""

    def __init__(self, kept: list[int], rate: float) -> None:
        self.kept, self.rate = kept, rate

    def __getitem__(self, number: int) -> int:
        return int(1e9 + self.kept[number] * 1e9 / self.rate)
