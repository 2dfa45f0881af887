"""Section 4: memory. Parameters, model file sizes, and the peak activation memory of one
frame, for Sst and for the deep teachers, with the teacher / Sst ratios.

Peak activation memory is measured, not estimated: a torch dispatch mode sees every tensor
an eager forward pass allocates and when it is freed, and records the largest total alive at
once (inputs and weights excluded). The node's resident memory comes from section 5's node
runs (`skd_ros.bench.nodes`).
"""

from __future__ import annotations

import weakref
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from skd_ros.models import ModelConfig, Sst
from skd_ros.models.summary import count_parameters
from skd_ros.teachers.deep_nets import DeepNetConfig, DeepSaliencyNet


class _PeakTracker(TorchDispatchMode):
    """Live bytes of tensors created inside the mode, and their peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._storages: dict[int, list[int]] = {}  # data_ptr -> [bytes, tensors alive]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, torch.Tensor):
                self._track(tensor)
        return out

    def _track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        entry = self._storages.get(key)
        if entry is None:
            entry = self._storages[key] = [storage.nbytes(), 0]
            self.live += entry[0]
            self.peak = max(self.peak, self.live)
        entry[1] += 1
        weakref.finalize(tensor, self._release, key)

    def _release(self, key: int) -> None:
        entry = self._storages.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.live -= entry[0]
            del self._storages[key]


def peak_activation_bytes(model: torch.nn.Module, *inputs: torch.Tensor) -> int:
    """Largest total of intermediate tensors alive at once in one eager forward pass."""
    model = model.eval()
    with torch.inference_mode():
        model(*inputs)  # warm-up: lazy initialisation stays out of the figure
        with _PeakTracker() as tracker:
            model(*inputs)
    return tracker.peak


def networks() -> dict[str, tuple[torch.nn.Module, tuple[torch.Tensor, ...]]]:
    """Sst-32, Sst-64 and the two deep teachers, each with one frame's input."""
    cases = {}
    for side in (32, 64):
        frame = torch.rand(1, 3, side, side)
        cases[f"Sst-{side}"] = (Sst(ModelConfig(resolution=side)), (frame, frame))
    for kind, channels in (("spatial", 3), ("temporal", 6)):
        config = DeepNetConfig(channels)
        width, height = config.input_size
        cases[f"teacher: deep-{kind}"] = (
            DeepSaliencyNet(config),
            (torch.rand(1, channels, height, width),),
        )
    return cases


def measure(model_files: dict[str, Path]) -> list[dict]:
    """One row per network: parameters, fp32 parameter bytes, peak activations, total."""
    torch.set_num_threads(1)
    rows = []
    for label, (model, inputs) in networks().items():
        parameters = count_parameters(model)
        activations = peak_activation_bytes(model, *inputs)
        rows.append(
            {
                "model": label,
                "parameters": parameters,
                "parameter_mb": 4 * parameters / 1e6,
                "peak_activation_mb": activations / 1e6,
                "footprint_mb": (4 * parameters + activations) / 1e6,
            }
        )
    _add_ratios(rows)
    for row in rows:
        files = model_files.get(row["model"], [])
        row["files"] = {Path(f).name: Path(f).stat().st_size / 1e6 for f in files}
    return rows


def _add_ratios(rows: list[dict]) -> None:
    teachers = [r for r in rows if r["model"].startswith("teacher")]
    for row in rows:
        if row["model"].startswith("Sst"):
            row["teacher_over_sst"] = {
                t["model"]: {
                    "parameters": t["parameters"] / row["parameters"],
                    "footprint": t["footprint_mb"] / row["footprint_mb"],
                }
                for t in teachers
            }
