"""Section 6: Sst and the deep teachers on a GPU (PyTorch, CUDA), when there is one.

Three tables, all from one process on one device:

- **Sst throughput**: frames per second at batch 1 and at the largest useful batch (doubled
  until throughput grows by less than 5 %), at 32 and 64, against the paper's GTX 1080 Ti
  figures. Three ways to launch it: eager fp32 (the paper's kind of run), the same captured
  as a CUDA graph (one launch per batch instead of one per layer), and the graph in fp16
  with channels-last tensors (tensor cores).
- **Teachers against Sst**: the network alone at batch 1, ms per frame and peak activation
  memory, for each deep teacher at its 768x448 working size and for Sst-64.
- **Whole frames**: what one 1280x720 camera frame costs end to end (resize, copy to the
  GPU, network, copy back), the deep teachers and the node's engine on CUDA against the
  node's default (ONNX Runtime INT8, one CPU thread) on the same machine.

Every figure is a wall-clock median of repeated runs after warm-up (`bench.timing`), each call
waiting for the GPU to finish, so batch-1 figures are latencies. `python -m skd_ros.bench.gpu`
runs this section alone; without a CUDA device it says so and measures nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from skd_ros.atomic_write import write_json
from skd_ros.bench.timing import Timing, time_call
from skd_ros.cli_args import positive_int
from skd_ros.inference.engine import capture_graph
from skd_ros.logs import setup_logging
from skd_ros.models import ModelConfig, Sst
from skd_ros.teachers.deep_nets import DeepNetConfig, DeepSaliencyNet

PAPER_GPU_FPS = {32: 28738.0, 64: 8522.0}
MAX_BATCH = 16384
GAIN = 1.05  # keep doubling the batch while throughput grows by at least this factor
MODES = (("fp32", "eager"), ("fp32", "graph"), ("fp16", "graph"))
TEACHERS = (("spatial teacher", 3), ("temporal teacher", 6))
CAMERA = (1280, 720)


def available() -> str | None:
    """None when a CUDA device can be used, else the reason it cannot."""
    if not torch.cuda.is_available():
        build = torch.version.cuda or "a CPU-only build"
        return f"no CUDA device visible to torch {torch.__version__} ({build})"
    return None


def measure(repeats: int = 7, device: str = "cuda", max_batch: int = MAX_BATCH) -> dict:
    """Every table of the section (see the module docstring) on `device`."""
    benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True  # each shape gets cuDNN's fastest algorithm
    try:
        return {
            "device": _device_name(device),
            "torch": torch.__version__,
            "rows": sst_rows(repeats, device, max_batch),
            "teachers": teacher_rows(repeats, device),
            "frames": frame_rows(repeats, device),
        }
    finally:
        torch.backends.cudnn.benchmark = benchmark


def sst_rows(repeats: int, device: str, max_batch: int) -> list[dict]:
    """Per resolution and mode: batch-1 FPS and latency, best batch and its FPS, × paper."""
    rows = []
    for side in (32, 64):
        for precision, launch in _modes(device):
            model = _prepared(Sst(ModelConfig(resolution=side)), precision, device)
            single = _time(model, _sst_inputs(side, 1, precision, device), launch, repeats)
            best_batch, best = _best_batch(model, side, precision, launch, device, max_batch)
            rows.append(
                {
                    "resolution": side,
                    "mode": f"{precision} {launch}",
                    "fps_batch1": 1.0 / single.median_s,
                    "latency_ms": single.ms,
                    "spread_pct": single.spread_pct(),
                    "best_batch": best_batch,
                    "fps_best": best,
                    "x_paper": best / PAPER_GPU_FPS[side],
                }
            )
            del model
            _release(device)
    return rows


def teacher_rows(repeats: int, device: str) -> list[dict]:
    """The networks alone at batch 1: each deep teacher (768x448) and Sst-64, per mode."""
    rows = []
    for precision, launch in _modes(device):
        sst_ms = None
        for name, net, inputs in _networks(precision, device):
            timing = _time(net, inputs, launch, repeats)
            sst_ms = timing.ms if sst_ms is None else sst_ms
            rows.append(
                {
                    "network": name,
                    "mode": f"{precision} {launch}",
                    "ms": timing.ms,
                    "spread_pct": timing.spread_pct(),
                    "x_sst": timing.ms / sst_ms,
                    "activation_mib": _activation_mib(net, inputs, device),
                }
            )
            del net, inputs
            _release(device)
    return rows


def frame_rows(repeats: int, device: str) -> list[dict]:
    """One 1280x720 frame end to end: deep teachers and the engine on `device`, and the
    node's default engine (ONNX Runtime INT8, one CPU thread) on this machine's CPU."""
    from skd_ros.bench.frames import end_to_end_costs

    return end_to_end_costs(repeats, device, CAMERA)


def _networks(precision: str, device: str) -> Iterator[tuple[str, nn.Module, tuple]]:
    """Sst-64, then each teacher, built one at a time (the caller frees each in turn)."""
    torch.manual_seed(0)
    sst = _prepared(Sst(ModelConfig(resolution=64)), precision, device)
    yield "Sst-64", sst, _sst_inputs(64, 1, precision, device)
    for name, channels in TEACHERS:
        config = DeepNetConfig(channels)
        width, height = config.input_size
        frames = _tensor((1, channels, height, width), precision, device)
        yield name, _prepared(DeepSaliencyNet(config), precision, device), (frames,)


def _best_batch(
    model: nn.Module, side: int, precision: str, launch: str, device: str, max_batch: int
) -> tuple[int, float]:
    """The batch past which doubling gains under 5 %, and its frames per second."""
    best_batch, best = 1, 0.0
    batch = 1
    while batch <= max_batch:
        try:
            inputs = _sst_inputs(side, batch, precision, device)
            fps = batch / _time(model, inputs, launch, repeats=3, run_s=0.1).median_s
        except torch.cuda.OutOfMemoryError:
            break
        finally:
            inputs = None  # freed before the next, twice larger batch is allocated
            _release(device)
        if fps < best * GAIN:
            break
        best_batch, best = batch, fps
        batch *= 2
    return best_batch, best


def _time(model: nn.Module, inputs: tuple, launch: str, repeats: int, run_s: float = 0.2) -> Timing:
    """Timing of one call of `model` on `inputs`, waiting for the device each call."""
    call = _graph_call(model, inputs) if launch == "graph" else _eager_call(model, inputs)
    return time_call(call, repeats, run_s=run_s)


def _eager_call(model: nn.Module, inputs: tuple) -> Callable[[], object]:
    def call() -> None:
        with torch.no_grad():
            model(*inputs)
        _synchronize(inputs[0].device)

    return call


def _graph_call(model: nn.Module, inputs: tuple) -> Callable[[], object]:
    """Capture one forward pass as the engine does; the call replays it (same inputs)."""
    graph, _ = capture_graph(model, inputs)

    def call() -> None:
        graph.replay()
        torch.cuda.synchronize()

    return call


def _activation_mib(model: nn.Module, inputs: tuple, device: str) -> float | None:
    """Peak memory one eager forward pass allocates beyond its inputs and weights."""
    if device != "cuda":
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    with torch.no_grad():
        model(*inputs)
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - before) / 2**20


def _prepared(model: nn.Module, precision: str, device: str) -> nn.Module:
    model = model.to(device).eval()
    if precision == "fp16":
        model = model.half().to(memory_format=torch.channels_last)
    return model


def _sst_inputs(side: int, batch: int, precision: str, device: str) -> tuple:
    return tuple(_tensor((batch, 3, side, side), precision, device) for _ in range(2))


def _tensor(shape: Sequence[int], precision: str, device: str) -> torch.Tensor:
    tensor = torch.rand(*shape, device=device)
    if precision == "fp16":
        tensor = tensor.half().contiguous(memory_format=torch.channels_last)
    return tensor


def _modes(device: str) -> list[tuple[str, str]]:
    """CUDA graphs and fp16 need CUDA; on the CPU (tests) only eager fp32 runs."""
    return list(MODES) if device == "cuda" else [("fp32", "eager")]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _release(device: str) -> None:
    if device == "cuda":
        torch.cuda.empty_cache()


def _device_name(device: str) -> str:
    return torch.cuda.get_device_name() if device == "cuda" else "cpu"


def main(argv: list[str] | None = None) -> int:
    """`python -m skd_ros.bench.gpu`: this section alone, Markdown on stdout, JSON to --out."""
    setup_logging()
    from skd_ros.bench.summary import gpu_text

    parser = argparse.ArgumentParser(prog="python -m skd_ros.bench.gpu", description=__doc__)
    parser.add_argument("--repeats", type=positive_int, default=7, help="timed runs per figure")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    reason = available()
    results = {"skipped": reason} if reason else measure(args.repeats)
    print(gpu_text(results))
    if args.out:
        write_json(args.out, results, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
