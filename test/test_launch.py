"""launch/saliency.launch.py: checked statically everywhere, started where launch_ros exists.

`launch` and `launch_ros` are not installable from PyPI (ROS 2 publishes no wheels of them), so on a
machine without a ROS 2 installation the launch test is skipped with that reason; with ROS 2
sourced it builds the package with colcon, launches two cameras in their own namespaces and
checks each one's saliency topic answers a frame.
"""

import ast
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REQUIRED_ARGUMENTS = {"camera_topic", "namespace", "params_file", "model", "backend"}
REQUIRED_ARGUMENTS |= {"use_sim_time", "device", "image_transport"}


@pytest.fixture(scope="module")
def launch_file(repo_root) -> Path:
    return repo_root / "launch" / "saliency.launch.py"


def _arguments_table(launch_file: Path) -> dict:
    tree = ast.parse(launch_file.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ARGUMENTS":
            pairs = zip(node.value.keys, node.value.values, strict=True)
            return {key.value: value for key, value in pairs}
    raise AssertionError("ARGUMENTS table not found")


def test_launch_file_compiles_and_declares_the_documented_arguments(launch_file, repo_root):
    source = launch_file.read_text()
    compile(source, str(launch_file), "exec")
    assert "def generate_launch_description" in source
    assert set(_arguments_table(launch_file)) >= REQUIRED_ARGUMENTS
    assert 'executable="saliency_node"' in source and 'package="skd_ros"' in source
    assert (
        '"config", "saliency.yaml"' in source and (repo_root / "config" / "saliency.yaml").is_file()
    )


def test_the_old_argument_name_input_type_is_kept_as_deprecated(launch_file):
    description = ast.literal_eval(_arguments_table(launch_file)["input_type"])[1]
    assert "deprecated" in description and "image_transport" in description


@pytest.fixture(scope="module")
def installed(request) -> Path:
    """The colcon install (conftest.py), built only where launch_ros can be imported."""
    pytest.importorskip(
        "launch_ros",
        reason="launch_ros is not installable from PyPI (no wheels are published); without a ROS 2 "
        "installation the launch file is only checked statically",
    )
    install = request.getfixturevalue("colcon_install")
    assert (install / "lib" / "skd_ros" / "saliency_node").exists()
    return install


LAUNCHER = textwrap.dedent(
    """
    import sys
    from launch import LaunchDescription, LaunchService
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    path = sys.argv[1]
    cameras = [
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(path),
            launch_arguments={"namespace": name, "camera_topic": f"/{name}/image_raw"}.items(),
        )
        for name in ("front", "down")
    ]
    # noninteractive: SIGINT reaches only this process (not a terminal's process group), so
    # launch must forward it to the nodes; otherwise they outlive the test.
    service = LaunchService(noninteractive=True)
    service.include_launch_description(LaunchDescription(cameras))
    sys.exit(service.run())
    """
)


def _use_the_install(installed: Path, monkeypatch) -> None:
    """Child processes find the colcon-built package (share/, its Python files)."""
    site = next(installed.glob("lib/python3*/site-packages"))
    prefixes = os.pathsep.join([str(installed), os.environ.get("AMENT_PREFIX_PATH", "")])
    monkeypatch.setenv("AMENT_PREFIX_PATH", prefixes)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))


def test_two_cameras_launch_with_their_own_namespaces(
    installed, tmp_path, monkeypatch, fresh_domain, local_ros_environment, ros_process
):
    from skd_ros.tools.probe import SaliencyProbe, bgr8_message

    _use_the_install(installed, monkeypatch)
    script = tmp_path / "launcher.py"
    script.write_text(LAUNCHER)
    launch_file = installed / "share" / "skd_ros" / "launch" / "saliency.launch.py"
    command = [sys.executable, str(script), str(launch_file)]
    process = ros_process("", [], fresh_domain, tmp_path / "launch.log", command=command)
    try:
        frame = np.zeros((120, 160, 3), np.uint8)
        for name in ("front", "down"):
            with (
                local_ros_environment(fresh_domain),
                SaliencyProbe(namespace=f"/{name}", image_topic=f"/{name}/image_raw") as probe,
            ):
                assert probe.wait_for_node(30.0), process.output()
                assert probe.send(bgr8_message(frame, 1_000_000_000)) is not None
    finally:
        code = process.stop()
    output = process.output()
    assert code == 0 and output.count("process has finished cleanly") == 2, output


REFUSING_LAUNCHER = textwrap.dedent(
    """
    import sys
    from launch import LaunchDescription, LaunchService
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    arguments = dict(item.split(":=", 1) for item in sys.argv[2:])
    include = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(sys.argv[1]), launch_arguments=arguments.items()
    )
    service = LaunchService(noninteractive=True)
    service.include_launch_description(LaunchDescription([include]))
    sys.exit(service.run())
    """
)


@pytest.mark.parametrize(
    ("argument", "says"),
    [
        ("params_file:=/nowhere/saliency.yaml", "params_file:=/nowhere/saliency.yaml is not a"),
        ("use_sim_time:=maybe", "use_sim_time:=maybe is not one of"),
    ],
)
def test_a_bad_launch_argument_stops_the_launch_naming_it(
    installed, tmp_path, monkeypatch, argument, says, fresh_domain, ros_process
):
    """launch_ros only warns about a missing params file and runs the node on defaults."""
    _use_the_install(installed, monkeypatch)
    script = tmp_path / "launcher.py"
    script.write_text(REFUSING_LAUNCHER)
    launch_file = installed / "share" / "skd_ros" / "launch" / "saliency.launch.py"
    command = [sys.executable, str(script), str(launch_file), argument]
    process = ros_process("", [], fresh_domain, tmp_path / "launch.log", command=command)
    code, output = process.run_to_end(60.0)
    assert code not in (0, None) and says in output, output
    assert "saliency_node" not in output.split(says)[-1], output  # no node was started
