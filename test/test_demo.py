"""The README's main command, as a user runs it: bag -> node -> pictures and a summary."""

import json
import subprocess
import sys

import cv2
import pytest

from skd_ros.ros.environment import local_ros_env

# ros: also run on ROS 2 Jazzy (setup.cfg); integration: both run a demo command
pytestmark = [pytest.mark.ros, pytest.mark.integration]


def test_demo_replays_a_bag_into_the_node_and_writes_pictures_and_numbers(tmp_path, repo_root):
    out = tmp_path / "demo"
    command = [sys.executable, "-m", "skd_ros.demo_node", "--frames", "15", "--out", str(out)]
    result = subprocess.run(
        command, cwd=repo_root, env=local_ros_env(), capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_in"] == 15
    assert summary["maps_out"] >= 14, summary  # best-effort replay at 30 Hz: allow one drop
    assert summary["node"]["state"] == "active"
    assert int(summary["node"]["frames rejected"]) == 0
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[0] > 100 and sheet.shape[1] > 400
    assert "maps out: " in result.stdout and "latency p99 (ms)" in result.stdout


def test_model_only_demo_prints_the_networks_and_writes_its_sheet(tmp_path, repo_root):
    command = [sys.executable, "-m", "skd_ros.model_demo", "--frames", "6", "--out", str(tmp_path)]
    result = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Sst" in result.stdout
    assert (tmp_path / "contact_sheet.png").is_file()
