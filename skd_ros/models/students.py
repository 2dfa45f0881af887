"""The stage-1 students: Ss sees one reduced frame, St two stacked frames (paper Fig. 4a/b)."""

from __future__ import annotations

import torch
from torch import nn

from skd_ros.models.config import ModelConfig
from skd_ros.models.layers import Head, Stream, init_truncated_normal, temporal_input


class Student(nn.Module):
    """A 13-layer fully convolutional student: `stream` (layers 1-8) then `head` (9-13)."""

    def __init__(self, in_channels: int, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.in_channels = in_channels
        self.stream = Stream(in_channels, config)
        self.head = Head(config.feature_channels, config)
        init_truncated_normal(self)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) reduced frames in [0, 1] -> (B, 1, h, w) saliency in [0, 1]."""
        return self.head(self.stream(frames))


class SpatialStudent(Student):
    """Ss: predicts saliency from the current frame alone (3 RGB channels)."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__(3, config or ModelConfig())


class TemporalStudent(Student):
    """St: predicts saliency from (previous, current) frames stacked on channels (6 channels).

    Unlike the paper's (I_n, I_n+1) -> Y_n, the pair is causal: it predicts the newest
    frame's map, so the node adds no frame of latency. Its stream sees `temporal_input` of
    the pair, as Sst's temporal stream does, so its layers move there unchanged.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        config = config or ModelConfig()
        super().__init__(config.temporal_channels, config)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 6, h, w) stacked (previous, current) -> (B, 1, h, w) saliency of current."""
        return self.forward_pair(frames[:, :3], frames[:, 3:])

    def forward_pair(self, previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """Saliency of `current` from the two (B, 3, h, w) frames."""
        return self.head(self.stream(temporal_input(previous, current, self.config)))


def spatial_student(config: ModelConfig | None = None) -> SpatialStudent:
    """Build Ss for `config` (default: the paper's aerial network at 64x64)."""
    return SpatialStudent(config)


def temporal_student(config: ModelConfig | None = None) -> TemporalStudent:
    """Build St for `config` (default: the paper's aerial network at 64x64)."""
    return TemporalStudent(config)
