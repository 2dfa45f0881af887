"""Runs the benchmark's sections in order and turns their results into Markdown."""

from __future__ import annotations

from pathlib import Path

from skd_ros.bench import camera, memory, models, nodes, payoff, peak, report, sst_speed

SPEED_RESOLUTIONS = [32, 64]
SCALING_RESOLUTIONS = [32, 64, 128, 256]
CPU_SECTIONS = {"speed", "peak", "payoff", "accuracy", "memory", "scaling"}


def run_sections(sections: list[str], repeats: int, scratch: Path, quick: bool) -> dict:
    """{section: rows} for each requested section (nodes first: it starts ROS processes)."""
    results: dict = {"machine": report.machine(), "repeats": repeats}
    if "nodes" in sections:  # first: Fast DDS reads its profile at the first participant
        seconds = 2.0 if quick else 5.0
        results["nodes"] = nodes.several_nodes(counts=(1, 2, 4), seconds=seconds)
    if set(sections) & CPU_SECTIONS:
        results |= _cpu_sections(sections, repeats, scratch)
    if "gpu" in sections:
        results["gpu"] = _gpu(repeats)
    return results


def _cpu_sections(sections: list[str], repeats: int, scratch: Path) -> dict:
    """Sections 1-5 (all but the node processes): they share the exported model files."""
    results: dict = {}
    wanted = SCALING_RESOLUTIONS if "scaling" in sections else SPEED_RESOLUTIONS
    files = models.prepare_models(wanted, scratch)
    threads = sorted({1, sst_speed.all_threads()})
    if "speed" in sections or "peak" in sections:
        results["speed"] = sst_speed.measure(files, SPEED_RESOLUTIONS, [1, 64], threads, repeats)
    if "peak" in sections:
        peaks = peak.matmul_peaks(repeats)
        results["peak"] = {"matmul_gflops": peaks, "sst": peak.efficiency(results["speed"], peaks)}
    sst64 = {f"Sst-64 {p} (R + model)": files[(64, p)] for p in models.PRECISIONS}
    if "payoff" in sections:
        results["payoff_cost_ms"] = payoff.costs(sst64, repeats)
    if "accuracy" in sections:
        results["accuracy"] = payoff.accuracy(sst64)
    if "memory" in sections:
        results["memory"] = memory.measure({"Sst-64": _files_of(files[(64, "fp32")], files)})
    if "scaling" in sections:
        results["scaling_resolution"] = sst_speed.measure(
            files, SCALING_RESOLUTIONS, [1], [1], repeats
        )
        results["scaling_camera"] = camera.measure(files[(64, "int8")], repeats)
    return results


def _files_of(fp32_json: Path, files: dict) -> list[Path]:
    int8_json = files[(64, "int8")]
    weights = fp32_json.with_suffix(".safetensors")
    return [fp32_json.with_suffix(".onnx"), int8_json.with_suffix(".onnx"), weights]


def _gpu(repeats: int) -> dict:
    from skd_ros.bench import gpu

    reason = gpu.available()
    return {"skipped": reason} if reason else gpu.measure(repeats)
