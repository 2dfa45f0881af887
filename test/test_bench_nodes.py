"""`skd_ros.bench.nodes`: several saliency node processes, one per camera, measured together.

Structure and delivery only; no timing thresholds (the machine is shared and noisy).
"""

import math
import re
import subprocess
import sys

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("sensor_msgs.msg")
# ros: also run on ROS 2 Jazzy (setup.cfg); integration: both start node processes
pytestmark = [pytest.mark.ros, pytest.mark.integration]

from skd_ros.bench.nodes import COLUMNS, format_table, several_nodes  # noqa: E402


def test_several_nodes_rows(model_path):
    rows = several_nodes(counts=(1, 2), size=(320, 240), rate_hz=10, seconds=1.5, model=model_path)
    assert [row["nodes"] for row in rows] == [1, 2]
    for row in rows:
        assert set(row) == set(COLUMNS)
        assert row["rate_hz"] == 10
        assert row["sent"] == 15 * row["nodes"]  # every camera gets every frame
        assert 0 <= row["received"] <= row["sent"]
        assert row["delivered_pct"] > 80, row
        assert 0 < row["latency_p50_ms"] <= row["latency_p99_ms"]
        assert row["node_cpu_ms_per_frame"] > 0 and math.isfinite(row["node_cpu_ms_per_frame"])
        assert 0 < row["node_rss_mb"] <= row["node_peak_rss_mb"]
    table = format_table(rows).splitlines()
    assert len(table) == 2 + len(rows) and table[2].startswith("| 1 |")


def test_measure_node_prints_its_table_with_the_receive_only_and_in_process_baselines():
    command = [sys.executable, "-m", "skd_ros.tools.measure", "--rates", "30"]
    command += ["--seconds", "2", "--size", "1280", "720"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("| 30 ("))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == 10 and cells[1] == "60"
    assert float(cells[7]) > 0  # the empty subscriber's CPU per frame was measured
    assert float(cells[8]) > 0  # so was the same work in-process, paced at 30 Hz
    hot = re.search(r"back to back \(hot caches\): ([0-9.]+) ms/frame", result.stdout)
    assert hot and float(hot.group(1)) > 0
    idle = re.search(r"active without frames: ([0-9.]+) ms per second", result.stdout)
    assert idle and float(idle.group(1)) >= 0
