"""Sst, the deployed spatiotemporal network: two streams fused by one head (paper Fig. 4c)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from skd_ros.models.config import ModelConfig
from skd_ros.models.layers import Head, Stream, init_truncated_normal, temporal_input
from skd_ros.models.students import SpatialStudent, TemporalStudent


class Sst(nn.Module):
    """Spatial stream on the current frame, temporal stream on (previous, current), fused head.

    The temporal stream's input is `temporal_input` (the pair, and its difference when the
    config asks for it).
    The head's 1x1 layer 9 reduces the concatenation Fs||Ft of both streams' features.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.spatial = Stream(3, self.config)
        self.temporal = Stream(self.config.temporal_channels, self.config)
        self.head = Head(2 * self.config.feature_channels, self.config)
        init_truncated_normal(self)

    def forward(self, previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        """Two (B, 3, h, w) reduced RGB frames in [0, 1] -> (B, 1, h, w) saliency of `current`."""
        fs = self.spatial(current)
        ft = self.temporal(temporal_input(previous, current, self.config))
        return self.head(torch.cat((fs, ft), dim=1))

    @classmethod
    def from_students(cls, spatial: SpatialStudent, temporal: TemporalStudent) -> Sst:
        """Stage-2 start: copy layers 1-8 of Ss and St into the two streams (eq. 5's init).

        The fusion head starts from a truncated normal; the students are left untouched.
        """
        if spatial.config != temporal.config:
            raise ValueError(
                f"students disagree on shape: Ss {spatial.config} vs St {temporal.config}; "
                "train both with the same model config"
            )
        model = cls(spatial.config)  # the head's init is drawn on the CPU: same on any device
        model.spatial = copy.deepcopy(spatial.stream)
        model.temporal = copy.deepcopy(temporal.stream)
        return model.to(next(spatial.parameters()).device)


def spatiotemporal(config: ModelConfig | None = None) -> Sst:
    """Build an untrained Sst for `config` (default: the paper's aerial network at 64x64)."""
    return Sst(config)
