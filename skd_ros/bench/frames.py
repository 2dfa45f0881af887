"""What one camera frame costs end to end on a given device, teachers against the node's Sst.

End to end means from the camera's uint8 frame to a float32 map in host memory: the resize,
the copy to the device, the network and the copy back. The deep teachers are untrained
(cost does not depend on the weights); Sst is the packaged demo model, run by the node's
`SaliencyEngine` on `device` (torch backend) and, as the reference, by its default engine
(ONNX Runtime INT8, one CPU thread). Host-side work runs on one thread for every path.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import torch

from skd_ros.bench.models import packaged
from skd_ros.bench.timing import time_call
from skd_ros.data.synthetic import ClipSpec, generate_clip
from skd_ros.inference.engine import SaliencyEngine
from skd_ros.preprocess import prepare_frame
from skd_ros.teachers.deep import load_deep_teacher, save_deep_teacher
from skd_ros.teachers.deep_nets import DeepNetConfig, DeepSaliencyNet


def end_to_end_costs(repeats: int, device: str, camera: tuple[int, int]) -> list[dict]:
    """Rows {path, where, ms, spread_pct, x_sst}: ms per `camera`-sized frame pair."""
    threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    try:
        return _costs(repeats, device, camera)
    finally:
        cv2.setNumThreads(threads[0])
        torch.set_num_threads(threads[1])


def _costs(repeats: int, device: str, camera: tuple[int, int]) -> list[dict]:
    frames = [f.image for f in generate_clip(ClipSpec(7, "Vehicle", 3, *camera))]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind, channels in (("spatial", 3), ("temporal", 6)):
            torch.manual_seed(0)
            net = DeepSaliencyNet(DeepNetConfig(channels)).eval()
            teacher = load_deep_teacher(save_deep_teacher(net, Path(folder) / kind, kind), device)
            rows.append(_row(f"{kind} teacher", device, lambda t=teacher: t(*frames[:2]), repeats))
    for precision, backend, where in (("fp32", "torch", device), ("int8", "onnxruntime", "cpu")):
        engine = SaliencyEngine(packaged(precision), backend=backend, device=where)
        previous = prepare_frame(frames[0], engine.resolution)

        def sst(engine=engine, previous=previous) -> object:
            return engine.predict(previous, prepare_frame(frames[1], engine.resolution))

        label = f"Sst-64 {precision} ({backend})"
        rows.append(_row(label, where if where == device else "cpu, 1 thread", sst, repeats))
    sst_ms = rows[2]["ms"]
    return [row | {"x_sst": row["ms"] / sst_ms} for row in rows]


def _row(path: str, where: str, call, repeats: int) -> dict:
    timing = time_call(call, repeats)
    return {"path": path, "where": where, "ms": timing.ms, "spread_pct": timing.spread_pct()}
