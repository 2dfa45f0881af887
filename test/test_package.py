"""The ROS-native path: colcon builds the package and `ros2 run` would find its executables."""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLCON = Path(sys.executable).with_name("colcon")


def test_package_xml_is_format_3_ament_python_with_ros_dependencies():
    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == "skd_ros"
    assert root.find("export/build_type").text == "ament_python"
    depends = {e.text for e in root.findall("exec_depend")}
    required = {"rclpy", "sensor_msgs", "std_msgs", "geometry_msgs", "visualization_msgs"}
    assert required | {"diagnostic_msgs", "launch", "launch_ros"} <= depends
    assert (ROOT / "resource" / "skd_ros").is_file()


@pytest.fixture(scope="module")
def colcon_install(tmp_path_factory) -> Path:
    if not COLCON.exists():
        pytest.skip(f"colcon is not installed next to {sys.executable}; run scripts/setup.sh")
    workspace = tmp_path_factory.mktemp("ws")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in files:
        target = workspace / "src" / "skd_ros" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    result = subprocess.run(
        [str(COLCON), "build", "--base-paths", "src"],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return workspace / "install" / "skd_ros"


def test_colcon_installs_executables_where_ros2_run_looks(colcon_install):
    executable = colcon_install / "lib" / "skd_ros" / "demo"
    assert executable.is_file() and os.access(executable, os.X_OK)
    share = colcon_install / "share"
    assert (share / "ament_index" / "resource_index" / "packages" / "skd_ros").is_file()
    assert (share / "skd_ros" / "package.xml").is_file()


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
