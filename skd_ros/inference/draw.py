"""Draw salient regions on a frame: the node's debug overlay and the demo's pictures."""

from __future__ import annotations

import cv2
import numpy as np

from skd_ros.visualize import drawing_scale, overlay

BOX_COLOR = (255, 255, 255)  # BGR
CENTROID_COLOR = (0, 255, 255)


def draw_regions(
    image: np.ndarray, regions: np.ndarray, thickness: int | None = None
) -> np.ndarray:
    """`image` (BGR, modified in place and returned) with each region's box, centroid, score.

    `regions` is a `skd_ros.inference.peaks.REGION_DTYPE` array in the image's pixels. Text
    and lines are sized by the image's short side, clamped (`visualize.drawing_scale`).
    """
    scale = drawing_scale(image.shape)
    thickness = thickness or max(1, round(2 * scale))
    scale = max(0.4, scale)
    for rank, region in enumerate(regions):
        top_left = (round(float(region["x_min"])), round(float(region["y_min"])))
        bottom_right = (round(float(region["x_max"])) - 1, round(float(region["y_max"])) - 1)
        cv2.rectangle(image, top_left, bottom_right, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.rectangle(image, top_left, bottom_right, BOX_COLOR, thickness, cv2.LINE_AA)
        centre = (round(float(region["u"])), round(float(region["v"])))
        cv2.drawMarker(image, centre, CENTROID_COLOR, cv2.MARKER_CROSS, 6 * thickness, thickness)
        text = f"{rank + 1}: {float(region['score']):.2f}"
        org = (top_left[0], max(12, top_left[1] - 4))
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(image, text, org, font, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.putText(image, text, org, font, scale, BOX_COLOR, thickness, cv2.LINE_AA)
    return image


def overlay_with_regions(
    frame: np.ndarray, saliency: np.ndarray, regions: np.ndarray, alpha: float = 0.45
) -> np.ndarray:
    """A new BGR image: `frame` with the map blended in (heat colours) and the regions drawn."""
    return draw_regions(overlay(frame, saliency, alpha), regions)
