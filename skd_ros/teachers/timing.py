"""Every built-in teacher, ready to be timed (`python -m skd_ros.teachers`, the benchmark).

The deep teachers are built untrained with a fixed seed: their cost does not depend on the
weights, so timing needs no stage-0 run.
"""

from __future__ import annotations

from pathlib import Path

import torch

from skd_ros.teachers import build_teacher
from skd_ros.teachers.deep import save_deep_teacher
from skd_ros.teachers.deep_nets import DeepNetConfig, DeepSaliencyNet

CLASSICAL_FOR_TIMING = ("spectral-residual", "fine-grained", "flow")


def builtin_teachers_for_timing(folder: Path) -> list:
    """Every built-in teacher; the deep ones untrained (seeded), saved under `folder`."""
    return [build_teacher(n) for n in CLASSICAL_FOR_TIMING] + deep_teachers_for_timing(folder)


def deep_teachers_for_timing(folder: Path, device: str = "cpu") -> list:
    """The spatial and temporal deep teachers, untrained (seeded), saved under `folder` and
    loaded on `device`."""
    teachers = []
    for kind, channels in (("spatial", 3), ("temporal", 6)):
        torch.manual_seed(0)
        net = DeepSaliencyNet(DeepNetConfig(channels)).eval()
        path = save_deep_teacher(net, folder / kind, kind)
        teachers.append(build_teacher(path, device=device))
    return teachers
