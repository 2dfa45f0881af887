"""The two distillation stages (paper section III) as functions of cached data.

Stage 1 trains each student on reduced frames with the mu-weighted soft + hard loss against
its teacher's reduced map and the reduced ground truth (eqs. 1-4). Stage 2 builds Sst from
the students and trains it with the hard loss alone (eq. 5).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from skd_ros.losses import distillation_loss, transfer_loss
from skd_ros.models import ModelConfig, SpatialStudent, Sst, TemporalStudent
from skd_ros.models.layers import all_convolutions, calibrate, head_convolutions
from skd_ros.training import distributed
from skd_ros.training.batches import PairBatches
from skd_ros.training.loop import LoopSettings, fit


def spatial_loss(mu: float):
    """Loss of Ss on a batch: eq. 1."""

    def loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        prediction = model(batch["current"])
        return distillation_loss(prediction, batch["teacher"], batch["target"], mu)

    return loss


def temporal_loss(mu: float):
    """Loss of St on a batch: eq. 2, on the causal (previous, current) pair."""

    def loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        prediction = model(torch.cat((batch["previous"], batch["current"]), dim=1))
        return distillation_loss(prediction, batch["teacher"], batch["target"], mu)

    return loss


def sst_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Loss of Sst on a batch: eq. 5."""
    return transfer_loss(model(batch["previous"], batch["current"]), batch["target"])


def train_student(
    kind: str,
    config: ModelConfig,
    data: PairBatches,
    mu: float,
    settings: LoopSettings,
    stage_dir: Path,
    context: distributed.Context,
) -> SpatialStudent | TemporalStudent:
    """Stage 1 for one student ('spatial' or 'temporal'); `data.teacher` is its teacher."""
    if data.teacher is None:
        raise ValueError(f"stage 1 ({kind}) needs the {kind} teacher's maps in the cache")
    torch.manual_seed(settings.seed)
    if kind == "spatial":
        model, loss = SpatialStudent(config), spatial_loss(mu)
    elif kind == "temporal":
        model, loss = TemporalStudent(config), temporal_loss(mu)
    else:
        raise ValueError(f"unknown student kind {kind!r}; expected 'spatial' or 'temporal'")
    batch = calibration_batch(data)
    if kind == "spatial":
        calibrate(model, all_convolutions(model), batch["current"])
    else:
        calibrate(
            model, all_convolutions(model), torch.cat((batch["previous"], batch["current"]), 1)
        )
    return fit(model, loss, data, settings, stage_dir, context, f"stage1-{kind}")


def train_sst(
    model: Sst,
    data: PairBatches,
    settings: LoopSettings,
    stage_dir: Path,
    context: distributed.Context,
    calibrate_head: bool = True,
) -> Sst:
    """Stage 2: train an Sst (normally `Sst.from_students(...)`) with the hard loss.

    The fresh fusion head is calibrated on a first batch so it starts at a sane scale on
    the copied stream features (a resumed run then loads its checkpoint over it); a trained
    Sst being fine-tuned (`calibrate_head` False) keeps its head as it is.
    """
    if calibrate_head:
        batch = calibration_batch(data)
        calibrate(model, head_convolutions(model.head), batch["previous"], batch["current"])
    return fit(model, sst_loss, data, settings, stage_dir, context, "stage2-sst")


def calibration_batch(data: PairBatches, size: int = 32) -> dict[str, torch.Tensor]:
    """The first `size` frames of the data: a fixed batch for data-dependent initialisation."""
    return data[list(range(min(size, len(data))))]


def fused_target(
    teacher_maps: list[np.ndarray], folder: Path | None = None, chunk: int = 4096
) -> np.ndarray:
    """Training target for unlabelled data: per-frame min-max normalised teachers, averaged.

    Works on reduced (N, h, w) maps; R is linear, so this equals fusing at full resolution
    and reducing, up to where each map's minimum and maximum are taken. With `folder`, the
    result is memory-mapped from a nameless file there, computed `chunk` frames at a time,
    so memory stays flat however many frames there are (the file goes with the process).
    """
    if not teacher_maps:
        raise ValueError("unlabelled data needs at least one teacher to make a target")
    shape = teacher_maps[0].shape
    if folder is None:
        out = np.zeros(shape, np.float16)
    else:  # the mapping keeps the file open after `with`
        with tempfile.TemporaryFile(dir=folder) as file:
            out = np.memmap(file, np.float16, "w+", shape=shape)
    for start in range(0, shape[0], chunk):
        rows = slice(start, start + chunk)
        fused = np.zeros((len(out[rows]), *shape[1:]), np.float32)
        for maps in teacher_maps:
            maps = np.asarray(maps[rows], np.float32)
            low = maps.min(axis=(1, 2), keepdims=True)
            span = maps.max(axis=(1, 2), keepdims=True) - low
            fused += np.where(span > 0, (maps - low) / np.maximum(span, 1e-12), 0.0)
        out[rows] = fused / len(teacher_maps)
    return out
