"""The benchmark's results as Markdown: the targets first, then one table per section."""

from __future__ import annotations

from skd_ros.bench import nodes, sst_speed
from skd_ros.bench.report import TEXT, fmt, machine_line, table, target_lines

INT8_MIN_SPEEDUP = 1.8
INT8_MAX_NSS_DROP = 0.01
NODE_CPU_BUDGET_MS = 3.0

SPEED = [
    ("framework", "framework", TEXT),
    ("resolution", "input", fmt("d")),
    ("batch", "batch", fmt("d")),
    ("threads", "threads", fmt("d")),
    ("fps", "frames/s", fmt(",.0f")),
    ("spread_pct", "spread %", fmt(".1f")),
    ("x_eager", "× PyTorch eager", fmt(".2f")),
    ("x_paper_cpu", "× paper CPU (1,490.5)", fmt(".2f")),
]
PEAK = [
    ("resolution", "input", fmt("d")),
    ("batch", "batch", fmt("d")),
    ("mflop_per_frame", "MFLOP/frame", fmt(".1f")),
    ("gflops", "achieved GFLOP/s", fmt(".1f")),
    ("peak_gflops", "peak GFLOP/s", fmt(".1f")),
    ("of_peak", "of peak", fmt(".0%")),
]
PAYOFF = [
    ("model", "model", TEXT),
    ("ms_per_frame", "ms / 1280×720 frame", fmt(".2f")),
    ("sst_speedup", "cost / Sst-64 int8", fmt(".1f")),
    ("NSS", "NSS", fmt(".3f")),
    ("CC", "CC", fmt(".3f")),
]
MEMORY = [
    ("model", "model", TEXT),
    ("parameters", "parameters", fmt(",d")),
    ("parameter_mb", "weights MB (fp32)", fmt(".2f")),
    ("peak_activation_mb", "peak activations MB", fmt(".2f")),
    ("footprint_mb", "footprint MB", fmt(".2f")),
]
CAMERA = [
    ("camera", "camera", TEXT),
    ("reduce_ms", "validate + reduce (R) ms", fmt(".3f")),
    ("rest_ms", "Sst + peaks + messages ms", fmt(".3f")),
    ("total_ms", "total ms", fmt(".3f")),
]


def markdown(results: dict) -> str:
    """The whole report."""
    parts = ["## Targets", target_lines(targets(results)), "## Machine", machine_line(results)]
    parts += _sections(results)
    return "\n\n".join(parts)


def _sections(results: dict) -> list[str]:
    parts = []
    if "speed" in results:
        parts += ["## 1. Sst throughput", table(results["speed"], SPEED)]
    if "peak" in results:
        peaks = ", ".join(f"{k} {v:.1f}" for k, v in results["peak"]["matmul_gflops"].items())
        parts += [
            "## 2. Against the single-core peak",
            f"1024² fp32 MatMul, one thread, GFLOP/s: {peaks}. ONNX Runtime fp32, one thread:",
            table(results["peak"]["sst"], PEAK),
        ]
    if "payoff_cost_ms" in results:
        rows = _payoff_rows(results)
        parts += ["## 3. The distillation payoff", table(rows, PAYOFF)]
    if "memory" in results:
        parts += ["## 4. Memory", table(results["memory"], MEMORY), _memory_notes(results)]
    if "scaling_resolution" in results:
        parts += ["## 5. Scaling", "Sst against input resolution (batch 1, one thread):"]
        parts += [table(results["scaling_resolution"], SPEED)]
        parts += [
            "The node's per-frame work against camera resolution (in process, one thread, INT8):",
            table(results["scaling_camera"], CAMERA),
        ]
    if "nodes" in results:
        parts += [
            "Several cameras, one node each (1280×720 bgr8 at 30 Hz per camera, "
            "publisher in another process):",
            nodes.format_table(results["nodes"]),
        ]
    if "gpu" in results:
        parts += ["## 6. GPU", gpu_text(results["gpu"])]
    return parts


def _payoff_rows(results: dict) -> list[dict]:
    from skd_ros.bench.payoff import table_rows

    scores = results.get("accuracy", {})
    return table_rows(results["payoff_cost_ms"], scores, "Sst-64 int8 (R + model)")


def _memory_notes(results: dict) -> str:
    lines = []
    for row in results["memory"]:
        for teacher, ratio in row.get("teacher_over_sst", {}).items():
            lines.append(
                f"- {teacher} / {row['model']}: {ratio['parameters']:.1f}× the parameters, "
                f"{ratio['footprint']:.1f}× the footprint"
            )
        for name, mb in row.get("files", {}).items():
            lines.append(f"- file {name}: {mb:.2f} MB")
    if "nodes" in results:
        one = results["nodes"][0]
        lines.append(
            f"- saliency node process (1280×720 at 30 Hz): {one['node_rss_mb']:.0f} MiB "
            f"resident, peak {one['node_peak_rss_mb']:.0f} MiB"
        )
    return "\n".join(lines)


GPU_SST = [
    ("resolution", "input", fmt("d")),
    ("mode", "mode", TEXT),
    ("fps_batch1", "frames/s, batch 1", fmt(",.0f")),
    ("latency_ms", "latency ms, batch 1", fmt(".3f")),
    ("spread_pct", "spread %", fmt(".1f")),
    ("best_batch", "best batch", fmt("d")),
    ("fps_best", "frames/s, best batch", fmt(",.0f")),
    ("x_paper", "× paper (GTX 1080 Ti)", fmt(".2f")),
]
GPU_TEACHERS = [
    ("network", "network (batch 1)", TEXT),
    ("mode", "mode", TEXT),
    ("ms", "ms / frame", fmt(".3f")),
    ("spread_pct", "spread %", fmt(".1f")),
    ("x_sst", "× Sst-64", fmt(".1f")),
    ("activation_mib", "peak activations MiB", fmt(".2f")),
]
GPU_FRAMES = [
    ("path", "path", TEXT),
    ("where", "runs on", TEXT),
    ("ms", "ms / 1280×720 frame", fmt(".3f")),
    ("spread_pct", "spread %", fmt(".1f")),
    ("x_sst", "× Sst-64 on the GPU", fmt(".1f")),
]


def gpu_text(gpu: dict) -> str:
    """Section 6: why it was skipped, or its three tables."""
    if "skipped" in gpu:
        return f"Not measured: {gpu['skipped']}."
    parts = [f"{gpu.get('device', '?')}, torch {gpu.get('torch', '?')}. Sst throughput:"]
    parts.append(table(gpu["rows"], GPU_SST))
    if gpu.get("teachers"):
        parts += ["The networks alone, teachers at 768×448:", table(gpu["teachers"], GPU_TEACHERS)]
    if gpu.get("frames"):
        parts += ["One camera frame end to end:", table(gpu["frames"], GPU_FRAMES)]
    return "\n\n".join(parts)


def targets(results: dict) -> list[dict]:
    """The issue's targets that this run measured, each with its value and verdict."""
    found = []
    speed = results.get("speed")
    if speed:
        ort32 = sst_speed.fps_of(speed, "onnxruntime fp32", 32, 1, 1)
        eager = sst_speed.fps_of(speed, "pytorch eager", 32, 64, 1)
        found.append(
            _target(
                "Sst-32 ORT fp32 (1 thread, batch 1) ≥ 3× PyTorch eager at batch 64",
                f"{ort32:,.0f} vs {eager:,.0f} frames/s = {ort32 / eager:.2f}×",
                ort32 >= 3 * eager,
            )
        )
        int8 = sst_speed.fps_of(speed, "onnxruntime int8", 64, 1, 1)
        fp32 = sst_speed.fps_of(speed, "onnxruntime fp32", 64, 1, 1)
        found.append(
            _target(
                "Sst-64 INT8 ≥ 1.8× fp32 (ORT, 1 thread, batch 1)",
                f"{int8 / fp32:.2f}×",
                int8 >= INT8_MIN_SPEEDUP * fp32,
            )
        )
    found += _peak_target(results) + _accuracy_target(results) + _node_targets(results)
    return found


def _target(name: str, measured: str, met: bool) -> dict:
    return {"target": name, "measured": measured, "met": bool(met)}


def _peak_target(results: dict) -> list[dict]:
    rows = [r for r in results.get("peak", {}).get("sst", []) if r["resolution"] == 32]
    one = [r for r in rows if r["batch"] == 1]
    if not one:
        return []
    share = one[0]["of_peak"]
    return [
        _target(
            "Sst-32 ORT fp32 (1 thread, batch 1) ≥ 85 % of the single-core peak",
            f"{share:.0%}",
            share >= 0.85,
        )
    ]


def _accuracy_target(results: dict) -> list[dict]:
    scores = results.get("accuracy")
    if not scores:
        return []
    fp32 = scores["Sst-64 fp32 (R + model)"]["NSS"]
    int8 = scores["Sst-64 int8 (R + model)"]["NSS"]
    drop = (fp32 - int8) / fp32
    return [
        _target(
            "INT8 NSS drop ≤ 1 % (held-out synthetic split)",
            f"{fp32:.3f} → {int8:.3f} ({100 * drop:.2f} %)",
            drop <= INT8_MAX_NSS_DROP,
        )
    ]


def _node_targets(results: dict) -> list[dict]:
    found = []
    if results.get("nodes"):
        cpu = results["nodes"][0]["node_cpu_ms_per_frame"]
        found.append(
            _target(
                "node at 1280×720 < 3 ms CPU per frame (whole process, incl. receiving the frame)",
                f"{cpu:.2f} ms",
                cpu < NODE_CPU_BUDGET_MS,
            )
        )
    camera = results.get("scaling_camera")
    if camera:
        rest = [r["rest_ms"] for r in camera]
        grows = max(rest) / min(rest)
        found.append(
            _target(
                "node cost grows with camera resolution only through the resize "
                "(Sst + peaks + messages within 20 % from 640×480 to 3840×2160)",
                f"{min(rest):.3f}–{max(rest):.3f} ms",
                grows <= 1.2,
            )
        )
    return found
