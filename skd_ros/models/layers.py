"""The two building blocks every SKD network is made of: a feature stream and a saliency head."""

from __future__ import annotations

import math

import torch
from torch import nn

from skd_ros.models.config import ModelConfig

# Initial output logit: sigmoid(-3) = 0.05, about the mean of a saliency map. Starting at 0.5
# instead, the first steps push every pixel down so hard that the head's ReLUs die and the
# network collapses to a flat map (seen on small-target aerial data).
OUTPUT_PRIOR_LOGIT = -3.0
# `motion_input`'s difference channels are |current - previous| times this: a moving edge
# then reaches about the range of the colour channels instead of a few hundredths of it.
MOTION_GAIN = 4.0


def conv_relu(in_ch: int, out_ch: int, kernel: int) -> nn.Sequential:
    """A same-size convolution followed by ReLU (the paper puts ReLU after every convolution)."""
    conv = nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2)
    return nn.Sequential(conv, nn.ReLU(inplace=True))


def upsample(in_ch: int, out_ch: int, activation: nn.Module) -> nn.Sequential:
    """A 4x4 stride-2 transposed convolution that doubles the map side, then `activation`."""
    deconv = nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1)
    return nn.Sequential(deconv, activation)


def temporal_input(previous: torch.Tensor, current: torch.Tensor, config: ModelConfig):
    """The temporal stream's input: (previous, current) on channels, and with
    `config.motion_input` their scaled absolute difference after them (9 channels)."""
    if not config.motion_input:
        return torch.cat((previous, current), dim=1)
    return torch.cat((previous, current, MOTION_GAIN * torch.abs(current - previous)), dim=1)


class Stream(nn.Sequential):
    """Layers 1-8: the feature extractor shared by a student and one stream of Sst.

    Output: `feature_channels` maps at a quarter of the input side (two 2x poolings).
    """

    def __init__(self, in_channels: int, config: ModelConfig) -> None:
        w1, w2, w4, w6, w7, w8 = config.stream_widths
        k1, k2 = config.first_kernels
        super().__init__()
        self.add_module("layer1", conv_relu(in_channels, w1, k1))
        self.add_module("layer2", conv_relu(w1, w2, k2))
        self.add_module("layer3", nn.MaxPool2d(2))
        self.add_module("layer4", conv_relu(w2, w4, 3))
        self.add_module("layer5", nn.MaxPool2d(2))
        self.add_module("layer6", conv_relu(w4, w6, 3))
        self.add_module("layer7", conv_relu(w6, w7, 3))
        self.add_module("layer8", conv_relu(w7, w8, 3))


class Head(nn.Sequential):
    """Layers 9-13: 1x1 reduction, two 3x3 convolutions, two 2x transposed convolutions.

    Returns one saliency channel at the input resolution, in [0, 1]. Hidden layers end in
    ReLU; the output layer ends in a sigmoid so the map is bounded and never has a dead
    gradient (a ReLU-then-clamp output can get stuck at 0 or 1 during training).
    """

    def __init__(self, in_channels: int, config: ModelConfig) -> None:
        w9, w10, w11, w12 = config.head_widths
        super().__init__()
        self.add_module("layer9", conv_relu(in_channels, w9, 1))
        self.add_module("layer10", conv_relu(w9, w10, 3))
        self.add_module("layer11", conv_relu(w10, w11, 3))
        self.add_module("layer12", upsample(w11, w12, nn.ReLU(inplace=True)))
        self.add_module("layer13", upsample(w12, 1, nn.Sigmoid()))


@torch.no_grad()
def init_truncated_normal(module: nn.Module) -> None:
    """He-scaled truncated-normal weights (cut at 2 std) zero biases: the paper's head init."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            fan_in = (
                layer.weight[0].numel() if isinstance(layer, nn.Conv2d) else _deconv_fan_in(layer)
            )
            std = math.sqrt(2.0 / fan_in)
            nn.init.trunc_normal_(layer.weight, mean=0.0, std=std, a=-2 * std, b=2 * std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def _deconv_fan_in(layer: nn.ConvTranspose2d) -> int:
    """Inputs that reach one output pixel of a stride-s transposed convolution."""
    kh, kw = layer.kernel_size
    sh, sw = layer.stride
    return layer.in_channels * (kh // sh) * (kw // sw)


@torch.no_grad()
def calibrate(model: nn.Module, layers: list, *inputs: torch.Tensor) -> None:
    """Rescale `layers` (convolutions, in forward order) to unit output spread on `inputs`.

    Data-dependent initialisation (LSUV): the truncated-normal weights keep their shape but
    are scaled so each layer's pre-activation output has standard deviation 1 on a real
    batch. Without it, Sst's fresh head sits on stream features copied from trained
    students whose scale is in the tens, its sigmoid saturates and training stalls.
    """
    device = next(model.parameters()).device  # stage 2's Sst is on the students' GPU
    inputs = tuple(x.to(device) for x in inputs)
    captured: dict[str, torch.Tensor] = {}
    for layer in layers:
        handle = layer.register_forward_hook(lambda _m, _a, out: captured.update(out=out))
        try:
            model(*inputs)
        finally:
            handle.remove()
        spread = float(captured["out"].std())
        if spread > 1e-8:
            layer.weight.div_(spread)
            layer.bias.div_(spread)
    for head in model.modules():
        if isinstance(head, Head):
            output_layer = head_convolutions(head)[-1]  # layer 13
            assert isinstance(output_layer, (nn.Conv2d, nn.ConvTranspose2d))
            assert output_layer.bias is not None
            output_layer.bias.fill_(OUTPUT_PRIOR_LOGIT)


def head_convolutions(head: Head) -> list[nn.Module]:
    """The five convolutions of a head, layers 9 to 13, in order."""
    return [getattr(head, f"layer{i}")[0] for i in range(9, 14)]


def all_convolutions(module: nn.Module) -> list[nn.Module]:
    """Every (transposed) convolution of `module` in registration (= forward) order."""
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
