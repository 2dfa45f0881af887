"""Per-epoch training checkpoints: written atomically, read without unpickling code.

A checkpoint holds the model and optimiser state dicts, the finished epoch and the loss
history. It is written to a temporary file and renamed, so a run killed mid-write keeps the
previous checkpoint. It is read with `torch.load(weights_only=True)`, which accepts tensors
and plain containers only, never arbitrary objects.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch


@dataclass
class Checkpoint:
    """Training state after `epoch` finished epochs."""

    model: dict
    optimizer: dict
    epoch: int
    history: list[dict] = field(default_factory=list)


def save_checkpoint(path: Path, state: Checkpoint) -> None:
    """Atomically write `state` to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": state.model,
        "optimizer": state.optimizer,
        "epoch": state.epoch,
        "history": state.history,
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`; errors name the file."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # corrupt or foreign file: say which and what to do
        raise ValueError(
            f"checkpoint {path} cannot be read ({exc}); delete it to restart that stage"
        ) from exc
    if not isinstance(payload, dict):
        raise ValueError(f"checkpoint {path} holds no checkpoint; delete it to restart that stage")
    missing = {"model", "optimizer", "epoch"} - set(payload)
    if missing:
        raise ValueError(f"checkpoint {path} lacks {sorted(missing)}; delete it to restart")
    epoch, history = payload["epoch"], payload.get("history", [])
    if not isinstance(epoch, int) or epoch < 0 or not isinstance(history, list):
        raise ValueError(
            f"checkpoint {path} has a malformed epoch or history; delete it to restart"
        )
    if not isinstance(payload["model"], dict) or not isinstance(payload["optimizer"], dict):
        raise ValueError(
            f"checkpoint {path} holds no model or optimizer state; delete it to restart"
        )
    return Checkpoint(payload["model"], payload["optimizer"], epoch, history)
