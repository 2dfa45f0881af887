"""Play a rosbag2 image topic into the ROS graph, and optionally record the node's outputs.

`ros2 bag play` / `record` need rosbag2_py, which is not installable from PyPI; this tool
does the part the saliency node needs with `rosbags` (sqlite3 and MCAP, no ROS install) and
rclpy. Messages are published as the bag stores them (serialized CDR, no decode and
re-encode), so header stamps, encodings and even malformed messages reach the node exactly as
recorded.

Pacing: the recorded rate (`--rate 1.0`, or a factor), as fast as possible (`--max-rate`), or
`--lockstep`: each frame waits (bounded) for the node's map with the same stamp, so no frame
is dropped however slow the machine; use it to process every frame of a bag offline.

    replay BAG [--topic /camera/image_raw] [--publish-as image] [--rate 1.0 | --max-rate |
           --lockstep] [--record OUT --record-topics saliency saliency/peaks] [--clock]
           [--ros-args -r __ns:=/cam]
    replay --reindex OUT        # after a recording was killed or ran out of disk

A recording puts what it took on disk every FLUSH_S (1 s); killed, it keeps all but that
last second, and `--reindex` (skd_ros.data.bag_repair) makes it readable. The first failed
write (a full disk) stops the replay with the message count, the path and the error; the
bag is closed readable with what it holds.

Relative topic names resolve in the replay node's namespace (`-r __ns:=...`).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import queue
import resource
import shutil
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
from rclpy.exceptions import NameValidationException
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.highlevel import AnyReaderError

from skd_ros.cli_args import non_negative_float, positive_float
from skd_ros.data.bag_repair import ReindexError, reindex
from skd_ros.data.bags import COMPRESSED, IMAGE, STORAGES, find_bags
from skd_ros.logs import setup_logging
from skd_ros.ros.environment import reuse_large_buffers
from skd_ros.ros.ros_args import init_refusal
from skd_ros.ros.signals import ignore_further_interrupts, terminate_as_interrupt

MIN_RATE = 0.001  # slowest speed factor: 1000x slower than recorded
FLUSH_S = 1.0  # a recording puts what it took on disk this often: what a kill may lose

# Types this tool will publish or record; anything else in a bag or the graph is refused
# (names come from data, so they are never used to import arbitrary modules).
ALLOWED_TYPES = {
    IMAGE: ("sensor_msgs.msg", "Image"),
    COMPRESSED: ("sensor_msgs.msg", "CompressedImage"),
    "sensor_msgs/msg/PointCloud2": ("sensor_msgs.msg", "PointCloud2"),
    "visualization_msgs/msg/MarkerArray": ("visualization_msgs.msg", "MarkerArray"),
    "diagnostic_msgs/msg/DiagnosticArray": ("diagnostic_msgs.msg", "DiagnosticArray"),
}
DEFAULT_RECORD = ("saliency", "saliency/peaks")


def message_class(msgtype: str):
    """The rclpy class of an allowed message type name ('sensor_msgs/msg/Image')."""
    import importlib

    if msgtype not in ALLOWED_TYPES:
        allowed = list(ALLOWED_TYPES)
        raise ValueError(f"message type {msgtype!r} is not supported; allowed: {allowed}")
    module, name = ALLOWED_TYPES[msgtype]
    return getattr(importlib.import_module(module), name)


def cdr_stamp_ns(raw: bytes) -> int | None:
    """Header stamp (ns) of a serialized message whose first field is a std_msgs/Header;
    None when the message is too short to hold one (a malformed recording)."""
    if len(raw) < 12:
        return None
    little = raw[1] & 1  # encapsulation kind: CDR_LE = 0x0001, CDR_BE = 0x0000
    sec, nanosec = struct.unpack_from("<iI" if little else ">iI", raw, 4)
    return sec * 1_000_000_000 + nanosec


@dataclass
class ReplaySummary:
    """What a replay did; printed as a table by `main`."""

    sent: int = 0
    seconds: float = 0.0
    lockstep_timeouts: int = 0
    recorded: dict[str, int] = field(default_factory=dict)
    output: Path | None = None

    def lines(self) -> list[str]:
        rate = self.sent / self.seconds if self.seconds > 0 else 0.0
        rows = [f"frames sent: {self.sent} in {self.seconds:.2f} s ({rate:.1f} Hz)"]
        if self.lockstep_timeouts:
            rows.append(f"frames without a map in the lockstep timeout: {self.lockstep_timeouts}")
        for topic, count in self.recorded.items():
            rows.append(f"recorded {topic}: {count} messages")
        if self.output:
            rows.append(f"wrote {self.output}")
        return rows


class RecordingFailed(RuntimeError):
    """Writing the recording failed (a full disk); the message says where and what is kept."""


class _BagWriter:
    """Writes messages to a new rosbag2 bag from a thread of its own.

    rosbags' sqlite3 storage may only be used from the thread that opened it, while messages
    arrive in the executor's thread; a queue in between also keeps callbacks short. Every
    FLUSH_S what was written goes to disk (`_make_durable`): a kill loses at most that much,
    and `replay --reindex` makes the rest readable. The first failed write (a full disk)
    ends the writer: the bag is closed readable with what it holds and `failed` is set, so
    the recorder stops taking messages and replay stops.
    """

    def __init__(self, path: Path, storage: str, types: dict[str, str]) -> None:
        self.path = path
        self.failed = threading.Event()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._error: str | None = None
        self._opened = False
        self._written, self._first_ns, self._last_ns = 0, 0, 0
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(storage, types), name="bag-writer", daemon=True
        )
        self._thread.start()
        self._ready.wait(30.0)
        self._raise()

    def _run(self, storage: str, types: dict[str, str]) -> None:
        from rosbags.rosbag2 import Writer
        from rosbags.rosbag2.writer import StoragePlugin
        from rosbags.typesys import Stores, get_typestore

        try:
            plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
            store = get_typestore(Stores.LATEST)
            with Writer(self.path, version=8, storage_plugin=plugin) as writer:
                self._opened = True
                connections = {
                    topic: writer.add_connection(topic, msgtype, typestore=store)
                    for topic, msgtype in types.items()
                }
                self._ready.set()
                self._write_until_closed(writer, connections)
        except BaseException as error:  # reported to the caller by close()
            self._error = self._failure(error) if self._opened else f"{error}"
            self.failed.set()
        finally:
            self._ready.set()

    def _write_until_closed(self, writer, connections) -> None:
        due, unsaved = time.monotonic() + FLUSH_S, False
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, due - time.monotonic()))
            except queue.Empty:
                item = ()
            if item is None:
                return
            if item:
                topic, timestamp, raw = item
                writer.write(connections[topic], timestamp, raw)
                self._written += 1
                self._first_ns = self._first_ns or timestamp
                self._last_ns, unsaved = timestamp, True
            if time.monotonic() >= due:
                if unsaved:
                    _make_durable(writer)
                due, unsaved = time.monotonic() + FLUSH_S, False

    def _failure(self, error: BaseException) -> str:
        """What failed, where the recording stopped, and what the bag keeps (made readable)."""
        seconds = (self._last_ns - self._first_ns) / 1e9
        text = (
            f"writing {self.path} failed after {self._written} message(s) ({seconds:.1f} s "
            f"of recording): {_write_error(error, self.path)}; recording stopped there"
        )
        try:
            kept = reindex(self.path)
        except (OSError, ValueError) as repair:
            return (
                f"{text}. Make room, then `replay --reindex {self.path}` makes what was saved "
                f"readable (now: {repair})"
            )
        seconds = (kept.end_ns - kept.start_ns) / 1e9
        return (
            f"{text}. {self.path} keeps, readable, the {kept.message_count} message(s) saved "
            f"before it ({seconds:.1f} s)"
        )

    def write(self, topic: str, timestamp: int, raw: bytes) -> None:
        if not self.failed.is_set():  # a dead writer must not pile messages up in memory
            self._queue.put((topic, timestamp, raw))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30.0)
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise RecordingFailed(self._error)


def _make_durable(writer) -> None:
    """Put what `writer` took on disk, where `reindex` finds it after a kill: rosbags
    commits sqlite3 and writes MCAP chunks (1 MB) only when full or at close. Its storage
    objects have no public flush, hence their attributes here."""
    from rosbags.rosbag2.storage_sqlite3 import Sqlite3Writer

    storage = writer.storage
    if isinstance(storage, Sqlite3Writer):
        storage.conn.commit()
        return
    if storage.chunk.msgs:
        storage.close_chunk()
    storage.bio.flush()


def _write_error(error: BaseException, path: Path) -> str:
    """The error, with the room left and the file size limit (the usual causes)."""
    text = f"{type(error).__name__}: {error}"
    if name := getattr(error, "sqlite_errorname", None):
        text += f" ({name})"
    with contextlib.suppress(OSError):
        text += f"; {shutil.disk_usage(path.parent).free / 1e6:.1f} MB free there"
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        text += f"; file size limit (ulimit -f): {limit} bytes"
    return text


class _Recorder:
    """Raw subscriptions written to a rosbag2 bag; also tracks stamps for lockstep."""

    def __init__(self, node, topics: list[str], path: Path | None, storage: str) -> None:
        self._node, self._topics = node, [node.resolve_topic_name(t) for t in topics]
        self._path, self._storage = path, storage
        self._writer: _BagWriter | None = None
        self.counts: dict[str, int] = {}
        self._stamps: set[int] = set()
        self._condition = threading.Condition()
        self._lockstep_topic: str | None = None

    def start(self, wait_s: float, lockstep_topic: str | None) -> None:
        types = self._discover_types(wait_s)
        if self._path is not None:
            self._writer = _BagWriter(self._path, self._storage, types)
        self._lockstep_topic = lockstep_topic
        for topic, msgtype in types.items():
            self.counts[topic] = 0
            qos = _recording_qos(self._node, topic)
            self._node.create_subscription(
                message_class(msgtype), topic, self._callback(topic), qos, raw=True
            )

    def _discover_types(self, wait_s: float) -> dict[str, str]:
        deadline = time.monotonic() + wait_s
        while True:
            graph = dict(self._node.get_topic_names_and_types())
            missing = [t for t in self._topics if t not in graph]
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if missing:
            raise TimeoutError(
                f"no publisher of {missing} appeared within {wait_s:g} s; is the node running "
                "in this namespace and ROS_DOMAIN_ID?"
            )
        return {t: graph[t][0] for t in self._topics}

    def _callback(self, topic: str):
        def record(raw: bytes) -> None:
            self.counts[topic] += 1
            if self._writer is not None:
                self._writer.write(topic, time.time_ns(), raw)
            if topic == self._lockstep_topic:
                with self._condition:
                    self._stamps.add(cdr_stamp_ns(raw))
                    self._condition.notify_all()

        return record

    def failed(self) -> bool:
        """Whether writing the bag failed (the recording stopped)."""
        return self._writer is not None and self._writer.failed.is_set()

    def wait_for_stamp(self, stamp_ns: int, timeout_s: float) -> bool:
        with self._condition:
            return self._condition.wait_for(lambda: stamp_ns in self._stamps, timeout_s)

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()


def replay(
    bag: Path,
    topic: str | None = None,
    publish_as: str | None = None,
    rate: float | None = 1.0,
    lockstep: bool = False,
    lockstep_timeout_s: float = 1.0,
    record: Path | None = None,
    record_topics: tuple[str, ...] = DEFAULT_RECORD,
    storage: str = "sqlite3",
    wait_s: float = 10.0,
    linger_s: float = 1.0,
    clock: bool = False,
    reliable: bool = False,
    ros_args: list[str] | None = None,
) -> ReplaySummary:
    """Play `topic` of `bag` (see the module docstring); `rate` None means maximum rate."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    reuse_large_buffers()
    bags = find_bags(bag)
    if len(bags) != 1:
        raise ValueError(f"{bag} holds {len(bags)} bags; pass one of {[str(b) for b in bags]}")
    context = rclpy.Context()
    try:
        rclpy.init(args=["replay", *(ros_args or [])], context=context)
    except RuntimeError as error:  # rcl's: unknown ROS arguments, a bad --params-file
        raise ValueError(init_refusal(error)) from None
    node = rclpy.create_node("replay", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    summary, recorder = ReplaySummary(), None
    try:
        with AnyReader([bags[0]], default_typestore=get_typestore(Stores.LATEST)) as reader:
            connection = _image_connection(reader, bags[0], topic)
            publisher = node.create_publisher(
                message_class(connection.msgtype), publish_as or connection.topic, _qos(reliable)
            )
            clock_publisher = _clock_publisher(node) if clock else None
            spinner.start()
            _wait_for_subscriber(publisher, wait_s)
            if record is not None or lockstep:
                recorder = _start_recorder(node, record, record_topics, storage, wait_s, lockstep)
            pacing = _Pacing(rate, lockstep, lockstep_timeout_s)
            _play(reader, connection, publisher, clock_publisher, recorder, pacing, summary)
            if recorder is None or not recorder.failed():
                time.sleep(linger_s)
    finally:
        ignore_further_interrupts()  # a second Ctrl-C must not cut the clean-up short
        executor.shutdown(timeout_sec=2.0)
        if spinner.is_alive():
            spinner.join(timeout=2.0)
        failure = _close_recorder(recorder, summary, record)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    if failure is not None:
        raise failure
    return summary


def _close_recorder(recorder, summary: ReplaySummary, record: Path | None):
    """Close the recording; its failure (to raise once everything is shut down) or None."""
    if recorder is None:
        return None
    summary.recorded, summary.output = dict(recorder.counts), record
    try:
        recorder.close()
    except RecordingFailed as error:
        return RecordingFailed(f"{error}; replay stopped after {summary.sent} frame(s)")
    return None


def _recording_qos(node, topic: str) -> QoSProfile:
    """Reliable, unless a publisher of `topic` offers only best effort: a reliable
    subscription would then record nothing (`ros2 bag record` adapts the same way)."""
    offered = [info.qos_profile.reliability for info in node.get_publishers_info_by_topic(topic)]
    best_effort = ReliabilityPolicy.BEST_EFFORT in offered
    reliability = ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE
    return QoSProfile(depth=100, reliability=reliability)


def _qos(reliable: bool) -> QoSProfile:
    if reliable:
        return QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    return QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)


def _start_recorder(node, record, record_topics, storage, wait_s, lockstep) -> _Recorder:
    """Record `record_topics` (if `record`); with lockstep also watch the first one."""
    topics = list(record_topics) if record is not None else []
    lock_topic = node.resolve_topic_name(record_topics[0]) if lockstep else None
    if lockstep and lock_topic not in [node.resolve_topic_name(t) for t in topics]:
        topics.append(record_topics[0])
    recorder = _Recorder(node, topics, record, storage)
    recorder.start(wait_s, lock_topic)
    return recorder


@dataclass(frozen=True)
class _Pacing:
    rate: float | None  # speed factor; None: as fast as possible
    lockstep: bool
    timeout_s: float


def _image_connection(reader, bag: Path, topic: str | None):
    images = [c for c in reader.connections if c.msgtype in (IMAGE, COMPRESSED)]
    if topic is not None:
        images = [c for c in images if c.topic == topic]
    topics = sorted({c.topic for c in images})
    if len(topics) != 1:
        every = sorted({f"{c.topic} ({c.msgtype})" for c in reader.connections})
        wanted = f"image topic {topic!r}" if topic else "exactly one image topic"
        raise ValueError(f"{bag}: expected {wanted} (use --topic); topics: {every}")
    return images[0]


def _clock_publisher(node):
    from rosgraph_msgs.msg import Clock

    return node.create_publisher(Clock, "/clock", 10)


def _wait_for_subscriber(publisher, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while publisher.get_subscription_count() == 0:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"nobody subscribed to {publisher.topic_name} within {wait_s:g} s; start the "
                "saliency node (same ROS_DOMAIN_ID, remap its `image` to this topic)"
            )
        time.sleep(0.02)
    time.sleep(0.2)  # let the match settle on both sides


def _play(reader, connection, publisher, clock_publisher, recorder, pacing, summary) -> None:
    start_wall = time.monotonic()
    first_log_time = None
    for _, log_time, raw in reader.messages([connection]):
        raw = bytes(raw)
        if first_log_time is None:
            first_log_time = log_time
        if pacing.rate is not None and not pacing.lockstep:
            due = start_wall + (log_time - first_log_time) / 1e9 / pacing.rate
            time.sleep(max(0.0, due - time.monotonic()))
        stamp = cdr_stamp_ns(raw)  # None: malformed, sent as recorded, nothing to wait for
        if clock_publisher is not None and stamp is not None:
            _publish_clock(clock_publisher, stamp)
        publisher.publish(raw)
        summary.sent += 1
        if recorder is not None and recorder.failed():
            break  # the first failed write ends the replay (the error says where)
        waited = pacing.lockstep and stamp is not None
        if waited and not recorder.wait_for_stamp(stamp, pacing.timeout_s):
            summary.lockstep_timeouts += 1
    summary.seconds = time.monotonic() - start_wall


def _publish_clock(publisher, stamp_ns: int) -> None:
    from rosgraph_msgs.msg import Clock

    msg = Clock()
    msg.clock.sec, msg.clock.nanosec = divmod(stamp_ns, 1_000_000_000)
    publisher.publish(msg)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("bag", type=Path, help="rosbag2 folder (sqlite3 or MCAP)")
    parser.add_argument(
        "--reindex",
        action="store_true",
        help="make BAG readable after its recording was killed or the disk filled up "
        "(rebuilds metadata.yaml, closes an MCAP file), then exit",
    )
    parser.add_argument("--topic", help="image topic in the bag (default: its only one)")
    parser.add_argument("--publish-as", help="topic to publish on (default: the bag's topic)")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, default=1.0, help="speed factor (1.0: as recorded)")
    pace.add_argument("--max-rate", action="store_true", help="publish as fast as possible")
    pace.add_argument(
        "--lockstep", action="store_true", help="wait for each frame's map (no frame dropped)"
    )
    parser.add_argument(
        "--lockstep-timeout", type=positive_float, default=1.0, help="seconds per frame"
    )
    parser.add_argument("--record", type=Path, help="write the node's outputs to this new bag")
    parser.add_argument(
        "--record-topics",
        nargs="+",
        default=list(DEFAULT_RECORD),
        help="topics to record; the first is the lockstep topic (default: %(default)s)",
    )
    parser.add_argument("--storage", choices=STORAGES, default="sqlite3", help="output storage")
    parser.add_argument(
        "--wait", type=non_negative_float, default=10.0, help="seconds to wait for the node"
    )
    parser.add_argument(
        "--linger", type=non_negative_float, default=1.0, help="seconds to record after"
    )
    parser.add_argument("--clock", action="store_true", help="publish /clock from the stamps")
    parser.add_argument("--reliable", action="store_true", help="publish with RELIABLE QoS")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `replay` / `python -m skd_ros.tools.replay`."""
    setup_logging()
    argv = sys.argv[1:] if argv is None else argv
    ros_args: list[str] = []
    if "--ros-args" in argv:
        index = argv.index("--ros-args")
        argv, ros_args = argv[:index], argv[index:]
    args = parse_args(argv)
    if args.reindex:
        return _reindex(args.bag)
    terminate_as_interrupt()  # SIGTERM cleans up too (no ghost publisher, no /dev/shm leak)
    if args.rate is not None and not (math.isfinite(args.rate) and args.rate >= MIN_RATE):
        print(
            f"replay: --rate must be a speed factor >= {MIN_RATE:g} (1.0: as recorded; "
            "--max-rate: as fast as possible)",
            file=sys.stderr,
        )
        return 2
    try:
        summary = replay(
            args.bag,
            topic=args.topic,
            publish_as=args.publish_as,
            rate=None if args.max_rate else args.rate,
            lockstep=args.lockstep,
            lockstep_timeout_s=args.lockstep_timeout,
            record=args.record,
            record_topics=tuple(args.record_topics),
            storage=args.storage,
            wait_s=args.wait,
            linger_s=args.linger,
            clock=args.clock,
            reliable=args.reliable,
            ros_args=ros_args,
        )
    except (TimeoutError, ValueError, FileExistsError, RuntimeError) as error:
        print(f"replay: {error}", file=sys.stderr)
        return 1
    except NameValidationException as error:  # --publish-as or --record-topics
        lines = [line.strip() for line in str(error).splitlines()]  # without the ^ marker
        print(f"replay: {' '.join(x for x in lines if x.strip('^'))}", file=sys.stderr)
        return 1
    except AnyReaderError as error:
        print(f"replay: {args.bag} cannot be read as a rosbag2 bag: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print("\n".join(summary.lines()))
    if summary.sent == 0:
        print(f"replay: {args.bag} has no message on its image topic", file=sys.stderr)
        return 1
    return 0


def _reindex(bag: Path) -> int:
    """`replay --reindex BAG`: repair a bag cut off while recording; print what it holds."""
    try:
        result = reindex(bag)
    except (ReindexError, OSError) as error:
        print(f"replay: {error}", file=sys.stderr)
        return 1
    print("\n".join(result.lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
