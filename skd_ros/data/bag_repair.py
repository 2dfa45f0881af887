"""Make a rosbag2 bag cut off while recording readable again (`replay --reindex BAG`).

A recorder killed (SIGKILL, power cut) or stopped by a full disk leaves no metadata.yaml,
without which no rosbag2 reader (rosbags, `ros2 bag`) opens the bag, and an MCAP file
without its summary and footer. `reindex` rebuilds both from the storage files, with
rosbags, keeping every message that reached the disk:

* sqlite3 (`.db3`): the database is opened for writing once, which rolls a transaction the
  recorder did not commit back (rosbags reads databases as immutable and would see it
  half-written);
* MCAP (`.mcap`): the file is cut after its last complete record and closed with a DataEnd
  record and a footer without a summary: valid MCAP, which readers scan.

metadata.yaml is then written (atomically) from what rosbags reads in the storage files:
topics, types, QoS, counts and times. A bag closed cleanly gets the same metadata again.
Plain Python, no ROS.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from skd_ros.atomic_write import write_text

MCAP_MAGIC = b"\x89MCAP0\r\n"
# record opcodes that may appear in the data section of an MCAP file (everything but the
# summary's); DataEnd (0x0F) ends it
MCAP_DATA_OPS = {0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09, 0x0C}
MCAP_DATA_END = bytes([0x0F]) + (4).to_bytes(8, "little") + bytes(4)
MCAP_FOOTER = bytes([0x02]) + (20).to_bytes(8, "little") + bytes(20) + MCAP_MAGIC  # no summary
STORAGE_SUFFIXES = {".db3": "sqlite3", ".mcap": "mcap"}


class ReindexError(ValueError):
    """A folder `reindex` cannot make a readable bag of; the message says why."""


@dataclass
class Reindexed:
    """What `reindex` found in a bag's storage files."""

    bag: Path
    storage: str
    files: list[Path]
    messages: dict[str, int] = field(default_factory=dict)  # per topic
    start_ns: int = 0
    end_ns: int = 0  # of the last message
    cut_bytes: int = 0  # of incomplete MCAP records dropped at the end

    @property
    def message_count(self) -> int:
        return sum(self.messages.values())

    def lines(self) -> list[str]:
        """A short report for the command line."""
        rows = [f"reindexed {self.bag} ({self.storage}, {len(self.files)} file(s))"]
        rows += [f"  {topic}: {count} messages" for topic, count in self.messages.items()]
        if self.message_count:
            seconds = (self.end_ns - self.start_ns) / 1e9
            rows.append(f"  {self.message_count} messages over {seconds:.2f} s")
        if self.cut_bytes:
            rows.append(f"  dropped an incomplete last record ({self.cut_bytes} bytes)")
        return rows


def reindex(bag: Path) -> Reindexed:
    """Repair the storage files of `bag` and rewrite its metadata.yaml (module docstring)."""
    bag = Path(bag)
    files, storage = storage_files(bag)
    cut = 0
    for path in files:
        if storage == "sqlite3":
            _settle_sqlite(path)
        else:
            cut += close_mcap(path)
    result, spans, topics = _read_storage(bag, storage, files)
    result.cut_bytes = cut
    text = yaml.safe_dump(_metadata(result, spans, topics), sort_keys=False)
    write_text(bag / "metadata.yaml", text)
    return result


def storage_files(bag: Path) -> tuple[list[Path], str]:
    """The `.db3` or `.mcap` files of the bag folder `bag`, in recording order."""
    if not bag.is_dir():
        raise ReindexError(
            f"{bag} is not a folder; give the bag's folder (it holds the .db3/.mcap)"
        )
    found = [p for p in bag.iterdir() if p.suffix in STORAGE_SUFFIXES]
    kinds = {STORAGE_SUFFIXES[p.suffix] for p in found}
    if len(kinds) != 1:
        names = sorted(p.name for p in bag.iterdir())
        raise ReindexError(
            f"{bag} holds {'no' if not kinds else 'both'} .db3 and .mcap storage files "
            f"(it has {names[:10]}); a rosbag2 bag folder holds those of one storage"
        )
    if links := [p.name for p in found if p.is_symlink() or not p.is_file()]:
        raise ReindexError(
            f"{bag}: {links} are links or not plain files; reindex only repairs files"
        )
    return sorted(found, key=_split_order), kinds.pop()


def _split_order(path: Path) -> tuple[int, str]:
    """`ros2 bag record` names split files <bag>_0, <bag>_1, ..., <bag>_10."""
    number = re.search(r"(\d+)$", path.stem)
    return (int(number.group(1)) if number else -1, path.name)


def _settle_sqlite(path: Path) -> None:
    """Open the database for writing once: SQLite rolls a hot journal back on first read."""
    try:
        with contextlib.closing(sqlite3.connect(path)) as database:
            database.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        raise ReindexError(f"{path} is not a readable SQLite database ({error})") from None


def close_mcap(path: Path) -> int:
    """Give an MCAP file cut off while recording a footer; returns the bytes dropped.

    A file whose footer is in place is left as it is. Where there is no room for the
    footer (a full disk, a file size limit), records are dropped from the end until it fits.
    """
    with open(path, "r+b") as file:
        size = file.seek(0, os.SEEK_END)
        if _has_footer(file, size):
            return 0
        ends = _record_ends(file, size)
        if not ends:  # not even the magic and header made it to the disk
            file.seek(0)
            file.write(MCAP_MAGIC + _mcap_header())
            ends = [file.tell()]
        while True:
            end = ends.pop()
            try:
                _write_footer(file, end)
                break
            except OSError:
                if not ends:
                    raise
    return max(0, size - end)


def _write_footer(file, end: int) -> None:
    file.truncate(end)
    file.seek(end)
    file.write(MCAP_DATA_END + MCAP_FOOTER)
    file.flush()
    os.fsync(file.fileno())


def _has_footer(file, size: int) -> bool:
    if size < len(MCAP_MAGIC) + len(MCAP_FOOTER):
        return False
    file.seek(size - len(MCAP_FOOTER))
    tail = file.read(len(MCAP_FOOTER))
    return tail.endswith(MCAP_MAGIC) and tail[:9] == MCAP_FOOTER[:9]


def _record_ends(file, size: int) -> list[int]:
    """Offsets after each complete data-section record, the header first ([]: none)."""
    file.seek(0)
    if file.read(len(MCAP_MAGIC)) != MCAP_MAGIC:
        return []
    position, ends = len(MCAP_MAGIC), []
    while position + 9 <= size:
        file.seek(position)
        head = file.read(9)
        opcode, length = head[0], int.from_bytes(head[1:], "little")
        if opcode not in MCAP_DATA_OPS or (not ends and opcode != 0x01):
            break  # DataEnd, a summary cut short, or zeros: the data ends here
        if position + 9 + length > size:
            break  # cut off mid-record
        position += 9 + length
        ends.append(position)
    return ends


def _mcap_header() -> bytes:
    body = b"".join(len(s).to_bytes(4, "little") + s for s in (b"ros2", b"skd_ros reindex"))
    return bytes([0x01]) + len(body).to_bytes(8, "little") + body


def _read_storage(bag: Path, storage: str, files: list[Path]):
    """(Reindexed, per-file spans, topics' metadata) from rosbags' reading of `files`."""
    from rosbags.rosbag2 import Reader
    from rosbags.rosbag2.errors import ReaderError
    from rosbags.rosbag2.metadata import dump_qos_v8

    result = Reindexed(bag, storage, files)
    spans, topics = [], {}
    for path in files:
        try:
            with Reader(path) as reader:
                for c in reader.connections:
                    meta = topics.setdefault((c.topic, c.msgtype), _topic(c, dump_qos_v8))
                    meta["message_count"] += c.msgcount
                    result.messages[c.topic] = result.messages.get(c.topic, 0) + c.msgcount
                count = reader.message_count
                start, end = (reader.start_time, reader.end_time - 1) if count else (0, 0)
        except ReaderError as error:
            raise ReindexError(f"{path} cannot be read even after repair ({error})") from None
        spans.append({"path": path.name, **_span(start, end), "message_count": count})
    counted = [s for s in spans if s["message_count"]]
    if counted:
        result.start_ns = min(s["starting_time"]["nanoseconds_since_epoch"] for s in counted)
        result.end_ns = max(
            s["starting_time"]["nanoseconds_since_epoch"] + s["duration"]["nanoseconds"]
            for s in counted
        )
    return result, spans, list(topics.values())


def _span(start_ns: int, end_ns: int) -> dict:
    return {
        "starting_time": {"nanoseconds_since_epoch": start_ns},
        "duration": {"nanoseconds": end_ns - start_ns},
    }


def _topic(connection, dump_qos) -> dict:
    return {
        "topic_metadata": {
            "name": connection.topic,
            "type": connection.msgtype,
            "serialization_format": connection.ext.serialization_format,
            "offered_qos_profiles": dump_qos(connection.ext.offered_qos_profiles),
            "type_description_hash": connection.digest or "",
        },
        "message_count": 0,
    }


def _metadata(result: Reindexed, spans: list[dict], topics: list[dict]) -> dict:
    """metadata.yaml (rosbag2 version 8, as rosbags writes it) of what was read."""
    return {
        "rosbag2_bagfile_information": {
            "version": 8,
            "storage_identifier": result.storage,
            "relative_file_paths": [p.name for p in result.files],
            **_span(result.start_ns, result.end_ns),
            "message_count": result.message_count,
            "topics_with_message_count": topics,
            "compression_format": "",
            "compression_mode": "",
            "files": spans,
            "custom_data": None,
            "ros_distro": "rosbags",
        }
    }
