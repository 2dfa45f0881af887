"""Bag replay into a real node: a rosbag2 bag of synthetic aerial frames (with one malformed
message in the middle) is played by `replay` in one process into the saliency node in another,
and the node's outputs are recorded into a new bag and checked."""

import dataclasses
import re
import resource
import shutil
import signal
import sys

import numpy as np
import pytest

from skd_ros.data.bag_repair import reindex
from skd_ros.data.bags import bag_videos, image_message, write_image_bag
from skd_ros.data.synthetic import ClipSpec, generate_clip
from skd_ros.data.video import LayoutError
from skd_ros.ros.environment import SHARED_MEMORY

pytest.importorskip("rclpy")
messages = pytest.importorskip("skd_ros.ros.messages")
pytestmark = pytest.mark.ros  # also run on ROS 2 Jazzy (setup.cfg)

FRAMES = 12
BAD_INDEX = 6  # the malformed message is the 7th of 13
BAG_TOPIC = "/camera/image_raw"


@pytest.fixture(scope="module")
def clip(target_clip):
    return list(generate_clip(ClipSpec(*target_clip, FRAMES, 640, 360)))


def _stamps():
    return [1_000_000_000 + i * 33_333_333 for i in range(FRAMES + 1)]


def write_bag(path, clip, storage):
    """13 messages: the clip's frames, with a 'step too small' message at BAD_INDEX."""
    stamps = _stamps()
    bad = dataclasses.replace(image_message(clip[0].image, stamps[BAD_INDEX]), step=100)
    items = [f.image for f in clip[:BAD_INDEX]] + [bad] + [f.image for f in clip[BAD_INDEX:]]
    return write_image_bag(path, items, topic=BAG_TOPIC, storage=storage, stamps=stamps)


@pytest.fixture
def run_replay(ros_process):
    """`run_replay(args, domain, log)`: exit code and output of a replay run to its end."""

    def run(args, domain, log, timeout_s=90.0):
        return ros_process("skd_ros.tools.replay", args, domain, log).run_to_end(timeout_s)

    return run


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
    node, domain, clip, tmp_path, storage, on_target, run_replay
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


def test_replay_at_the_recorded_rate_takes_the_recorded_time(
    node, domain, clip, tmp_path, run_replay
):
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


def test_replay_names_the_topics_when_the_requested_one_is_missing(
    domain, clip, tmp_path, run_replay
):
    bag = write_bag(tmp_path / "input", clip[:2], "mcap")
    code, output = run_replay([str(bag), "--topic", "/nope", "--wait", "1"], domain, tmp_path / "l")
    assert code == 1
    assert "/nope" in output and BAG_TOPIC in output


def test_replay_refuses_odd_pacing_and_unreadable_bags_in_one_line(
    domain, clip, tmp_path, run_replay
):
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


def saved_messages(bag, scratch) -> int:
    """Messages a recording in progress has on disk so far: what `reindex` finds in a copy."""
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        shutil.copytree(bag, scratch)
        return reindex(scratch).message_count
    except (OSError, ValueError):  # caught mid-write: not yet
        return 0


def read_both_ways(bag, topic):
    """(messages rosbags reads, frames skd_ros's bag reader yields) of `topic` in `bag`."""
    outputs = read_outputs(bag)
    (video,) = bag_videos(bag, topic=topic)
    return outputs, sum(1 for _ in video.samples())


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_a_killed_recording_is_readable_after_reindex(
    node, domain, clip, tmp_path, storage, ros_process, run_replay, wait_until
):
    """SIGKILL mid-recording: no metadata.yaml (and, for MCAP, no footer); `replay --reindex`
    makes it readable by rosbags and by skd_ros.data.bags, with every map saved before."""
    bag = write_bag(tmp_path / "input", clip, storage)
    out = tmp_path / "outputs"
    args = [str(bag), "--publish-as", "/cam/image_raw", "--rate", "0.05", "--wait", "20"]
    args += ["--record", str(out), "--storage", storage, "--record-topics", "saliency"]
    replay = ros_process(
        "skd_ros.tools.replay", [*args, "--ros-args", "-r", "__ns:=/cam"], domain, tmp_path / "log"
    )
    try:  # 13 frames over 8 s: killed while recording, once 3 maps are on disk
        assert wait_until(lambda: saved_messages(out, tmp_path / "copy") >= 3, 40.0, 0.2), (
            replay.output()
        )
        replay.process.send_signal(signal.SIGKILL)
        assert replay.wait(10.0) == -signal.SIGKILL
    finally:
        replay.stop()
    assert not (out / "metadata.yaml").exists()
    with pytest.raises(LayoutError, match=f"replay --reindex {out}"):
        bag_videos(out)
    code, output = run_replay(["--reindex", str(out)], domain, tmp_path / "reindex.log")
    assert code == 0, output
    outputs, frames = read_both_ways(out, "/cam/saliency")
    maps = outputs["/cam/saliency"]
    assert 3 <= len(maps) < 13 and frames == len(maps), output
    assert f"/cam/saliency: {len(maps)} messages" in output
    assert {stamp(m) for m in maps} <= set(_stamps())
    assert node.alive(), node.output()


def test_reindex_reads_an_mcap_file_cut_anywhere_and_refuses_a_foreign_folder(tmp_path):
    """Cut at any byte (a kill mid-write), an MCAP file keeps every chunk before the cut."""
    frames = np.random.default_rng(2).integers(0, 256, (12, 240, 320, 3), np.uint8)
    whole = write_image_bag(tmp_path / "whole", list(frames), storage="mcap")
    (data,) = whole.glob("*.mcap")
    content = data.read_bytes()
    kept = []
    for cut in range(0, len(content), 97_001):
        bag = tmp_path / f"cut{cut}"
        bag.mkdir()
        (bag / f"cut{cut}.mcap").write_bytes(content[:cut])
        result = reindex(bag)
        outputs, frames_read = read_both_ways(bag, BAG_TOPIC) if result.message_count else ({}, 0)
        assert frames_read == result.message_count == len(outputs.get(BAG_TOPIC, []))
        kept.append(result.message_count)
    assert kept == sorted(kept) and 0 < kept[-1] < 12, kept
    assert reindex(whole).message_count == 12 and read_both_ways(whole, BAG_TOPIC)[1] == 12
    (whole / "other.db3").write_bytes(b"")
    with pytest.raises(ValueError, match="both .db3 and .mcap"):
        reindex(whole)


FILE_SIZE_LIMIT = 3_000_000
IGNORE_SIGXFSZ = (
    "import runpy, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
    "sys.argv = ['replay', *sys.argv[1:]]; runpy.run_module('skd_ros.tools.replay', "
    "run_name='__main__')"
)


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_a_full_disk_stops_the_recording_at_once_and_keeps_it_readable(
    node, domain, tmp_path, storage, fastdds_segments, ros_process, wait_until
):
    """Writes fail with EFBIG past a file size limit (RLIMIT_FSIZE, set once the replay's
    shared-memory segment exists): replay stops at the first failed write, names the path,
    the count and the error, and leaves the bag readable with what it saved."""
    frames = np.random.default_rng(1).integers(0, 256, (50, 180, 320, 3), np.uint8)
    bag = write_image_bag(tmp_path / "input", list(frames), storage=storage, fps=10.0)
    out = tmp_path / "outputs"
    args = [str(bag), "--publish-as", "/cam/image_raw", "--rate", "1.0", "--wait", "20"]
    args += ["--record", str(out), "--storage", storage, "--record-topics", "image_raw"]
    args += ["saliency", "--ros-args", "-r", "__ns:=/cam"]
    command = [sys.executable, "-c", IGNORE_SIGXFSZ, *args]
    replay = ros_process("", [], domain, tmp_path / "log", command=command)
    try:  # 50 frames of 173 kB, 5 s: the limit is reached after about 17
        assert wait_until(lambda: fastdds_segments(replay.process.pid), 20.0), replay.output()
        limit = (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT)
        resource.prlimit(replay.process.pid, resource.RLIMIT_FSIZE, limit)
        code = replay.wait(60.0)
    finally:
        replay.stop()
    output = replay.output()
    assert code == 1 and "Traceback" not in output, output
    said = re.search(r"writing (\S+) failed after (\d+) .*keeps, readable, the (\d+) ", output)
    assert said and said.group(1) == str(out), output
    assert f"file size limit (ulimit -f): {FILE_SIZE_LIMIT} bytes" in output
    assert ("File too large" if storage == "mcap" else "(SQLITE_") in output, output
    sent = int(re.search(r"replay stopped after (\d+) frame", output).group(1))
    assert sent < 40, output  # stopped at the failure, not at the end of the bag
    outputs, frames_read = read_both_ways(out, "/cam/image_raw")
    kept = sum(len(messages) for messages in outputs.values())
    assert kept == int(said.group(3)) and kept >= 3, output
    assert frames_read == len(outputs["/cam/image_raw"])


def test_sigterm_while_waiting_cleans_up_like_ctrl_c(
    clip, tmp_path, fastdds_segments, fresh_domain, ros_process, wait_until
):
    """A process manager's SIGTERM: no ghost publisher left, no segment left in /dev/shm."""
    bag = write_bag(tmp_path / "input", clip[:2], "sqlite3")
    replay = ros_process(
        "skd_ros.tools.replay", [str(bag), "--wait", "60"], fresh_domain, tmp_path / "log"
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
    from skd_ros.tools.replay import cdr_stamp_ns

    header = b"\x00\x01\x00\x00" + (5).to_bytes(4, "little") + (7).to_bytes(4, "little")
    assert cdr_stamp_ns(header) == 5_000_000_007
    assert cdr_stamp_ns(b"\x00\x01") is None and cdr_stamp_ns(b"") is None
