"""Run trained networks over cached, reduced frames (for evaluation and reports)."""

from __future__ import annotations

import numpy as np
import torch

from skd_ros.models import SpatialStudent, Sst, TemporalStudent
from skd_ros.training.batches import CachedPairs

BATCH = 256


@torch.inference_mode()
def predict(
    model: torch.nn.Module, frames: np.ndarray, previous: np.ndarray, batch: int = BATCH
) -> np.ndarray:
    """Maps (N, h, w) float32 of Ss, St or Sst for cached uint8 frames (N, 3, h, w).

    `previous[i]` is the index of frame i's predecessor (itself for a video's first frame);
    the pair is built as in training, with the model's `config.compensation`.
    """
    model = model.eval()
    device = next(model.parameters()).device
    spatial = isinstance(model, SpatialStudent)  # it sees the current frame only
    pairs = CachedPairs(frames, previous, "none" if spatial else model.config.compensation)
    out = []
    for start in range(0, len(frames), batch):
        before, current = (
            torch.from_numpy(x).to(device)
            for x in pairs(np.arange(start, min(start + batch, len(frames))))
        )
        out.append(_forward(model, before, current)[:, 0].float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, *frames.shape[2:]), np.float32)


def _forward(model: torch.nn.Module, previous: torch.Tensor, current: torch.Tensor):
    if isinstance(model, Sst):
        return model(previous, current)
    if isinstance(model, TemporalStudent):
        return model(torch.cat((previous, current), dim=1))
    if isinstance(model, SpatialStudent):
        return model(current)
    raise TypeError(f"cannot predict with {type(model).__name__}; expected Ss, St or Sst")


def center_bias(count: int, size: int, sigma: float = 0.35) -> np.ndarray:
    """The centred-Gaussian baseline, (count, size, size): what every model must beat."""
    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    gauss = np.exp(-(axis[None] ** 2 + axis[:, None] ** 2) / (2 * sigma**2))
    return np.broadcast_to(gauss, (count, size, size))
