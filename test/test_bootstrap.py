"""`skd_ros.bootstrap`: one environment and lock file per ROS 2 distribution, and how `test`
runs the suite on Kilted and the ROS tests on Jazzy."""

import subprocess

import pytest

from skd_ros import bootstrap
from skd_ros.bootstrap import DISTROS, distro_option, non_ros_pins, passed, with_marker


def _pins(path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and line[0] != "#"]
    return dict(line.lower().split("==") for line in lines)


def test_each_distro_has_its_lock_file_environment_and_scope(monkeypatch, repo_root):
    kilted, jazzy = DISTROS["kilted"], DISTROS["jazzy"]
    assert bootstrap.DEFAULT is kilted and kilted.marker is None and jazzy.marker == "ros"
    assert kilted.lock == repo_root / "config" / "requirements.txt"
    assert jazzy.lock == repo_root / "config" / "requirements-jazzy.txt"
    monkeypatch.delenv("SKD_VENV", raising=False)
    assert (kilted.environment(), jazzy.environment()) == (
        repo_root / ".venv",
        repo_root / ".venv-jazzy",
    )
    monkeypatch.setenv("SKD_VENV", "/opt/envs/skd/")
    assert jazzy.environment().as_posix() == "/opt/envs/skd-jazzy"
    ignored = subprocess.run(["git", "check-ignore", "-q", ".venv-jazzy/bin"], cwd=repo_root)
    assert ignored.returncode == 0, ".venv-jazzy is not in .gitignore"


def test_lock_files_pin_their_distro_and_share_every_other_version():
    kilted, jazzy = (_pins(DISTROS[name].lock) for name in ("kilted", "jazzy"))
    assert kilted["ros-rclpy"].startswith("9.") and "ros-jazzy-rclpy" not in kilted
    assert jazzy["ros-rclpy"].startswith("7.") and jazzy["ros-jazzy-rclpy"].startswith("7.")
    assert "ros-fastrtps" in jazzy and "ros-fastdds" in kilted  # Fast DDS 2 and 3
    shared = (set(kilted) & set(jazzy)) - {n for n in jazzy if n.startswith("ros-")}
    assert {"torch", "numpy", "onnxruntime", "pytest", "ruff"} <= shared
    assert {n: jazzy[n] for n in shared} == {n: kilted[n] for n in shared}
    for distro in DISTROS.values():  # the non-ROS list is written once
        assert "-r requirements-common.in" in distro.direct.read_text().splitlines()


def test_non_ros_pins_leave_out_ros_wheels_and_comments():
    text = "# header\nros-rclpy==9.1.2\nnumpy==2.4.6\nros_std_msgs==5\n\ntorch==2.13.0\n"
    assert non_ros_pins(text) == ["numpy==2.4.6", "torch==2.13.0"]


def test_distro_option_is_taken_out_of_the_arguments():
    assert distro_option(["-q", "-k", "node"]) == (None, ["-q", "-k", "node"])
    assert distro_option(["--distro", "jazzy", "-q"]) == (DISTROS["jazzy"], ["-q"])
    assert distro_option(["-x", "--distro=kilted"]) == (DISTROS["kilted"], ["-x"])
    with pytest.raises(SystemExit, match="choose one of kilted, jazzy"):
        distro_option(["--distro", "humble"])


def test_the_marker_is_combined_with_the_users_own():
    assert with_marker(["-q"], None) == ["-q"]
    assert with_marker(["-q", "-k", "x"], "ros") == ["-q", "-k", "x", "-m", "ros"]
    assert with_marker(["-m", "not slow", "-q"], "ros") == ["-q", "-m", "ros and (not slow)"]
    assert with_marker(["-mfast"], "ros") == ["-m", "ros and (fast)"]


def test_no_tests_collected_passes_only_on_a_marker_run_the_user_narrowed():
    kilted, jazzy = DISTROS["kilted"], DISTROS["jazzy"]
    assert passed(0, kilted, []) and passed(0, jazzy, [])
    assert passed(5, jazzy, ["-q", "-k", "metrics"]) and passed(5, jazzy, ["test/test_models.py"])
    assert not passed(5, jazzy, ["-q"])  # nothing marked `ros` at all: the marker broke
    assert not passed(5, kilted, ["-k", "metrics"]) and not passed(1, jazzy, ["-k", "x"])
