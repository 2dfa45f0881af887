"""What one camera frame costs end to end on a given device, teachers against the node's Sst.

End to end means from the camera's uint8 frame to a float32 map in host memory: the resize,
the copy to the device, the network and the copy back. The deep teachers are untrained
(cost does not depend on the weights); Sst is the packaged demo model, run by the node's
`SaliencyEngine` on `device` (torch backend) and, as the reference, by its default engine
(ONNX Runtime INT8, one CPU thread). Host-side work runs on one thread for every path.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import cv2
import torch

from skd_ros.bench.models import packaged
from skd_ros.bench.payoff import whole_frame_call
from skd_ros.bench.timing import time_call
from skd_ros.data.synthetic import ClipSpec, generate_clip
from skd_ros.inference.engine import SaliencyEngine
from skd_ros.teachers.timing import deep_teachers_for_timing


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
        for teacher in deep_teachers_for_timing(Path(folder), device):
            call = functools.partial(teacher, *frames[:2])
            rows.append(_row(f"{teacher.kind} teacher", device, call, repeats))
    for precision, backend, where in (("fp32", "torch", device), ("int8", "onnxruntime", "cpu")):
        engine = SaliencyEngine(packaged(precision), backend=backend, device=where)
        label = f"Sst-64 {precision} ({backend})"
        runs_on = where if where == device else "cpu, 1 thread"
        rows.append(_row(label, runs_on, whole_frame_call(engine, frames), repeats))
    sst_ms = rows[2]["ms"]
    return [row | {"x_sst": row["ms"] / sst_ms} for row in rows]


def _row(path: str, where: str, call, repeats: int) -> dict:
    timing = time_call(call, repeats)
    return {"path": path, "where": where, "ms": timing.ms, "spread_pct": timing.spread_pct()}
