"""DHF1K-style frame folders: `<root>/<video>/images/*`, `maps/*`, optional `fixation/*`.

Files of the three folders are paired by sorted (natural) name; their counts must match.
`fixation/*` are binary maps (any non-zero pixel is a fixation). Categories follow the
AVS1K rule (`skd_ros.data.avs1k`): `<root>/categories.json` or `.txt`, then the video name.
`root` may also be a single video folder (one that has `images/` itself).
"""

from __future__ import annotations

from pathlib import Path

from skd_ros.data.layout import FIXATIONS, IMAGES, MAPS
from skd_ros.data.video import (
    FileVideo,
    LayoutError,
    category_from_name,
    check_counts,
    image_files,
    read_category_file,
    subfolders,
)


def scan_frame_folders(root: Path, require_maps: bool = True) -> list[FileVideo]:
    """Videos under `root`, sorted by name.

    With `require_maps=False` a video without `maps/` is read as unlabelled footage;
    otherwise its absence is a `LayoutError`, like an empty `images/` or a count mismatch.
    """
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root} does not exist or is not a folder; expected <video>/images/")
    if (root / IMAGES).is_dir():
        video_dirs = [root]
        categories = read_category_file(root.parent)
    else:
        video_dirs = [d for d in subfolders(root) if (d / IMAGES).is_dir()]
        categories = read_category_file(root)
        _refuse_misnamed(set(subfolders(root)) - set(video_dirs))
    if not video_dirs:
        raise LayoutError(
            f"{root} holds no frame folders: expected {root}/<video>/images/ "
            f"(and {MAPS}/, optionally {FIXATIONS}/)"
        )
    return [_video(d, categories, require_maps) for d in video_dirs]


def _refuse_misnamed(others: set[Path]) -> None:
    """A video folder whose `images/` is spelt differently (e.g. `Images/`) is not skipped."""
    for folder in sorted(others):
        for child in subfolders(folder):
            if child.name.lower() in (IMAGES, MAPS, FIXATIONS) and child.name not in (
                IMAGES,
                MAPS,
                FIXATIONS,
            ):
                raise LayoutError(
                    f"{child}: folder names are case-sensitive; rename it to "
                    f"{child.name.lower()}/ (expected <video>/{IMAGES}/, {MAPS}/, {FIXATIONS}/)"
                )


def _video(folder: Path, categories: dict[str, str], require_maps: bool) -> FileVideo:
    images_dir, maps_dir, fix_dir = folder / IMAGES, folder / MAPS, folder / FIXATIONS
    frames = image_files(images_dir)
    if not frames:
        raise LayoutError(f"{images_dir} holds no frames (.png/.jpg); remove {folder} or add them")
    maps = fixations = None
    if maps_dir.is_dir():
        maps = image_files(maps_dir)
        check_counts(images_dir, frames, maps_dir, maps, "maps")
    elif require_maps:
        raise LayoutError(
            f"{maps_dir} is missing; expected a {MAPS} folder next to {IMAGES} with one "
            "saliency map per frame"
        )
    if fix_dir.is_dir():
        fixations = image_files(fix_dir)
        check_counts(images_dir, frames, fix_dir, fixations, "fixation maps")
    name = folder.name
    category = categories.get(name) or category_from_name(name)
    return FileVideo(name, frames, maps, fixations, category, kind="folders")
