"""The benchmark command: its parts measure what they say, and `bench` writes its report.

No timing thresholds here (the machine is shared): figures are checked for shape and sense,
the target verdicts for their logic.
"""

import json
import subprocess
import sys

import pytest
import torch

from skd_ros.bench import gpu, memory, peak, summary
from skd_ros.bench.report import TEXT, fmt, table
from skd_ros.bench.timing import time_call


def test_time_call_reports_median_and_spread_per_call():
    timing = time_call(lambda: sum(range(1000)), repeats=5, run_s=0.01)
    assert timing.low_s <= timing.median_s <= timing.high_s and timing.calls >= 1
    assert timing.spread_pct() >= 0


def test_peak_activation_memory_of_a_chain_is_its_two_largest_neighbours():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 2, 1)
    )
    x = torch.rand(1, 3, 16, 16)
    peak_bytes = memory.peak_activation_bytes(model, x)
    conv1 = 8 * 16 * 16 * 4
    # conv1 output and the ReLU output are alive together; the input is not counted
    assert conv1 * 2 <= peak_bytes <= conv1 * 2 + 2 * 16 * 16 * 4


def test_sst_flops_are_twice_its_macs_and_scale_with_the_area():
    assert peak.sst_flops(64) == pytest.approx(4 * peak.sst_flops(32), rel=0.01)
    assert 2.0e8 < peak.sst_flops(64) < 2.3e8  # 106 M multiply-accumulates


def test_targets_judge_the_measured_values():
    speed = [
        {"framework": f, "resolution": r, "batch": b, "threads": 1, "fps": fps}
        for f, r, b, fps in [
            ("onnxruntime fp32", 32, 1, 4000.0),
            ("pytorch eager", 32, 64, 1000.0),
            ("onnxruntime int8", 64, 1, 1900.0),
            ("onnxruntime fp32", 64, 1, 1000.0),
        ]
    ]
    results = {
        "speed": speed,
        "accuracy": {
            "Sst-64 fp32 (R + model)": {"NSS": 2.0},
            "Sst-64 int8 (R + model)": {"NSS": 1.9},
        },
        "nodes": [{"node_cpu_ms_per_frame": 2.5}],
        "scaling_camera": [{"rest_ms": 0.5}, {"rest_ms": 0.7}],
    }
    verdicts = [t["met"] for t in summary.targets(results)]
    # 4x eager: met; INT8 1.9x: met; NSS drop 5 %: not met; node 2.5 ms: met; rest +40 %: not
    assert verdicts == [True, True, False, True, False]


def test_tables_right_align_numbers_and_show_missing_values():
    text = table([{"a": "x", "b": 1.5}, {"a": "y"}], [("a", "A", TEXT), ("b", "B", fmt(".1f"))])
    assert text.splitlines()[1] == "|---|---:|"
    assert text.splitlines()[3] == "| y | – |"


@pytest.mark.integration  # several seconds: measures every network
def test_gpu_section_measures_sst_teachers_and_whole_frames():
    # On the CPU only eager fp32 runs; on a CUDA device the same code adds graphs and fp16.
    device = "cuda" if gpu.available() is None else "cpu"
    results = gpu.measure(repeats=1, device=device, max_batch=2)
    assert {row["resolution"] for row in results["rows"]} == {32, 64}
    # both measured (one repeat each on a shared machine: no speed ratio is asserted here)
    assert all(row["fps_best"] > 0 and row["fps_batch1"] > 0 for row in results["rows"])
    assert results["teachers"][0]["network"] == "Sst-64" and results["teachers"][0]["x_sst"] == 1
    teacher = next(row for row in results["teachers"] if row["network"] == "spatial teacher")
    assert teacher["x_sst"] > 0  # measured (768x448 against 64x64; the ratio is bench's)
    paths = [row["path"] for row in results["frames"]]
    assert paths[:2] == ["spatial teacher", "temporal teacher"] and len(paths) == 4
    text = summary.gpu_text(results)
    assert "× paper (GTX 1080 Ti)" in text and "ms / 1280×720 frame" in text


@pytest.mark.integration  # runs the bench command
def test_gpu_section_without_a_device_says_why(tmp_path, repo_root):
    if gpu.available() is None:
        pytest.skip("a CUDA device is available here")
    out = tmp_path / "gpu.json"
    command = [sys.executable, "-m", "skd_ros.bench.gpu", "--out", str(out)]
    result = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Not measured: no CUDA device")
    assert "skipped" in json.loads(out.read_text())


@pytest.mark.integration  # runs the bench command
def test_bench_command_writes_markdown_and_json(tmp_path, repo_root):
    skip = ["nodes", "payoff", "accuracy", "scaling", "gpu"]
    command = [sys.executable, "-m", "skd_ros.bench", "--quick", "--out", str(tmp_path)]
    result = subprocess.run(
        [*command, "--skip", *skip], cwd=repo_root, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = (tmp_path / "bench.md").read_text()
    for heading in ("## Targets", "## 1. Sst throughput", "## 2. Against", "## 4. Memory"):
        assert heading in report
    data = json.loads((tmp_path / "bench.json").read_text())
    frameworks = {row["framework"] for row in data["speed"]}
    assert frameworks == {"pytorch eager", "onnxruntime fp32", "onnxruntime int8"}
    assert all(row["fps"] > 0 for row in data["speed"])
    assert data["memory"][0]["model"] == "Sst-32" and data["memory"][0]["parameters"] == 298089
