"""rosbag2 bags (sqlite3 and MCAP) as unlabelled videos, read without a ROS installation.

Bags are opened with `rosbags.highlevel.AnyReader`; `sensor_msgs/msg/Image` and
`sensor_msgs/msg/CompressedImage` messages are converted to BGR frames with
`rosbags.image.message_to_cvimage`. One image topic of a bag is one video, split into
several videos where the header stamps jump backwards (a looped recording) or pause for more
than `max_gap_s`. `stride` keeps every n-th message of each video (the causal pair of a
frame is then its kept predecessor).

Each message is checked before conversion: a zero-sized image, an unknown encoding, a step
shorter than a row, data shorter than step x height, or compressed data that does not
decode is skipped with a logged reason (rosbags-image itself would return an empty or a
garbled array for some of these). Rows padded beyond width x pixel size are unpadded.

`write_image_bag` writes real bags for the tests, the demo and the node's checks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from skd_ros.data.video import LayoutError, Sample, as_bgr8

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

    def __len__(self) -> int:
        return len(self.ordinals)

    def __repr__(self) -> str:
        return f"BagVideo({self.name!r}, {self.bag}, {self.topic}, {len(self)} frames)"

    def samples(self) -> Iterator[Sample]:
        if not self.ordinals:
            return
        wanted = {ordinal: index for index, ordinal in enumerate(self.ordinals)}
        last = self.ordinals[-1]
        skipped: Counter[str] = Counter()
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
                image, stamp, reason = decode_message(reader, raw, connection.msgtype)
                if image is None:
                    skipped[reason] += 1
                    if skipped[reason] <= WARNINGS_PER_CAUSE:
                        log.warning(
                            "%s %s: skipping message %d (t=%d ns): %s",
                            self.bag,
                            self.topic,
                            ordinal,
                            log_time,
                            reason,
                        )
                    continue
                yield Sample(index, image, None, None, stamp or log_time, f"{index + 1:05d}")
        finally:
            reader.close()
        if skipped:
            log.warning("%s %s: skipped %s", self.bag, self.topic, dict(skipped))


def decode_message(reader, raw: bytes, msgtype: str) -> tuple[np.ndarray | None, int | None, str]:
    """(BGR image, header stamp ns, '') for a good message; (None, None, reason) otherwise."""
    try:
        msg = reader.deserialize(raw, msgtype)
    except Exception as error:
        return None, None, f"cannot deserialize the {msgtype} message ({error})"
    stamp = int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
    image, reason = message_image(msg)
    return image, stamp, reason


def message_image(msg) -> tuple[np.ndarray | None, str]:
    """(H, W, 3) uint8 BGR of an Image or CompressedImage message, or (None, reason)."""
    from rosbags.image import ImageError, message_to_cvimage

    if hasattr(msg, "format"):  # CompressedImage
        if len(msg.data) == 0:
            return None, "empty compressed data"
        image = cv2.imdecode(np.asarray(msg.data, np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None or image.size == 0:
            return None, f"compressed data ({msg.format or 'no format'}) does not decode"
        return as_bgr8(image), ""
    msg, reason = _checked_image(msg)
    if msg is None:
        return None, reason
    try:
        image = message_to_cvimage(msg, "bgr8")
    except (ImageError, cv2.error, ValueError, TypeError) as error:
        return None, f"cannot convert encoding {msg.encoding!r} to bgr8 ({error})"
    if image is None or image.size == 0:
        return None, "conversion gave an empty image"
    return as_bgr8(np.ascontiguousarray(image)), ""


def _checked_image(msg):
    """The message with unpadded rows, or (None, why it is malformed)."""
    from rosbags.image import ImageFormatError
    from rosbags.image.image import to_cvtype

    if msg.height == 0 or msg.width == 0:
        return None, f"empty image ({msg.width}x{msg.height})"
    try:
        _, _, typestr, channels = to_cvtype(msg.encoding)
    except ImageFormatError:
        return None, f"unknown encoding {msg.encoding!r}"
    row = msg.width * channels * np.dtype(typestr).itemsize
    if msg.step < row:
        return (
            None,
            f"step {msg.step} is shorter than a row ({msg.width} px x {row // msg.width} B)",
        )
    size = msg.step * msg.height
    if len(msg.data) < size:
        return None, f"data has {len(msg.data)} bytes, expected step x height = {size}"
    data = np.asarray(msg.data, np.uint8)
    if msg.step != row or len(data) != size:
        data = np.ascontiguousarray(data[:size].reshape(msg.height, msg.step)[:, :row]).ravel()
        msg = dataclasses.replace(msg, data=data, step=row)
    return msg, ""


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
