"""Small hostile model folders, made with onnx.helper: each is a valid description with a
matching sha256 whose ONNX graph is something an Sst export can never be."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PACKAGED = Path(__file__).resolve().parents[1] / "resource" / "models" / "sst_demo.json"
SIDE = 64  # the packaged description's resolution


def _io(name: str, channels: int, side: int = SIDE):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", channels, side, side])


def _model(nodes, initializers=(), inputs=None, extra_opsets=()) -> onnx.ModelProto:
    graph = helper.make_graph(
        list(nodes),
        "hostile",
        inputs or [_io("previous", 3), _io("current", 3)],
        [_io("saliency", 1)],
        list(initializers),
    )
    opsets = [helper.make_opsetid("", 17), *extra_opsets]
    return helper.make_model(graph, opset_imports=opsets)


def _to_saliency(source: str, channels: int = 3) -> tuple[list, list]:
    """A 1x1 convolution of `source` (channels x 64 x 64) to the saliency output, plus weights."""
    weight = numpy_helper.from_array(np.full((1, channels, 1, 1), 0.1, np.float32), "w_out")
    return [helper.make_node("Conv", [source, "w_out"], ["saliency"], name="out")], [weight]


def endless_loop() -> onnx.ModelProto:
    """A Loop of 10**12 iterations around the current frame."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Identity", ["v_in"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None),
        ],
    )
    trips = numpy_helper.from_array(np.array(10**12, np.int64), "trips")
    cond = numpy_helper.from_array(np.array(True), "cond")
    loop = helper.make_node("Loop", ["trips", "cond", "current"], ["looped"], body=body)
    out, weights = _to_saliency("looped")
    return _model([loop, *out], [trips, cond, *weights])


def big_constant(side: int = 4096) -> onnx.ModelProto:
    """ConstantOfShape([side, side]) summed into the map (the probe's was 25000 x 25000)."""
    shape = numpy_helper.from_array(np.array([side, side], np.int64), "shape")
    nodes = [
        helper.make_node("ConstantOfShape", ["shape"], ["big"]),
        helper.make_node("ReduceSum", ["big"], ["total"], keepdims=0),
        helper.make_node("Conv", ["current", "w_out"], ["mapped"]),
        helper.make_node("Add", ["mapped", "total"], ["saliency"]),
    ]
    _, weights = _to_saliency("current")
    return _model(nodes, [shape, *weights])


def custom_operator() -> onnx.ModelProto:
    """One node of an operator from a domain of its own."""
    node = helper.make_node("Evil", ["current"], ["evil"], domain="com.example")
    out, weights = _to_saliency("evil")
    return _model([node, *out], weights, extra_opsets=[helper.make_opsetid("com.example", 1)])


def huge_layer() -> onnx.ModelProto:
    """Only Sst's operators, but a stride-64 ConvTranspose makes a 3 x 4096 x 4096 layer."""
    up = numpy_helper.from_array(np.full((3, 3, 64, 64), 0.01, np.float32), "w_up")
    nodes = [
        helper.make_node("ConvTranspose", ["current", "w_up"], ["up"], strides=[64, 64]),
        helper.make_node("MaxPool", ["up"], ["down"], kernel_shape=[64, 64], strides=[64, 64]),
    ]
    out, weights = _to_saliency("down")
    return _model([*nodes, *out], [up, *weights])


def free_input_size() -> onnx.ModelProto:
    """Sst's operators, but inputs of any height and width."""
    inputs = [
        helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", 3, "h", "w"])
        for n in ("previous", "current")
    ]
    out, weights = _to_saliency("current")
    return _model(out, weights, inputs=inputs)


def slow_chain(layers: int = 40, channels: int = 64) -> onnx.ModelProto:
    """Sst's operators and shapes, within every limit, but about 6 G multiply-adds a frame."""
    nodes = [helper.make_node("Conv", ["current", "w_in"], ["x0"], pads=[1, 1, 1, 1])]
    for i in range(layers):
        nodes.append(helper.make_node("Conv", [f"x{i}", "w_mid"], [f"x{i + 1}"], pads=[1, 1, 1, 1]))
    out, weights = _to_saliency(f"x{layers}", channels)
    rng = np.random.default_rng(0)
    w_in = rng.normal(0, 0.1, (channels, 3, 3, 3)).astype(np.float32)
    w_mid = rng.normal(0, 0.02, (channels, channels, 3, 3)).astype(np.float32)
    initializers = [numpy_helper.from_array(w_in, "w_in"), numpy_helper.from_array(w_mid, "w_mid")]
    return _model([*nodes, *out], [*initializers, *weights])


def external_weights(location: str) -> onnx.ModelProto:
    """The output convolution's weights kept in the file `location` (ONNX external data)."""
    model = _model(*_to_saliency("current"))
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.ClearField("float_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "12")):
        weight.external_data.add(key=key, value=value)
    return model


def write_model_folder(folder: Path, onnx_bytes: bytes | None, name: str = "sst") -> Path:
    """`folder/<name>.json` describing `folder/<name>.onnx` (these bytes; None: leave the file
    to the caller) and the packaged weights, with matching sha256s; returns the JSON path."""
    folder.mkdir(parents=True, exist_ok=True)
    onnx_path, weights = folder / f"{name}.onnx", folder / f"{name}.safetensors"
    if onnx_bytes is not None:
        onnx_path.write_bytes(onnx_bytes)
    shutil.copy(PACKAGED.with_suffix(".safetensors"), weights)
    return describe(folder / f"{name}.json", onnx_path, weights, onnx_bytes)


def describe(json_path: Path, onnx_path: Path, weights: Path, onnx_bytes: bytes | None) -> Path:
    """The packaged description, pointed at these files, with their sha256s."""
    metadata = json.loads(PACKAGED.read_text())
    onnx_hash = hashlib.sha256(onnx_bytes or b"").hexdigest()
    metadata["files"] = {
        "onnx": onnx_path.name,
        "weights": weights.name,
        "sha256": {
            onnx_path.name: onnx_hash,
            weights.name: hashlib.sha256(weights.read_bytes()).hexdigest(),
        },
    }
    json_path.write_text(json.dumps(metadata))
    return json_path


def hostile_folder(folder: Path, model: onnx.ModelProto) -> Path:
    """A model folder whose ONNX file is `model`; returns its JSON."""
    return write_model_folder(folder, model.SerializeToString())
