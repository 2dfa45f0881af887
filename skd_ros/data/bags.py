"""rosbag2 bags (sqlite3 and MCAP) as unlabelled videos, read without a ROS installation.

Bags are opened with `rosbags.highlevel.AnyReader`; `sensor_msgs/msg/Image` and
`sensor_msgs/msg/CompressedImage` messages are checked and converted to BGR frames by
`skd_ros.images.messages`, the node's own checks and converter (with its limits on
compressed frames), so training, evaluation and the demo see what the node would see. One
image topic of a bag is one video, split into several videos where the header stamps jump
backwards (a looped recording) or pause for more than `max_gap_s`. `stride` keeps every n-th
message of each video (the causal pair of a frame is then its kept predecessor).

A message the node would refuse (a zero-sized image, an unknown or signed encoding, a step
shorter than a row, data shorter than step x height, compressed data that does not decode
or is over the limits) is skipped, counted by cause in `BagVideo.skipped`, and logged with
the bag, the topic and the cause (the first few of each cause, then a summary).

`write_image_bag` writes real bags for the tests, the demo and the node's checks.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from skd_ros.data.video import LayoutError, Sample
from skd_ros.images import MalformedImage
from skd_ros.images.messages import camera_frame

log = logging.getLogger(__name__)

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES = (IMAGE, COMPRESSED)
STORAGES = ("sqlite3", "mcap")
DEFAULT_MAX_GAP_S = 1.0
WARNINGS_PER_CAUSE = 5


def _typestore():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.LATEST)


def find_bags(path: Path) -> list[Path]:
    """Bag folders at `path`: a bag folder itself, a file inside one, or a folder of bags."""
    path = Path(path)
    if path.is_file():
        if not (path.parent / "metadata.yaml").is_file():  # not its siblings: one bag only
            raise LayoutError(
                f"{path} is a file outside any rosbag2 bag (no metadata.yaml beside it); "
                "give the bag's folder (written by `ros2 bag record`), or a folder of bags"
            )
        path = path.parent
    if not path.is_dir():
        raise LayoutError(f"{path} does not exist; expected a rosbag2 folder (with metadata.yaml)")
    if (path / "metadata.yaml").is_file():
        return [path]
    bags = sorted(p.parent for p in path.glob("*/metadata.yaml"))
    if not bags:
        cut_off = any(p.suffix in (".db3", ".mcap") for p in path.iterdir())
        raise LayoutError(
            f"{path} is not a rosbag2 bag: expected {path}/metadata.yaml (a folder written by "
            "`ros2 bag record`) or sub-folders that are bags"
            + (f"; its recording was cut off: `replay --reindex {path}` repairs it" * cut_off)
        )
    return bags


def _open(bag: Path):
    from rosbags.highlevel import AnyReader, AnyReaderError

    reader = AnyReader([bag], default_typestore=_typestore())
    try:
        reader.open()
    except AnyReaderError as error:  # broken metadata.yaml, truncated .db3 / .mcap
        raise LayoutError(
            f"{bag} cannot be read as a rosbag2 bag ({error}); check that recording finished "
            f"cleanly (`replay --reindex {bag}` repairs a bag cut off while recording)"
        ) from None
    return reader


def image_topics(bag: Path) -> dict[str, str]:
    """{topic: message type} of the image topics of one bag."""
    reader = _open(bag)
    try:
        return {c.topic: c.msgtype for c in reader.connections if c.msgtype in IMAGE_TYPES}
    finally:
        reader.close()


def _choose_topic(bag: Path, reader, topic: str | None) -> str:
    images = sorted({c.topic for c in reader.connections if c.msgtype in IMAGE_TYPES})
    every = sorted({f"{c.topic} ({c.msgtype})" for c in reader.connections})
    if topic is None:
        if len(images) == 1:
            return images[0]
        if not images:
            raise LayoutError(f"{bag} has no image topic; its topics: {every or 'none'}")
        raise LayoutError(
            f"{bag} has several image topics {images}; choose one (data.bag_topic / topic=)"
        )
    if topic not in images:
        raise LayoutError(f"{bag} has no image topic {topic!r}; its image topics: {images}")
    return topic


def bag_videos(
    path: Path,
    topic: str | None = None,
    stride: int = 1,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
) -> list[BagVideo]:
    """Videos of one image topic of the bag(s) at `path` (see the module docstring).

    `topic` None picks the bag's only image topic; several or none is an error listing them.
    """
    if stride < 1:
        raise ValueError(f"stride={stride}: must be an integer >= 1")
    videos = []
    for bag in find_bags(path):
        reader = _open(bag)
        try:
            chosen = _choose_topic(bag, reader, topic)
            segments = _segments(reader, chosen, int(max_gap_s * 1e9))
        finally:
            reader.close()
        if not segments:
            raise LayoutError(f"{bag}: its image topic {chosen} holds no message")
        base = f"{bag.name}{chosen.replace('/', '_')}"
        bag_id = _bag_files_id(bag)
        for number, (start_ordinal, start_time, ordinals) in enumerate(segments):
            kept = ordinals[::stride]
            name = base if len(segments) == 1 else f"{base}_part{number + 1:02d}"
            source = f"bag:{bag_id}:{chosen}:stride={stride}:gap={max_gap_s}:part={number}"
            videos.append(BagVideo(bag, chosen, name, source, start_ordinal, start_time, kept))
    return videos


def _segments(reader, topic: str, max_gap_ns: int) -> list[tuple[int, int, list[int]]]:
    """(ordinal of the first message at the segment's start time, that time, ordinals)."""
    connections = [c for c in reader.connections if c.topic == topic]
    segments: list[tuple[int, int, list[int]]] = []
    previous_stamp = None
    first_at_time: dict[int, int] = {}
    for ordinal, (connection, log_time, raw) in enumerate(reader.messages(connections)):
        first_at_time.setdefault(log_time, ordinal)
        stamp = _header_stamp(reader, raw, connection.msgtype) or log_time
        jump = previous_stamp is not None and (
            stamp < previous_stamp or stamp - previous_stamp > max_gap_ns
        )
        if previous_stamp is None or jump:
            segments.append((first_at_time[log_time], log_time, []))
        segments[-1][2].append(ordinal)
        previous_stamp = stamp
    return segments


def _header_stamp(reader, raw: bytes, msgtype: str) -> int | None:
    try:
        stamp = reader.deserialize(raw, msgtype).header.stamp
    except Exception:  # a malformed message; it is reported when read
        return None
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _bag_files_id(bag: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in bag.iterdir() if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


class BagVideo:
    """One image topic (or one continuous part of it) of a bag; unlabelled."""

    category = None
    labelled = False

    def __init__(
        self,
        bag: Path,
        topic: str,
        name: str,
        source_id: str,
        start_ordinal: int,
        start_time: int,
        ordinals: Sequence[int],
    ) -> None:
        self.bag, self.topic, self.name, self.source_id = bag, topic, name, source_id
        self.start_ordinal, self.start_time = start_ordinal, start_time
        self.ordinals = list(ordinals)
        self.skipped: Counter[str] = Counter()  # refused messages of the last read, by cause

    def __len__(self) -> int:
        return len(self.ordinals)

    def __repr__(self) -> str:
        return f"BagVideo({self.name!r}, {self.bag}, {self.topic}, {len(self)} frames)"

    def samples(self) -> Iterator[Sample]:
        """The kept messages as samples; refused ones are skipped and counted (`skipped`)."""
        self.skipped = Counter()
        if not self.ordinals:
            return
        wanted = {ordinal: index for index, ordinal in enumerate(self.ordinals)}
        last = self.ordinals[-1]
        reader = _open(self.bag)
        try:
            connections = [c for c in reader.connections if c.topic == self.topic]
            messages = reader.messages(connections, start=self.start_time)
            for ordinal, (connection, log_time, raw) in enumerate(messages, self.start_ordinal):
                if ordinal > last:
                    break
                if ordinal not in wanted:
                    continue
                index = wanted[ordinal]
                try:
                    image, stamp = read_frame_message(reader, raw, connection.msgtype)
                except MalformedImage as error:
                    self._skip(error, ordinal, log_time)
                    continue
                yield Sample(index, image, None, None, stamp or log_time, f"{index + 1:05d}")
        finally:
            reader.close()
        if self.skipped:
            log.warning(
                "%s %s: skipped %d of %d messages: %s",
                self.bag,
                self.topic,
                sum(self.skipped.values()),
                len(self),
                dict(self.skipped),
            )

    def _skip(self, error: MalformedImage, ordinal: int, log_time: int) -> None:
        self.skipped[error.cause] += 1
        if self.skipped[error.cause] <= WARNINGS_PER_CAUSE:
            log.warning(
                "%s %s: skipping message %d (t=%d ns): %s",
                self.bag,
                self.topic,
                ordinal,
                log_time,
                error,
            )


def read_frame_message(reader, raw: bytes, msgtype: str) -> tuple[np.ndarray, int]:
    """(BGR frame, header stamp ns) of a serialized image message, checked and converted as
    the node does; `MalformedImage` names the cause of a refusal."""
    try:
        msg = reader.deserialize(raw, msgtype)
    except Exception as error:
        raise MalformedImage("cannot deserialize", f"a {msgtype} message ({error})") from None
    stamp = int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
    return camera_frame(msg).bgr8(), stamp


def image_message(
    image: np.ndarray,
    stamp_ns: int,
    compressed: bool = False,
    frame_id: str = "camera",
    jpeg_quality: int = 90,
):
    """A `sensor_msgs/msg/Image` (bgr8) or `CompressedImage` (jpeg) of a BGR uint8 frame."""
    store = _typestore()
    header = store.types["std_msgs/msg/Header"](
        stamp=store.types["builtin_interfaces/msg/Time"](
            sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000)
        ),
        frame_id=frame_id,
    )
    if compressed:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        if not ok:
            raise ValueError(f"cannot JPEG-encode an image of shape {image.shape}")
        return store.types[COMPRESSED](header=header, format="jpeg", data=data.ravel())
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    data = np.ascontiguousarray(image).ravel()
    return store.types[IMAGE](
        header=header,
        height=height,
        width=width,
        encoding="bgr8",
        is_bigendian=0,
        step=width * 3,
        data=data,
    )


def write_image_bag(
    path: Path,
    frames: Iterable,
    topic: str = "/camera/image_raw",
    storage: str = "sqlite3",
    compressed: bool = False,
    stamps: Sequence[int] | None = None,
    fps: float = 30.0,
    frame_id: str = "camera",
) -> Path:
    """Write a rosbag2 bag with one image topic; returns its folder `path`.

    `frames` are (H, W, 3) uint8 BGR arrays (or objects with an `.image`, like the synthetic
    generator's frames), written as bgr8 `Image` or, with `compressed`, JPEG
    `CompressedImage` messages; a ready message object is written as it is (to test
    malformed messages). `stamps` (ns) default to `fps` spacing from t = 1 s and are used for
    both the header stamp and the bag time. `storage` is 'sqlite3' or 'mcap'.
    """
    from rosbags.rosbag2 import Writer
    from rosbags.rosbag2.writer import StoragePlugin

    if storage not in STORAGES:
        raise ValueError(f"storage={storage!r}: choose one of {STORAGES}")
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    store = _typestore()
    msgtype = COMPRESSED if compressed else IMAGE
    path = Path(path)
    with Writer(path, version=8, storage_plugin=plugin) as writer:
        connection = writer.add_connection(topic, msgtype, typestore=store)
        for number, frame in enumerate(frames):
            stamp = int(stamps[number]) if stamps is not None else int(1e9 + number * 1e9 / fps)
            if isinstance(frame, np.ndarray) or hasattr(frame, "image"):
                image = frame if isinstance(frame, np.ndarray) else frame.image
                msg = image_message(image, stamp, compressed, frame_id)
            else:
                msg = frame
            writer.write(connection, stamp, store.serialize_cdr(msg, msg.__msgtype__))
    return path
