"""The Sst files the benchmark times: fp32 and INT8, at every resolution it needs.

At 64 the packaged demo models are used (trained, and their INT8 accuracy is recorded).
Other resolutions are timing stand-ins: an Sst of that size with seeded random weights,
exported and quantized the same way (speed does not depend on the weights).
"""

from __future__ import annotations

from pathlib import Path

import torch

from skd_ros.export import export_sst
from skd_ros.models import ModelConfig, Sst
from skd_ros.package_files import find_package_file
from skd_ros.quantize import quantize_model, synthetic_calibration_pairs

PACKAGED_RESOLUTION = 64
PRECISIONS = ("fp32", "int8")


def packaged(precision: str) -> Path | None:
    """The packaged demo model of `precision`, or None when it is not installed."""
    name = "sst_demo.json" if precision == "fp32" else "sst_demo_int8.json"
    return find_package_file("resource/models", "models", name)


def prepare_models(resolutions: list[int], folder: Path) -> dict[tuple[int, str], Path]:
    """{(resolution, precision): model .json} for every resolution, fp32 and int8."""
    models: dict[tuple[int, str], Path] = {}
    for resolution in resolutions:
        fp32, int8 = packaged("fp32"), packaged("int8")
        if resolution != PACKAGED_RESOLUTION or fp32 is None or int8 is None:
            fp32, int8 = _stand_in(resolution, folder)
        models[(resolution, "fp32")], models[(resolution, "int8")] = fp32, int8
    return models


def _stand_in(resolution: int, folder: Path) -> tuple[Path, Path]:
    torch.manual_seed(resolution)
    sst = Sst(ModelConfig(resolution=resolution)).eval()
    paths = export_sst(sst, folder, f"sst{resolution}", {"what": "benchmark stand-in"})
    pairs = synthetic_calibration_pairs(resolution, count=32)
    return paths.metadata, quantize_model(paths.metadata, pairs)
