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
    r<resolution>-<inputs key>.parts/   per-video parts while a build runs (or was cut short)

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
- Every video's rows are first written as parts (`skd_ros.training.labelling`), each
  renamed into place when its video is done; the entry is then joined from them (a chunk
  at a time) in a `.building-*` folder and renamed into place when complete. So an
  interrupted or failed build never leaves an entry that looks complete, and a rerun
  computes only the videos it had not finished; a leftover building folder of a dead
  process is removed by the next build. A teacher added later computes only its own maps.
  A small thread pool decodes videos and runs the reduction and the teachers frame by
  frame (decoding, OpenCV and torch release the GIL), so one long bag uses every core too;
  teachers must be thread-safe (`skd_ros.teachers.base`).
- Under torchrun every process calls `build_cache` with its `context`: the main process
  lists the missing parts and shares the videos out by frame count, each process labels
  its share (deep teachers on its own device, as loaded) with the CPU cores of its machine
  divided between its processes, the main one joins the parts, and every process loads the
  same entry, byte for byte the one a single process builds. `cache_dir` must then be one
  folder for all processes (a shared filesystem across machines): that is checked first,
  and a job whose processes do not all see it is refused before anything is labelled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skd_ros.atomic_write import write_atomic, write_json
from skd_ros.reduction import INTERMEDIATE_SIDE
from skd_ros.training import distributed
from skd_ros.training.labelling import (
    BUILDING,
    INPUTS,
    PARTS,
    Plan,
    building_dir,
    label,
    part_dir,
    part_meta,
    parts_root,
    publish,
)

log = logging.getLogger(__name__)

CACHE_VERSION = 1


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
    context: distributed.Context | None = None,
) -> CachedSplit:
    """Load the cache entry of (`videos`, `resolution`), building what is missing.

    Missing teachers' maps are computed (only theirs) and added. `workers` threads share the
    work frame by frame (default: the CPU count over the processes on this machine, at most
    4; 1 runs everything inline). Under torchrun (`context`), every process calls this: each
    labels its share of the videos (see the module docstring) and all get the same entry.
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
    context = context or distributed.Context()
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale(cache_dir)
    if context.distributed:
        distributed.check_shared(cache_dir, context, "cache_dir")
    per_process = (os.cpu_count() or 1) // max(1, context.local_world_size)
    workers = workers or max(1, min(4, per_process))
    key = inputs_key(videos, resolution)
    entry = cache_dir / f"r{resolution}-{key}"
    plan = _plan(videos, teachers, entry, key, context.world_size) if context.is_main else None
    plan = distributed.from_main(plan, context)
    if plan.groups:
        if context.distributed:
            _say_share(plan, videos, context)
        started = time.perf_counter()
        _label(videos, resolution, teachers, entry, key, plan, context.rank, progress, workers)
        distributed.barrier(context)
        if context.is_main:
            _assemble(videos, resolution, teachers, entry, key, plan)
            done = sum(len(share) for share in plan.shares)
            print(
                f"cache: {entry.name}: {done} of {len(videos)} videos labelled in "
                f"{time.perf_counter() - started:.1f} s ({context.world_size} process(es), "
                f"{workers} thread(s) each)",
                flush=True,
            )
        distributed.barrier(context)
    else:
        log.info("cache hit: %s", entry)
    return _load(entry, key, videos, teachers)


def _say_share(plan: Plan, videos: list, context: distributed.Context) -> None:
    mine = plan.shares[context.rank]
    frames = sum(len(videos[number]) for number, _ in mine)
    print(
        f"cache: process {context.rank} of {context.world_size} ({socket.gethostname()}) "
        f"labels {len(mine)} of {len(videos)} videos ({frames} frames)",
        flush=True,
    )


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


def _remove_stale(folder: Path) -> None:
    """Delete building folders left by processes of this host that no longer run."""
    host = socket.gethostname()
    patterns = (f"{BUILDING}*", f"*/teachers/{BUILDING}*", f"*{PARTS}/*/{BUILDING}*")
    for path in [path for pattern in patterns for path in folder.glob(pattern)]:
        parts = path.name.removeprefix(BUILDING).split("-")
        if len(parts) < 4 or "-".join(parts[1:-2]) != host:
            continue
        try:
            os.kill(int(parts[-2]), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (PermissionError, ValueError):
            continue


def _input_fields(videos: list) -> tuple[str, ...]:
    """The input arrays of an entry of `videos`: what the videos can fill for every frame."""
    labelled = all(v.labelled for v in videos)
    with_fixations = labelled and all(getattr(v, "has_fixations", False) for v in videos)
    if labelled and not with_fixations and any(getattr(v, "has_fixations", False) for v in videos):
        log.info("only some videos have fixation maps; the cache keeps none")
    return (
        ("frames", "index")
        + (("targets",) if labelled else ())
        + (("fixations",) if with_fixations else ())
    )


def _plan(videos: list, teachers: list, entry: Path, key: str, processes: int) -> Plan:
    """The groups missing from `entry` and the parts of them each process writes."""
    groups = [] if (entry / "meta.json").is_file() else [INPUTS]
    for teacher in teachers:
        if not _teacher_dir(entry, key, teacher).joinpath("meta.json").is_file():
            groups.append(_teacher_dir(entry, key, teacher).name)
    return Plan.make(videos, entry, groups, processes) if groups else Plan([], [])


def _label(
    videos, resolution, teachers, entry: Path, key: str, plan: Plan, rank, progress, workers
):
    """Write this process's share of the missing parts."""
    groups = {t.name: _teacher_dir(entry, key, t).name for t in teachers}
    recorded = _load_inputs(entry, videos) if INPUTS not in plan.groups else None

    def expected(number: int) -> np.ndarray:
        if recorded is not None:
            info = recorded.videos[number]
            return np.asarray(recorded.index[info["first"] : info["first"] + info["count"]])
        count = part_meta(entry, number, INPUTS)["count"]
        return np.load(part_dir(entry, number, INPUTS) / "index.npy")[:count]

    fields = _input_fields(videos)
    share = plan.shares[rank]
    label(videos, entry, share, teachers, groups, fields, expected, resolution, progress, workers)


def _assemble(videos, resolution, teachers, entry: Path, key: str, plan: Plan) -> None:
    """Join the parts of the missing groups into the entry (main process, all parts done)."""
    missing = [
        (video.name, group)
        for number, video in enumerate(videos)
        for group in plan.groups
        if part_meta(entry, number, group) is None
    ]
    if missing:
        raise RuntimeError(
            f"{len(missing)} part(s) of {entry} are missing after every process finished "
            f"(first: video {missing[0][0]}, {missing[0][1]}) in {parts_root(entry)}; rerun "
            "to compute them"
        )
    chosen = [t for t in teachers if _teacher_dir(entry, key, t).name in plan.groups]
    if INPUTS in plan.groups:
        _assemble_entry(videos, resolution, chosen, entry, key)
    else:
        for teacher in chosen:
            _assemble_teacher(videos, teacher, entry, key)
    for number in range(len(videos)):
        for group in plan.groups:
            shutil.rmtree(part_dir(entry, number, group), ignore_errors=True)
        with contextlib.suppress(OSError):  # only when empty: another build may be writing
            part_dir(entry, number, INPUTS).parent.rmdir()
    with contextlib.suppress(OSError):
        parts_root(entry).rmdir()


def _concatenate(path: Path, sources: list[Path], counts: list[int], chunk: int = 4096) -> None:
    """Write the first `counts[i]` rows of each .npy file in `sources`, in order, to `path`,
    a chunk at a time (memory stays flat however large the entry)."""
    first = np.load(sources[0], mmap_mode="r")
    shape, dtype = (int(sum(counts)), *first.shape[1:]), first.dtype
    del first
    target = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    row = 0
    for source, count in zip(sources, counts, strict=True):
        if count == 0:
            continue
        rows = np.load(source, mmap_mode="r")
        for start in range(0, count, chunk):
            stop = min(count, start + chunk)
            target[row + start : row + stop] = rows[start:stop]
        row += count
        del rows
    target.flush()
    del target


def _teacher_cost(entry: Path, group: str, count: int) -> dict:
    parts = [part_meta(entry, number, group) for number in range(count)]
    frames = sum(part["count"] for part in parts)
    seconds = sum(part["seconds"] for part in parts)
    return {"frames": frames, "ms_per_frame": 1e3 * seconds / max(1, frames)}


def _assemble_entry(videos, resolution, teachers, entry: Path, key: str) -> None:
    counts = [part_meta(entry, number, INPUTS)["count"] for number in range(len(videos))]
    if sum(counts) == 0:
        raise ValueError("no readable frame in any video; nothing to cache")
    empty = [v.name for v, c in zip(videos, counts, strict=True) if c == 0]
    if empty:
        log.warning("cache: no readable frame in videos %s; they are left out", empty)
    fields = _input_fields(videos)
    temp = building_dir(entry.parent, key)
    temp.mkdir(parents=True)
    try:
        numbers = range(len(videos))
        for name in fields:
            sources = [part_dir(entry, n, INPUTS) / f"{name}.npy" for n in numbers]
            _concatenate(temp / f"{name}.npy", sources, counts)
        for teacher in teachers:
            group = _teacher_dir(entry, key, teacher).name
            folder = temp / "teachers" / group
            folder.mkdir(parents=True)
            _concatenate(
                folder / "maps.npy",
                [part_dir(entry, n, group) / "maps.npy" for n in numbers],
                counts,
            )
            _write_teacher_meta(folder, teacher, _teacher_cost(entry, group, len(videos)))
        firsts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        video_of_row = np.repeat(np.arange(len(videos), dtype=np.int32), counts)
        previous = np.arange(int(sum(counts)), dtype=np.int64)
        previous[1:] -= 1
        starts_of_videos = firsts[np.asarray(counts) > 0]  # a video left out has no rows
        previous[starts_of_videos] = starts_of_videos
        write_atomic(temp / "video.npy", lambda path: np.save(path, video_of_row))
        write_atomic(temp / "previous.npy", lambda path: np.save(path, previous))
        meta = {
            "version": CACHE_VERSION,
            "resolution": resolution,
            "intermediate_side": INTERMEDIATE_SIDE,
            "frames": int(sum(counts)),
            "labelled": "targets" in fields,
            "fixations": "fixations" in fields,
            "videos": [
                {"name": v.name, "source_id": v.source_id, "first": int(f), "count": int(c)}
                for v, f, c in zip(videos, firsts, counts, strict=True)
            ],
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        write_json(temp / "meta.json", meta, indent=1)
        publish(temp, entry)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _assemble_teacher(videos, teacher, entry: Path, key: str) -> None:
    final = _teacher_dir(entry, key, teacher)
    group = final.name
    counts = [part_meta(entry, number, group)["count"] for number in range(len(videos))]
    final.parent.mkdir(exist_ok=True)
    temp = building_dir(final.parent, teacher_key(key, teacher))
    temp.mkdir()
    try:
        sources = [part_dir(entry, n, group) / "maps.npy" for n in range(len(videos))]
        _concatenate(temp / "maps.npy", sources, counts)
        _write_teacher_meta(temp, teacher, _teacher_cost(entry, group, len(videos)))
        publish(temp, final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _write_teacher_meta(folder: Path, teacher, cost: dict) -> None:
    meta = {
        "name": teacher.name,
        "kind": getattr(teacher, "kind", None),
        "identity": str(getattr(teacher, "identity", "")),
        **cost,
    }
    write_json(folder / "meta.json", meta, indent=1)


def _load(entry: Path, key: str, videos: list, teachers: list) -> CachedSplit:
    split = _load_inputs(entry, videos)
    for teacher in teachers:
        folder = _teacher_dir(entry, key, teacher)
        split.teachers[teacher.name] = np.load(folder / "maps.npy", mmap_mode="r")
        split.teacher_info[teacher.name] = json.loads((folder / "meta.json").read_text())
    return split


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
