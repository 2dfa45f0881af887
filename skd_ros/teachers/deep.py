"""Built-in deep teachers: stage-0 training on labelled data, files, and the Teacher wrapper.

`train_deep_teacher('spatial' | 'temporal', videos, out)` trains a `DeepSaliencyNet`
(`skd_ros.teachers.deep_nets`) on labelled high-resolution videos: Adam, the normalised L2
loss of the paper (`skd_ros.losses.normalized_l2`) against the ground truth, seeded
shuffling and horizontal flips, a few epochs. The temporal teacher sees the causal pair
(previous, current) stacked on channels, a video's first frame paired with itself.
Frames are resized to the net's `input_size` with area averaging: the teacher's own input
size, not the students' reduction R. At most `max_frames` frames are used, evenly spaced
through each video, so stage 0 stays bounded on AVS1K-sized data.

Files: `<name>.json` (format, kind, architecture, the weights' SHA-256, training facts)
and `<name>.safetensors` beside it, written atomically. Loading reads JSON and safetensors
only, never a pickle, and refuses weights whose hash differs from the JSON's. The hash is
the teacher's `identity`, so the cache recomputes maps when the weights change.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from skd_ros.atomic_write import write_atomic, write_json
from skd_ros.data.video import check_frame_size
from skd_ros.losses import normalized_l2
from skd_ros.package_files import sha256_of
from skd_ros.teachers.base import check_kind
from skd_ros.teachers.deep_nets import (
    DEFAULT_INPUT_SIZE,
    DEFAULT_WIDTHS,
    DeepNetConfig,
    DeepSaliencyNet,
)

log = logging.getLogger(__name__)

FORMAT = "skd_ros.deep_teacher"
FORMAT_VERSION = 1


def _device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def net_input(frames: Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """BGR uint8 frames -> (C, H, W) uint8 RGB at `size` (width, height), stacked in order."""
    planes = []
    for frame in frames:
        small = cv2.resize(frame, tuple(size), interpolation=cv2.INTER_AREA)
        planes.append(small[:, :, ::-1].transpose(2, 0, 1))
    return np.ascontiguousarray(np.concatenate(planes, axis=0))


class Stage0Data:
    """Resized frames of labelled videos, the training pairs and their targets.

    `frames` (M, 3, H, W) uint8 RGB holds each needed frame once; sample i is frame
    `current[i]` (with `previous[i]` before it for a temporal teacher) and `targets[i]`
    (H, W) float16. With the default 2,000 frames at 768x448 that is about 3 GB (a temporal
    teacher may hold each frame's predecessor too: up to 5 GB).
    """

    def __init__(
        self,
        frames: np.ndarray,
        current: np.ndarray,
        previous: np.ndarray | None,
        targets: np.ndarray,
    ) -> None:
        self.frames, self.current, self.previous, self.targets = frames, current, previous, targets

    def __len__(self) -> int:
        return len(self.current)

    def inputs(self, idx: np.ndarray) -> np.ndarray:
        """(B, C, H, W) uint8 network inputs of samples `idx` (C = 3, or 6 for pairs)."""
        current = self.frames[self.current[idx]]
        if self.previous is None:
            return current
        return np.concatenate([self.frames[self.previous[idx]], current], axis=1)

    @classmethod
    def from_videos(
        cls,
        kind: str,
        videos: Sequence,
        input_size: tuple[int, int] = DEFAULT_INPUT_SIZE,
        max_frames: int | None = 2000,
        progress: bool = False,
    ) -> Stage0Data:
        kind = check_kind(kind)
        labelled = [v for v in videos if v.labelled]
        if not labelled:
            raise ValueError(
                "stage 0 needs labelled videos (ground-truth maps); none were given. "
                "Use a classical or external teacher for unlabelled data."
            )
        total = sum(len(v) for v in labelled)
        stride = max(1, math.ceil(total / max_frames)) if max_frames else 1
        frames, current, previous, targets = [], [], [], []
        bar = _bar(total, "stage 0: reading frames", progress)
        for video in labelled:
            last = last_row = last_shape = None  # the previous sample, resized; its row
            for sample in video.samples():
                bar.update(1)
                check_frame_size(video, sample)
                small = net_input([sample.image], input_size)
                if sample.index % stride == 0:
                    frames.append(small)
                    row = len(frames) - 1
                    if last is None or last_shape != sample.image.shape:
                        before = row  # a first frame pairs with itself
                    elif last_row is None:
                        frames.append(last)
                        before = len(frames) - 1
                    else:
                        before = last_row
                    current.append(row)
                    previous.append(before)
                    target = cv2.resize(
                        sample.saliency, tuple(input_size), interpolation=cv2.INTER_AREA
                    )
                    targets.append(target.astype(np.float16))
                    last_row = row
                else:
                    last_row = None
                last, last_shape = small, sample.image.shape
        bar.close()
        if not current:
            raise ValueError("stage 0: no readable labelled frame in the given videos")
        pairs = np.asarray(previous, np.int64) if kind == "temporal" else None
        return cls(np.stack(frames), np.asarray(current, np.int64), pairs, np.stack(targets))


def _bar(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=not enabled, leave=False)


def _batch(data: Stage0Data, idx: np.ndarray, device, flip: np.ndarray | None = None):
    inputs = torch.from_numpy(data.inputs(idx)).to(device).float().div_(255.0)
    targets = torch.from_numpy(data.targets[idx].astype(np.float32)).to(device).unsqueeze(1)
    if flip is not None and flip.any():
        mask = torch.from_numpy(flip).to(device)
        inputs[mask] = inputs[mask].flip(-1)
        targets[mask] = targets[mask].flip(-1)
    return inputs, targets


@torch.no_grad()
def stage0_loss(model: DeepSaliencyNet, data: Stage0Data, batch_size: int = 16) -> float:
    """Mean normalised L2 loss of `model` (eval mode) over `data`."""
    model.eval()
    device = next(model.parameters()).device
    total = 0.0
    for start in range(0, len(data), batch_size):
        idx = np.arange(start, min(start + batch_size, len(data)))
        inputs, targets = _batch(data, idx, device)
        total += float(normalized_l2(model(inputs), targets)) * len(idx)
    return total / len(data)


def train_deep_teacher(
    kind: str,
    videos: Sequence,
    out: Path | None = None,
    *,
    epochs: int = 8,
    lr: float = 1e-3,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE,
    widths: tuple[int, ...] = DEFAULT_WIDTHS,
    max_frames: int | None = 2000,
    device: str = "auto",
    data: Stage0Data | None = None,
) -> DeepSaliencyNet:
    """Stage 0: train a deep spatial or temporal teacher on labelled `videos`.

    Saves it to `out` (`<name>.json` + `<name>.safetensors`) when given. The returned
    model (eval mode) carries `stage0`: loss before and after training (eval mode, on
    the training frames) and the mean loss of each epoch. `data` skips reading `videos`.
    """
    kind = check_kind(kind)
    started = time.perf_counter()
    if data is None:
        data = Stage0Data.from_videos(kind, videos, input_size, max_frames, progress)
    config = DeepNetConfig(3 if kind == "spatial" else 6, tuple(widths), tuple(input_size))
    torch.manual_seed(seed)
    target_device = _device(device)
    model = DeepSaliencyNet(config).to(target_device)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    loss_before = stage0_loss(model, data, batch_size)
    epoch_losses = []
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(data))
        flips = rng.random(len(data)) < 0.5
        batches = range(0, len(data), batch_size)
        bar = _bar(len(data), f"stage 0 deep-{kind} epoch {epoch + 1}/{epochs}", progress)
        total = 0.0
        for start in batches:
            idx = order[start : start + batch_size]
            inputs, targets = _batch(data, idx, target_device, flips[idx])
            loss = normalized_l2(model(inputs), targets)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(idx)
            bar.update(len(idx))
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        bar.close()
        epoch_losses.append(total / len(data))
        log.info("stage 0 deep-%s epoch %d: loss %.5f", kind, epoch + 1, epoch_losses[-1])
    model.stage0 = {
        "frames": len(data),
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "seed": seed,
        "loss_before": loss_before,
        "loss_after": stage0_loss(model, data, batch_size),
        "epoch_losses": epoch_losses,
        "seconds": round(time.perf_counter() - started, 1),
    }
    model.eval()
    if out is not None:
        save_deep_teacher(model, out, kind, {"stage0": model.stage0})
    return model


def _paths(path: Path) -> tuple[Path, Path]:
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".json", ".safetensors") else path
    return stem.with_suffix(".json"), stem.with_suffix(".safetensors")


def save_deep_teacher(
    model: DeepSaliencyNet, path: Path, kind: str, info: dict | None = None
) -> Path:
    """Write `<path>.safetensors` then `<path>.json`; returns the JSON path."""
    from safetensors.torch import save_file

    kind = check_kind(kind)
    json_path, weights_path = _paths(path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_atomic(weights_path, lambda temp: save_file(state, str(temp)))
    description = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": f"deep-{kind}",
        "kind": kind,
        "architecture": "skd_ros.teachers.deep_nets.DeepSaliencyNet",
        "config": model.config.to_dict(),
        "input": "RGB in [0, 1], frames resized to config.input_size (width, height) with "
        "area averaging; temporal: previous then current stacked on channels",
        "weights": weights_path.name,
        "sha256": sha256_of(weights_path),
        "info": info or {},
    }
    write_json(json_path, description, indent=2)
    return json_path


def load_deep_net(path: Path, device: str = "cpu") -> tuple[DeepSaliencyNet, dict]:
    """The network and its JSON description, from `<name>.json` (or its .safetensors)."""
    from safetensors.torch import load_file

    json_path, _ = _paths(path)
    if not json_path.is_file():
        raise FileNotFoundError(
            f"{json_path} does not exist; train the teacher first (train_deep_teacher, or "
            "`train run`, whose stage 0 writes <run>/teachers/deep-<kind>.json)"
        )
    description = json.loads(json_path.read_text())
    if description.get("format") != FORMAT:
        raise ValueError(f"{json_path} is not a deep teacher description (format {FORMAT!r})")
    if description.get("version", 0) > FORMAT_VERSION:
        raise ValueError(f"{json_path} has format version {description['version']}; update skd_ros")
    weights = json_path.parent / description["weights"]
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} (named in {json_path}) does not exist")
    digest = sha256_of(weights)
    if digest != description["sha256"]:
        raise ValueError(f"{weights} does not match the SHA-256 recorded in {json_path}")
    model = DeepSaliencyNet(DeepNetConfig.from_dict(description["config"]))
    model.load_state_dict(load_file(str(weights)), strict=True)
    return model.to(_device(device)).eval(), description


class DeepTeacher:
    """A trained `DeepSaliencyNet` as a Teacher: full-resolution frames -> its map.

    The map has the net's input size; callers reduce it with R.
    """

    def __init__(self, model: DeepSaliencyNet, kind: str, name: str, identity: str) -> None:
        self.model, self.kind, self.name, self.identity = (
            model.eval(),
            check_kind(kind),
            name,
            identity,
        )
        expected = 3 if kind == "spatial" else 6
        if model.config.in_channels != expected:
            raise ValueError(f"a {kind} teacher needs {expected} input channels")
        self.device = next(model.parameters()).device

    @torch.inference_mode()
    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        frames = [current] if self.kind == "spatial" else [previous, current]
        if self.kind == "temporal" and previous.shape != current.shape:
            frames = [current, current]
        size = self.model.config.input_size
        inputs = torch.from_numpy(net_input(frames, size)).to(self.device)
        output = self.model(inputs.unsqueeze(0).float().div_(255.0))
        return output[0, 0].float().cpu().numpy()


def load_deep_teacher(path: Path, device: str = "cpu") -> DeepTeacher:
    """A saved deep teacher (`<name>.json` + `.safetensors`) ready to call."""
    model, description = load_deep_net(path, device)
    return DeepTeacher(model, description["kind"], description["name"], description["sha256"][:16])
