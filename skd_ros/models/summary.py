"""Size and cost of the SKD networks: parameters and multiply-accumulates per frame."""

from __future__ import annotations

import torch
from torch import nn

from skd_ros.markdown import table
from skd_ros.models.config import ModelConfig


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of the convolutions for one forward pass on `inputs`.

    FLOPs are about twice this. Pooling, ReLU and sigmoid are not counted.
    """
    total = 0

    def hook(layer: nn.Conv2d | nn.ConvTranspose2d, args: tuple, output: torch.Tensor) -> None:
        nonlocal total
        kernel = layer.weight[0, 0].numel()
        if isinstance(layer, nn.ConvTranspose2d):
            total += args[0].numel() * layer.out_channels * kernel
        else:
            total += output.numel() * (layer.in_channels // layer.groups) * kernel

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
    ]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return total


def summary(config: ModelConfig | None = None) -> list[dict]:
    """One row per network (Ss, St, Sst): parameters and MACs per frame at `config.resolution`."""
    from skd_ros.models.spatiotemporal import Sst
    from skd_ros.models.students import SpatialStudent, TemporalStudent

    config = config or ModelConfig()
    frame = torch.zeros(1, 3, config.resolution, config.resolution)
    cases = [
        ("Ss", SpatialStudent(config), (frame,)),
        ("St", TemporalStudent(config), (torch.cat((frame, frame), 1),)),
        ("Sst", Sst(config), (frame, frame)),
    ]
    return [
        {"model": name, "parameters": count_parameters(net), "macs": count_macs(net, *args)}
        for name, net, args in cases
    ]


def format_summary(rows: list[dict]) -> str:
    """Markdown table of `summary()` rows."""
    cells = [[r["model"], f"{r['parameters']:,}", f"{r['macs'] / 1e6:.1f}"] for r in rows]
    return table(["model", "parameters", "MMAC / frame"], cells)
