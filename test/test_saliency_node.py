"""The saliency node as a real process, driven by a real rclpy client in this process.

One node process serves every test of this module, in file order: frames, encodings and
malformed input, run-time parameters, diagnostics, the lifecycle, and at the end a clean
exit on SIGINT. Tests that need a node process of their own (start-up failures, the managed
start, other environments) are in test_saliency_node_processes.py.
"""

import array
import threading
import time

import cv2
import hostile_images
import numpy as np
import pytest

from skd_ros.data.synthetic import ClipSpec, generate_clip
from skd_ros.ros.environment import PROFILE_VARIABLES

rclpy = pytest.importorskip("rclpy")
probe_module = pytest.importorskip("skd_ros.tools.probe")
sensor_msgs = pytest.importorskip("sensor_msgs.msg")
pytestmark = pytest.mark.ros  # also run on ROS 2 Jazzy (setup.cfg)
SaliencyProbe, bgr8_message, set_stamp = (
    probe_module.SaliencyProbe,
    probe_module.bgr8_message,
    probe_module.set_stamp,
)

SECOND = 1_000_000_000


@pytest.fixture(scope="module")
def node_extra_args():
    """The shared `node` (conftest.py) hints at QoS after 1 s and warns without a pause."""
    return ("-p", "qos_hint_after_s:=1.0", "-p", "warn_throttle_s:=0.0")


@pytest.fixture(scope="module")
def clip(target_clip):
    return list(generate_clip(ClipSpec(*target_clip, 12, 640, 360)))


@pytest.fixture(scope="module")
def probe(node, domain, local_ros_environment):
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


def test_every_frame_gets_a_map_with_its_header_and_peaks_on_the_targets(
    probe, clip, stamps, on_target
):
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


def test_many_lifecycle_requests_at_once_are_all_answered(node, probe, wait_until):
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
    node, probe, clip, stamps, wait_until
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
    node, probe, clip, stamps, wait_until
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


def test_node_exits_cleanly_on_sigint_while_frames_flow(node, probe, clip, stamps, wait_until):
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
