"""Architecture of the built-in deep teachers: a high-resolution encoder-decoder.

One network family for both teachers: `in_channels=3` (current frame, the spatial teacher
Ts) or 6 (previous and current frames stacked, the temporal teacher Tt). It is a small
U-Net / feature-pyramid hybrid:

- encoder: a stride-2 stem, then four stages each halving the side (max-pool) with two
  3x3 conv + group-norm + ReLU layers, widths 16, 32, 64, 128, 320 at 1/2 ... 1/32 of the
  input, and a dilated 3x3 context layer at 1/32;
- decoder: at each level a 1x1 lateral reduction of the coarser features, bilinear 2x
  up-sampling, addition of the skip features and a 3x3 conv + GN + ReLU;
- a 3x3 output conv at 1/2 and a bilinear up-sampling to the input size, then a sigmoid.

It sees the frame at `input_size` (default 768x448, both multiples of 32, about 0.6 of a
720p frame's side) instead of the students' 64x64: a teacher is an offline model that can
afford the detail small targets need. At that size it has 2.76 M parameters and 2.72 G
multiply-accumulates, 17.6x and 50x those of Ss (156,873 parameters, 54.2 MMAC at 64x64),
and likewise against St (the 6-channel stem adds 1 %). Most parameters sit in the coarse
levels, most multiply-accumulates in the fine ones. One 720p frame costs about 50 ms on one
CPU core, resizing included (`python -m skd_ros.teachers`); `teachers.stage0_input_size`
in the training config picks another size.
`test/test_teachers.py` checks both ratios with `skd_ros.models.summary`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_WIDTHS = (16, 32, 64, 128, 320)
DEFAULT_INPUT_SIZE = (768, 448)  # width, height; training.config.DEFAULT_DEEP_INPUT_SIZE
# Saliency maps are mostly background: starting the sigmoid near 0.05 instead of 0.5 spares
# the first epochs from only learning that.
OUTPUT_BIAS = -3.0


@dataclass(frozen=True)
class DeepNetConfig:
    """Shape of a deep teacher; stored as JSON next to its weights."""

    in_channels: int = 3
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE  # (width, height) the frame is resized to

    def __post_init__(self) -> None:
        if self.in_channels not in (3, 6):
            raise ValueError(f"in_channels={self.in_channels}: 3 (spatial) or 6 (temporal)")
        if len(self.widths) < 2 or any(w < 1 for w in self.widths):
            raise ValueError(f"widths={self.widths}: need at least two positive widths")
        multiple = 2 ** len(self.widths)
        if any(side < multiple or side % multiple for side in self.input_size):
            raise ValueError(
                f"input_size={self.input_size}: both sides must be positive multiples of "
                f"{multiple} (2 ** number of widths)"
            )

    def to_dict(self) -> dict:
        data = asdict(self)
        data["widths"], data["input_size"] = list(self.widths), list(self.input_size)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> DeepNetConfig:
        known = {"in_channels", "widths", "input_size"}
        if set(data) - known:
            raise ValueError(f"unknown deep teacher config keys {sorted(set(data) - known)}")
        return cls(int(data["in_channels"]), tuple(data["widths"]), tuple(data["input_size"]))


def _conv_bn(in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """3x3 conv, group norm, ReLU. Group norm has no running statistics, so the net
    behaves the same in training and evaluation even after a few small-batch steps."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.GroupNorm(min(8, out_ch), out_ch),
        nn.ReLU(inplace=True),
    )


class DeepSaliencyNet(nn.Module):
    """(B, C, H, W) frames in [0, 1] (RGB; C = 3 or 6) -> (B, 1, H, W) saliency in [0, 1]."""

    def __init__(self, config: DeepNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DeepNetConfig()
        widths = config.widths
        self.stem = nn.Sequential(
            _conv_bn(config.in_channels, widths[0], stride=2), _conv_bn(widths[0], widths[0])
        )
        self.stages = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), _conv_bn(a, b), _conv_bn(b, b))
            for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.context = _conv_bn(widths[-1], widths[-1], dilation=2)
        self.laterals = nn.ModuleList(
            nn.Conv2d(b, a, 1) for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.merges = nn.ModuleList(_conv_bn(w, w) for w in widths[:-1])
        self.output = nn.Conv2d(widths[0], 1, 3, padding=1)
        nn.init.constant_(self.output.bias, OUTPUT_BIAS)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        features = [self.stem(frames)]
        for stage in self.stages:
            features.append(stage(features[-1]))
        x = self.context(features[-1])
        for level in range(len(features) - 2, -1, -1):
            skip = features[level]
            x = F.interpolate(
                self.laterals[level](x), size=skip.shape[-2:], mode="bilinear", align_corners=False
            )
            x = self.merges[level](x + skip)
        x = F.interpolate(
            self.output(x), size=frames.shape[-2:], mode="bilinear", align_corners=False
        )
        return torch.sigmoid(x)
