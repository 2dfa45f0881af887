"""Section 2: how close Sst runs to this machine's single-core fp32 limit.

The limit is measured, not looked up: the best large fp32 matrix multiply that an installed
library reaches on one thread (ONNX Runtime's MatMul, PyTorch's mm). Sst's FLOPs per frame
are twice its convolution multiply-accumulates.
"""

from __future__ import annotations

import numpy as np
import torch

from skd_ros.bench.timing import time_call
from skd_ros.models import ModelConfig, Sst
from skd_ros.models.summary import count_macs

MATMUL_SIDE = 1024


def sst_flops(resolution: int) -> int:
    """FLOPs of one Sst forward pass (one frame pair) at `resolution`."""
    frame = torch.zeros(1, 3, resolution, resolution)
    return 2 * count_macs(Sst(ModelConfig(resolution=resolution)), frame, frame)


def matmul_peaks(repeats: int, side: int = MATMUL_SIDE) -> dict[str, float]:
    """Single-thread GFLOP/s of a side x side fp32 matrix multiply, per library."""
    flops = 2 * side**3
    rng = np.random.default_rng(0)
    a, b = (rng.random((side, side), np.float32) for _ in range(2))
    peaks = {"onnxruntime MatMul": flops / time_call(_ort_matmul(a, b), repeats).median_s / 1e9}
    torch.set_num_threads(1)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    peaks["pytorch mm"] = flops / time_call(lambda: torch.mm(ta, tb), repeats).median_s / 1e9
    return peaks


def _ort_matmul(a: np.ndarray, b: np.ndarray):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    side = a.shape[0]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [side, side]) for n in "ab"]
    output = helper.make_tensor_value_info("c", TensorProto.FLOAT, [side, side])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "mm", inputs, [output]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    session = ort.InferenceSession(onnx.ModelProto.SerializeToString(model), options)
    feeds = {"a": a, "b": b}
    return lambda: session.run(None, feeds)


def efficiency(speed_rows: list[dict], peaks: dict[str, float]) -> list[dict]:
    """Achieved GFLOP/s of each one-thread ONNX Runtime fp32 cell, against the best peak."""
    peak = max(peaks.values())
    flops = {}
    rows = []
    for row in speed_rows:
        if row["threads"] != 1 or row["framework"] != "onnxruntime fp32":
            continue
        resolution = row["resolution"]
        flops.setdefault(resolution, sst_flops(resolution))
        achieved = flops[resolution] * row["fps"] / 1e9
        rows.append(
            {
                "resolution": resolution,
                "batch": row["batch"],
                "mflop_per_frame": flops[resolution] / 1e6,
                "gflops": achieved,
                "peak_gflops": peak,
                "of_peak": achieved / peak,
            }
        )
    return rows
