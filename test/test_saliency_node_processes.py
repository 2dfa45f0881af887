"""The saliency node started in a process of its own per test, driven by a real rclpy client.

Start-up that must stop with one clear line (a missing, corrupt or hostile model, bad
parameters, ROS arguments or QoS overrides), the managed (autostart: false) start, renaming
and namespaces, sim time, Fast DDS profiles and transports, Humble's parameter callbacks, and
the shared memory a stopped node leaves behind. The tests that share one running node are in
test_saliency_node.py.
"""

import shutil
import signal
import sys
import time

import hostile_models as hostile
import numpy as np
import pytest

from skd_ros.data.bags import write_image_bag
from skd_ros.data.synthetic import ClipSpec, generate_clip
from skd_ros.ros.environment import (
    PROFILE_VARIABLES,
    SHARED_MEMORY,
    installed_fastdds_generation,
    local_ros_env,
)

rclpy = pytest.importorskip("rclpy")
probe_module = pytest.importorskip("skd_ros.tools.probe")
pytestmark = pytest.mark.ros  # also run on ROS 2 Jazzy (setup.cfg)
SaliencyProbe, bgr8_message = probe_module.SaliencyProbe, probe_module.bgr8_message

START_TIMEOUT_S = 30.0
SECOND = 1_000_000_000


@pytest.fixture(scope="module")
def clip(target_clip):
    return list(generate_clip(ClipSpec(*target_clip, 12, 640, 360)))


@pytest.mark.parametrize("signals", [["SIGINT"], ["SIGTERM"], ["SIGINT", "SIGINT"]])
def test_a_stopped_node_deletes_its_shared_memory(
    tmp_path, model_path, signals, fastdds_segments, fresh_domain, node_args, ros_process
):
    """Alone in its domain, the node maps only its own segments; each one left behind would
    be 34 MB of RAM in /dev/shm until reboot (every activated node left them, once). Two
    SIGINTs a moment apart are a Ctrl-C under `ros2 launch` (the terminal's and launch's)."""
    process = ros_process("skd_ros.ros.node", node_args(model_path), fresh_domain, tmp_path / "log")
    try:
        assert process.wait_for_output("active:", START_TIMEOUT_S), process.output()
        mapped = fastdds_segments(process.process.pid)
        assert mapped, "the node runs with the shared-memory profile"
        for name in signals:
            process.process.send_signal(getattr(signal, name))
            time.sleep(0.002)
        assert process.wait(10.0) == 0, process.output()
    finally:
        process.stop()
    assert "Traceback" not in process.output(), process.output()
    assert not [name for name in mapped if (SHARED_MEMORY / name).exists()]


@pytest.fixture
def start_up_result(ros_process, domain, tmp_path):
    """`start_up_result(args)`: exit code and output of a node process (in the module's
    domain) expected to stop during start-up."""

    def result(args: list[str]) -> tuple[int | None, str]:
        process = ros_process("skd_ros.ros.node", args, domain, tmp_path / "log")
        return process.run_to_end(START_TIMEOUT_S)

    return result


def test_missing_model_stops_start_up_naming_the_file(tmp_path, node_args, start_up_result):
    missing = tmp_path / "nowhere" / "model.json"
    code, output = start_up_result(node_args(missing))
    assert code == 1, output
    assert str(missing) in output and "train" in output
    assert "start-up stopped" in output


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("output.encoding:=rgb8", "is not one of"),  # passes rclpy's own type check
        ("peaks.nms_iou:=2.0", "nms_iou"),
        ("peaks.threshold:=1", "decimal point"),  # an int for a float: a common YAML slip
        ("use_sim_time:=maybe", "expecting type 'BOOL'"),  # rclpy's own, declared before ours
    ],
)
def test_bad_start_up_parameter_stops_start_up_with_one_clear_line(
    model_path, value, says, node_args, start_up_result
):
    code, output = start_up_result(node_args(model_path, "-p", value))
    assert code == 1, output
    line = next(line for line in output.splitlines() if "start-up stopped" in line)
    assert value.split(":=")[0] in line and says in line, output
    assert "Traceback" not in output, output


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--params-file", "{tmp}/missing.yaml"], "{tmp}/missing.yaml"),
        (["--garbage"], "unknown ROS argument(s) after --ros-args: ['--garbage']"),
    ],
)
def test_bad_ros_arguments_stop_start_up_with_one_clear_line(
    tmp_path, model_path, extra, says, node_args, start_up_result
):
    extra = [item.format(tmp=tmp_path) for item in extra]
    code, output = start_up_result(node_args(model_path, *extra))
    assert code == 1, output
    line = next(line for line in output.splitlines() if "start-up stopped" in line)
    assert says.format(tmp=tmp_path) in line, output
    assert "Traceback" not in output, output


def test_misspelled_start_up_parameters_are_named(
    tmp_path, domain, model_path, node_args, ros_process
):
    typo_qos = "qos_overrides./cam/image_rwa.subscription.reliability"
    valid_qos = "qos_overrides./cam/image_raw.subscription.depth:=2"
    args = ["-p", "peaks.treshold:=0.5", "-p", f"{typo_qos}:=reliable", "-p", valid_qos]
    process = ros_process("skd_ros.ros.node", node_args(model_path, *args), domain, tmp_path / "l")
    try:
        assert process.wait_for_output("active:", START_TIMEOUT_S), process.output()
        assert process.wait_for_output("ignored QoS override", 5.0), process.output()
    finally:
        process.stop()
    lines = [line for line in process.output().splitlines() if "ignored" in line]
    assert len(lines) == 2, process.output()
    assert "peaks.treshold" in lines[0] and "qos" not in lines[0], lines
    assert "model" not in lines[0].split(": ", 1)[1], lines  # the params file's own are known
    assert typo_qos in lines[1] and "image_raw" not in lines[1], lines


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("qos_overrides./cam/image_raw.subscription.reliability:=bogus", "`bogus`"),
        ("qos_overrides./cam/image_raw.subscription.depth:=abc", "expecting type 'INTEGER'"),
        ("qos_overrides./cam/saliency.publisher.depth:=-3", "depth -3 is negative"),
        ("qos_overrides./cam/image_raw.subscription.reliability:=unknown", "not a setting"),
    ],
)
def test_bad_qos_override_stops_start_up_with_one_clear_line(
    model_path, value, says, node_args, start_up_result
):
    code, output = start_up_result(node_args(model_path, "-p", value))
    assert code == 1, output
    parameter = value.split(":=")[0]
    line = next(line for line in output.splitlines() if parameter.rsplit(".", 1)[0] in line)
    assert says in line and "reliable, best_effort" in line and "restart" in line, output
    assert "Traceback" not in output, output


def test_corrupt_model_file_stops_start_up_naming_the_file(
    tmp_path, model_path, node_args, start_up_result
):
    for suffix in (".json", ".onnx", ".safetensors"):
        shutil.copy(model_path.with_suffix(suffix), tmp_path)
    onnx = tmp_path / model_path.with_suffix(".onnx").name
    onnx.write_bytes(onnx.read_bytes()[:-10])
    json_path = tmp_path / model_path.name
    code, output = start_up_result(node_args(json_path))
    assert code == 1 and str(onnx) in output and "sha256" in output


@pytest.mark.parametrize("case", ["big constant", "nested description"])
def test_a_hostile_model_stops_start_up_naming_the_file(tmp_path, case, node_args, start_up_result):
    if case == "big constant":  # ONNX Runtime would fold it into a 2.7 GB tensor at load
        json_path = hostile.hostile_folder(tmp_path / "model", hostile.big_constant(25_000))
        named, says = json_path.with_suffix(".onnx"), "operator 'ConstantOfShape'"
    else:
        json_path = named = tmp_path / "nested.json"
        json_path.write_text("[" * 100_000)
        says = "not a readable JSON file"
    code, output = start_up_result(node_args(json_path))
    assert code == 1 and f"cannot load the model: {named}" in output and says in output, output


def test_managed_start_and_qos_override_with_an_incompatible_camera(
    tmp_path, model_path, fresh_domain, local_ros_environment, node_args, ros_process, wait_until
):
    args = node_args(
        model_path,
        "-p",
        "autostart:=false",
        "-p",
        "qos_overrides./cam/image_raw.subscription.reliability:=reliable",
    )
    process = ros_process("skd_ros.ros.node", args, fresh_domain, tmp_path / "log")
    try:
        with local_ros_environment(fresh_domain), SaliencyProbe() as client:
            assert wait_until(lambda: client._get_state.service_is_ready(), 20.0)
            assert client.state() == "unconfigured"
            assert client.change_state("configure") and client.state() == "inactive"
            assert client.change_state("activate") and client.state() == "active"
            # our camera publishes best effort, the node now requires reliable
            assert process.wait_for_output("incompatible", 10.0), process.output()
    finally:
        process.stop()


def test_a_refused_activation_stays_inactive_and_a_fresh_configure_does_not_duplicate(
    tmp_path, model_path, clip, fresh_domain, local_ros_environment, node_args, ros_process
):
    bogus = "qos_overrides./cam/image_raw/compressed.subscription.reliability:=bogus"
    process = ros_process(
        "skd_ros.ros.node", node_args(model_path, "-p", bogus), fresh_domain, tmp_path / "log"
    )
    try:
        with local_ros_environment(fresh_domain), SaliencyProbe() as client:
            assert client.wait_for_node(START_TIMEOUT_S), process.output()
            assert client.set_parameters({"image_transport": "compressed"})[0].successful
            assert client.change_state("deactivate")
            assert not client.change_state("activate")  # the bogus QoS override is refused
            assert client.state() == "inactive", process.output()
            assert "compressed.subscription.*: Unexpected QoS override" in process.output()
            assert "Traceback" not in process.output()
            assert client.set_parameters({"image_transport": "raw"})[0].successful
            assert client.change_state("activate")
            for transition in ("deactivate", "cleanup", "configure", "activate"):
                assert client.change_state(transition), (transition, process.output())
            assert client.node.count_publishers("/cam/saliency") == 1
            assert client.node.count_publishers("/diagnostics") == 1
            message = bgr8_message(clip[0].image, 5)
            assert client.send(message, timeout_s=10.0) is not None, process.output()
    finally:
        process.stop()


def test_renamed_node_in_a_namespace_receives_through_its_camera_input(
    tmp_path, model_path, clip, fresh_domain, local_ros_environment, node_args, ros_process
):
    """`__node:=` and `__ns:=` rename the node, not its camera helper into a clash; a
    relative remap resolves in the namespace; the helper is listed beside the node."""
    args = node_args(model_path, namespace="/drone1")
    args[args.index("image:=/cam/image_raw")] = "image:=cam0/image_raw"
    args += ["-r", "__node:=cam0_saliency"]
    process = ros_process("skd_ros.ros.node", args, fresh_domain, tmp_path / "log")
    try:
        assert process.wait_for_output("active:", START_TIMEOUT_S), process.output()
        assert "/drone1/cam0/image_raw -> /drone1/saliency" in process.output()
        with (
            local_ros_environment(fresh_domain),
            SaliencyProbe("/drone1", "/drone1/cam0/image_raw", "cam0_saliency") as client,
        ):
            assert client.wait_for_node(20.0), process.output()
            names = client.node.get_node_names_and_namespaces()
            assert ("cam0_saliency", "/drone1") in names, names
            assert ("cam0_saliency_camera_input", "/drone1") in names, names
            for index, sample in enumerate(clip[:3]):
                assert client.send(bgr8_message(sample.image, (index + 1) * SECOND)), index
    finally:
        process.stop()


def test_diagnostics_keep_coming_on_sim_time_without_a_clock(
    tmp_path, model_path, fresh_domain, local_ros_environment, node_args, ros_process
):
    """With use_sim_time and no /clock (a bag not started, or ended) the status still flows."""
    args = node_args(model_path, "-p", "use_sim_time:=true", "-p", "diagnostics.period_s:=0.5")
    process = ros_process("skd_ros.ros.node", args, fresh_domain, tmp_path / "log")
    try:
        assert process.wait_for_output("active:", START_TIMEOUT_S), process.output()
        with local_ros_environment(fresh_domain), SaliencyProbe() as client:
            first = client.diagnostic_values(timeout_s=10.0)
            assert first.get("state") == "active", process.output()
            seen = len(client.diagnostics)
            assert client.diagnostic_values(timeout_s=5.0, after=seen), "status stopped"
    finally:
        process.stop()


def test_a_profile_named_only_in_kilteds_variable_is_said_at_configure(
    tmp_path, model_path, fresh_domain, node_args, ros_process
):
    """The README once gave FASTDDS_DEFAULT_PROFILES_FILE for every distro: Fast DDS 2 (Jazzy,
    Humble) ignores it, and the node lost large frames without a word about why."""
    env = local_ros_env(fresh_domain)
    generation = installed_fastdds_generation()
    env[PROFILE_VARIABLES[3]] = env.pop(PROFILE_VARIABLES[generation])  # Kilted's name only
    node = ros_process(
        "skd_ros.ros.node", node_args(model_path), fresh_domain, tmp_path / "log", env=env
    )
    try:
        assert node.wait_for_output("active:", START_TIMEOUT_S), node.output()
    finally:
        node.stop()
    said = "reads only FASTRTPS_DEFAULT_PROFILES_FILE" in node.output()
    assert said == (generation == 2), node.output()  # Kilted reads it: nothing to say


def test_frames_lost_in_transport_are_said_with_the_fix(
    tmp_path, model_path, fresh_domain, node_args, ros_process
):
    """720p frames replayed over Fast DDS's default transports (UDP fragments): most never
    arrive, no callback of the node sees them; the middleware's count is logged, with the fix.
    (Both ends in processes of their own: a process keeps the Fast DDS profile it started
    with.)"""
    frames = np.random.default_rng(0).integers(0, 256, (30, 720, 1280, 3), np.uint8)
    bag = write_image_bag(tmp_path / "bag", list(frames), storage="mcap")
    args = node_args(model_path, "-p", "warn_throttle_s:=0.0")
    node = ros_process(
        "skd_ros.ros.node", args, fresh_domain, tmp_path / "log", shared_memory=False
    )
    try:
        assert node.wait_for_output("active:", START_TIMEOUT_S), node.output()
        replay = ros_process(
            "skd_ros.tools.replay",
            [str(bag), "--publish-as", "/cam/image_raw", "--wait", "20"],
            fresh_domain,
            tmp_path / "replay.log",
            shared_memory=False,
        )
        assert replay.wait(60.0) == 0, replay.output()
        assert node.wait_for_output("lost in transport", 10.0), node.output()
    finally:
        node.stop()
    line = next(line for line in node.output().splitlines() if "lost in transport" in line)
    assert "/cam/image_raw" in line and "docs/node.md 'Transport'" in line, line


def test_run_time_parameters_apply_where_rclpy_has_no_post_set_callback(
    tmp_path, model_path, fresh_domain, local_ros_environment, node_args, ros_process, target_clip
):
    # Humble's rclpy (< 3.7) has no add_post_set_parameters_callback; the node then takes
    # accepted values into its settings from the check callback. Run the real node with that
    # method removed from rclpy, as on Humble, and check a change reaches the outputs.
    start = (
        "import sys, rclpy.node; del rclpy.node.Node.add_post_set_parameters_callback; "
        "from skd_ros.ros.node import main; sys.exit(main(sys.argv))"
    )
    args = node_args(model_path)
    command = [sys.executable, "-c", start, *args]
    process = ros_process("", args, fresh_domain, tmp_path / "log", command=command)
    try:
        assert process.wait_for_output("active:", START_TIMEOUT_S), process.output()
        clip = list(generate_clip(ClipSpec(*target_clip, 3, 320, 180)))
        with local_ros_environment(fresh_domain), SaliencyProbe() as client:
            assert client.wait_for_node(20.0), process.output()
            (result,) = client.set_parameters({"output.resolution": "input"})
            assert result.successful, result.reason
            output = client.send(bgr8_message(clip[0].image, 5 * SECOND))
            assert output is not None, process.output()
            assert (output.saliency.width, output.saliency.height) == (320, 180)
    finally:
        process.stop()
