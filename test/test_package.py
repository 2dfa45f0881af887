"""The ROS-native path: colcon builds the package and `ros2 run` would find its executables."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest


def test_package_xml_is_format_3_ament_python_with_ros_dependencies(repo_root):
    root = ET.parse(repo_root / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == "skd_ros"
    assert root.find("export/build_type").text == "ament_python"
    depends = {e.text for e in root.findall("exec_depend")}
    required = {"rclpy", "sensor_msgs", "std_msgs", "geometry_msgs", "visualization_msgs"}
    assert required | {"diagnostic_msgs", "launch", "launch_ros"} <= depends
    assert (repo_root / "resource" / "skd_ros").is_file()


@pytest.mark.parametrize(
    "executable", ["demo_node", "saliency_node", "replay", "measure_node", "train"]
)
def test_colcon_installs_executables_where_ros2_run_looks(colcon_install, executable):
    path = colcon_install / "lib" / "skd_ros" / executable
    assert path.is_file() and os.access(path, os.X_OK)


@pytest.mark.integration  # starts each executable
@pytest.mark.parametrize(
    "executable", ["demo_node", "saliency_node", "replay", "measure_node", "train"]
)
def test_every_executable_answers_help_without_starting(executable):
    result = subprocess.run(
        [str(Path(sys.executable).parent / executable), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "usage:" in result.stdout, result.stdout + result.stderr


@pytest.mark.integration  # starts each tool
@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["bench", "--repeats", "0"], "--repeats: 0 must be an integer >= 1"),
        (["measure_node", "--rates", "30", "nan"], "--rates: nan must be a finite number"),
        (["measure_node", "--size", "0", "720"], "--size: 0 must be an integer >= 1"),
        (["-m", "skd_ros.bench.gpu", "--repeats", "x"], "--repeats: 'x' is not an integer"),
        (["-m", "skd_ros.bench.nodes", "0"], "counts: 0 must be an integer >= 1"),
        (["-m", "skd_ros.tools.paced_reference", "--frames", "-1"], "--frames: -1 must be"),
    ],
)
def test_measuring_tools_refuse_bad_numbers_by_name(command, says, repo_root):
    executable = sys.executable if command[0] == "-m" else Path(sys.executable).parent / command[0]
    arguments = command if command[0] == "-m" else command[1:]
    result = subprocess.run(
        [str(executable), *arguments], capture_output=True, text=True, timeout=60, cwd=repo_root
    )
    assert result.returncode == 2 and says in result.stderr, result.stderr[-2000:]


def test_colcon_installs_launch_config_and_models_to_share(colcon_install):
    share = colcon_install / "share"
    assert (share / "ament_index" / "resource_index" / "packages" / "skd_ros").is_file()
    package = share / "skd_ros"
    expected = ["package.xml", "launch/saliency.launch.py", "config/saliency.yaml"]
    expected += ["config/fastdds_shm.xml", "models/sst_demo.json", "models/sst_demo_int8.onnx"]
    assert [name for name in expected if not (package / name).is_file()] == []


def test_installed_package_builds_the_three_networks(colcon_install):
    site = next(colcon_install.glob("lib/python3*/site-packages"))
    code = (
        "import skd_ros; from skd_ros.models import summary; print(skd_ros.__file__); "
        "print({r['model']: r['parameters'] for r in summary()})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=colcon_install,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(site))  # the colcon-installed copy, not the source tree
    assert "'Sst': 298089" in result.stdout


def test_repository_root_holds_only_the_package_layout(repo_root):
    listing = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=repo_root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    top = {name.split("/")[0] for name in listing}
    allowed = {"package.xml", "setup.py", "setup.cfg", "skd_ros", "launch", "config"}
    allowed |= {"resource", "test", "README.md", ".ci", "docs", ".gitignore", ".ruff.toml"}
    assert top <= allowed, sorted(top - allowed)


def test_lock_lines_keep_ros_wheels_and_drop_their_bare_aliases():
    from skd_ros.bootstrap import pinned_lines

    frozen = "torch==2.13.0+cpu\nrclpy==9.1.2\nros-rclpy==9.1.2\nNumPy==2.3.0\nstd_msgs==5.5.1\n"
    frozen += "ros-std-msgs==5.5.1\n"
    assert pinned_lines(frozen) == [
        "NumPy==2.3.0",
        "ros-rclpy==9.1.2",
        "ros-std-msgs==5.5.1",
        "torch==2.13.0",
    ]


def test_installed_hints_name_the_installed_demo_config(colcon_install):
    # the "train one" hint of model errors names a file that exists where the package is
    # installed, not the source checkout's relative config/demo_weights.yaml
    site = next(colcon_install.glob("lib/python3*/site-packages"))
    code = "from skd_ros.inference.model_files import FIX_HINT; print(FIX_HINT)"
    env = {**os.environ, "PYTHONPATH": str(site), "AMENT_PREFIX_PATH": str(colcon_install)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=colcon_install,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    named = result.stdout.split("--config ")[1].split("`")[0]
    assert named.endswith("share/skd_ros/config/demo_weights.yaml"), result.stdout
    assert Path(named).is_file()
