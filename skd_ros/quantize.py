"""INT8 Sst: static quantization of an exported model with ONNX Runtime.

`quantize_model` reads an exported model (the JSON of `skd_ros.export`), calibrates the
activation ranges on synthetic aerial frame pairs (or pairs you give it), and writes
`<name>_int8.onnx` plus `<name>_int8.json` next to it. The new description is an ordinary
exported model: the node and `SaliencyEngine` load it like any other, and its `weights` entry
is the fp32 safetensors file, so `backend: torch` still works with it. Weights are quantized
per output channel to int8, activations per tensor to uint8 (QDQ format), which ONNX
Runtime fuses into integer convolutions (AVX-512 VNNI / AVX2 kernels on x86).

Whether the INT8 model is accurate enough is a measurement, not an assumption: `train
quantize --config ...` scores both models on the evaluation split and records the NSS of each
in the JSON (docs/performance.md).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from skd_ros.atomic_write import write_atomic, write_json
from skd_ros.inference.compensation import compensate
from skd_ros.inference.model_files import read_description
from skd_ros.package_files import sha256_of

CALIBRATION_PAIRS = 96
CALIBRATION_SEED = 4242
Pair = tuple[np.ndarray, np.ndarray]


def synthetic_calibration_pairs(
    side: int, count: int = CALIBRATION_PAIRS, seed: int = CALIBRATION_SEED
) -> list[Pair]:
    """Consecutive (previous, current) model inputs from synthetic clips of every category."""
    from skd_ros.data.layout import CATEGORIES
    from skd_ros.data.synthetic import ClipSpec, generate_clip
    from skd_ros.preprocess import prepare_frame

    per_clip = max(2, count // len(CATEGORIES) + 1)
    pairs: list[Pair] = []
    for offset, category in enumerate(CATEGORIES):
        spec = ClipSpec(seed + offset, category, per_clip, 640, 360)
        frames = [prepare_frame(frame.image, side, bgr=True) for frame in generate_clip(spec)]
        pairs += list(zip(frames[:-1], frames[1:], strict=True))
    return pairs[:count]


def quantize_onnx(source: Path, target: Path, pairs: Iterable[Pair], names: tuple[str, str]):
    """Write the static INT8 (QDQ) version of the fp32 ONNX model `source` to `target`."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    class _Reader(CalibrationDataReader):
        def __init__(self, feeds: Iterator[dict[str, np.ndarray]]) -> None:
            self._feeds = feeds

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    feeds = ({names[0]: p[None], names[1]: c[None]} for p, c in pairs)
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared))
        quantize_static(
            str(prepared),
            str(target),
            _Reader(feeds),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
    return target


def quantize_model(
    model_json: Path,
    pairs: list[Pair] | None = None,
    info: dict | None = None,
    out_dir: Path | None = None,
) -> Path:
    """INT8 copy of an exported model: writes `<stem>_int8.onnx/.json` into `out_dir` (default:
    the model's folder), each atomically (a link at either name is replaced, not followed);
    returns the JSON path. The fp32 ONNX file is checked like any model file first."""
    description = read_description(model_json)
    source = description.file("onnx")
    stem = description.path.stem
    folder = Path(out_dir) if out_dir is not None else description.path.parent
    onnx_path = folder / f"{stem}_int8.onnx"
    if pairs is None:
        pairs = synthetic_calibration_pairs(description.resolution)
    names = description.input_names
    method = description.compensation  # the ONNX graph sees the pair the engine builds
    pairs = [(compensate(p, c, method), c) for p, c in pairs]
    write_atomic(onnx_path, lambda temp: quantize_onnx(source, temp, pairs, names))
    metadata = copy.deepcopy(description.metadata)
    weights = metadata["files"]["weights"]
    metadata["files"] = {
        "onnx": onnx_path.name,
        "weights": weights,
        "sha256": {
            onnx_path.name: sha256_of(onnx_path),
            weights: metadata["files"].get("sha256", {}).get(weights, ""),
        },
    }
    metadata["precision"] = "int8"
    metadata["quantization"] = {
        "method": "onnxruntime static, QDQ, int8 per-channel weights, uint8 activations",
        "calibration_pairs": len(pairs),
        "source": description.path.name,
        **(info or {}),
    }
    return write_json(folder / f"{stem}_int8.json", metadata, indent=2, sort_keys=True)
