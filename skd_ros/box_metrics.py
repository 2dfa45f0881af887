"""Scores of a saliency map against box annotations (tracking footage has boxes, not gaze).

* NSS and CC (`skd_ros.metrics`) against a map of one Gaussian per box, built by the rule of
  the synthetic ground truth (`skd_ros.data.synthetic.add_gaussian`: peak 1, sigma 0.3 x the
  box's width and height, widened by 0.035 x the frame's longer side, summed and clipped to
  1), on a grid of the frame's aspect ratio whose longer side is `GRID_SIDE` px. The map is
  resized to that grid bilinearly, so maps of any resolution are compared on one grid.
* Region hit rates, from the regions `skd_ros.inference.peaks.find_regions` extracts (what
  the node publishes on `saliency/peaks`, best first): `top1`, the best region's centroid
  lies inside a box (what a tracker following `saliency/peak` gets); `top3`, one of the best
  three regions' centroids does; `overlap`, the best region's box overlaps a box with an
  intersection-over-union above `iou` (default 0: any overlap); `no_region`, the map has no
  region at all (then the three hits are misses). `region_area` is the best region's box as
  a share of the image (NaN without a region): a region covering half the frame overlaps a
  box easily, so read `overlap` beside it.

A box is (x, y, w, h) in input-image pixels and covers x <= u < x + w, y <= v < y + h.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from skd_ros import metrics
from skd_ros.data.synthetic import add_gaussian

GRID_SIDE = 128  # longer side (px) of the grid NSS and CC are computed on
RATES = ("top1", "top3", "overlap", "no_region")


@dataclass(frozen=True)
class FrameScore:
    """The scores of one frame's map (see the module docstring)."""

    nss: float
    cc: float
    top1: bool
    top3: bool
    overlap: bool
    no_region: bool
    region_area: float  # the best region's box / the image's area; NaN without a region


def grid_size(image_size: tuple[int, int], side: int = GRID_SIDE) -> tuple[int, int]:
    """(width, height) of the scoring grid: the image's aspect ratio, longer side `side`."""
    width, height = image_size
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def box_map(boxes: np.ndarray, image_size: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    """(grid height, grid width) float32 map: one peak-1 Gaussian per (x, y, w, h) box."""
    sx, sy = grid[0] / image_size[0], grid[1] / image_size[1]
    target = np.zeros((grid[1], grid[0]), np.float32)
    for x, y, w, h in np.asarray(boxes, np.float64).reshape(-1, 4):
        centre = ((x + w / 2) * sx - 0.5, (y + h / 2) * sy - 0.5)
        add_gaussian(target, centre, (1.0, 0.0), w * sx, h * sy)
    return np.minimum(target, 1.0, out=target)


def inside(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(n,) bool: whether each (u, v) point lies in at least one (x, y, w, h) box."""
    points, boxes = np.asarray(points).reshape(-1, 2), np.asarray(boxes).reshape(-1, 4)
    u, v = points[:, :1], points[:, 1:]
    x, y, w, h = (boxes[:, i][None] for i in range(4))
    return ((u >= x) & (u < x + w) & (v >= y) & (v < y + h)).any(axis=1)


def iou(corners: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(n, m) intersection over union of (x0, y0, x1, y1) boxes with (x, y, w, h) boxes."""
    a, b = np.asarray(corners, np.float64).reshape(-1, 4), np.asarray(boxes).reshape(-1, 4)
    b = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def score_frame(
    saliency: np.ndarray,
    regions: np.ndarray,
    boxes: np.ndarray,
    image_size: tuple[int, int],
    min_iou: float = 0.0,
) -> FrameScore:
    """Scores of one map (any resolution, covering the whole image) and its regions
    (`find_regions` output, best first) against the frame's boxes (at least one)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        raise ValueError("a frame without boxes has nothing to score; leave it out")
    grid = grid_size(image_size)
    target = box_map(boxes, image_size, grid)
    if not target.any():
        raise ValueError(f"boxes {boxes.tolist()} lie outside the {image_size} image")
    prediction = cv2.resize(np.asarray(saliency, np.float32), grid, interpolation=cv2.INTER_LINEAR)
    centroids = np.stack([regions["u"], regions["v"]], axis=1)
    hits = inside(centroids[:3], boxes)
    corners = np.stack([regions[k] for k in ("x_min", "y_min", "x_max", "y_max")], axis=1)
    return FrameScore(
        nss=float(metrics.nss_weighted(prediction, target)),
        cc=float(metrics.cc(prediction, target)),
        top1=bool(hits[:1].any()),
        top3=bool(hits.any()),
        overlap=bool(len(regions) and (iou(corners[:1], boxes) > min_iou).any()),
        no_region=len(regions) == 0,
        region_area=_area(corners[0]) / (image_size[0] * image_size[1]) if len(regions) else np.nan,
    )


def _area(corners: np.ndarray) -> float:
    return float((corners[2] - corners[0]) * (corners[3] - corners[1]))


def summarise(scores: list[FrameScore]) -> dict[str, float]:
    """Means over frames: NSS, CC, each hit rate as a share in [0, 1], the best region's
    area (over frames with a region; None if none has one); plus `frames`."""
    if not scores:
        return {"frames": 0}
    rows = [asdict(score) for score in scores]
    means = {key: float(np.mean([row[key] for row in rows])) for key in ("nss", "cc", *RATES)}
    areas = [row["region_area"] for row in rows if not np.isnan(row["region_area"])]
    return {"frames": len(rows), **means, "region_area": float(np.mean(areas)) if areas else None}


def visible_boxes(boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """The (x, y, w, h) boxes that overlap the image at all (others cannot be scored)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    width, height = image_size
    x, y, w, h = boxes.T
    keep = (x < width) & (y < height) & (x + w > 0) & (y + h > 0)
    return boxes[keep]
