"""Labelling: a cache build's per-video work, written as parts that outlive a killed build.

`skd_ros.training.cache` assembles an entry from parts, one per (video, group): the group
`inputs` (the video's reduced frames and ground truth, its fixated cells, frame numbers)
and one group per teacher (its reduced maps). Parts live in the entry's `.parts` folder:

    r<resolution>-<inputs key>.parts/<video number>/<group>/
        <array>.npy      the video's rows, frames that could not be read at the end
        meta.json        count (rows read); teachers also seconds (time spent in the teacher)

Each part is written in a building folder and renamed into place when its video is done,
so an interrupted build keeps every video it finished and a rerun computes only the rest.
`Plan.make` (in the main process) lists the missing parts and shares the videos between the
processes: longest first, each to the least loaded process, so every process gets about
the same number of frames whatever the video lengths.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from skd_ros.atomic_write import write_json
from skd_ros.data.video import check_frame_size
from skd_ros.reduction import reduce_resolution

BUILDING = ".building-"
PARTS = ".parts"
INPUTS = "inputs"
INPUT_DTYPES = {"frames": np.uint8, "index": np.int32, "targets": np.float16, "fixations": bool}


def parts_root(entry: Path) -> Path:
    """The folder of `entry`'s finished parts."""
    return entry.with_name(entry.name + PARTS)


def part_dir(entry: Path, number: int, group: str) -> Path:
    """The part of video `number` in `group` (INPUTS or a teacher's folder name)."""
    return parts_root(entry) / f"{number:05d}" / group


def part_meta(entry: Path, number: int, group: str) -> dict | None:
    """A finished part's meta.json, or None while the part is missing."""
    try:
        return json.loads((part_dir(entry, number, group) / "meta.json").read_text())
    except FileNotFoundError:
        return None


def building_dir(parent: Path, key: str) -> Path:
    """A fresh building folder in `parent`, named so `remove_stale` knows its process."""
    name = f"{BUILDING}{key}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return parent / name


def publish(temp: Path, final: Path) -> None:
    """Rename a complete building folder into place (keeping one another process made)."""
    try:
        os.rename(temp, final)
    except OSError:
        if (final / "meta.json").is_file():
            shutil.rmtree(temp, ignore_errors=True)
            return
        raise


@dataclass
class Plan:
    """What a build computes: the groups the entry lacks, and each process's videos."""

    groups: list[str]  # INPUTS and/or teacher folder names missing from the entry
    shares: list[list[tuple[int, list[str]]]]  # per process: (video number, missing parts)

    @classmethod
    def make(cls, videos: list, entry: Path, groups: list[str], processes: int) -> Plan:
        """The parts of `groups` not yet written, shared out between `processes`."""
        work = []
        for number, video in enumerate(videos):
            missing = [g for g in groups if part_meta(entry, number, g) is None]
            if missing:
                work.append((len(video) * len(missing), number, missing))
        shares: list[list[tuple[int, list[str]]]] = [[] for _ in range(processes)]
        loads = [0] * processes
        for weight, number, missing in sorted(work, key=lambda job: (-job[0], job[1])):
            rank = loads.index(min(loads))
            shares[rank].append((number, missing))
            loads[rank] += weight
        return cls(groups, [sorted(share) for share in shares])


@dataclass
class _Job:
    """One video's missing parts; its rows go to arrays of its own, from row 0."""

    number: int
    video: object
    folder: Path  # the video's folder of parts
    fields: tuple[str, ...]  # input arrays to write; empty when the inputs part exists
    teachers: list  # teachers whose part is missing
    groups: dict[str, str]  # teacher name -> its group (folder name)
    expected: np.ndarray | None  # frame numbers the inputs recorded (teachers-only job)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    temps: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def capacity(self) -> int:
        return len(self.video) if self.expected is None else len(self.expected)

    def open(self, size: int) -> None:
        """Create the building folders and their memory-mapped arrays."""
        self.folder.mkdir(parents=True, exist_ok=True)
        rows = self.capacity
        if self.fields:
            temp = self.temps[INPUTS] = building_dir(self.folder, INPUTS)
            temp.mkdir()
            shapes = {"frames": (rows, 3, size, size), "index": (rows,)}
            for name in self.fields:
                shape = shapes.get(name, (rows, size, size))
                self.arrays[name] = _open(temp / f"{name}.npy", INPUT_DTYPES[name], shape)
        for teacher in self.teachers:
            group = self.groups[teacher.name]
            temp = self.temps[group] = building_dir(self.folder, group)
            temp.mkdir()
            self.maps[teacher.name] = _open(temp / "maps.npy", np.float16, (rows, size, size))
            self.seconds[teacher.name] = 0.0

    def publish(self, count: int) -> None:
        """Flush the arrays and rename every part of the video into place."""
        for array in [*self.arrays.values(), *self.maps.values()]:
            array.flush()
        self.arrays, self.maps = {}, {}
        if self.fields:
            write_json(self.temps[INPUTS] / "meta.json", {"count": count})
            publish(self.temps.pop(INPUTS), self.folder / INPUTS)
        for teacher in self.teachers:
            group = self.groups[teacher.name]
            meta = {"count": count, "seconds": self.seconds[teacher.name]}
            write_json(self.temps[group] / "meta.json", meta)
            publish(self.temps.pop(group), self.folder / group)

    def discard(self) -> None:
        """Delete what an unfinished video wrote."""
        self.arrays, self.maps = {}, {}
        for temp in self.temps.values():
            shutil.rmtree(temp, ignore_errors=True)
        self.temps = {}


def _open(path: Path, dtype, shape) -> np.ndarray:
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)


def label(
    videos: list,
    entry: Path,
    share: list[tuple[int, list[str]]],
    teachers: list,
    groups: dict[str, str],
    fields: tuple[str, ...],
    expected: Callable[[int], np.ndarray],
    resolution: int,
    progress: bool,
    workers: int,
) -> None:
    """Write this process's `share` of the parts (video number, missing groups).

    `groups` names each teacher's group, `fields` the input arrays an inputs part holds and
    `expected(number)` the frame numbers a video's inputs recorded (for teachers-only parts).
    """
    jobs = []
    for number, missing in share:
        needs_inputs = INPUTS in missing
        jobs.append(
            _Job(
                number,
                videos[number],
                part_dir(entry, number, INPUTS).parent,
                fields if needs_inputs else (),
                [t for t in teachers if groups[t.name] in missing],
                groups,
                None if needs_inputs else expected(number),
            )
        )
    if jobs:
        _Pass(resolution, progress, sum(job.capacity for job in jobs)).run(jobs, workers)


class _Pass:
    """One pass over some videos: decode, reduce, run teachers, write each video's parts.

    With `workers` > 1, up to `workers` videos are decoded at once, each by its own thread,
    and every frame's reduction and teacher calls run as a task on a shared pool of
    `workers` threads (at most two tasks per worker in flight), so even a single long video
    (one bag topic) uses every core. With one worker everything runs inline.
    """

    def __init__(self, resolution: int, progress: bool, total: int) -> None:
        from tqdm import tqdm

        self.resolution = resolution
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.bar = tqdm(total=total, desc="cache", unit="frame", disable=not progress)
        self.compute: ThreadPoolExecutor | None = None
        self.slots: threading.Semaphore | None = None

    def job(self, job: _Job) -> None:
        """Label one video and publish its parts; an unfinished video leaves nothing."""
        job.open(self.resolution)
        try:
            count = self.video(job)
            if self.stop.is_set():
                return
            if job.expected is not None and count != len(job.expected):
                raise RuntimeError(
                    f"video {job.video.name} gave {count} frames, its cache entry has "
                    f"{len(job.expected)}; delete the entry and rebuild"
                )
            job.publish(count)
        finally:
            job.discard()

    def video(self, job: _Job) -> int:
        """Write the video's rows; returns how many frames were read."""
        before, row, pending = None, 0, []
        expected = job.expected
        for sample in job.video.samples():
            if self.stop.is_set():
                break
            if expected is not None and (row >= len(expected) or expected[row] != sample.index):
                raise RuntimeError(
                    f"video {job.video.name} reads differently than when its cache entry was "
                    "built (a frame became unreadable?); delete the entry and rebuild"
                )
            check_frame_size(job.video, sample)
            image = sample.image
            previous = before if before is not None and before.shape == image.shape else image
            before = image
            if self.compute is None:
                self.frame(job, row, previous, sample)
            else:
                self.slots.acquire()
                future = self.compute.submit(self.frame, job, row, previous, sample)
                future.add_done_callback(lambda _: self.slots.release())
                pending.append(future)
                if pending[0].done():
                    _raise_failed(pending)
            row += 1
        for future in pending:
            future.result()
        return row

    def frame(self, job: _Job, row: int, previous: np.ndarray, sample) -> None:
        """Reduce one frame (and its maps) and run the teachers on it; write row `row`."""
        if self.stop.is_set():
            return
        size, image, arrays = self.resolution, sample.image, job.arrays
        if "frames" in arrays:
            small = reduce_resolution(image, size)
            arrays["frames"][row] = small[:, :, ::-1].transpose(2, 0, 1)
            if "targets" in arrays:
                target = reduce_resolution(sample.saliency.astype(np.float32), size)
                arrays["targets"][row] = np.clip(target, 0.0, 1.0)
            if "fixations" in arrays:
                arrays["fixations"][row] = _fixated_cells(sample, size)
            arrays["index"][row] = sample.index
        seconds = {}
        for teacher in job.teachers:
            set_frame = getattr(teacher, "set_frame", None)
            if set_frame is not None:
                set_frame(job.video.name, sample.name)
            started = time.perf_counter()
            output = teacher(previous, image)
            seconds[teacher.name] = time.perf_counter() - started
            job.maps[teacher.name][row] = _reduce_map(output, size, teacher)
        with self.lock:
            for name, value in seconds.items():
                job.seconds[name] += value
            self.bar.update(1)

    def run(self, jobs: list[_Job], workers: int) -> None:
        """Label every job's video; the first error stops the others.

        OpenCV runs single-threaded meanwhile: the `workers` threads are the parallelism,
        so `workers` is the number of cores one process labels on (1: one core).
        """
        opencv_threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            if workers == 1:
                for job in jobs:
                    self.job(job)
                return
            self.slots = threading.Semaphore(2 * workers)
            decoders = min(workers, len(jobs))
            with (
                ThreadPoolExecutor(workers, thread_name_prefix="cache-frame") as self.compute,
                ThreadPoolExecutor(decoders, thread_name_prefix="cache-video") as pool,
            ):
                futures = [pool.submit(self.job, job) for job in jobs]
                try:
                    for future in futures:
                        future.result()
                except BaseException:
                    self.stop.set()
                    for future in futures:
                        future.cancel()
                    raise
        finally:
            cv2.setNumThreads(opencv_threads)
            self.compute = None
            self.bar.close()


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
