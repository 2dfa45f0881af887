"""The on-disk cache of reduced frames, ground truth and teacher maps."""

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from skd_ros.data.avs1k import scan_avs1k
from skd_ros.data.bags import bag_videos, write_image_bag
from skd_ros.data.folders import scan_frame_folders
from skd_ros.data.synthetic import ClipSpec, default_splits, generate_clip, write_frame_folders
from skd_ros.data.synthetic import write_avs1k as write_synthetic
from skd_ros.preprocess import prepare_frame, prepare_map
from skd_ros.reduction import reduce_resolution
from skd_ros.teachers import build_teacher
from skd_ros.training.cache import BUILDING, build_cache
from skd_ros.training.labelling import INPUTS, Plan, part_dir

FRAMES = 5
SIZE = {"width": 320, "height": 180}
SIDE = 32


class Counting:
    """A real teacher wrapped to count its calls (thread-safe), optionally failing."""

    def __init__(self, teacher, fail_after: int | None = None) -> None:
        self.teacher, self.fail_after = teacher, fail_after
        self.name, self.kind = teacher.name, teacher.kind
        self.identity = getattr(teacher, "identity", "")
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, previous, current):
        with self._lock:
            self.calls += 1
            if self.fail_after is not None and self.calls > self.fail_after:
                raise RuntimeError("teacher crashed")
        return self.teacher(previous, current)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cache-data")
    write_synthetic(root, default_splits(3, 0, 0, n_frames=FRAMES, **SIZE, base_seed=80))
    return root


@pytest.fixture
def videos(dataset):
    return scan_avs1k(dataset, "trainSet")


def complete_entries(cache_dir: Path) -> list[Path]:
    return [p.parent for p in cache_dir.glob("r*/meta.json")]


def test_shapes_dtypes_and_causal_pairs(videos, tmp_path):
    teacher = build_teacher("spectral-residual")
    cache = build_cache(videos, SIDE, [teacher], tmp_path, progress=False)
    n = 3 * FRAMES
    assert cache.frames.shape == (n, 3, SIDE, SIDE) and cache.frames.dtype == np.uint8
    assert isinstance(cache.frames, np.memmap)
    assert cache.targets.shape == (n, SIDE, SIDE) and cache.targets.dtype == np.float16
    assert cache.teachers["spectral-residual"].shape == (n, SIDE, SIDE)
    assert cache.teachers["spectral-residual"].dtype == np.float16
    assert cache.previous.dtype == np.int64 and cache.video.dtype == np.int32
    assert cache.fixations is None
    assert [v["count"] for v in cache.videos] == [FRAMES] * 3
    assert [v["category"] for v in cache.videos] == [v.category for v in videos]
    for number, info in enumerate(cache.videos):
        rows = np.arange(info["first"], info["first"] + info["count"])
        assert (cache.video[rows] == number).all()
        assert cache.previous[rows[0]] == rows[0]  # a first frame pairs with itself
        assert (cache.previous[rows[1:]] == rows[:-1]).all()  # then with its predecessor
    sample = list(videos[1].samples())[2]
    row = cache.videos[1]["first"] + 2
    expected = np.round(prepare_frame(sample.image, SIDE) * 255).astype(np.uint8)
    assert np.array_equal(cache.frames[row], expected)  # the node's input, bit for bit
    target = prepare_map(sample.saliency, SIDE)[0]
    assert np.abs(cache.targets[row] - target).max() < 1e-3
    reduced = reduce_resolution(teacher(sample.image, sample.image), SIDE)
    assert np.abs(cache.teachers["spectral-residual"][row] - reduced).max() < 1e-3
    assert cache.teacher_info["spectral-residual"]["frames"] == n


def test_temporal_teacher_sees_the_full_resolution_pair(videos, tmp_path):
    flow = build_teacher("flow")
    cache = build_cache(videos[:1], SIDE, [flow], tmp_path, progress=False)
    frames = [s.image for s in videos[0].samples()]
    assert not cache.teachers["flow"][0].any()  # the first frame has no motion
    expected = reduce_resolution(flow(frames[2], frames[3]), SIDE)
    assert np.abs(cache.teachers["flow"][3] - expected).max() < 1e-3


def test_second_build_is_a_hit_and_a_new_teacher_computes_only_itself(videos, tmp_path):
    first = Counting(build_teacher("spectral-residual"))
    build_cache(videos, SIDE, [first], tmp_path, progress=False)
    assert first.calls == 3 * FRAMES
    again = Counting(build_teacher("spectral-residual"))
    started = time.perf_counter()
    cache = build_cache(videos, SIDE, [again], tmp_path, progress=False)
    assert time.perf_counter() - started < 0.5
    assert again.calls == 0 and cache.teachers["spectral-residual"].shape[0] == 3 * FRAMES
    old, new = Counting(build_teacher("spectral-residual")), Counting(build_teacher("fine-grained"))
    cache = build_cache(videos, SIDE, [old, new], tmp_path, progress=False)
    assert old.calls == 0 and new.calls == 3 * FRAMES
    assert set(cache.teachers) == {"spectral-residual", "fine-grained"}
    assert len(complete_entries(tmp_path)) == 1
    other = build_cache(videos, 16, [], tmp_path, progress=False)  # another resolution
    assert other.frames.shape[-1] == 16 and len(complete_entries(tmp_path)) == 2


def test_changed_teacher_identity_is_recomputed(videos, tmp_path):
    coarse = Counting(build_teacher("flow?width=160"))
    fine = Counting(build_teacher("flow?width=320"))
    a = build_cache(videos[:1], SIDE, [coarse], tmp_path, progress=False)
    b = build_cache(videos[:1], SIDE, [fine], tmp_path, progress=False)
    assert coarse.calls == fine.calls == FRAMES
    assert not np.array_equal(a.teachers["flow"], b.teachers["flow"])


def test_interrupted_build_leaves_no_complete_cache(videos, tmp_path):
    crashing = Counting(build_teacher("spectral-residual"), fail_after=7)
    with pytest.raises(RuntimeError, match="teacher crashed"):
        build_cache(videos, SIDE, [crashing], tmp_path, progress=False, workers=2)
    assert complete_entries(tmp_path) == []
    assert not list(tmp_path.glob(f"{BUILDING}*"))
    working = Counting(build_teacher("spectral-residual"))
    cache = build_cache(videos, SIDE, [working], tmp_path, progress=False)
    # videos the crashed build finished (its second worker may have) are not labelled again
    assert 0 < working.calls <= 3 * FRAMES and len(cache) == 3 * FRAMES
    crashing = Counting(build_teacher("fine-grained"), fail_after=4)
    with pytest.raises(RuntimeError, match="teacher crashed"):
        build_cache(videos, SIDE, [working, crashing], tmp_path, progress=False)
    entry = complete_entries(tmp_path)[0]
    assert [p.name.split("-")[0] for p in (entry / "teachers").iterdir()] == ["spectral"]
    fine = Counting(build_teacher("fine-grained"))
    cache = build_cache(videos, SIDE, [working, fine], tmp_path, progress=False)
    assert fine.calls == 3 * FRAMES and "fine-grained" in cache.teachers


def test_an_interrupted_build_resumes_the_videos_it_finished(videos, tmp_path):
    crashing = Counting(build_teacher("flow"), fail_after=FRAMES + 2)  # in the second video
    with pytest.raises(RuntimeError, match="teacher crashed"):
        build_cache(videos, SIDE, [crashing], tmp_path / "cut", progress=False, workers=1)
    assert complete_entries(tmp_path / "cut") == []
    again = Counting(build_teacher("flow"))
    resumed = build_cache(videos, SIDE, [again], tmp_path / "cut", progress=False, workers=2)
    assert again.calls == 2 * FRAMES  # the first video's parts were kept
    straight = build_cache(videos, SIDE, [build_teacher("flow")], tmp_path / "one", False)
    for name in ("frames", "targets", "previous", "video", "index"):
        assert np.array_equal(getattr(resumed, name), getattr(straight, name)), name
    assert np.array_equal(resumed.teachers["flow"], straight.teachers["flow"])
    assert not list((tmp_path / "cut").glob("*.parts"))  # joined, then removed


class Sized:
    """A stand-in video: only its length matters to the plan."""

    def __init__(self, frames: int) -> None:
        self.frames = frames

    def __len__(self) -> int:
        return self.frames


def test_processes_get_disjoint_shares_of_about_equal_frames(tmp_path):
    lengths = [300, 20, 180, 150, 40, 90, 10, 60]
    entry = tmp_path / "r32-0123456789abcdef"
    done = part_dir(entry, 2, INPUTS)  # video 2's inputs were written by an earlier build
    done.mkdir(parents=True)
    (done / "meta.json").write_text('{"count": 180}')
    plan = Plan.make([Sized(n) for n in lengths], entry, [INPUTS, "flow-1"], 3)
    jobs = dict(job for share in plan.shares for job in share)
    assert sorted(jobs) == list(range(len(lengths)))  # every video once, in one share
    assert jobs[2] == ["flow-1"] and all(jobs[n] == [INPUTS, "flow-1"] for n in jobs if n != 2)
    weights = [[lengths[n] * len(jobs[n]) for n, _ in share] for share in plan.shares]
    loads = [sum(share) for share in weights]
    heaviest = weights[loads.index(max(loads))]
    # without its lightest video, the most loaded process would have the least frames
    assert max(loads) - min(heaviest) <= min(loads), weights


def test_one_video_is_spread_over_the_workers(tmp_path):
    class Slow(Counting):
        """Sleeps in each call and notes which thread made it."""

        threads: set

        def __call__(self, previous, current):
            self.threads.add(threading.get_ident())
            time.sleep(0.02)
            return super().__call__(previous, current)

    frames = list(generate_clip(ClipSpec(97, "Human", 8, **SIZE)))
    (video,) = bag_videos(write_image_bag(tmp_path / "bag", frames))
    slow = Slow(build_teacher("spectral-residual"))
    slow.threads = set()
    cache = build_cache([video], SIDE, [slow], tmp_path / "cache", progress=False, workers=2)
    assert len(slow.threads) == 2 and slow.calls == 8
    serial = build_cache([video], SIDE, [], tmp_path / "serial", progress=False, workers=1)
    assert np.array_equal(cache.frames, serial.frames)


@pytest.mark.parametrize("workers", [1, 2])
def test_labelling_threads_are_the_only_parallelism(videos, tmp_path, workers):
    """OpenCV runs single-threaded while the pool labels (so `workers` is the core count one
    process uses, and `threads=1` is one core), and gets its own setting back after."""
    import cv2

    class Noting(Counting):
        seen: set

        def __call__(self, previous, current):
            self.seen.add(cv2.getNumThreads())
            return super().__call__(previous, current)

    cv2.setNumThreads(2)
    noting = Noting(build_teacher("flow"))
    noting.seen = set()
    build_cache(videos, SIDE, [noting], tmp_path, progress=False, workers=workers)
    assert noting.seen == {1} and cv2.getNumThreads() == 2


def test_the_threads_setting_is_the_labelling_threads_too(videos, tmp_path, capsys):
    from skd_ros.training import distributed
    from skd_ros.training.config import TrainConfig
    from skd_ros.training.pipeline import _shared_cache

    config = TrainConfig(cache_dir=str(tmp_path), threads=1)
    teachers = [build_teacher("spectral-residual")]
    _shared_cache(videos, SIDE, teachers, config, distributed.Context(), progress=False)
    assert "(1 process(es), 1 thread(s) each)" in capsys.readouterr().out


def test_left_over_building_folder_of_a_dead_process_is_removed(videos, tmp_path):
    import socket

    stale = tmp_path / f"{BUILDING}0123456789abcdef-{socket.gethostname()}-999999999-abcd1234"
    stale.mkdir()
    (stale / "frames.npy").write_bytes(b"half")
    build_cache(videos[:1], SIDE, [], tmp_path, progress=False)
    assert not stale.exists()


def test_corrupt_frame_is_left_out_and_pairs_skip_it(dataset, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(dataset, root)
    videos = scan_avs1k(root, "trainSet")
    videos[0].frames[2].write_bytes(b"garbage")
    counting = Counting(build_teacher("spectral-residual"))
    cache = build_cache(videos, SIDE, [counting], tmp_path / "cache", progress=False)
    assert len(cache) == 3 * FRAMES - 1 and counting.calls == 3 * FRAMES - 1
    assert cache.videos[0]["count"] == FRAMES - 1 and cache.videos[1]["first"] == FRAMES - 1
    assert list(cache.index[: FRAMES - 1]) == [0, 1, 3, 4]
    assert cache.previous[2] == 1  # frame 3 pairs with frame 1, the last readable one
    assert cache.targets.shape[0] == cache.teachers["spectral-residual"].shape[0] == len(cache)
    fine = Counting(build_teacher("fine-grained"))  # added later: rows must line up
    cache = build_cache(videos, SIDE, [counting, fine], tmp_path / "cache", progress=False)
    assert fine.calls == 3 * FRAMES - 1


@pytest.mark.parametrize("unreadable", [0, 2])  # the first or the last video
def test_a_video_without_any_readable_frame_is_left_out(dataset, tmp_path, unreadable):
    root = tmp_path / "data"
    shutil.copytree(dataset, root)
    videos = scan_avs1k(root, "trainSet")
    for frame in videos[unreadable].frames:
        frame.write_bytes(b"garbage")
    cache = build_cache(videos, SIDE, [], tmp_path / "cache", progress=False)
    assert len(cache) == 2 * FRAMES
    assert cache.videos[unreadable]["count"] == 0
    kept = [v for v in cache.videos if v["count"]]
    for video in kept:  # each kept video's first frame pairs with itself, the rest causally
        first = video["first"]
        assert cache.previous[first] == first
        assert list(cache.previous[first + 1 : first + FRAMES]) == list(
            range(first, first + FRAMES - 1)
        )
    flow = Counting(build_teacher("flow"))  # added later: the empty video has no rows to label
    cache = build_cache(videos, SIDE, [flow], tmp_path / "cache", progress=False)
    assert flow.calls == 2 * FRAMES and cache.teachers["flow"].shape[0] == 2 * FRAMES


def test_precomputed_teacher_maps_line_up_with_frames(videos, tmp_path):
    folder = tmp_path / "maps"
    for video in videos:
        (folder / video.name).mkdir(parents=True)
        for sample in video.samples():
            np.save(folder / video.name / f"{sample.name}.npy", sample.saliency * 0.5)
    teacher = build_teacher(folder)
    cache = build_cache(videos, SIDE, [teacher], tmp_path / "cache", progress=False, workers=3)
    maps = cache.teachers["maps"].astype(np.float32)
    targets = cache.targets.astype(np.float32)
    assert np.abs(maps - targets).max() < 0.01  # the min-max normalised ground truth
    assert np.abs(maps[1:] - targets[:-1]).max() > 0.1  # and not a neighbour's


def test_fixations_from_frame_folders(tmp_path):
    specs = [ClipSpec(90, "Human", FRAMES, **SIZE), ClipSpec(91, "Vehicle", FRAMES, **SIZE)]
    write_frame_folders(tmp_path / "folders", specs, n_fixations=15)
    videos = scan_frame_folders(tmp_path / "folders")
    cache = build_cache(videos, SIDE, [], tmp_path / "cache", progress=False)
    assert cache.fixations.shape == (2 * FRAMES, SIDE, SIDE) and cache.fixations.dtype == bool
    sample = next(videos[0].samples())
    ys, xs = np.nonzero(sample.fixations)
    expected = np.zeros((SIDE, SIDE), bool)
    expected[ys * SIDE // 180, xs * SIDE // 320] = True
    assert np.array_equal(cache.fixations[0], expected)


def test_unlabelled_bag_cache_has_teachers_but_no_targets(tmp_path):
    frames = list(generate_clip(ClipSpec(95, "Vehicle", FRAMES, **SIZE)))
    bag = write_image_bag(tmp_path / "bag", frames, storage="mcap", compressed=True)
    videos = bag_videos(bag)
    cache = build_cache(videos, SIDE, [build_teacher("flow")], tmp_path / "cache", progress=False)
    assert cache.targets is None and cache.teachers["flow"].shape == (FRAMES, SIDE, SIDE)
    assert cache.videos[0]["category"] is None
    folders = tmp_path / "folders"
    write_frame_folders(folders, [ClipSpec(96, "Human", 2, **SIZE)])
    mixed = videos + scan_frame_folders(folders)
    with pytest.raises(ValueError, match="labelled and unlabelled videos in one cache"):
        build_cache(mixed, SIDE, [], tmp_path / "mixed", progress=False)
