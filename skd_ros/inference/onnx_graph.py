"""Accept only an ONNX graph that an Sst export can be, before ONNX Runtime sees it.

ONNX Runtime runs any graph it is given, and loading one already runs parts of it
(constant folding): a `Loop` of 10**12 iterations hangs the loader, a `ConstantOfShape`
of 25000x25000 costs gigabytes, a custom operator or external data reaches outside the
file. So the graph is parsed here from bytes already read under a size cap (protobuf's
parse is linear in them) and refused unless it has the shape of our exports:

- only the operators our fp32 and INT8 exports contain (`SST_OPERATORS`), in the standard
  domain; no local functions, no subgraphs (no Loop, Scan, If), no tensors in other files;
- the two inputs and the output named in the description, float32, a symbolic batch, and
  the description's (width, height);
- every tensor's shape known statically (ONNX shape inference, strict), no initializer or
  layer output over the limits of `skd_ros.model_limits`, and a bounded amount of work
  per frame (multiply-adds of the convolutions and poolings).
"""

from __future__ import annotations

import math

from skd_ros.model_limits import MAX_ACTIVATION, MAX_PARAMETERS
from skd_ros.quoting import shown

# Every operator in the fp32 export (torch.onnx, dynamo) and its INT8 QDQ copy
# (onnxruntime.quantization); test_export checks this against fresh files of both.
SST_OPERATORS = frozenset(
    {
        "Abs",  # Abs, Mul and Sub: the temporal stream's motion channels (`motion_input`)
        "Concat",
        "Conv",
        "ConvTranspose",
        "DequantizeLinear",
        "MaxPool",
        "Mul",
        "QuantizeLinear",
        "Relu",
        "Sigmoid",
        "Sub",
    }
)
STANDARD_DOMAINS = ("", "ai.onnx")
MAX_NODES = 2000  # the INT8 demo model has about 200
MAX_MULTIPLY_ADDS = 50_000_000_000  # per frame; the demo network needs 0.1 G at 64x64, 7 G at 512


def check_sst_graph(
    data: bytes, input_size: tuple[int, int], input_names: tuple[str, str], output_name: str
) -> None:
    """Refuse (ValueError, saying what) an ONNX model that is not an Sst export of this size."""
    import onnx

    try:
        model = onnx.load_model_from_string(data)
    except Exception as error:  # protobuf's DecodeError and friends
        raise ValueError(f"it is not an ONNX model ({shown(str(error))})") from None
    graph = model.graph
    _check_operators(model)
    _check_initializers(graph)
    width, height = input_size
    for name in input_names:
        _check_value(graph, "input", name, [3, height, width])
    _check_value(graph, "output", output_name, [1, height, width])
    _check_work(model)


def _check_operators(model) -> None:
    graph = model.graph
    if model.functions:
        raise ValueError("it defines its own functions; an Sst export has none")
    if len(graph.node) > MAX_NODES:
        raise ValueError(f"it has {len(graph.node)} nodes, more than the {MAX_NODES} allowed")
    for node in graph.node:
        if node.domain not in STANDARD_DOMAINS or node.op_type not in SST_OPERATORS:
            domain = f"{node.domain}." if node.domain else ""
            where = f" (node {shown(node.name)})" if node.name else ""
            raise ValueError(
                f"it uses the operator {shown(domain + node.op_type)}{where}, not one an Sst "
                f"export contains ({', '.join(sorted(SST_OPERATORS))})"
            )


def _check_initializers(graph) -> None:
    if graph.sparse_initializer:
        raise ValueError("it has sparse initializers; an Sst export has none")
    total = 0
    for tensor in graph.initializer:
        if tensor.external_data or tensor.data_location == 1:  # TensorProto.EXTERNAL
            raise ValueError(
                f"it keeps the tensor {shown(tensor.name)} in another file; an Sst export "
                "holds its weights inside the .onnx file"
            )
        if any(d < 0 for d in tensor.dims):
            raise ValueError(f"its tensor {shown(tensor.name)} has a negative dimension")
        total += math.prod(tensor.dims)
    if total > 2 * MAX_PARAMETERS:  # INT8 copies hold the fp32 biases too
        raise ValueError(f"it holds {total:,} weight values, more than {2 * MAX_PARAMETERS:,}")


def _check_value(graph, kind: str, name: str, shape: list[int]) -> None:
    """The graph's input or output `name`: float32, (batch, *shape) with a symbolic batch."""
    values = [v for v in (graph.input if kind == "input" else graph.output) if v.name == name]
    declared = [v.name for v in (graph.input if kind == "input" else graph.output)]
    if kind == "input":
        weights = {t.name for t in graph.initializer}
        declared = [n for n in declared if n not in weights]
    expected_count = 2 if kind == "input" else 1
    if not values or len(declared) != expected_count:
        raise ValueError(
            f"its {kind}s are {shown(declared)}; the description names {shown(name)} "
            f"among {expected_count}"
        )
    tensor = values[0].type.tensor_type
    dims = list(tensor.shape.dim)
    if (
        tensor.elem_type != 1  # TensorProto.FLOAT
        or len(dims) != 4
        or not dims[0].dim_param
        or [d.dim_value for d in dims[1:]] != shape
    ):
        found = [d.dim_param or d.dim_value for d in dims]
        raise ValueError(
            f"its {kind} {shown(name)} is {shown(found)} of element type {tensor.elem_type}; "
            f"the description needs float32 [batch, {', '.join(map(str, shape))}]"
        )


def _check_work(model) -> None:
    """Every tensor's shape is known and bounded, and the work per frame is bounded."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as error:  # onnx's InferenceError, ValidationError
        raise ValueError(f"its shapes do not check out ({shown(str(error), 200)})") from None
    graph = inferred.graph
    shapes: dict[str, list[int] | None] = {t.name: list(t.dims) for t in graph.initializer}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        shapes[value.name] = _static_dims(value)
    work = 0
    for node in graph.node:
        for name in node.output:
            dims = shapes.get(name)
            if dims is None:
                raise ValueError(f"the shape of {shown(name)} is not static")
            if math.prod(dims) > MAX_ACTIVATION:
                raise ValueError(
                    f"its tensor {shown(name)} has {math.prod(dims):,} values per frame, "
                    f"more than the {MAX_ACTIVATION:,} allowed"
                )
        work += _multiply_adds(node, shapes)
    if work > MAX_MULTIPLY_ADDS:
        raise ValueError(
            f"it needs {work:,} multiply-adds per frame, more than the {MAX_MULTIPLY_ADDS:,} "
            "allowed"
        )


def _static_dims(value) -> list[int] | None:
    """Dimensions of a value with a symbolic batch counted as 1; None where any is unknown."""
    if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
        return None
    dims = []
    for index, dim in enumerate(value.type.tensor_type.shape.dim):
        if dim.HasField("dim_value") and dim.dim_value > 0:
            dims.append(dim.dim_value)
        elif index == 0 and dim.dim_param:
            dims.append(1)
        else:
            return None
    return dims


def _multiply_adds(node, shapes: dict[str, list[int] | None]) -> int:
    """Multiply-adds (or comparisons) of one convolution or pooling node for one frame."""
    if node.op_type in ("Conv", "ConvTranspose"):
        weight = shapes.get(node.input[1]) if len(node.input) > 1 else None
        side = node.output[0] if node.op_type == "Conv" else node.input[0]
        spatial = shapes.get(side)
        if weight is None or spatial is None:
            raise ValueError(f"the shapes of node {shown(node.name)} are not static")
        return math.prod(spatial) * math.prod(weight[1:])
    if node.op_type == "MaxPool":
        kernel = next((list(a.ints) for a in node.attribute if a.name == "kernel_shape"), [1])
        return math.prod(shapes.get(node.output[0]) or [0]) * math.prod(kernel)
    return 0
