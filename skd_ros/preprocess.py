"""Model inputs and targets from raw frames and maps, via the shared reduction R."""

from __future__ import annotations

import numpy as np

from skd_ros.reduction import reduce_resolution


def prepare_frame(image: np.ndarray, size: int, bgr: bool = True) -> np.ndarray:
    """Camera frame (H, W, 3) uint8 -> model input (3, size, size) float32 RGB in [0, 1].

    Reduction runs first, so the channel swap and scaling touch only size*size pixels.
    Grey (H, W) or (H, W, 1) frames are replicated to three channels.
    """
    small = reduce_resolution(image, size)
    if small.ndim == 2:
        small = small[:, :, None]
    if small.shape[2] == 1:
        small = np.repeat(small, 3, axis=2)
    if small.shape[2] != 3:
        raise ValueError(f"expected 1 or 3 channels, got {small.shape[2]}; drop alpha first")
    if bgr:
        small = small[:, :, ::-1]
    return unit_scale(small.transpose(2, 0, 1))


def unit_scale(frames: np.ndarray) -> np.ndarray:
    """uint8 frames (any shape) -> float32 / 255 in [0, 1]; float frames are kept as they are.

    The one scaling of model inputs: the node's frames and training's cached ones get the
    same bits, so their compensated pairs (`skd_ros.inference.compensation`) are equal too.
    """
    scale = np.float32(1.0 / 255.0) if frames.dtype == np.uint8 else np.float32(1.0)
    return np.ascontiguousarray(frames, dtype=np.float32) * scale


def prepare_map(saliency: np.ndarray, size: int) -> np.ndarray:
    """Ground-truth or teacher map (H, W) -> target (1, size, size) float32 in [0, 1].

    8-bit maps are scaled by 1/255; float maps are kept as they are.
    """
    if saliency.ndim == 3 and saliency.shape[2] == 1:
        saliency = saliency[:, :, 0]
    if saliency.ndim != 2:
        raise ValueError(f"a saliency map must be (H, W), got shape {saliency.shape}")
    small = reduce_resolution(saliency, size).astype(np.float32)
    if saliency.dtype == np.uint8:
        small *= np.float32(1.0 / 255.0)
    return small[None]
