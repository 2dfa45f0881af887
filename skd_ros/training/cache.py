"""Reduced frames, ground truth and teacher maps, computed once and kept on disk.

Every epoch of both stages reads the same reduced inputs and the same teacher maps, and a
teacher is far slower than a student, so `build_cache` computes them once per (data,
resolution, teacher) and later runs memory-map the result.

Layout under `cache_dir`:

    r<resolution>-<inputs key>/
        meta.json        videos (name, category, source_id, first row, count), settings
        frames.npy       (N, 3, h, w) uint8 RGB, R(frame)
        targets.npy      (N, h, w) float16, R(ground truth)            labelled data only
        fixations.npy    (N, h, w) bool, fixated cells                  sources with fixations
        previous.npy     (N,) int64 row of the frame's causal predecessor (itself first)
        video.npy        (N,) int32 video number;  index.npy (N,) int32 frame number in it
        teachers/<name>-<teacher key>/
            maps.npy     (N, h, w) float16, R(teacher(previous, current))
            meta.json    name, kind, identity, cost per frame

- The inputs key hashes the cache format, R's settings, the resolution and the ordered
  `source_id`s of the videos (file paths, sizes and modification times; bag path, topic and
  stride), so changed data is a new entry, never a stale one. The teacher key adds the
  teacher's name and `identity` (weights hash, settings). Categories are metadata and
  come from the videos passed in, so editing `categories.json` needs no rebuild.
- Teachers run on the full-resolution frames (the previous and the current frame; a
  video's first frame is paired with itself) and only their output is reduced with R,
  as in the paper. The frames' R is the node's R (`skd_ros.reduction`), bit for bit.
- Fixations: where every video has fixation maps (DHF1K-style folders), each fixated
  pixel marks the reduced cell it falls in (no fixation is lost to averaging); otherwise
  `fixations` is None and evaluation samples fixations from the maps.
- Corrupt frames are skipped by the sources (with their maps); rows hold only the frames
  that were read, and `previous` pairs each with its last readable predecessor.
- Every entry is built in a `.building-*` folder and renamed into place when complete, so
  an interrupted or failed build never leaves an entry that looks complete; a leftover
  building folder of a dead process is removed by the next build. A teacher added later
  computes only its own maps. A small thread pool decodes videos and runs the reduction
  and the teachers frame by frame (decoding, OpenCV and torch release the GIL), so one
  long bag uses every core too; teachers must be thread-safe (`skd_ros.teachers.base`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skd_ros.atomic_write import write_atomic, write_json
from skd_ros.data.video import check_frame_size
from skd_ros.reduction import INTERMEDIATE_SIDE, reduce_resolution

log = logging.getLogger(__name__)

CACHE_VERSION = 1
BUILDING = ".building-"


@dataclass
class CachedSplit:
    """One cached set of videos at one resolution (arrays memory-mapped where large)."""

    frames: np.ndarray  # (N, 3, h, w) uint8 RGB, R(frame)
    targets: np.ndarray | None  # (N, h, w) float16 R(ground truth); None when unlabelled
    previous: np.ndarray  # (N,) int64 causal predecessor row (itself for a first frame)
    video: np.ndarray  # (N,) int32 video number
    videos: list[dict]  # per video: name, category, first, count, source_id
    teachers: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (N, h, w) f16
    fixations: np.ndarray | None = None  # (N, h, w) bool fixated cells, when sources have them
    index: np.ndarray | None = None  # (N,) int32 frame number within its video
    teacher_info: dict[str, dict] = field(default_factory=dict)  # name -> kind, identity, cost
    path: Path | None = None  # the entry's folder
    resolution: int = 0

    def __len__(self) -> int:
        return len(self.frames)


def inputs_key(videos: list, resolution: int) -> str:
    """Hash of what the reduced inputs depend on (see the module docstring)."""
    payload = {
        "version": CACHE_VERSION,
        "reduction": {"function": "reduce_resolution", "intermediate_side": INTERMEDIATE_SIDE},
        "resolution": int(resolution),
        "videos": [video.source_id for video in videos],
    }
    return _hash(payload)


def teacher_key(inputs: str, teacher) -> str:
    """Hash of what one teacher's maps depend on: the inputs, its name and its identity."""
    identity = getattr(teacher, "identity", "")
    return _hash({"inputs": inputs, "name": teacher.name, "identity": str(identity)})


def _hash(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def build_cache(
    videos: list,
    resolution: int,
    teachers: list,
    cache_dir: Path,
    progress: bool = True,
    workers: int | None = None,
) -> CachedSplit:
    """Load the cache entry of (`videos`, `resolution`), building what is missing.

    Missing teachers' maps are computed (only theirs) and added. `workers` threads share the
    work frame by frame (default: the CPU count, at most 4; 1 runs everything inline).
    """
    if resolution < 1:
        raise ValueError(f"resolution={resolution}: must be positive")
    if not videos:
        raise ValueError("build_cache needs at least one video")
    teachers = _unique(teachers)
    labelled = [bool(v.labelled) for v in videos]
    if any(labelled) and not all(labelled):
        names = [v.name for v, flag in zip(videos, labelled, strict=True) if not flag]
        raise ValueError(
            f"labelled and unlabelled videos in one cache (unlabelled: {names[:5]}); "
            "cache them separately"
        )
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale(cache_dir)
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    key = inputs_key(videos, resolution)
    entry = cache_dir / f"r{resolution}-{key}"
    if not (entry / "meta.json").is_file():
        _build_inputs(videos, resolution, teachers, entry, key, progress, workers)
    else:
        log.info("cache hit: %s", entry)
    split = _load_inputs(entry, videos)
    missing = [
        t for t in teachers if not _teacher_dir(entry, key, t).joinpath("meta.json").is_file()
    ]
    if missing:
        _build_teachers(videos, split, missing, entry, key, progress, workers)
    for teacher in teachers:
        folder = _teacher_dir(entry, key, teacher)
        split.teachers[teacher.name] = np.load(folder / "maps.npy", mmap_mode="r")
        split.teacher_info[teacher.name] = json.loads((folder / "meta.json").read_text())
    return split


def _unique(teachers: list) -> list:
    seen: dict[str, object] = {}
    for teacher in teachers:
        other = seen.get(teacher.name)
        if other is not None and getattr(other, "identity", "") != getattr(teacher, "identity", ""):
            raise ValueError(f"two different teachers are both named {teacher.name!r}")
        seen.setdefault(teacher.name, teacher)
    return list(seen.values())


def _teacher_dir(entry: Path, key: str, teacher) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", teacher.name)[:48]
    return entry / "teachers" / f"{safe}-{teacher_key(key, teacher)}"


def _building_dir(parent: Path, key: str) -> Path:
    name = f"{BUILDING}{key}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return parent / name


def _remove_stale(folder: Path) -> None:
    """Delete building folders left by processes of this host that no longer run."""
    host = socket.gethostname()
    for path in list(folder.glob(f"{BUILDING}*")) + list(folder.glob(f"*/teachers/{BUILDING}*")):
        parts = path.name.removeprefix(BUILDING).split("-")
        if len(parts) < 4 or "-".join(parts[1:-2]) != host:
            continue
        try:
            os.kill(int(parts[-2]), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (PermissionError, ValueError):
            continue


def _publish(temp: Path, final: Path) -> None:
    """Rename a complete building folder into place (keeping an entry another process made)."""
    try:
        os.rename(temp, final)
    except OSError:
        if (final / "meta.json").is_file():
            shutil.rmtree(temp, ignore_errors=True)
            return
        raise


def _open(folder: Path, name: str, dtype, shape) -> np.ndarray:
    return np.lib.format.open_memmap(folder / name, mode="w+", dtype=dtype, shape=shape)


class _Pass:
    """One pass over the videos: decode, reduce, run teachers, write rows.

    With `workers` > 1, up to `workers` videos are decoded at once, each by its own thread,
    and every frame's reduction and teacher calls run as a task on a shared pool of
    `workers` threads (at most two tasks per worker in flight), so even a single long video
    (one bag topic) uses every core. With one worker everything runs inline.
    """

    def __init__(self, resolution, teachers, arrays, teacher_arrays, progress, total) -> None:
        from tqdm import tqdm

        self.resolution, self.teachers = resolution, teachers
        self.arrays, self.teacher_arrays = arrays, teacher_arrays
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.bar = tqdm(total=total, desc="cache", unit="frame", disable=not progress)
        self.seconds = {t.name: 0.0 for t in teachers}
        self.calls = dict.fromkeys(self.seconds, 0)
        self.compute: ThreadPoolExecutor | None = None
        self.slots: threading.Semaphore | None = None

    def video(self, number: int, video, first: int, expected: np.ndarray | None) -> int:
        """Write the video's rows from `first`; returns how many frames were read."""
        before = None
        row = first
        pending = []
        for sample in video.samples():
            if self.stop.is_set():
                break
            position = row - first
            if expected is not None and (
                position >= len(expected) or expected[position] != sample.index
            ):
                raise RuntimeError(
                    f"video {video.name} reads differently than when its cache entry was "
                    "built (a frame became unreadable?); delete the entry and rebuild"
                )
            check_frame_size(video, sample)
            image = sample.image
            previous = before if before is not None and before.shape == image.shape else image
            before = image
            if self.compute is None:
                self.frame(row, previous, sample, video.name)
            else:
                self.slots.acquire()
                future = self.compute.submit(self.frame, row, previous, sample, video.name)
                future.add_done_callback(lambda _: self.slots.release())
                pending.append(future)
                if pending[0].done():
                    _raise_failed(pending)
            row += 1
        for future in pending:
            future.result()
        return row - first

    def frame(self, row: int, previous: np.ndarray, sample, video_name: str) -> None:
        """Reduce one frame (and its maps) and run the teachers on it; write row `row`."""
        if self.stop.is_set():
            return
        size, image = self.resolution, sample.image
        if "frames" in self.arrays:
            small = reduce_resolution(image, size)
            self.arrays["frames"][row] = small[:, :, ::-1].transpose(2, 0, 1)
            if "targets" in self.arrays:
                target = reduce_resolution(sample.saliency.astype(np.float32), size)
                self.arrays["targets"][row] = np.clip(target, 0.0, 1.0)
            if "fixations" in self.arrays:
                self.arrays["fixations"][row] = _fixated_cells(sample, size)
            self.arrays["index"][row] = sample.index
        seconds = {}
        for teacher in self.teachers:
            set_frame = getattr(teacher, "set_frame", None)
            if set_frame is not None:
                set_frame(video_name, sample.name)
            started = time.perf_counter()
            output = teacher(previous, image)
            seconds[teacher.name] = time.perf_counter() - started
            self.teacher_arrays[teacher.name][row] = _reduce_map(output, size, teacher)
        with self.lock:
            for name, value in seconds.items():
                self.seconds[name] += value
                self.calls[name] += 1
            self.bar.update(1)

    def run(self, jobs: list[tuple], workers: int) -> list[int]:
        """Run `self.video(*job)` for every job; the first error stops the others."""
        try:
            if workers == 1:
                return [self.video(*job) for job in jobs]
            self.slots = threading.Semaphore(2 * workers)
            decoders = min(workers, len(jobs))
            with (
                ThreadPoolExecutor(workers, thread_name_prefix="cache-frame") as self.compute,
                ThreadPoolExecutor(decoders, thread_name_prefix="cache-video") as pool,
            ):
                futures = [pool.submit(self.video, *job) for job in jobs]
                try:
                    return [future.result() for future in futures]
                except BaseException:
                    self.stop.set()
                    for future in futures:
                        future.cancel()
                    raise
        finally:
            self.compute = None
            self.bar.close()

    def release(self) -> None:
        """Flush and drop the written arrays."""
        for array in [*self.arrays.values(), *self.teacher_arrays.values()]:
            array.flush()
        self.arrays, self.teacher_arrays = {}, {}

    def cost(self, name: str) -> dict:
        calls = max(1, self.calls[name])
        return {"frames": self.calls[name], "ms_per_frame": 1e3 * self.seconds[name] / calls}


def _raise_failed(pending: list) -> None:
    """Raise the error of a finished frame task and forget finished ones (keeps memory flat)."""
    while pending and pending[0].done():
        pending.pop(0).result()


def _fixated_cells(sample, size: int) -> np.ndarray:
    cells = np.zeros((size, size), bool)
    if sample.fixations is None:
        raise ValueError(f"frame {sample.name} has no fixation map although its video has them")
    height, width = sample.fixations.shape
    ys, xs = np.nonzero(sample.fixations)
    cells[ys * size // height, xs * size // width] = True
    return cells


def _reduce_map(output, size: int, teacher) -> np.ndarray:
    saliency = np.asarray(output, np.float32)
    if saliency.ndim == 3 and saliency.shape[-1] == 1:
        saliency = saliency[..., 0]
    if saliency.ndim != 2 or saliency.size == 0:
        raise ValueError(
            f"teacher {teacher.name} returned shape {saliency.shape}; expected an (H, W) map"
        )
    if not np.isfinite(saliency).all():
        raise ValueError(f"teacher {teacher.name} returned NaN or infinite values")
    return np.clip(reduce_resolution(saliency, size), 0.0, 1.0).astype(np.float16)


def _build_inputs(videos, resolution, teachers, entry: Path, key: str, progress, workers):
    labelled = all(v.labelled for v in videos)
    with_fixations = labelled and all(getattr(v, "has_fixations", False) for v in videos)
    if labelled and not with_fixations and any(getattr(v, "has_fixations", False) for v in videos):
        log.info("only some videos have fixation maps; the cache keeps none")
    capacity = [len(v) for v in videos]
    starts = np.concatenate([[0], np.cumsum(capacity)[:-1]]).astype(np.int64)
    total = int(sum(capacity))
    temp = _building_dir(entry.parent, key)
    temp.mkdir(parents=True)
    try:
        size = resolution
        arrays = {
            "frames": _open(temp, "frames.npy", np.uint8, (total, 3, size, size)),
            "index": _open(temp, "index.npy", np.int32, (total,)),
        }
        if labelled:
            arrays["targets"] = _open(temp, "targets.npy", np.float16, (total, size, size))
        if with_fixations:
            arrays["fixations"] = _open(temp, "fixations.npy", np.bool_, (total, size, size))
        teacher_dirs = {
            t.name: temp / "teachers" / _teacher_dir(entry, key, t).name for t in teachers
        }
        teacher_arrays = {}
        for teacher in teachers:
            teacher_dirs[teacher.name].mkdir(parents=True)
            teacher_arrays[teacher.name] = _open(
                teacher_dirs[teacher.name], "maps.npy", np.float16, (total, size, size)
            )
        work = _Pass(resolution, teachers, arrays, teacher_arrays, progress, total)
        jobs = [(n, v, int(starts[n]), None) for n, v in enumerate(videos)]
        counts = work.run(jobs, workers)
        if sum(counts) == 0:
            raise ValueError("no readable frame in any video; nothing to cache")
        empty = [v.name for v, c in zip(videos, counts, strict=True) if c == 0]
        if empty:
            log.warning("cache: no readable frame in videos %s; they are left out", empty)
        rows = np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts, strict=True)])
        files = [temp / f"{name}.npy" for name in arrays]
        files += [teacher_dirs[t.name] / "maps.npy" for t in teachers]
        work.release()
        del arrays, teacher_arrays
        if len(rows) < total:
            for path in files:
                _compact(path, rows)
        firsts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        video_of_row = np.repeat(np.arange(len(videos), dtype=np.int32), counts)
        previous = np.arange(len(rows), dtype=np.int64)
        previous[1:] -= 1
        starts_of_videos = firsts[np.asarray(counts) > 0]  # a video left out has no rows
        previous[starts_of_videos] = starts_of_videos
        write_atomic(temp / "video.npy", lambda path: np.save(path, video_of_row))
        write_atomic(temp / "previous.npy", lambda path: np.save(path, previous))
        for teacher in teachers:
            _write_teacher_meta(teacher_dirs[teacher.name], teacher, work.cost(teacher.name))
        meta = {
            "version": CACHE_VERSION,
            "resolution": resolution,
            "intermediate_side": INTERMEDIATE_SIDE,
            "frames": int(len(rows)),
            "labelled": labelled,
            "fixations": with_fixations,
            "videos": [
                {"name": v.name, "source_id": v.source_id, "first": int(f), "count": int(c)}
                for v, f, c in zip(videos, firsts, counts, strict=True)
            ],
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        write_json(temp / "meta.json", meta, indent=1)
        _publish(temp, entry)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _compact(path: Path, rows: np.ndarray, chunk: int = 4096) -> None:
    """Keep only `rows` of a .npy file (frames that were read), in chunks."""
    source = np.load(path, mmap_mode="r")
    temp = path.with_name(path.stem + ".compact.npy")
    target = np.lib.format.open_memmap(temp, "w+", source.dtype, (len(rows), *source.shape[1:]))
    for start in range(0, len(rows), chunk):
        target[start : start + chunk] = source[rows[start : start + chunk]]
    target.flush()
    del source, target
    os.replace(temp, path)


def _write_teacher_meta(folder: Path, teacher, cost: dict) -> None:
    meta = {
        "name": teacher.name,
        "kind": getattr(teacher, "kind", None),
        "identity": str(getattr(teacher, "identity", "")),
        **cost,
    }
    write_json(folder / "meta.json", meta, indent=1)


def _build_teachers(videos, split: CachedSplit, teachers, entry: Path, key: str, progress, workers):
    total = len(split.frames)
    parent = entry / "teachers"
    parent.mkdir(exist_ok=True)
    temps = {t.name: _building_dir(parent, teacher_key(key, t)) for t in teachers}
    try:
        arrays = {}
        for teacher in teachers:
            temps[teacher.name].mkdir()
            arrays[teacher.name] = _open(
                temps[teacher.name], "maps.npy", np.float16, (total, *split.frames.shape[2:])
            )
        work = _Pass(split.resolution, teachers, {}, arrays, progress, total)
        jobs = []
        for number, (video, info) in enumerate(zip(videos, split.videos, strict=True)):
            first, count = info["first"], info["count"]
            jobs.append((number, video, first, np.asarray(split.index[first : first + count])))
        counts = work.run(jobs, workers)
        for video, info, count in zip(videos, split.videos, counts, strict=True):
            if count != info["count"]:
                raise RuntimeError(
                    f"video {video.name} gave {count} frames, its cache entry has "
                    f"{info['count']}; delete {entry} and rebuild"
                )
        work.release()
        del arrays
        for teacher in teachers:
            _write_teacher_meta(temps[teacher.name], teacher, work.cost(teacher.name))
            _publish(temps[teacher.name], _teacher_dir(entry, key, teacher))
    except BaseException:
        for temp in temps.values():
            shutil.rmtree(temp, ignore_errors=True)
        raise


def _load_inputs(entry: Path, videos: list) -> CachedSplit:
    meta = json.loads((entry / "meta.json").read_text())
    recorded = [v["name"] for v in meta["videos"]]
    if recorded != [v.name for v in videos]:
        raise RuntimeError(f"{entry} was built for other videos; delete it and rebuild")
    infos = [
        {**info, "category": video.category}
        for info, video in zip(meta["videos"], videos, strict=True)
    ]
    return CachedSplit(
        frames=np.load(entry / "frames.npy", mmap_mode="r"),
        targets=np.load(entry / "targets.npy", mmap_mode="r") if meta["labelled"] else None,
        previous=np.load(entry / "previous.npy"),
        video=np.load(entry / "video.npy"),
        videos=infos,
        fixations=np.load(entry / "fixations.npy", mmap_mode="r") if meta["fixations"] else None,
        index=np.load(entry / "index.npy"),
        path=entry,
        resolution=int(meta["resolution"]),
    )
