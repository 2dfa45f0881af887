"""Bag replay into a real node: a rosbag2 bag of synthetic aerial frames (with one malformed
message in the middle) is played by `replay` in one process into the saliency node in another,
and the node's outputs are recorded into a new bag and checked."""

import dataclasses
import signal

import pytest
from ros_support import (
    TARGET_CLIP,
    RosProcess,
    fastdds_segments,
    new_domain,
    on_target,
    running_node,
    wait_until,
)

from skd_ros.data.bags import image_message, write_image_bag
from skd_ros.data.synthetic import ClipSpec, generate_clip
from skd_ros.ros.environment import SHARED_MEMORY

pytest.importorskip("rclpy")
messages = pytest.importorskip("skd_ros.ros.messages")

FRAMES = 12
BAD_INDEX = 6  # the malformed message is the 7th of 13
BAG_TOPIC = "/camera/image_raw"


@pytest.fixture(scope="module")
def clip():
    return list(generate_clip(ClipSpec(*TARGET_CLIP, FRAMES, 640, 360)))


def _stamps():
    return [1_000_000_000 + i * 33_333_333 for i in range(FRAMES + 1)]


def write_bag(path, clip, storage):
    """13 messages: the clip's frames, with a 'step too small' message at BAD_INDEX."""
    stamps = _stamps()
    bad = dataclasses.replace(image_message(clip[0].image, stamps[BAD_INDEX]), step=100)
    items = [f.image for f in clip[:BAD_INDEX]] + [bad] + [f.image for f in clip[BAD_INDEX:]]
    return write_image_bag(path, items, topic=BAG_TOPIC, storage=storage, stamps=stamps)


@pytest.fixture(scope="module")
def domain():
    return new_domain()


@pytest.fixture(scope="module")
def node(tmp_path_factory, domain):
    with running_node(tmp_path_factory, domain) as process:
        yield process


def run_replay(args, domain, log, timeout_s=90.0):
    process = RosProcess("skd_ros.ros.replay", args, domain, log)
    try:
        code = process.wait(timeout_s)
    finally:
        process.stop()
    return code, process.output()


def read_outputs(bag):
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    outputs: dict[str, list] = {}
    with AnyReader([bag], default_typestore=get_typestore(Stores.LATEST)) as reader:
        for connection, _, raw in reader.messages():
            message = reader.deserialize(raw, connection.msgtype)
            outputs.setdefault(connection.topic, []).append(message)
    return outputs


def stamp(msg):
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_every_frame_of_a_bag_gets_its_map_and_a_malformed_one_is_skipped(
    node, domain, clip, tmp_path, storage
):
    bag = write_bag(tmp_path / "input", clip, storage)
    out = tmp_path / "outputs"
    args = [str(bag), "--publish-as", "/cam/image_raw", "--lockstep", "--lockstep-timeout", "0.5"]
    args += ["--record", str(out), "--storage", storage, "--wait", "20"]
    args += ["--record-topics", "saliency", "saliency/peaks", "/diagnostics"]
    args += ["--ros-args", "-r", "__ns:=/cam"]
    code, output = run_replay(args, domain, tmp_path / "replay.log")
    assert code == 0, output
    assert "frames sent: 13" in output
    assert node.alive(), node.output()

    recorded = read_outputs(out)
    good = [s for i, s in enumerate(_stamps()) if i != BAD_INDEX]
    maps = recorded["/cam/saliency"]
    assert sorted(stamp(m) for m in maps) == good  # every good frame, once, same stamp
    assert all(m.encoding == "mono8" and m.header.frame_id == "camera" for m in maps)
    peaks = {stamp(m): messages.regions_from_cloud(m) for m in recorded["/cam/saliency/peaks"]}
    assert sorted(peaks) == good
    hits = sum(
        len(peaks[s]) > 0 and on_target(peaks[s][0], frame.saliency)
        for s, frame in zip(good, clip, strict=True)
    )
    assert hits >= 0.7 * FRAMES, f"top peak on a target in {hits}/{FRAMES} frames"

    assert "step too small" in node.output()
    statuses = [s for m in recorded["/diagnostics"] for s in m.status if "saliency" in s.name]
    rejected = [
        int(kv.value) for s in statuses for kv in s.values if kv.key == "rejected: step too small"
    ]
    assert rejected and max(rejected) >= 1


def test_replay_at_the_recorded_rate_takes_the_recorded_time(node, domain, clip, tmp_path):
    bag = write_bag(tmp_path / "input", clip, "sqlite3")
    args = [str(bag), "--publish-as", "/cam/image_raw", "--rate", "1.0", "--linger", "0.2"]
    args += ["--record", str(tmp_path / "out"), "--wait", "20"]
    args += ["--record-topics", "saliency", "image_raw"]  # image_raw is best effort
    code, output = run_replay([*args, "--ros-args", "-r", "__ns:=/cam"], domain, tmp_path / "log")
    assert code == 0, output
    seconds = float(output.split("frames sent: 13 in ")[1].split(" s")[0])
    assert seconds >= 0.95 * FRAMES / 30  # 12 intervals of 1/30 s
    recorded = read_outputs(tmp_path / "out")
    assert len(recorded.get("/cam/saliency", [])) >= 1
    assert len(recorded.get("/cam/image_raw", [])) >= 10, output  # subscribed best effort


def test_replay_names_the_topics_when_the_requested_one_is_missing(domain, clip, tmp_path):
    bag = write_bag(tmp_path / "input", clip[:2], "mcap")
    code, output = run_replay([str(bag), "--topic", "/nope", "--wait", "1"], domain, tmp_path / "l")
    assert code == 1
    assert "/nope" in output and BAG_TOPIC in output


def test_replay_refuses_odd_pacing_and_unreadable_bags_in_one_line(domain, clip, tmp_path):
    bag = write_bag(tmp_path / "input", clip[:2], "sqlite3")
    for extra, says in (
        (["--rate", "1e-300"], "--rate must be a speed factor"),
        (["--rate", "nan"], "--rate must be a speed factor"),
        (["--wait", "-5"], "--wait: -5 must be a finite number >= 0"),
        (["--linger", "nan"], "--linger: nan must be"),
        (["--lockstep-timeout", "-1"], "--lockstep-timeout: -1 must be"),
    ):
        code, output = run_replay([str(bag), *extra], domain, tmp_path / "l")
        assert code == 2 and says in output and "Traceback" not in output, output
    for extra, says in (
        (["--publish-as", "bad topic!"], "bad topic!"),
        (["--ros-args", "--garbage"], "unknown ROS argument(s) after --ros-args"),
    ):
        code, output = run_replay([str(bag), *extra], domain, tmp_path / "l")
        assert code == 1 and says in output and "Traceback" not in output, output
    (bag / "metadata.yaml").write_text("rosbag2_bagfile_information: [unclosed\n")
    code, output = run_replay([str(bag), "--wait", "1"], domain, tmp_path / "l")
    assert code == 1 and "cannot be read as a rosbag2 bag" in output, output
    assert "Traceback" not in output, output


def test_sigterm_while_waiting_cleans_up_like_ctrl_c(clip, tmp_path):
    """A process manager's SIGTERM: no ghost publisher left, no segment left in /dev/shm."""
    bag = write_bag(tmp_path / "input", clip[:2], "sqlite3")
    replay = RosProcess(
        "skd_ros.ros.replay", [str(bag), "--wait", "60"], new_domain(), tmp_path / "log"
    )
    try:  # no node listens: it waits for one
        assert wait_until(lambda: fastdds_segments(replay.process.pid), 20.0), replay.output()
        mapped = fastdds_segments(replay.process.pid)
        replay.process.send_signal(signal.SIGTERM)
        assert replay.wait(10.0) == 130, replay.output()
    finally:
        replay.stop()
    assert "Traceback" not in replay.output(), replay.output()
    assert not [name for name in mapped if (SHARED_MEMORY / name).exists()]


def test_a_message_too_short_for_a_header_has_no_stamp():
    from skd_ros.ros.replay import cdr_stamp_ns

    header = b"\x00\x01\x00\x00" + (5).to_bytes(4, "little") + (7).to_bytes(4, "little")
    assert cdr_stamp_ns(header) == 5_000_000_007
    assert cdr_stamp_ns(b"\x00\x01") is None and cdr_stamp_ns(b"") is None
