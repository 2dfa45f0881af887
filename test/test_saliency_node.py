"""The saliency node as a real process, driven by a real rclpy client in this process.

One node process serves most tests of this module (in file order); start-up failures and
the managed (autostart: false) start use processes of their own.
"""

import array
import shutil
import signal
import sys
import threading
import time

import cv2
import hostile_images
import hostile_models as hostile
import numpy as np
import pytest
from ros_support import (
    TARGET_CLIP,
    RosProcess,
    fastdds_segments,
    local_ros_environment,
    model_for_tests,
    new_domain,
    node_args,
    on_target,
    wait_until,
)

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
sensor_msgs = pytest.importorskip("sensor_msgs.msg")
pytestmark = pytest.mark.ros  # also run on ROS 2 Jazzy (setup.cfg)
SaliencyProbe, bgr8_message, set_stamp = (
    probe_module.SaliencyProbe,
    probe_module.bgr8_message,
    probe_module.set_stamp,
)

START_TIMEOUT_S = 30.0
SECOND = 1_000_000_000


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return model_for_tests(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def clip():
    return list(generate_clip(ClipSpec(*TARGET_CLIP, 12, 640, 360)))


@pytest.fixture(scope="module")
def domain():
    return new_domain()


@pytest.fixture(scope="module")
def node(model_path, domain, tmp_path_factory):
    log = tmp_path_factory.mktemp("node") / "node.log"
    extra = ["-p", "qos_hint_after_s:=1.0", "-p", "warn_throttle_s:=0.0"]
    process = RosProcess("skd_ros.ros.node", node_args(model_path, *extra), domain, log)
    try:
        assert process.wait_for_output("active:", START_TIMEOUT_S), process.output()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def probe(node, domain):
    with local_ros_environment(domain), SaliencyProbe() as client:
        assert client.wait_for_node(20.0), "the node never matched the test client"
        yield client


class Stamps:
    """Fresh, increasing header stamps (ns), 1/30 s apart, for the shared node."""

    def __init__(self) -> None:
        self.next = 1_000 * SECOND

    def __call__(self) -> int:
        self.next += SECOND // 30
        return self.next


@pytest.fixture(scope="module")
def stamps():
    return Stamps()


def raw_image(encoding, pixels, height, width, stamp, step=None):
    packed = np.ascontiguousarray(pixels).view(np.uint8).reshape(pixels.shape[0], -1)
    msg = sensor_msgs.Image(height=height, width=width, encoding=encoding)
    msg.step = packed.shape[1] if step is None else step
    set_stamp(msg, stamp)
    msg.header.frame_id = "camera"
    buffer = array.array("B")
    buffer.frombytes(packed.tobytes())
    msg.data = buffer
    return msg


def test_every_frame_gets_a_map_with_its_header_and_peaks_on_the_targets(probe, clip, stamps):
    hits = 0
    for frame in clip:
        msg = bgr8_message(frame.image, stamps(), frame_id="drone_camera")
        output = probe.send(msg)
        assert output is not None, f"no map for frame {frame.index}"
        saliency = output.saliency
        assert saliency.header.stamp == msg.header.stamp
        assert saliency.header.frame_id == "drone_camera"
        assert (saliency.width, saliency.height, saliency.encoding) == (64, 64, "mono8")
        assert len(output.regions) <= 10
        assert np.all(np.diff(output.regions["score"]) <= 0)  # sorted, best first
        assert np.all(output.regions["id"] >= 1)  # tracked
        assert np.isnan(output.regions["bearing_x"]).all()  # no camera_info: no bearings
        if len(output.regions):
            hits += on_target(output.regions[0], frame.saliency)
            region = output.regions[0]
            assert 0 <= region["x_min"] < region["x_max"] <= 640
            assert 0 <= region["y_min"] < region["y_max"] <= 360
    assert hits >= 0.7 * len(clip), f"top peak on a target in {hits}/{len(clip)} frames"
    last = probe_module.stamp_ns(msg.header)
    deadline = time.monotonic() + 5.0
    while last not in probe.top_peaks and time.monotonic() < deadline:
        time.sleep(0.01)
    point, best = probe.top_peaks[last].point, output.regions[0]
    assert (point.x, point.y, point.z) == pytest.approx((best["u"], best["v"], best["score"]))


@pytest.mark.parametrize(
    "encoding", ["rgb8", "bgra8", "mono8", "mono16", "yuv422", "bayer_rggb8", "nv12"]
)
def test_every_common_encoding_is_processed(probe, clip, stamps, encoding):
    bgr = clip[0].image
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    pixels = {
        "rgb8": bgr[:, :, ::-1],
        "bgra8": cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
        "mono8": grey,
        "mono16": grey.astype(np.uint16) * 257,
        "yuv422": cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_UYVY),
        "bayer_rggb8": grey,  # any single-channel mosaic will do here
        "nv12": np.vstack([grey, grey[:180]]),
    }[encoding]
    output = probe.send(raw_image(encoding, pixels, 360, 640, stamps()))
    assert output is not None, f"no map for a {encoding} frame"


MALFORMED = {
    "step too small": {"step": 100},
    "data too short": {"height": 400},
    "unknown encoding": {"encoding": "bgr9"},
    "empty image": {"height": 0, "width": 0, "step": 0},
}


def test_malformed_messages_are_skipped_and_the_node_keeps_running(node, probe, clip, stamps):
    for cause, change in MALFORMED.items():
        msg = bgr8_message(clip[1].image, stamps())
        for field, value in change.items():
            setattr(msg, field, value)
        assert probe.send(msg, timeout_s=0.5) is None, f"a map for a frame with {cause}"
        assert node.wait_for_output(cause, 5.0), f"no warning naming {cause!r}"
    assert probe.send(bgr8_message(clip[2].image, stamps())) is not None
    assert node.alive()
    values = probe.diagnostic_values(timeout_s=5.0)  # the next status, sent after all this
    for cause in MALFORMED:
        assert int(values.get(f"rejected: {cause}", 0)) >= 1, values


def test_thresholds_and_outputs_change_at_run_time(probe, clip, stamps):
    results = probe.set_parameters(
        {"output.encoding": "32FC1", "output.resolution": "input", "peaks.max_regions": 1}
    )
    assert all(r.successful for r in results), [r.reason for r in results]
    try:
        output = probe.send(bgr8_message(clip[3].image, stamps()))
        assert output is not None
        saliency = output.saliency
        assert (saliency.width, saliency.height, saliency.encoding) == (640, 360, "32FC1")
        values = np.frombuffer(bytes(saliency.data), np.float32)
        assert values.size == 640 * 360 and values.min() >= 0.0 and values.max() <= 1.0
        assert len(output.regions) <= 1
    finally:
        probe.set_parameters(
            {"output.encoding": "mono8", "output.resolution": "model", "peaks.max_regions": 10}
        )


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"peaks.threshold": 1.5}, "peaks.threshold"),
        ({"backend": "tensorflow"}, "not one of"),
        ({"peaks.max_regions": 1000}, "max_regions"),
        ({"autostart": False}, "read-only"),
    ],
)
def test_bad_parameter_values_are_refused_with_a_reason(probe, values, reason):
    (result,) = probe.set_parameters(values)
    assert not result.successful
    assert reason in result.reason


def test_stamp_going_backwards_restarts_the_pair(node, probe, clip, stamps):
    first = stamps()
    assert probe.send(bgr8_message(clip[4].image, first)) is not None
    assert probe.send(bgr8_message(clip[5].image, first - SECOND)) is not None
    assert node.wait_for_output("frame pair restarted: stamp went backwards", 5.0)


def test_diagnostics_report_rates_latency_and_counts(probe, clip, stamps):
    for frame in clip[:4]:
        assert probe.send(bgr8_message(frame.image, stamps())) is not None
    values = probe.diagnostic_values(timeout_s=5.0, after=len(probe.diagnostics))
    for key in (
        "input rate (Hz)",
        "output rate (Hz)",
        "latency p50 (ms)",
        "latency p99 (ms)",
        "frames dropped",
        "frames rejected",
        "cpu per frame p50 (ms)",
    ):
        assert key in values, values
    assert values["state"] == "active"
    assert int(values["frames published"]) >= 4
    assert float(values["latency p50 (ms)"]) > 0


def test_deactivate_stops_processing_and_frees_the_cpu_then_activate_resumes(
    node, probe, clip, stamps
):
    assert probe.change_state("deactivate")
    assert probe.state() == "inactive"
    assert node.wait_for_output("inactive: unsubscribed, perception off", 2.0), node.output()
    assert probe.send(bgr8_message(clip[6].image, stamps()), timeout_s=1.0) is None
    before = node.cpu_seconds()
    time.sleep(1.5)
    idle = node.cpu_seconds() - before
    assert idle < 0.2, f"an inactive node used {idle:.2f} s of CPU in 1.5 s"
    assert probe.change_state("activate")
    assert probe.state() == "active"
    assert probe.send(bgr8_message(clip[7].image, stamps())) is not None


LIFECYCLE_REQUESTS = 40


def test_many_lifecycle_requests_at_once_are_all_answered(node, probe):
    """A burst of requests from many callers (rcl's lifecycle services kept the last 10 and
    dropped the others: their callers waited for ever); transitions are still published."""
    from lifecycle_msgs.msg import TransitionEvent
    from lifecycle_msgs.srv import GetAvailableStates, GetState
    from rclpy.qos import HistoryPolicy, QoSProfile

    kinds = [(GetState, "get_state"), (GetAvailableStates, "get_available_states")]
    deep = QoSProfile(history=HistoryPolicy.KEEP_ALL)  # every caller keeps all the answers
    clients = [
        probe.node.create_client(kind, f"/cam/saliency/{name}", qos_profile=deep)
        for number in range(LIFECYCLE_REQUESTS)
        for kind, name in [kinds[number % 2]]
    ]
    events = []
    watch = probe.node.create_subscription(
        TransitionEvent, "/cam/saliency/transition_event", events.append, 10
    )
    try:
        for client in clients:  # one call each first: the node has matched every client
            assert client.wait_for_service(timeout_sec=10.0)
            assert wait_until(client.call_async(client.srv_type.Request()).done, 10.0)
        futures = [client.call_async(client.srv_type.Request()) for client in clients]
        assert wait_until(lambda: all(f.done() for f in futures), 20.0), (
            f"{sum(not f.done() for f in futures)} of {len(futures)} requests never answered"
        )
        states = [f.result().current_state.label for f in futures[::2]]
        assert states == ["active"] * (LIFECYCLE_REQUESTS // 2)
        assert all(len(f.result().available_states) >= 10 for f in futures[1::2])
        assert probe.change_state("deactivate") and probe.change_state("activate")
        steps = ["active", "deactivating", "inactive", "activating", "active"]
        expected = list(zip(steps, steps[1:], strict=False))
        assert wait_until(lambda: len(events) >= 4, 5.0)
        assert [(e.start_state.label, e.goal_state.label) for e in events] == expected
    finally:
        probe.node.destroy_subscription(watch)
        for client in clients:
            probe.node.destroy_client(client)


def test_compressed_input_after_reactivation_and_corrupt_or_hostile_jpeg_is_skipped(
    node, probe, clip, stamps
):
    (result,) = probe.set_parameters({"image_transport": "compressed"})
    assert result.successful
    assert probe.change_state("deactivate") and probe.change_state("activate")
    try:
        assert wait_until(lambda: probe.compressed_publisher.get_subscription_count() > 0, 10.0), (
            "the node did not subscribe to image/compressed"
        )
        time.sleep(0.2)
        jpeg = cv2.imencode(".jpg", clip[8].image)[1].tobytes()
        progressive = cv2.imencode(".jpg", clip[8].image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1]
        hostile = [
            hostile_images.fill_masked_bomb(),  # 32768x32768 behind a fake 64x64 header
            hostile_images.repeated_last_scan(progressive.tobytes(), 1000),
        ]
        sent = [(jpeg[: len(jpeg) // 2], False), *((data, False) for data in hostile)]
        for data, expect_map in (*sent, (jpeg, True)):
            msg = sensor_msgs.CompressedImage(format="jpeg")
            set_stamp(msg, stamps())
            buffer = array.array("B")
            buffer.frombytes(data)
            msg.data = buffer
            output = probe.send(msg, timeout_s=5.0 if expect_map else 0.5)
            assert (output is not None) == expect_map
            if expect_map:
                assert (output.saliency.width, output.saliency.height) == (64, 64)
        assert node.wait_for_output("corrupt compressed data", 5.0)
        assert node.wait_for_output("declares 32768x32768 pixels", 5.0)
        assert node.wait_for_output("too many JPEG scans: 1010 scans", 5.0)
    finally:
        probe.set_parameters({"image_transport": "raw"})
        assert probe.change_state("deactivate") and probe.change_state("activate")


def test_the_old_parameter_name_input_type_still_works_with_a_deprecation_warning(
    node, probe, clip, stamps
):
    (result,) = probe.set_parameters({"input_type": "compressed"})
    assert result.successful
    try:
        assert probe.change_state("deactivate") and probe.change_state("activate")
        assert wait_until(lambda: probe.compressed_publisher.get_subscription_count() > 0, 10.0)
        time.sleep(0.2)
        msg = sensor_msgs.CompressedImage(format="jpeg")
        set_stamp(msg, stamps())
        msg.data = array.array("B", cv2.imencode(".jpg", clip[9].image)[1].tobytes())
        assert probe.send(msg) is not None, node.output()
        line = next(x for x in node.output().splitlines() if "input_type is deprecated" in x)
        assert "use image_transport" in line and "image_transport:=compressed" in line
    finally:
        probe.set_parameters({"input_type": "raw"})
        assert probe.change_state("deactivate") and probe.change_state("activate")


def test_silence_with_a_publisher_gives_a_qos_and_transport_hint(node, probe):
    # the probe's image publisher exists; the node has qos_hint_after_s = 1.0
    assert node.wait_for_output("although it has 1 publisher(s)", 6.0), node.output()
    line = next(x for x in node.output().splitlines() if "although it has 1 publisher" in x)
    assert "QoS is compatible" in line
    # already on the shared-memory profile: the hint must not send the user to it
    assert "shared-memory profile" in line
    assert not any(variable in line for variable in PROFILE_VARIABLES.values())


def test_unreadable_messages_are_malformed_not_lost_in_transport(node, probe, clip, stamps):
    """A truncated serialized Image reaches the node but cannot be deserialized; an empty
    one never does, the middleware reports it lost. On the shared-memory profile both are
    malformed messages (counted, said), not frames lost in transport."""
    from rclpy.serialization import serialize_message

    before = probe.diagnostic_values(timeout_s=5.0)
    raw = serialize_message(bgr8_message(clip[3].image, stamps()))
    probe.image_publisher.publish(raw[: len(raw) // 2])
    assert node.wait_for_output("cannot be read as the subscribed type", 5.0), node.output()
    probe.image_publisher.publish(b"")
    assert probe.send(bgr8_message(clip[4].image, stamps())) is not None
    after = probe.diagnostic_values(timeout_s=5.0, after=len(probe.diagnostics))
    assert int(after.get("rejected: unreadable message", 0)) >= 1, after
    assert int(after.get("rejected: undelivered message", 0)) >= 1, after
    assert node.wait_for_output("an empty or malformed serialized message", 5.0)
    assert after["frames lost in transport"] == before["frames lost in transport"], after
    assert node.alive()


def test_outputs_are_volatile_so_a_late_subscriber_gets_no_stale_map(probe):
    for topic in ("/cam/saliency", "/cam/saliency/peaks", "/cam/saliency/peak"):
        (info,) = probe.node.get_publishers_info_by_topic(topic)
        assert info.qos_profile.durability == rclpy.qos.DurabilityPolicy.VOLATILE, topic
        assert info.qos_profile.reliability == rclpy.qos.ReliabilityPolicy.RELIABLE, topic


def test_node_exits_cleanly_on_sigint_while_frames_flow(node, probe, clip, stamps):
    assert node.alive()
    flowing = threading.Event()

    def camera() -> None:  # frames keep coming while the node shuts down
        while not flowing.is_set():
            probe.publish(bgr8_message(clip[0].image, stamps()))
            time.sleep(0.002)

    publisher = threading.Thread(target=camera)
    start = stamps.next
    publisher.start()
    try:  # any map of the flowing frames (a given one may be replaced by the next: depth 1)
        assert wait_until(lambda: any(s > start for s in list(probe.outputs)), 10.0), node.output()
        before = node.output()
        assert node.stop() == 0, node.output()
    finally:
        flowing.set()
        publisher.join()
    shutdown = node.output()[len(before) :]
    assert "failed" not in shutdown and "WARN" not in shutdown, shutdown  # Ctrl-C is no error


@pytest.mark.parametrize("signals", [["SIGINT"], ["SIGTERM"], ["SIGINT", "SIGINT"]])
def test_a_stopped_node_deletes_its_shared_memory(tmp_path, model_path, signals):
    """Alone in its domain, the node maps only its own segments; each one left behind would
    be 34 MB of RAM in /dev/shm until reboot (every activated node left them, once). Two
    SIGINTs a moment apart are a Ctrl-C under `ros2 launch` (the terminal's and launch's)."""
    process = RosProcess("skd_ros.ros.node", node_args(model_path), new_domain(), tmp_path / "log")
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


# ------------------------------------------------------------------ processes of their own


def _start_up_result(args: list[str], domain: int, tmp_path) -> tuple[int | None, str]:
    """Exit code and output of a node process expected to stop during start-up."""
    process = RosProcess("skd_ros.ros.node", args, domain, tmp_path / "log")
    try:
        code = process.wait(START_TIMEOUT_S)
    finally:
        process.stop()
    return code, process.output()


def test_missing_model_stops_start_up_naming_the_file(tmp_path, domain):
    missing = tmp_path / "nowhere" / "model.json"
    code, output = _start_up_result(node_args(missing), domain, tmp_path)
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
    tmp_path, domain, model_path, value, says
):
    code, output = _start_up_result(node_args(model_path, "-p", value), domain, tmp_path)
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
    tmp_path, domain, model_path, extra, says
):
    extra = [item.format(tmp=tmp_path) for item in extra]
    code, output = _start_up_result(node_args(model_path, *extra), domain, tmp_path)
    assert code == 1, output
    line = next(line for line in output.splitlines() if "start-up stopped" in line)
    assert says.format(tmp=tmp_path) in line, output
    assert "Traceback" not in output, output


def test_misspelled_start_up_parameters_are_named(tmp_path, domain, model_path):
    typo_qos = "qos_overrides./cam/image_rwa.subscription.reliability"
    valid_qos = "qos_overrides./cam/image_raw.subscription.depth:=2"
    args = ["-p", "peaks.treshold:=0.5", "-p", f"{typo_qos}:=reliable", "-p", valid_qos]
    process = RosProcess("skd_ros.ros.node", node_args(model_path, *args), domain, tmp_path / "l")
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
    tmp_path, domain, model_path, value, says
):
    code, output = _start_up_result(node_args(model_path, "-p", value), domain, tmp_path)
    assert code == 1, output
    parameter = value.split(":=")[0]
    line = next(line for line in output.splitlines() if parameter.rsplit(".", 1)[0] in line)
    assert says in line and "reliable, best_effort" in line and "restart" in line, output
    assert "Traceback" not in output, output


def test_corrupt_model_file_stops_start_up_naming_the_file(tmp_path, domain, model_path):
    for suffix in (".json", ".onnx", ".safetensors"):
        shutil.copy(model_path.with_suffix(suffix), tmp_path)
    onnx = tmp_path / model_path.with_suffix(".onnx").name
    onnx.write_bytes(onnx.read_bytes()[:-10])
    json_path = tmp_path / model_path.name
    code, output = _start_up_result(node_args(json_path), domain, tmp_path)
    assert code == 1 and str(onnx) in output and "sha256" in output


@pytest.mark.parametrize("case", ["big constant", "nested description"])
def test_a_hostile_model_stops_start_up_naming_the_file(tmp_path, domain, case):
    if case == "big constant":  # ONNX Runtime would fold it into a 2.7 GB tensor at load
        json_path = hostile.hostile_folder(tmp_path / "model", hostile.big_constant(25_000))
        named, says = json_path.with_suffix(".onnx"), "operator 'ConstantOfShape'"
    else:
        json_path = named = tmp_path / "nested.json"
        json_path.write_text("[" * 100_000)
        says = "not a readable JSON file"
    code, output = _start_up_result(node_args(json_path), domain, tmp_path)
    assert code == 1 and f"cannot load the model: {named}" in output and says in output, output


def test_managed_start_and_qos_override_with_an_incompatible_camera(tmp_path, model_path):
    domain = new_domain()
    args = node_args(
        model_path,
        "-p",
        "autostart:=false",
        "-p",
        "qos_overrides./cam/image_raw.subscription.reliability:=reliable",
    )
    process = RosProcess("skd_ros.ros.node", args, domain, tmp_path / "log")
    try:
        with local_ros_environment(domain), SaliencyProbe() as client:
            assert wait_until(lambda: client._get_state.service_is_ready(), 20.0)
            assert client.state() == "unconfigured"
            assert client.change_state("configure") and client.state() == "inactive"
            assert client.change_state("activate") and client.state() == "active"
            # our camera publishes best effort, the node now requires reliable
            assert process.wait_for_output("incompatible", 10.0), process.output()
    finally:
        process.stop()


def test_a_refused_activation_stays_inactive_and_a_fresh_configure_does_not_duplicate(
    tmp_path, model_path, clip
):
    domain = new_domain()
    bogus = "qos_overrides./cam/image_raw/compressed.subscription.reliability:=bogus"
    process = RosProcess(
        "skd_ros.ros.node", node_args(model_path, "-p", bogus), domain, tmp_path / "log"
    )
    try:
        with local_ros_environment(domain), SaliencyProbe() as client:
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


def test_renamed_node_in_a_namespace_receives_through_its_camera_input(tmp_path, model_path, clip):
    """`__node:=` and `__ns:=` rename the node, not its camera helper into a clash; a
    relative remap resolves in the namespace; the helper is listed beside the node."""
    domain = new_domain()
    args = node_args(model_path, namespace="/drone1")
    args[args.index("image:=/cam/image_raw")] = "image:=cam0/image_raw"
    args += ["-r", "__node:=cam0_saliency"]
    process = RosProcess("skd_ros.ros.node", args, domain, tmp_path / "log")
    try:
        assert process.wait_for_output("active:", START_TIMEOUT_S), process.output()
        assert "/drone1/cam0/image_raw -> /drone1/saliency" in process.output()
        with (
            local_ros_environment(domain),
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


def test_diagnostics_keep_coming_on_sim_time_without_a_clock(tmp_path, model_path):
    """With use_sim_time and no /clock (a bag not started, or ended) the status still flows."""
    domain = new_domain()
    args = node_args(model_path, "-p", "use_sim_time:=true", "-p", "diagnostics.period_s:=0.5")
    process = RosProcess("skd_ros.ros.node", args, domain, tmp_path / "log")
    try:
        assert process.wait_for_output("active:", START_TIMEOUT_S), process.output()
        with local_ros_environment(domain), SaliencyProbe() as client:
            first = client.diagnostic_values(timeout_s=10.0)
            assert first.get("state") == "active", process.output()
            seen = len(client.diagnostics)
            assert client.diagnostic_values(timeout_s=5.0, after=seen), "status stopped"
    finally:
        process.stop()


def test_a_profile_named_only_in_kilteds_variable_is_said_at_configure(tmp_path, model_path):
    """The README once gave FASTDDS_DEFAULT_PROFILES_FILE for every distro: Fast DDS 2 (Jazzy,
    Humble) ignores it, and the node lost large frames without a word about why."""
    domain = new_domain()
    env = local_ros_env(domain)
    generation = installed_fastdds_generation()
    env[PROFILE_VARIABLES[3]] = env.pop(PROFILE_VARIABLES[generation])  # Kilted's name only
    node = RosProcess("skd_ros.ros.node", node_args(model_path), domain, tmp_path / "log", env=env)
    try:
        assert node.wait_for_output("active:", START_TIMEOUT_S), node.output()
    finally:
        node.stop()
    said = "reads only FASTRTPS_DEFAULT_PROFILES_FILE" in node.output()
    assert said == (generation == 2), node.output()  # Kilted reads it: nothing to say


def test_frames_lost_in_transport_are_said_with_the_fix(tmp_path, model_path):
    """720p frames replayed over Fast DDS's default transports (UDP fragments): most never
    arrive, no callback of the node sees them; the middleware's count is logged, with the fix.
    (Both ends in processes of their own: a process keeps the Fast DDS profile it started
    with.)"""
    frames = np.random.default_rng(0).integers(0, 256, (30, 720, 1280, 3), np.uint8)
    bag = write_image_bag(tmp_path / "bag", list(frames), storage="mcap")
    domain = new_domain()
    args = node_args(model_path, "-p", "warn_throttle_s:=0.0")
    node = RosProcess("skd_ros.ros.node", args, domain, tmp_path / "log", shared_memory=False)
    try:
        assert node.wait_for_output("active:", START_TIMEOUT_S), node.output()
        replay = RosProcess(
            "skd_ros.tools.replay",
            [str(bag), "--publish-as", "/cam/image_raw", "--wait", "20"],
            domain,
            tmp_path / "replay.log",
            shared_memory=False,
        )
        assert replay.wait(60.0) == 0, replay.output()
        assert node.wait_for_output("lost in transport", 10.0), node.output()
    finally:
        node.stop()
    line = next(line for line in node.output().splitlines() if "lost in transport" in line)
    assert "/cam/image_raw" in line and "README 'Transport'" in line, line


def test_run_time_parameters_apply_where_rclpy_has_no_post_set_callback(tmp_path, model_path):
    # Humble's rclpy (< 3.7) has no add_post_set_parameters_callback; the node then takes
    # accepted values into its settings from the check callback. Run the real node with that
    # method removed from rclpy, as on Humble, and check a change reaches the outputs.
    domain = new_domain()
    start = (
        "import sys, rclpy.node; del rclpy.node.Node.add_post_set_parameters_callback; "
        "from skd_ros.ros.node import main; sys.exit(main(sys.argv))"
    )
    args = node_args(model_path)
    command = [sys.executable, "-c", start, *args]
    process = RosProcess("", args, domain, tmp_path / "log", command=command)
    try:
        assert process.wait_for_output("active:", START_TIMEOUT_S), process.output()
        clip = list(generate_clip(ClipSpec(*TARGET_CLIP, 3, 320, 180)))
        with local_ros_environment(domain), SaliencyProbe() as client:
            assert client.wait_for_node(20.0), process.output()
            (result,) = client.set_parameters({"output.resolution": "input"})
            assert result.successful, result.reason
            output = client.send(bgr8_message(clip[0].image, 5 * SECOND))
            assert output is not None, process.output()
            assert (output.saliency.width, output.saliency.height) == (320, 180)
    finally:
        process.stop()
