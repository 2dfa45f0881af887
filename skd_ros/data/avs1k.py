"""AVS1K in its public layout: `AVS1K/<split>/Frame/<video>/*` and `.../Ground/<video>/*`.

Frames and ground-truth maps are paired by sorted (natural) file name: the i-th frame
file of `Frame/<video>` goes with the i-th map of `Ground/<video>`; the counts must match.
AVS1K ships no fixation maps (evaluation samples fixations from the continuous maps).

Categories (Building, Human, Vehicle, Others) for the per-category reports come from, in
this order:

1. an explicit mapping next to the split, `AVS1K/<split>/categories.json` or
   `categories.txt`, or one for all splits, `AVS1K/categories.json` / `.txt` (formats in
   `skd_ros.data.video.read_category_file`); a video missing from the mapping falls
   through to rule 2;
2. the video name (`skd_ros.data.video.category_from_name`): a category word in it
   ('Vehicle_0007', as the synthetic generator writes) or a one-letter prefix token B, H,
   V or O ('V012', 'h_03'), case-insensitive;
3. otherwise None (reported as 'unknown').
"""

from __future__ import annotations

import logging
from pathlib import Path

from skd_ros.data.layout import AVS1K_FOLDER, FRAME_FOLDER, GROUND_FOLDER, SPLITS
from skd_ros.data.video import (
    FileVideo,
    LayoutError,
    category_from_name,
    check_counts,
    image_files,
    read_category_file,
    subfolders,
)

log = logging.getLogger(__name__)


def dataset_folder(root: Path) -> Path:
    """The `AVS1K` folder, given it or the folder that contains it."""
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root} does not exist or is not a folder; expected the AVS1K dataset")
    if (root / AVS1K_FOLDER).is_dir():
        return root / AVS1K_FOLDER
    if any((root / split).is_dir() for split in SPLITS) or root.name == AVS1K_FOLDER:
        return root
    raise LayoutError(
        f"{root} holds no AVS1K dataset: expected {root}/AVS1K/<split>/Frame/<video>/ "
        f"or {root}/<split>/Frame/<video>/ with <split> one of {', '.join(SPLITS)}"
    )


def scan_avs1k(root: Path, split: str = "trainSet") -> list[FileVideo]:
    """Videos of one split (`trainSet`, `validSet`, `testSet`), sorted by name.

    `root` is the `AVS1K` folder or its parent. Raises `LayoutError` naming the offending
    path for a missing split, Frame or Ground folder, an empty video or a frame/map count
    mismatch. Unreadable files are found (and skipped with a warning) when read.
    """
    dataset = dataset_folder(root)
    split_dir = dataset / split
    if not split_dir.is_dir():
        present = [p.name for p in subfolders(dataset)]
        raise LayoutError(
            f"{split_dir} is missing; splits present in {dataset}: {present or 'none'}"
        )
    frame_root, ground_root = split_dir / FRAME_FOLDER, split_dir / GROUND_FOLDER
    if not frame_root.is_dir():
        raise LayoutError(f"{frame_root} is missing; expected Frame/<video>/ with the frames")
    if not ground_root.is_dir():
        raise LayoutError(
            f"{ground_root} is missing; expected a Ground folder next to Frame with one "
            "map per frame"
        )
    categories = {**read_category_file(dataset), **read_category_file(split_dir)}
    video_dirs = subfolders(frame_root)
    if not video_dirs:
        raise LayoutError(f"{frame_root} holds no video folders; expected Frame/<video>/*.png")
    videos = []
    for frame_dir in video_dirs:
        name = frame_dir.name
        ground_dir = ground_root / name
        if not ground_dir.is_dir():
            raise LayoutError(
                f"{ground_dir} is missing; expected the ground-truth maps of {frame_dir}"
            )
        frames, maps = image_files(frame_dir), image_files(ground_dir)
        if not frames:
            raise LayoutError(f"{frame_dir} holds no frames (.png/.jpg); remove it or add them")
        check_counts(frame_dir, frames, ground_dir, maps, "maps")
        category = categories.get(name) or category_from_name(name)
        videos.append(FileVideo(name, frames, maps, None, category, kind="avs1k"))
    orphans = sorted({p.name for p in subfolders(ground_root)} - {v.name for v in videos})
    if orphans:
        log.warning("%s: ground truth without frames, ignored: %s", ground_root, orphans)
    return videos
