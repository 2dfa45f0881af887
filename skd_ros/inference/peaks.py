"""Salient regions of a saliency map: what downstream nodes act on.

A region is a connected component (8-neighbourhood) of the pixels at or above both
`threshold` (absolute, in [0, 1]) and `relative` times the map's maximum. The absolute
threshold keeps a map without targets quiet; the relative one adapts to maps whose peaks are
weaker than usual (a model's confidence varies with the scene) and separates nearby targets.
For each one we report its bounding box and its saliency-weighted centroid in INPUT-image
pixels (the map is at the model's resolution; coordinates are scaled to the camera frame's
width and height), its peak score and its share of the whole map's mass. Regions are sorted by
peak score, boxes overlapping a higher-scoring box by more than `nms_iou` are suppressed
(non-maximum suppression), and at most `max_regions` are kept.

Everything is vectorised (OpenCV labelling, NumPy bincounts over the foreground pixels); a
64x64 map takes a few tens of microseconds (`python -m skd_ros.inference.peaks` measures it).

The result is a NumPy structured array of `REGION_DTYPE` (little-endian 4-byte fields), so the
node can publish it as the payload of a `sensor_msgs/PointCloud2` without copying field by
field. Two groups of its fields are filled later, by the node: `id` (0 here) by
`skd_ros.inference.tracking`, the bearing (NaN here) by `skd_ros.geometry` when the camera's
intrinsics are known.
"""

from __future__ import annotations

import cv2
import numpy as np

MEASURED_FIELDS = ("x_min", "y_min", "x_max", "y_max", "u", "v", "score", "mass")
BEARING_FIELDS = ("bearing_x", "bearing_y", "bearing_z")
REGION_FIELDS = (*MEASURED_FIELDS, "id", *BEARING_FIELDS)
REGION_DTYPE = np.dtype(
    [(name, "<u4" if name == "id" else "<f4") for name in REGION_FIELDS]  # all 4 bytes
)


def find_regions(
    saliency: np.ndarray,
    image_size: tuple[int, int],
    threshold: float = 0.2,
    max_regions: int = 10,
    nms_iou: float = 0.3,
    relative: float = 0.5,
) -> np.ndarray:
    """Regions of a (h, w) map in [0, 1], in pixels of an input image of `image_size` (W, H).

    Returns a structured array of `REGION_DTYPE`, best first:
    `x_min, y_min, x_max, y_max`: the box (x_max, y_max are the exclusive far edges, so a
    region covering the whole map is (0, 0, W, H)); `u, v`: saliency-weighted centroid;
    `score`: highest map value in the region; `mass`: the region's sum of map values divided
    by the whole map's sum (0 for an all-zero map); `id` 0 and the bearing NaN (not known here).
    Coordinates are continuous: (0, 0) is the top-left corner of the image, so the centre of
    its first pixel is (0.5, 0.5).
    """
    _check(saliency, image_size, threshold, max_regions, nms_iou, relative)
    level = max(threshold, relative * float(saliency.max()))
    mask = (saliency >= level).view(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return np.zeros(0, REGION_DTYPE)
    columns = _measure(saliency, labels, stats, count, image_size)
    order = np.argsort(-columns[:, SCORE], kind="stable")
    kept = _suppress(columns[order, :4], nms_iou, max_regions)
    return _as_regions(columns[order[kept]])


SCORE = MEASURED_FIELDS.index("score")
BEARING = slice(REGION_FIELDS.index("bearing_x"), REGION_FIELDS.index("bearing_z") + 1)


BOX = slice(0, 4)  # x_min, y_min, x_max, y_max
CENTROID = slice(4, 6)  # u, v


def float_columns(regions: np.ndarray) -> np.ndarray:
    """A writable (n, 12) float32 view of REGION_DTYPE regions, one column per field: one
    view instead of a copy per field. Use the float fields only (the `id` column is not)."""
    return regions.view(np.float32).reshape(len(regions), len(REGION_FIELDS))


def _as_regions(columns: np.ndarray) -> np.ndarray:
    """(n, 8) measured columns as regions: id 0 (untracked), bearing NaN (no camera model)."""
    regions = np.zeros(len(columns), REGION_DTYPE)
    flat = float_columns(regions)
    flat[:, : len(MEASURED_FIELDS)] = columns
    flat[:, BEARING] = np.nan
    return regions


def _measure(
    saliency: np.ndarray,
    labels: np.ndarray,
    stats: np.ndarray,
    count: int,
    image_size: tuple[int, int],
) -> np.ndarray:
    """(n, 8) float64 columns in MEASURED_FIELDS order for components 1..count-1."""
    height, width = saliency.shape
    scale = np.array([image_size[0] / width, image_size[1] / height])
    foreground = np.flatnonzero(labels)
    label = labels.ravel()[foreground] - 1
    value = saliency.ravel()[foreground].astype(np.float64)
    ys, xs = np.divmod(foreground, width)
    n = count - 1
    mass = np.bincount(label, weights=value, minlength=n)
    # centroid of pixel centres, weighted by saliency (the geometric centre if all zero)
    weights = np.where(mass[label] > 0, value, 1.0)
    norm = np.bincount(label, weights=weights, minlength=n)
    cx = np.bincount(label, weights=weights * xs, minlength=n) / norm
    cy = np.bincount(label, weights=weights * ys, minlength=n) / norm
    peak = np.zeros(n)
    np.maximum.at(peak, label, value)
    total = float(saliency.sum(dtype=np.float64))
    left, top = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
    right = left + stats[1:, cv2.CC_STAT_WIDTH]
    bottom = top + stats[1:, cv2.CC_STAT_HEIGHT]
    columns = np.empty((n, len(MEASURED_FIELDS)))
    columns[:, 0:4] = np.stack([left, top, right, bottom], axis=1) * np.tile(scale, 2)
    columns[:, 4] = (cx + 0.5) * scale[0]
    columns[:, 5] = (cy + 0.5) * scale[1]
    columns[:, 6] = peak
    columns[:, 7] = mass / total if total > 0 else 0.0
    return columns


def _suppress(boxes: np.ndarray, nms_iou: float, max_regions: int) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression of score-sorted (n, 4) boxes."""
    n = len(boxes)
    if n <= 1:
        return np.arange(min(n, max_regions))
    x0, y0, x1, y1 = boxes.T
    w = np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])
    h = np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    area = (x1 - x0) * (y1 - y0)
    overlaps = inter / (area[:, None] + area[None] - inter) > nms_iou
    np.fill_diagonal(overlaps, False)
    if not overlaps.any():
        return np.arange(min(n, max_regions))
    kept: list[int] = []
    suppressed = np.zeros(n, bool)
    for index in range(n):
        if suppressed[index]:
            continue
        kept.append(index)
        if len(kept) == max_regions:
            break
        suppressed |= overlaps[index]
    return np.asarray(kept, dtype=np.intp)


def _check(saliency, image_size, threshold, max_regions, nms_iou, relative) -> None:
    if not isinstance(saliency, np.ndarray) or saliency.ndim != 2 or saliency.size == 0:
        shape = getattr(saliency, "shape", None)
        raise ValueError(f"expected a non-empty (h, w) saliency map, got shape {shape}")
    if len(image_size) != 2 or min(image_size) <= 0:
        raise ValueError(f"image_size={image_size}: expected positive (width, height)")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold={threshold}: must be in [0, 1]")
    if max_regions < 1:
        raise ValueError(f"max_regions={max_regions}: must be at least 1")
    if not 0.0 <= nms_iou <= 1.0:
        raise ValueError(f"nms_iou={nms_iou}: must be in [0, 1]")
    if not 0.0 <= relative <= 1.0:
        raise ValueError(f"relative={relative}: must be in [0, 1]")


def _measure_cost() -> None:
    """Print the cost of find_regions on 64x64 maps with a few Gaussian blobs."""
    import time

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    saliency = np.zeros((64, 64), np.float32)
    for cx, cy in rng.uniform(8, 56, (4, 2)):
        saliency = np.maximum(saliency, np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 18.0))
    saliency = saliency.astype(np.float32)
    find_regions(saliency, (1280, 720))
    repeats = 2000
    start = time.perf_counter()
    for _ in range(repeats):
        find_regions(saliency, (1280, 720))
    cost = (time.perf_counter() - start) / repeats * 1e3
    print(f"find_regions, 64x64 map, 4 blobs: {cost:.4f} ms per map")


if __name__ == "__main__":
    _measure_cost()
