"""Section 6: Sst on a GPU, when there is one (PyTorch, CUDA).

Frames per second at batch 1 and at the largest useful batch (doubled until throughput
stops growing by 5 %), at 32 and 64, against the paper's GTX 1080 Ti figures. Without a
CUDA device the section says so and measures nothing.
"""

from __future__ import annotations

import torch

from skd_ros.models import ModelConfig, Sst

PAPER_GPU_FPS = {32: 28738.0, 64: 8522.0}
MAX_BATCH = 16384


def available() -> str | None:
    """None when a CUDA device can be used, else the reason it cannot."""
    if not torch.cuda.is_available():
        build = torch.version.cuda or "a CPU-only build"
        return f"no CUDA device visible to torch {torch.__version__} ({build})"
    return None


def _fps(model: torch.nn.Module, side: int, batch: int, repeats: int = 20) -> float:
    pair = [torch.rand(batch, 3, side, side, device="cuda") for _ in range(2)]
    with torch.inference_mode():
        for _ in range(5):
            model(*pair)
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(repeats):
            model(*pair)
        end.record()
        torch.cuda.synchronize()
    return batch * repeats / (start.elapsed_time(end) / 1e3)


def measure() -> list[dict]:
    """Rows per resolution: batch-1 FPS, best batch and its FPS, ratios to the paper."""
    rows = []
    for side in (32, 64):
        model = Sst(ModelConfig(resolution=side)).cuda().eval()
        single = _fps(model, side, 1)
        best_batch, best = 1, single
        batch = 2
        while batch <= MAX_BATCH:
            fps = _fps(model, side, batch)
            if fps < best * 1.05:
                break
            best_batch, best = batch, fps
            batch *= 2
        rows.append(
            {
                "resolution": side,
                "device": torch.cuda.get_device_name(),
                "fps_batch1": single,
                "best_batch": best_batch,
                "fps_best": best,
                "x_paper": best / PAPER_GPU_FPS[side],
            }
        )
    return rows
