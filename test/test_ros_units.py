"""The node's small parts in one process: parameters and config file, messages, health."""

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from skd_ros.inference.peaks import REGION_DTYPE, find_regions
from skd_ros.ros import hints, params
from skd_ros.ros.environment import (
    PROFILE_VARIABLES,
    SEGMENT_PREFIXES,
    fastdds_generation,
    installed_fastdds_generation,
    local_ros_env,
    profile_variable_warning,
    shared_memory_warning,
    shm_profile_in_use,
)
from skd_ros.ros.latest import LatestSlot
from skd_ros.ros.stats import NodeStats, Throttle

messages = pytest.importorskip("skd_ros.ros.messages")
diagnostics = pytest.importorskip("skd_ros.ros.diagnostics")
Header = pytest.importorskip("std_msgs.msg").Header
PointField = pytest.importorskip("sensor_msgs.msg").PointField
pytestmark = pytest.mark.ros  # also run on ROS 2 Jazzy (setup.cfg)


@pytest.fixture(scope="module")
def config_file(repo_root):
    return repo_root / "config" / "saliency.yaml"


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# ------------------------------------------------------------------ parameters


def test_config_file_holds_every_parameter_with_its_default(config_file):
    tree = yaml.safe_load(config_file.read_text())
    values = _flatten(tree["/**"]["ros__parameters"])
    assert set(values) == set(params.BY_NAME) - set(params.RENAMED)  # not the deprecated names
    for name, value in values.items():
        default = params.BY_NAME[name].default
        assert value == default and type(value) is type(default), name


def test_every_parameter_in_the_config_file_has_a_comment(config_file):
    lines = config_file.read_text().splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"\s+(\w+): \S", line)
        if match and match.group(1) != "ros__parameters":
            above = lines[index - 1].strip()
            assert above.startswith("#"), f"no comment above {line.strip()!r}"


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("peaks.threshold", 1.5, "outside [0, 1]"),
        ("peaks.threshold", "high", "must be a float"),
        ("peaks.max_regions", 0, "outside [1, 100]"),
        ("backend", "tensorflow", "not one of"),
        ("output.encoding", "rgb8", "not one of"),
        ("threads", 2.5, "must be a int"),
        ("max_gap_s", -1.0, "outside"),
    ],
)
def test_bad_values_are_refused_with_a_reason(name, value, reason):
    assert reason in params.check(name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("output.encoding", "x" * 100_000),
        ("peaks.threshold", "y" * 100_000),
        ("threads", [1] * 10**5),
    ],
)
def test_a_huge_refused_value_is_quoted_short(name, value):
    reason = params.check(name, value)
    assert reason is not None and len(reason) < 200, reason[:300]


def test_good_values_and_foreign_parameters_pass():
    assert params.check("peaks.threshold", 0.3) is None
    assert params.check("peaks.threshold", 1) is None  # an int is a fine float value here
    assert params.check("backend", "torch") is None
    assert params.check("use_sim_time", True) is None
    assert params.check("qos_overrides./image.subscription.depth", 5) is None


def test_the_old_name_input_type_is_refused_only_as_image_transport_would_be():
    assert params.RENAMED == {"input_type": "image_transport"}
    assert params.check("input_type", "compressed") is None
    assert "not one of" in params.check("input_type", "jpeg")
    warning = params.renamed_warning("input_type", "compressed")
    assert "deprecated" in warning and "image_transport:=compressed" in warning
    assert "image_transport" in params.usage() and "deprecated" in params.usage()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"input_type": "compressed"}, "compressed"),
        ({"input_type": "compressed", "image_transport": "raw"}, "raw"),  # the new name wins
    ],
)
def test_a_start_up_value_under_the_old_name_is_used_for_the_new_one(
    given, expected, fresh_domain, local_ros_environment
):
    rclpy = pytest.importorskip("rclpy")
    from rclpy.parameter import Parameter

    from skd_ros.ros.node import SaliencyNode

    with local_ros_environment(fresh_domain):
        context = rclpy.Context()
        rclpy.init(args=[], context=context)
        try:
            overrides = [Parameter(name, value=value) for name, value in given.items()]
            node = SaliencyNode(context=context, parameter_overrides=overrides)
            try:
                assert node.get_parameter("image_transport").value == expected
            finally:
                node.destroy_node()
        finally:
            rclpy.try_shutdown(context=context)


def test_descriptors_carry_ranges_and_read_only():
    threshold = params.descriptor(params.BY_NAME["peaks.threshold"])
    assert threshold.floating_point_range[0].to_value == 1.0
    assert params.descriptor(params.BY_NAME["threads"]).integer_range[0].from_value == 1
    assert params.descriptor(params.BY_NAME["autostart"]).read_only
    assert "one of" in params.descriptor(params.BY_NAME["backend"]).additional_constraints


# ------------------------------------------------------------------ messages


def test_saliency_image_mono8_and_32fc1_at_model_or_input_size():
    saliency = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    header = Header(frame_id="cam")
    mono = messages.saliency_image(header, saliency)
    assert (mono.width, mono.height, mono.step, mono.encoding) == (64, 64, 64, "mono8")
    assert mono.header.frame_id == "cam"
    assert bytes(mono.data)[0] == 0 and bytes(mono.data)[-1] == 255
    wide = messages.saliency_image(header, saliency, "32FC1", (1280, 720))
    assert (wide.width, wide.height, wide.step) == (1280, 720, 1280 * 4)
    pixels = np.frombuffer(bytes(wide.data), np.float32).reshape(720, 1280)
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0


def test_regions_travel_in_a_pointcloud2_and_come_back_unchanged():
    saliency = np.zeros((64, 64), np.float32)
    saliency[10:20, 30:40], saliency[40:50, 5:9] = 0.9, 0.6
    regions = find_regions(saliency, (1280, 720))
    regions["id"] = (7, 3)
    cloud = messages.regions_cloud(Header(frame_id="cam"), regions)
    assert (cloud.height, cloud.width, cloud.point_step) == (1, 2, 48)
    assert [f.name for f in cloud.fields] == list(REGION_DTYPE.names)
    types = {f.name: f.datatype for f in cloud.fields}
    assert types["id"] == PointField.UINT32 and types["bearing_z"] == PointField.FLOAT32
    assert not cloud.is_dense  # bearings unknown (NaN) without camera_info
    assert messages.regions_from_cloud(cloud).tobytes() == regions.tobytes()  # NaN != NaN
    empty = messages.regions_cloud(Header(), np.zeros(0, REGION_DTYPE))
    assert len(messages.regions_from_cloud(empty)) == 0
    peak = messages.top_peak(Header(frame_id="cam"), regions)
    assert peak.header.frame_id == "cam"
    best = regions[0]
    assert (peak.point.x, peak.point.y, peak.point.z) == pytest.approx(
        (best["u"], best["v"], best["score"])
    )
    assert 30 * 20 <= peak.point.x <= 40 * 20 and peak.point.z == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("document", "start"),
    [
        ("docs/node.md", "import numpy as np  # works everywhere"),
        ("README.md", "from skd_ros.ros.messages import regions_from_cloud"),
    ],
)
def test_regions_read_back_as_the_documents_show(document, start, repo_root):
    regions = np.zeros(3, REGION_DTYPE)
    regions["id"], regions["score"], regions["bearing_z"] = (4, 5, 6), (0.9, 0.5, 0.2), 1.0
    msg = messages.regions_cloud(Header(), regions)
    text = (repo_root / document).read_text()
    snippet = text[text.index(start) :]
    snippet = snippet[: snippet.index("```")]
    scope = {"msg": msg}
    exec(snippet, scope)  # the document's own lines
    assert scope["regions"]["id"].tolist() == [4, 5, 6]
    assert scope["best"]["score"] == pytest.approx(0.9)


def test_cloud_of_another_layout_is_refused_naming_its_fields():
    cloud = messages.regions_cloud(Header(), np.zeros(1, REGION_DTYPE))
    fields = list(cloud.fields)
    fields[8] = PointField(name="id", offset=32, datatype=PointField.FLOAT32, count=1)
    cloud.fields = fields  # an id written as a float
    with pytest.raises(ValueError, match="not a saliency regions cloud"):
        messages.regions_from_cloud(cloud)


def test_detections_carry_each_region_box_score_and_id():
    if messages.Detection2DArray is None:
        pytest.skip(messages.DETECTIONS_MISSING)
    regions = np.zeros(2, REGION_DTYPE)
    regions["x_min"], regions["y_min"] = (10, 100), (0, 50)
    regions["x_max"], regions["y_max"] = (50, 300), (40, 200)
    regions["score"], regions["id"] = (0.8, 0.4), (12, 13)
    array = messages.detections(Header(frame_id="cam"), regions)
    assert array.header.frame_id == "cam" and len(array.detections) == 2
    first = array.detections[0]
    assert first.id == "12" and first.header.frame_id == "cam"
    assert (first.bbox.center.position.x, first.bbox.center.position.y) == (30.0, 20.0)
    assert (first.bbox.size_x, first.bbox.size_y) == (40.0, 40.0)
    (hypothesis,) = first.results
    assert hypothesis.hypothesis.class_id == "salient"
    assert hypothesis.hypothesis.score == pytest.approx(0.8)


def _camera_info_msg(width=1280, height=720, **fields):
    from sensor_msgs.msg import CameraInfo

    msg = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    msg.k = [900.0, 0.0, 640.0, 0.0, 905.0, 360.0, 0.0, 0.0, 1.0]
    msg.p = [900.0, 0.0, 640.0, 0.0, 0.0, 905.0, 360.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    msg.d = [-0.2, 0.05, 0.0, 0.0, 0.0]
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


def test_camera_info_becomes_a_camera_and_the_maps_camera_info_is_scaled():
    camera = messages.camera_from_info(_camera_info_msg())
    assert camera.size == (1280, 720) and camera.model == "plumb_bob"
    small = messages.camera_info(Header(frame_id="cam"), camera.scaled(64, 64))
    assert (small.width, small.height, small.header.frame_id) == (64, 64, "cam")
    assert small.k[0] == pytest.approx(900.0 * 64 / 1280)
    assert small.k[5] == pytest.approx((360.0 + 0.5) * 64 / 720 - 0.5)
    assert small.p[2] == pytest.approx(small.k[2]) and list(small.d) == list(camera.d)
    assert list(small.r) == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    again = messages.camera_from_info(small)  # a standard consumer reads it back the same
    np.testing.assert_allclose(again.k, camera.scaled(64, 64).k)


def test_an_uncalibrated_camera_info_is_refused_with_the_reason():
    from skd_ros.geometry import CalibrationError

    with pytest.raises(CalibrationError, match="not calibrated"):
        messages.camera_from_info(_camera_info_msg(k=[0.0] * 9))


def test_camera_info_is_matched_by_stamp_else_the_latest_and_refused_for_another_size():
    from skd_ros.ros.camera_info import SIZE_MISMATCH, UNUSABLE, CameraInfoInput

    infos = CameraInfoInput("/drone/cam/image_raw")
    msg_type, topic, _, deliver = infos.subscription
    assert (msg_type.__name__, topic) == ("CameraInfo", "/drone/cam/camera_info")
    assert infos.for_frame(5, (1280, 720)) == (None, ())  # nothing received: as without it
    for stamp, width in ((5, 1280), (6, 640)):
        msg = _camera_info_msg(width=width, height=720)
        msg.header.stamp.nanosec = stamp
        deliver(msg)
    camera, refused = infos.for_frame(5, (1280, 720))  # its own stamp, not the latest
    assert camera.size == (1280, 720) and refused == ()
    camera, (cause, text) = infos.for_frame(7, (1280, 720))  # no such stamp: the latest
    assert camera is None and cause == SIZE_MISMATCH
    assert "describes 640x720 images but the frame is 1280x720" in text
    deliver(_camera_info_msg(d=[0.0] * 100_000))  # refused before any copy of it
    assert infos.for_frame(0, (1280, 720))[1][0] == UNUSABLE


def test_markers_with_the_intrinsics_lie_on_each_corners_ray():
    camera = messages.camera_from_info(_camera_info_msg(d=[]))
    regions = np.zeros(1, REGION_DTYPE)
    regions["x_min"], regions["y_min"], regions["x_max"], regions["y_max"] = 0.5, 0.5, 640.5, 360.5
    regions["id"] = 9
    array = messages.region_markers(Header(), regions, (1280, 720), 2.0, 0.001, camera)
    corner, centre = array.markers[1].points[0], array.markers[1].points[2]
    assert (corner.x, corner.y, corner.z) == pytest.approx((-640 / 900 * 2, -360 / 905 * 2, 2.0))
    assert (centre.x, centre.y) == pytest.approx((0.0, 0.0), abs=1e-9)  # the principal point
    assert array.markers[2].text.startswith("#9 ")


def test_markers_clear_then_draw_each_box_on_the_picture_plane():
    regions = np.zeros(2, REGION_DTYPE)
    regions["x_max"], regions["y_max"], regions["score"] = 640, 360, (0.9, 0.5)
    array = messages.region_markers(Header(frame_id="cam"), regions, (1280, 720), 2.0, 0.001)
    kinds = [m.type for m in array.markers[1:]]
    assert array.markers[0].action == array.markers[0].DELETEALL
    assert kinds.count(array.markers[1].LINE_STRIP) == 2
    corner = array.markers[1].points[0]
    assert (corner.x, corner.y, corner.z) == pytest.approx((-0.64, -0.36, 2.0))


# ------------------------------------------------------------------ health


def test_stats_count_rates_latency_drops_rejections():
    stats = NodeStats()
    for index in range(11):
        stats.frame_received(index * 100_000_000, replaced_older=index == 5)
        stats.frame_published(index * 100_000_000, index * 100_000_000 + 3_000_000, 2_000_000)
    stats.frame_rejected("step too small")
    stats.chain_reset("stamp went backwards")
    snapshot = stats.snapshot(now_ns=1_000_000_000)
    assert snapshot.input_hz == pytest.approx(10.0)
    assert snapshot.latency_ms["p50"] == pytest.approx(3.0)
    assert snapshot.cpu_ms["p99"] == pytest.approx(2.0)
    assert (snapshot.received, snapshot.published, snapshot.dropped) == (11, 11, 1)
    assert snapshot.rejected == {"step too small": 1}
    array = diagnostics.diagnostic_array(Header().stamp, "n: saliency", snapshot, None, "active")
    status = array.status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert status.level == status.WARN and "rejected" in status.message
    assert values["rejected: step too small"] == "1"
    assert values["frames dropped"] == "1"
    calm = diagnostics.diagnostic_array(Header().stamp, "n", snapshot, snapshot, "active")
    assert calm.status[0].level == calm.status[0].OK
    stats.messages_lost(2)  # the middleware's loss is not the node's slowness
    _, message = diagnostics.status_level(stats.snapshot(1_000_000_000), snapshot, "active")
    assert message == "2 frame(s) lost in transport"


def _camera(stats, period_ms, work_ms, frames=30, burst=1):
    """Feed `stats` a camera at 1000/period_ms Hz whose frames come `burst` at a time."""
    now = 0
    for number in range(frames):
        replaced = number % burst != 0  # a frame of a burst replaces the one before it
        stats.frame_received(now, replaced_older=replaced)
        if not replaced or number % burst == burst - 1:
            stats.frame_published(now, now + int(work_ms * 1e6), int(work_ms * 1e6))
        now += int(period_ms * 1e6) if number % burst == burst - 1 else 1_000
    return stats.snapshot(now)


def test_dropped_frames_are_blamed_on_bursts_or_speed_as_the_numbers_say():
    # 30 Hz in bursts of 3, 2.5 ms of work a frame: the node has time to spare
    bursts = _camera(NodeStats(), period_ms=100.0, work_ms=2.5, burst=3)
    _, message = diagnostics.status_level(bursts, None, "active")
    assert "dropped (frames arrive in bursts: processing takes 2.5 ms" in message, message
    assert "slower than input" not in message
    # a steady 30 Hz camera and 40 ms of work a frame: the node is too slow
    slow = NodeStats()
    for number in range(30):
        slow.frame_received(number * 33_000_000, replaced_older=number % 2 == 1)
        slow.frame_published(0, 1, 40_000_000)
    _, message = diagnostics.status_level(slow.snapshot(30 * 33_000_000), None, "active")
    assert "dropped (inference slower than input: 40.0 ms per frame against a 33" in message


def test_frames_failing_in_processing_are_an_error_not_a_malformed_input():
    stats = NodeStats()
    stats.frame_received(0, replaced_older=False)
    stats.frame_rejected(diagnostics.PROCESSING_ERROR)
    before = stats.snapshot(now_ns=100_000_000)
    stats.frame_received(200_000_000, replaced_older=False)
    stats.frame_rejected("step too small")
    after = stats.snapshot(now_ns=300_000_000)
    level, message = diagnostics.status_level(before, None, "active")
    assert level == diagnostics.DiagnosticStatus.ERROR
    assert "1 frame(s) failed in processing" in message and "malformed" not in message
    level, message = diagnostics.status_level(after, before, "active")  # only the new one
    assert level == diagnostics.DiagnosticStatus.WARN
    assert message == "1 malformed frame(s) rejected"


def test_a_silence_while_a_thread_is_on_one_frame_is_said_to_be_the_nodes():
    stats = NodeStats()
    assert stats.longest_busy() is None and hints.stall_hint(None) is None
    with stats.busy("receiving thread", "checking and reducing a 640x360 bgr8 frame"):
        with stats.busy("worker", "a 7680x4320 bgr8 frame (Sst, peaks, outputs)"):
            later = time.monotonic_ns() + 3_000_000_000
            role, seconds, what = stats.longest_busy(later)
            assert role == "receiving thread" and seconds >= 3.0 and "640x360" in what
        assert hints.stall_hint(stats.longest_busy()) is None  # a moment is no stall
        hint = hints.stall_hint(stats.longest_busy(later))
    assert "busy, not starved" in hint and "receiving thread has spent 3." in hint
    assert "QoS and transport are not the cause" in hint
    assert stats.longest_busy() is None


def test_a_silence_with_publishers_names_their_qos_and_whether_it_can_match():
    from types import SimpleNamespace

    qos = pytest.importorskip("rclpy.qos")
    offered = qos.QoSProfile(depth=1, reliability=qos.ReliabilityPolicy.BEST_EFFORT)
    camera = SimpleNamespace(node_namespace="/", node_name="camera", qos_profile=offered)
    ours = qos.QoSProfile(depth=1, reliability=qos.ReliabilityPolicy.RELIABLE)
    text = hints.no_frames_warning("/image", 5.0, [camera], ours, None)
    assert text.startswith("no frame on /image for 5 s although it has 1 publisher(s): /camera")
    assert "QoS INCOMPATIBLE: camera is BEST_EFFORT but we require RELIABLE" in text
    assert "qos_overrides./image.subscription.reliability:=best_effort" in text
    stalled = hints.no_frames_warning("/image", 5.0, [camera], ours, ("worker", 2.0, "a frame"))
    assert "1 publisher(s). This node is busy, not starved" in stalled


def test_messages_lost_are_said_by_transport():
    shm = hints.messages_lost_warning("/image", 2, 5, shared_memory=True)
    assert (
        shm
        == f"2 message(s) from /image never reached this node (5 in all): {hints.UNDELIVERED_HINT}"
    )
    udp = hints.messages_lost_warning("/image", 2, 5, shared_memory=False)
    assert udp.endswith(f"(5 in all), lost in transport: {hints.TRANSPORT_LOSS_HINT}")


def test_throttle_passes_the_first_then_counts_the_suppressed():
    throttle = Throttle(period_s=10.0)
    assert throttle.should_log("a", now=0.0) == (True, 0)
    assert throttle.should_log("a", now=1.0) == (False, 0)
    assert throttle.should_log("b", now=1.0) == (True, 0)
    assert throttle.should_log("a", now=11.0) == (True, 1)


def test_latest_slot_keeps_only_the_newest_and_counts_replacements():
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True
    assert slot.take(timeout=0.0) == 2
    assert slot.take(timeout=0.01) is None
    threading.Timer(0.05, slot.put, args=(3,)).start()
    assert slot.take(timeout=2.0) == 3


def test_latest_slot_interrupt_wakes_a_waiting_take_at_once_and_clear_forgets_it():
    slot: LatestSlot[int] = LatestSlot()
    threading.Timer(0.05, slot.interrupt).start()
    start = time.monotonic()
    assert slot.take(timeout=30.0) is None
    assert time.monotonic() - start < 10.0  # woken, not timed out
    slot.interrupt()  # before the take: the take returns at once, once
    assert slot.take(timeout=30.0) is None
    slot.put(4)
    assert slot.take(timeout=0.0) == 4
    slot.interrupt()
    slot.clear()
    threading.Timer(0.05, slot.put, args=(5,)).start()
    assert slot.take(timeout=30.0) == 5  # the interrupt was forgotten


def test_paced_reference_times_the_nodes_path_back_to_back_and_paced(capsys):
    from skd_ros.tools import paced_reference
    from skd_ros.tools.probe import bgr8_message

    image = np.random.default_rng(0).integers(0, 256, (120, 160, 3), np.uint8)
    reference = paced_reference.PacedReference(bgr8_message(image, 1))
    assert reference.cpu_ms_per_frame(3) > 0
    start = time.monotonic()
    assert reference.cpu_ms_per_frame(3, rate_hz=20.0) > 0
    assert time.monotonic() - start >= 0.1  # it waited between frames (2 periods of 50 ms)
    assert paced_reference.main(["--rates", "100", "--frames", "3", "--size", "160", "120"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert rows[1].startswith("| back to back | 0 |") and rows[2].startswith("| 100 |")
    assert float(rows[2].split("|")[3]) > 0


def test_short_shared_memory_is_named_with_its_fix(tmp_path):
    assert shared_memory_warning(processes=0, path=tmp_path) is None
    warning = shared_memory_warning(processes=10**9, path=tmp_path)  # no disk has 34 PB
    assert str(tmp_path) in warning and "MB free" in warning
    assert "fastdds shm clean" in warning
    assert shared_memory_warning(path=tmp_path / "missing") is None  # no /dev/shm: no check
    assert shm_profile_in_use(local_ros_env(1)) and not shm_profile_in_use({})
    assert not shm_profile_in_use(local_ros_env(1, shared_memory=False))


def test_the_profile_goes_in_the_variable_this_ros_reads():
    """Fast DDS 2 (Humble, Jazzy) ignores FASTDDS_DEFAULT_PROFILES_FILE; Kilted's rmw reads
    FASTRTPS_DEFAULT_PROFILES_FILE too, but warns in every process that it is deprecated."""
    generation = installed_fastdds_generation()
    assert generation in (2, 3)  # this environment's ROS wheels
    env = local_ros_env(base={PROFILE_VARIABLES[5 - generation]: "/elsewhere/profile.xml"})
    assert set(PROFILE_VARIABLES.values()) & set(env) == {PROFILE_VARIABLES[generation]}
    assert shm_profile_in_use(env, generation)
    jazzy_mistake = {PROFILE_VARIABLES[3]: env[PROFILE_VARIABLES[generation]]}
    assert not shm_profile_in_use(jazzy_mistake, 2) and shm_profile_in_use(jazzy_mistake, 3)
    warning = profile_variable_warning(jazzy_mistake, 2)
    assert "reads only FASTRTPS_DEFAULT_PROFILES_FILE" in warning and "not in use" in warning
    assert profile_variable_warning(jazzy_mistake, 3) is None
    assert profile_variable_warning({PROFILE_VARIABLES[2]: "x.xml"}, 3) is None  # read, warned
    assert profile_variable_warning({}, 2) is None
    assert profile_variable_warning(env, generation) is None
    assert not set(PROFILE_VARIABLES.values()) & set(local_ros_env(shared_memory=False))


def test_fast_dds_generation_is_read_from_the_mapped_library(tmp_path):
    maps = tmp_path / "maps"
    for line, generation in (
        ("7f00-7f10 r-xp 0 08:01 5 /opt/ros/jazzy/lib/libfastrtps.so.2.14.5", 2),
        ("7f00-7f10 r-xp 0 08:01 5 /venv/lib/libfastdds.so.3.2.2", 3),
        ("7f00-7f10 r-xp 0 08:01 5 /usr/lib/libc.so.6", None),
    ):
        maps.write_text(line + "\n")
        assert fastdds_generation(maps) == generation
    assert fastdds_generation(tmp_path / "missing") is None


PROFILE_CHECK = """
import json, os, rclpy
from skd_ros.ros.environment import fastdds_generation
rclpy.init()
node = rclpy.create_node("profile_check")
mapped = (line.strip() for line in open("/proc/self/maps"))
names = {line.rsplit("/", 1)[-1] for line in mapped if "/dev/shm/" in line}
sizes = {name: os.path.getsize("/dev/shm/" + name) for name in names}
print(json.dumps({"generation": fastdds_generation(), "segments": sizes}))
node.destroy_node()
rclpy.shutdown()
"""


def _profile_check(
    env: dict[str, str], root: Path, segment_name: re.Pattern[str]
) -> tuple[int, dict[str, int]]:
    result = subprocess.run(
        [sys.executable, "-c", PROFILE_CHECK],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "deprecated" not in result.stderr, result.stderr  # Kilted, given Jazzy's variable
    report = json.loads(result.stdout.splitlines()[-1])
    segments = {
        name: size for name, size in report["segments"].items() if segment_name.fullmatch(name)
    }
    return report["generation"], segments


@pytest.mark.integration  # starts rclpy in child processes
def test_the_local_environment_puts_this_ros_on_the_32_mb_profile(fastdds_segment_name, repo_root):
    """The environment set FASTDDS_DEFAULT_PROFILES_FILE only: on Jazzy (Fast DDS 2) the
    profile was never loaded, and most 640x360 frames between processes were lost."""
    generation, segments = _profile_check(local_ros_env(), repo_root, fastdds_segment_name)
    assert generation == installed_fastdds_generation()  # found without loading it: the same
    assert segments and all(name.startswith(SEGMENT_PREFIXES[generation]) for name in segments)
    assert max(segments.values()) >= 32 << 20, segments  # the profile's segment_size
    if generation == 2:  # the variable Kilted reads is ignored: Fast DDS's default 0.5 MB
        without = local_ros_env()
        without[PROFILE_VARIABLES[3]] = without.pop(PROFILE_VARIABLES[2])
        _, segments = _profile_check(without, repo_root, fastdds_segment_name)
        assert max(segments.values()) < 32 << 20, segments
