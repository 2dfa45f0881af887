"""Pictures for people: saliency overlays and contact sheets (OpenCV, BGR images)."""

from __future__ import annotations

import cv2
import numpy as np

# text and lines grow with the picture's short side up to an 8K frame's (4320 px), no further:
# sized by the long side, a 2,000,000x1 frame got lines 3125 px thick and took 17 s to draw
MAX_DRAWING_SCALE = 6.0


def drawing_scale(shape: tuple[int, ...]) -> float:
    """Size factor for text and lines on a picture of `shape`: 1 for 720 lines, clamped."""
    return min(max(min(shape[:2]) / 720, 0.2), MAX_DRAWING_SCALE)


def colorize(saliency: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Map in [0, 1] -> BGR heat-map image, optionally resized to (width, height)."""
    grey = np.clip(saliency * 255.0, 0, 255).astype(np.uint8)
    if size is not None:
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_LINEAR)
    return cv2.applyColorMap(grey, cv2.COLORMAP_JET)


def overlay(frame: np.ndarray, saliency: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a heat map of `saliency` (any resolution) over a BGR frame."""
    heat = colorize(saliency, (frame.shape[1], frame.shape[0]))
    return cv2.addWeighted(frame, 1.0 - alpha, heat, alpha, 0.0)


def label(image: np.ndarray, text: str) -> np.ndarray:
    """A copy of `image` with `text` written in its top-left corner."""
    out = image.copy()
    scale = max(0.4, 2 * drawing_scale(image.shape))
    thickness = max(1, round(scale))
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(2, height // 4)
    cv2.rectangle(out, (0, 0), (width + 2 * pad, height + baseline + 2 * pad), (0, 0, 0), -1)
    org = (pad, pad + height)
    white = (255, 255, 255)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, white, thickness, cv2.LINE_AA)
    return out


def contact_sheet(rows: list[list[np.ndarray]], tile_width: int = 320) -> np.ndarray:
    """Tile BGR images (a list of rows) into one picture, each tile `tile_width` wide."""
    tiles = [[_fit(image, tile_width) for image in row] for row in rows]
    height = max(t.shape[0] for row in tiles for t in row)
    lines = [np.hstack([_pad(t, height) for t in row]) for row in tiles]
    width = max(line.shape[1] for line in lines)
    return np.vstack([np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0))) for line in lines])


def _fit(image: np.ndarray, width: int) -> np.ndarray:
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _pad(image: np.ndarray, height: int) -> np.ndarray:
    return np.pad(image, ((0, height - image.shape[0]), (0, 0), (0, 0)))
