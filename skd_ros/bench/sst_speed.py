"""Section 1 (and the resolution part of 5): Sst frames per second, by framework.

PyTorch eager is the paper's kind of framework; ONNX Runtime fp32 and INT8 are what the node
runs. Every cell is one (framework, resolution, batch, threads) combination; ratios are
against PyTorch eager of the same run, and against the paper's 1,490.5 FPS on one CPU core.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from skd_ros.bench.timing import Timing, time_call
from skd_ros.export import load_sst
from skd_ros.inference.engine import SaliencyEngine
from skd_ros.inference.model_files import read_description

PAPER_CPU_FPS = 1490.5
FRAMEWORKS = ("pytorch eager", "onnxruntime fp32", "onnxruntime int8")


def all_threads() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def runner(framework: str, model_json: Path, batch: int, threads: int) -> Callable[[], object]:
    """A no-argument call that runs Sst once on a batch of random frame pairs."""
    side = read_description(model_json).resolution
    rng = np.random.default_rng(0)
    previous, current = (rng.random((batch, 3, side, side), np.float32) for _ in range(2))
    if framework == "pytorch eager":
        torch.set_num_threads(threads)
        model = load_sst(model_json)
        pair = (torch.from_numpy(previous), torch.from_numpy(current))

        def run() -> object:
            with torch.inference_mode():
                return model(*pair)

        return run
    engine = SaliencyEngine(model_json, threads=threads)
    return lambda: engine.predict_batch(previous, current)


def measure(
    models: dict[tuple[int, str], Path],
    resolutions: list[int],
    batches: list[int],
    threads: list[int],
    repeats: int,
) -> list[dict]:
    """One row per (resolution, batch, threads, framework): FPS, ms per batch, spread."""
    rows = []
    for resolution in resolutions:
        for batch in batches:
            for count in threads:
                for framework in FRAMEWORKS:
                    precision = "int8" if framework.endswith("int8") else "fp32"
                    call = runner(framework, models[(resolution, precision)], batch, count)
                    timing = time_call(call, repeats=repeats)
                    rows.append(_row(framework, resolution, batch, count, timing))
    _add_ratios(rows)
    return rows


def _row(framework: str, resolution: int, batch: int, threads: int, timing: Timing) -> dict:
    return {
        "framework": framework,
        "resolution": resolution,
        "batch": batch,
        "threads": threads,
        "fps": batch / timing.median_s,
        "ms_per_batch": timing.ms,
        "spread_pct": timing.spread_pct(),
    }


def _add_ratios(rows: list[dict]) -> None:
    eager = {
        (r["resolution"], r["batch"], r["threads"]): r["fps"]
        for r in rows
        if r["framework"] == "pytorch eager"
    }
    for row in rows:
        row["x_eager"] = row["fps"] / eager[(row["resolution"], row["batch"], row["threads"])]
        row["x_paper_cpu"] = row["fps"] / PAPER_CPU_FPS


def fps_of(rows: list[dict], framework: str, resolution: int, batch: int, threads: int) -> float:
    """The FPS of one cell (KeyError if it was not measured)."""
    for row in rows:
        cell = (row["framework"], row["resolution"], row["batch"], row["threads"])
        if cell == (framework, resolution, batch, threads):
            return row["fps"]
    raise KeyError((framework, resolution, batch, threads))
