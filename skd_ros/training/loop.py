"""The epoch loop every stage shares: Adam steps, progress, logs, checkpoints, resume."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from skd_ros.atomic_write import remove_stale_temporaries, write_text
from skd_ros.training import distributed
from skd_ros.training.batches import EpochBatches, PairBatches, loader
from skd_ros.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint

LossFn = Callable[[torch.nn.Module, dict[str, torch.Tensor]], torch.Tensor]
CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"


@dataclass(frozen=True)
class LoopSettings:
    """How one stage trains."""

    epochs: int
    batch_size: int
    lr: float
    seed: int
    workers: int = 0
    resume: bool = False
    progress: bool = True


def fit(
    model: torch.nn.Module,
    loss_fn: LossFn,
    data: PairBatches,
    settings: LoopSettings,
    stage_dir: Path,
    context: distributed.Context,
    name: str,
) -> torch.nn.Module:
    """Train `model` for `settings.epochs` epochs, checkpointing each one into `stage_dir`.

    With `settings.resume` the loop continues after the last finished epoch of a previous
    run; without it, an existing checkpoint is an error rather than silently overwritten.
    log.jsonl is rewritten from the checkpoint's history after each epoch and on resume, so
    a kill at any point leaves the two in agreement. Returns the trained (unwrapped) model.
    """
    stage_dir = Path(stage_dir)
    # channels-last convolutions train about 1.5x faster on CPU (and suit tensor cores)
    model = model.to(context.device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    state = _restore(model, optimizer, stage_dir, settings)
    if context.is_main:
        _tidy_after_a_kill(stage_dir, state)
        if state.epoch:
            print(
                f"[{name}] resuming from {stage_dir / CHECKPOINT}: "
                f"{state.epoch} of {settings.epochs} epoch(s) already done",
                flush=True,
            )
    wrapped = distributed.wrap(model, context)
    sampler = EpochBatches(
        len(data), settings.batch_size, settings.seed, context.rank, context.world_size
    )
    batches = loader(data, sampler, settings.workers)
    for epoch in range(state.epoch, settings.epochs):
        sampler.set_epoch(epoch)
        record = _run_epoch(wrapped, loss_fn, batches, optimizer, context, settings, name, epoch)
        state.history.append(record)
        if context.is_main:  # checkpoint first: a logged epoch is always a saved epoch
            state.model, state.optimizer, state.epoch = (
                model.state_dict(),
                optimizer.state_dict(),
                epoch + 1,
            )
            save_checkpoint(stage_dir / CHECKPOINT, state)
            _write_log(stage_dir, state.history)
            _say_epoch(record)
        distributed.barrier(context)
    return model


def earlier_run(path: Path) -> FileExistsError:
    """The refusal to train over `path`, which an earlier run wrote, without --resume."""
    return FileExistsError(
        f"{path} exists from an earlier run; pass --resume to continue it, or choose a "
        "new --output folder to start over"
    )


def _restore(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    stage_dir: Path,
    settings: LoopSettings,
) -> Checkpoint:
    path = stage_dir / CHECKPOINT
    if not path.exists():
        return Checkpoint(model.state_dict(), optimizer.state_dict(), 0, [])
    if not settings.resume:
        raise earlier_run(path)
    state = load_checkpoint(path)
    if state.epoch > settings.epochs:
        raise ValueError(
            f"checkpoint {path} claims {state.epoch} finished epoch(s), more than the "
            f"{settings.epochs} this stage is configured for: it is not this run's; delete "
            "it to restart the stage, or resume with the configuration that wrote it"
        )
    try:
        model.load_state_dict(state.model)
        optimizer.load_state_dict(state.optimizer)
    except (RuntimeError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"checkpoint {path} does not fit this stage's model ({type(error).__name__}: "
            f"{str(error)[:300]}); it is from another configuration: delete it to restart "
            "the stage, or resume with the configuration that wrote it"
        ) from None
    return state


def _tidy_after_a_kill(stage_dir: Path, state: Checkpoint) -> None:
    """Delete what a kill mid-write left, and rewrite the log from the checkpoint: a kill
    between the checkpoint's rename and its log line would have lost that line for good."""
    for path in (stage_dir / CHECKPOINT, stage_dir / LOG):
        remove_stale_temporaries(path)
    if state.epoch:
        _write_log(stage_dir, state.history)


def _run_epoch(model, loss_fn, batches, optimizer, context, settings, name, epoch) -> dict:
    model.train()
    start, frames, total = time.perf_counter(), 0, 0.0
    bar = tqdm(
        batches,
        desc=f"{name} epoch {epoch + 1}/{settings.epochs}",
        disable=not (settings.progress and context.is_main),
        leave=False,
        unit="batch",
    )
    for batch in bar:
        batch = {k: _to_device(v, context.device) for k, v in batch.items()}
        loss = loss_fn(model, batch)
        _check_finite(loss.item(), name, epoch, settings)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        count = len(batch["current"]) * context.world_size
        frames += count
        total += loss.item() * count
        rate = frames / max(time.perf_counter() - start, 1e-9)
        bar.set_postfix(loss=f"{loss.item():.4f}", fps=f"{rate:.0f}")
    seconds = time.perf_counter() - start
    mean_loss = distributed.average(total / max(frames, 1), context)
    return {
        "stage": name,
        "epoch": epoch + 1,
        "loss": mean_loss,
        "frames": frames,
        "seconds": round(seconds, 3),
        "frames_per_second": round(frames / max(seconds, 1e-9), 1),
    }


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite: the weights would be garbage from here on."""


def _check_finite(loss: float, name: str, epoch: int, settings: LoopSettings) -> None:
    if not math.isfinite(loss):
        raise TrainingDiverged(
            f"{name}: the loss became {loss} in epoch {epoch + 1}, so training stopped; "
            f"epoch {epoch + 1} is not saved (the checkpoint holds the {epoch} before it). "
            f"Lower the learning rate (now {settings.lr:g}) and train into a new --output"
        )


def _to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    return tensor.to(device, non_blocking=True, memory_format=torch.channels_last)


def _write_log(stage_dir: Path, history: list[dict]) -> None:
    """log.jsonl: one JSON line per finished epoch, the checkpoint's history."""
    text = "".join(json.dumps(record) + "\n" for record in history)
    write_text(stage_dir / LOG, text)


def _say_epoch(record: dict) -> None:
    print(
        f"[{record['stage']}] epoch {record['epoch']}: loss {record['loss']:.5f}, "
        f"{record['frames_per_second']:.0f} frames/s",
        flush=True,
    )
