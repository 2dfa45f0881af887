"""The files the node runs: Sst as ONNX, its weights as safetensors, and a JSON description.

`export_sst` writes `<name>.onnx`, `<name>.safetensors` and `<name>.json` side by side and
checks that ONNX Runtime reproduces the torch model before it reports success. The JSON
carries everything needed to feed the model correctly (resolution, colour order, scaling,
reduction) plus free-form training facts and metrics. Loading never unpickles: weights come
from safetensors and the description from JSON.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from skd_ros.atomic_write import write_atomic, write_json
from skd_ros.inference.model_files import checked_file, read_description
from skd_ros.models import ModelConfig, Sst
from skd_ros.package_files import sha256_of
from skd_ros.reduction import INTERMEDIATE_SIDE

FORMAT = "skd_ros.sst"
FORMAT_VERSION = 1
INPUT_NAMES = ("previous", "current")
OUTPUT_NAME = "saliency"
PARITY_TOLERANCE = 1e-4


@dataclass(frozen=True)
class ExportedModel:
    """Paths of one exported model's three files."""

    onnx: Path
    weights: Path
    metadata: Path


def input_contract(config: ModelConfig) -> dict:
    """How a frame must be turned into Sst's input; the node and training both follow it."""
    side = config.resolution
    return {
        "names": list(INPUT_NAMES),
        "shape": ["batch", 3, side, side],
        "layout": "NCHW",
        "color_order": "rgb",
        "scale": "uint8 / 255 -> [0, 1]",
        "reduction": {
            "function": "skd_ros.reduction.reduce_resolution",
            "intermediate_side": INTERMEDIATE_SIDE,
        },
        "pairing": "previous frame, current frame; the first frame pairs with itself",
        "compensation": {
            "method": config.compensation,
            "function": "skd_ros.inference.compensation.compensate",
        },
        "output": {"name": OUTPUT_NAME, "shape": ["batch", 1, side, side], "range": [0.0, 1.0]},
    }


def export_sst(
    model: Sst, directory: Path, name: str = "sst", info: dict | None = None
) -> ExportedModel:
    """Write ONNX + safetensors + JSON for `model` into `directory`, checking ONNX parity.

    `info` (training data, config, metrics, command) is stored under "info" in the JSON.
    Files are written to temporary names and renamed, so an interrupted export leaves the
    previous files intact.
    """
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"model name {name!r} must be a plain file name, without folders")
    if not all(bool(torch.isfinite(t).all()) for t in model.state_dict().values()):
        raise ValueError(
            "the model's weights contain NaN or infinity (its training diverged); retrain "
            "it with a lower learning rate"
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = ExportedModel(
        directory / f"{name}.onnx", directory / f"{name}.safetensors", directory / f"{name}.json"
    )
    model = model.eval()
    write_atomic(paths.weights, lambda tmp: save_file(_contiguous_state(model), str(tmp)))
    write_atomic(paths.onnx, lambda tmp: _export_onnx(model, tmp))
    error = onnx_parity_error(model, paths.onnx)
    if not error <= PARITY_TOLERANCE:  # NaN fails too
        raise ValueError(
            f"ONNX export of {paths.onnx} differs from torch by {error:.2e} "
            f"(tolerance {PARITY_TOLERANCE:.0e}); the file is not usable"
        )
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model.config.to_dict(),
        "input": input_contract(model.config),
        "files": {
            "onnx": paths.onnx.name,
            "weights": paths.weights.name,
            "sha256": {p.name: sha256_of(p) for p in (paths.onnx, paths.weights)},
        },
        "onnx_parity_max_abs_error": error,
        "info": info or {},
    }
    write_json(paths.metadata, metadata, indent=2, sort_keys=True)
    return paths


def read_metadata(path: Path) -> dict:
    """Load and validate an exported model's JSON (`ModelFileError` names the file and fix)."""
    return read_description(path).metadata


def model_file(metadata_path: Path, kind: str) -> Path:
    """Path of the 'onnx' or 'weights' file that a model description points to, checked."""
    description = read_description(metadata_path)
    return checked_file(description.path, description.metadata, kind)


def load_sst(metadata_path: Path) -> Sst:
    """Rebuild the torch Sst of an exported model from its JSON and safetensors weights."""
    metadata = read_metadata(metadata_path)
    model = Sst(ModelConfig.from_dict(metadata["model"]))
    state = load_file(str(model_file(metadata_path, "weights")))
    model.load_state_dict(state)
    return model.eval()


def onnx_parity_error(model: Sst, onnx_path: Path, batch: int = 3, seed: int = 0) -> float:
    """Largest absolute difference between ONNX Runtime and torch on random frame pairs."""
    import onnxruntime as ort

    side = model.config.resolution
    gen = torch.Generator().manual_seed(seed)
    previous, current = (torch.rand(batch, 3, side, side, generator=gen) for _ in range(2))
    with torch.inference_mode():
        expected = model(previous, current).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = dict(zip(INPUT_NAMES, (previous.numpy(), current.numpy()), strict=True))
    (actual,) = session.run([OUTPUT_NAME], feeds)
    return float(np.abs(actual - expected).max())


def _export_onnx(model: Sst, path: Path) -> None:
    # The exporter logs about optional torchvision operators Sst does not use.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    side = model.config.resolution
    example = (torch.rand(1, 3, side, side), torch.rand(1, 3, side, side))
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        program = torch.onnx.export(
            model,
            example,
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: batch}, {0: batch}),
            dynamo=True,
            verbose=False,
        )
    program.save(str(path), external_data=False)


def _contiguous_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous() for k, v in model.state_dict().items()}
