"""Per-epoch training checkpoints: written atomically, read without unpickling code.

A checkpoint holds the model and optimiser state dicts, the finished epoch and the loss
history (one record per finished epoch: the lines of the stage's log.jsonl, which is
rewritten from it, so the two always agree). It is written to a temporary file and renamed,
so a run killed mid-write keeps the previous checkpoint (and leaves a `.checkpoint.pt.*.tmp.pt`
that `skd_ros.atomic_write.remove_stale_temporaries` deletes on resume). It is read with
`torch.load(weights_only=True)`, which accepts tensors and plain containers only, never
arbitrary objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from skd_ros.atomic_write import write_atomic


@dataclass
class Checkpoint:
    """Training state after `epoch` finished epochs."""

    model: dict
    optimizer: dict
    epoch: int
    history: list[dict] = field(default_factory=list)


def save_checkpoint(path: Path, state: Checkpoint) -> None:
    """Atomically write `state` to `path`."""
    payload = {
        "model": state.model,
        "optimizer": state.optimizer,
        "epoch": state.epoch,
        "history": state.history,
    }
    write_atomic(path, lambda tmp: torch.save(payload, tmp))


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
    if not isinstance(epoch, int) or epoch < 0 or not _history_of(history, epoch):
        raise ValueError(
            f"checkpoint {path} has a malformed epoch or history (epoch {epoch!r:.20}, "
            f"expected one record per finished epoch); delete it to restart"
        )
    if not isinstance(payload["model"], dict) or not isinstance(payload["optimizer"], dict):
        raise ValueError(
            f"checkpoint {path} holds no model or optimizer state; delete it to restart"
        )
    return Checkpoint(payload["model"], payload["optimizer"], epoch, history)


def _history_of(history, epoch: int) -> bool:
    """Whether `history` holds the records of epochs 1..`epoch`, in order."""
    if not isinstance(history, list) or len(history) != epoch:
        return False
    epochs = [record.get("epoch") if isinstance(record, dict) else None for record in history]
    return epochs == list(range(1, epoch + 1))
