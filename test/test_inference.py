"""The node's core without ROS: model files, engine (ONNX Runtime / torch), pairing, peaks,
overlay."""

import json
import shutil
import subprocess
import sys
import time

import hostile_models as hostile
import numpy as np
import pytest

from skd_ros.data.synthetic import ClipSpec, generate_clip
from skd_ros.inference import pairing
from skd_ros.inference.draw import overlay_with_regions
from skd_ros.inference.engine import BackendError, SaliencyEngine, SaliencyStream
from skd_ros.inference.model_files import ModelFileError, read_description
from skd_ros.inference.peaks import REGION_DTYPE, REGION_FIELDS, find_regions
from skd_ros.package_files import sha256_of
from skd_ros.preprocess import prepare_frame
from skd_ros.visualize import drawing_scale


@pytest.fixture(scope="module")
def engine(model_path):
    return SaliencyEngine(model_path)


def _copy_model(model_path, directory):
    """A copy of the model's three files (same names) in `directory`; returns its .json."""
    for suffix in (".json", ".onnx", ".safetensors"):
        shutil.copy(model_path.with_suffix(suffix), directory)
    return directory / model_path.name


# ------------------------------------------------------------------ model files


def test_default_model_is_the_packaged_one_when_model_is_empty():
    description = read_description("")
    assert description.path.name == "sst_demo_int8.json"
    assert description.input_names == ("previous", "current")
    assert description.resolution == 64


def test_missing_model_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(ModelFileError) as error:
        SaliencyEngine(tmp_path / "nowhere.json")
    message = str(error.value)
    assert str(tmp_path / "nowhere.json") in message
    assert "train" in message and "packaged default" in message


def test_corrupt_onnx_is_caught_by_its_checksum(model_path, tmp_path):
    json_path = _copy_model(model_path, tmp_path)
    onnx = json_path.with_suffix(".onnx")
    onnx.write_bytes(onnx.read_bytes()[:1000])
    with pytest.raises(ModelFileError, match="sha256") as error:
        SaliencyEngine(json_path)
    assert str(onnx) in str(error.value)


def test_unloadable_onnx_with_a_matching_checksum_names_the_file(model_path, tmp_path):
    json_path = _copy_model(model_path, tmp_path)
    onnx = json_path.with_suffix(".onnx")
    onnx.write_bytes(b"not an onnx model")
    metadata = json.loads(json_path.read_text())
    metadata["files"]["sha256"][onnx.name] = sha256_of(onnx)  # replaced along with its record
    json_path.write_text(json.dumps(metadata))
    with pytest.raises(ModelFileError, match="not an ONNX model") as error:
        SaliencyEngine(json_path)
    assert str(json_path.with_suffix(".onnx")) in str(error.value)


def test_a_directory_as_model_is_named_as_such(tmp_path):
    with pytest.raises(ModelFileError, match="is a directory") as error:
        SaliencyEngine(tmp_path)
    assert str(tmp_path / "sst.json") in str(error.value)  # what to pass instead


def test_a_description_that_does_not_match_its_onnx_names_the_file(model_path, tmp_path):
    json_path = _copy_model(model_path, tmp_path)
    metadata = json.loads(json_path.read_text())
    metadata["model"]["resolution"] = 32  # edited by hand: the ONNX model expects 64
    json_path.write_text(json.dumps(metadata))
    with pytest.raises(ModelFileError, match=r"needs float32 \[batch, 3, 32, 32\]") as error:
        SaliencyEngine(json_path)
    assert str(json_path.with_suffix(".onnx")) in str(error.value)
    assert "train export" in str(error.value)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda files: files.pop("sha256"), "records no sha256"),  # no silent opt-out
        (lambda files: files["sha256"].pop(files["onnx"]), "records no sha256"),
        (lambda files: files.update(onnx="/etc/other.onnx"), "must name a file in the same"),
        (lambda files: files.update(sha256="abc"), "records no sha256"),
        (lambda files: files.update(weights=3), "must name a file in the same"),
    ],
)
def test_a_description_must_name_and_checksum_its_files_beside_it(
    model_path, tmp_path, edit, match
):
    json_path = _copy_model(model_path, tmp_path)
    metadata = json.loads(json_path.read_text())
    edit(metadata["files"])
    json_path.write_text(json.dumps(metadata))
    with pytest.raises(ModelFileError, match=match) as error:
        read_description(json_path)
    assert str(json_path) in str(error.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [("{not json", "not a readable JSON"), ('{"format": "other"}', "not an skd_ros model")],
)
def test_broken_description_is_refused_with_the_reason(tmp_path, text, match):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ModelFileError, match=match):
        read_description(path)


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (hostile.big_constant, "operator 'ConstantOfShape'"),
        (hostile.custom_operator, "operator 'com.example.Evil'"),
        (hostile.huge_layer, "values per frame, more than"),
        (hostile.free_input_size, r"needs float32 \[batch, 3, 64, 64\]"),
        (lambda: hostile.external_weights("../outside.bin"), "in another file"),
    ],
)
def test_a_graph_no_sst_export_can_be_is_refused_naming_the_file(tmp_path, build, says):
    json_path = hostile.hostile_folder(tmp_path, build())
    with pytest.raises(ModelFileError, match=says) as error:
        SaliencyEngine(json_path)
    assert str(json_path.with_suffix(".onnx")) in str(error.value)


@pytest.mark.integration  # loads in a child process
def test_a_model_that_would_hang_the_loader_is_refused_at_once(tmp_path, repo_root):
    loop = hostile.hostile_folder(tmp_path / "loop", hostile.endless_loop())
    pagemap = hostile.write_model_folder(tmp_path / "pagemap", None)  # a link to an endless file
    pagemap.with_suffix(".onnx").symlink_to("/proc/self/pagemap")
    (tmp_path / "proc.json").symlink_to("/proc/self/pagemap")
    code = f"""
from skd_ros.inference.engine import SaliencyEngine
from skd_ros.inference.model_files import ModelFileError
for model in {[str(loop), str(pagemap), str(tmp_path / "proc.json")]!r}:
    try:
        SaliencyEngine(model)
    except ModelFileError as error:
        print("REFUSED", error)
"""
    result = subprocess.run(  # without the checks: a 10**12-step Loop, an endless read
        [sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=120
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("REFUSED") for line in lines), result
    assert str(loop.with_suffix(".onnx")) in lines[0] and "operator 'Loop'" in lines[0]
    assert str(pagemap.with_suffix(".onnx")) in lines[1] and "link out of" in lines[1]
    assert "proc.json is /proc/" in lines[2] and "not a model file" in lines[2]


def test_links_within_the_model_folder_are_followed(model_path, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    json_path = _copy_model(model_path, real)
    onnx = json_path.with_suffix(".onnx")
    onnx.rename(real / "renamed.onnx")
    onnx.symlink_to("renamed.onnx")  # a link to a file in the same folder
    linked = tmp_path / "share"  # like a colcon --symlink-install share/ folder
    linked.mkdir()
    (linked / json_path.name).symlink_to(json_path)
    assert SaliencyEngine(linked / json_path.name).description.file("onnx") == onnx


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda m: m["model"].update(resolution=6000), r"resolution must be .* \[16, 512\]"),
        (lambda m: m["model"].update(resolution=64.9), "got 64.9"),
        (lambda m: m["model"].update(resolution=True), "got True"),
        (lambda m: m["model"].update(stream_widths=[2000] * 6), r"integers in \[1, 512\]"),
        (lambda m: m["model"].update(head_widths=[512] * 4, stream_widths=[512] * 6), "parameters"),
        (lambda m: m["input"].update(names=["previous"] * 10**4), "two names"),
    ],
)
def test_a_description_outside_what_an_sst_can_be_is_refused(model_path, tmp_path, edit, says):
    json_path = _copy_model(model_path, tmp_path)
    metadata = json.loads(json_path.read_text())
    edit(metadata)
    json_path.write_text(json.dumps(metadata))
    for backend in ("onnxruntime", "torch"):  # torch: before a network is built
        with pytest.raises(ModelFileError, match=says) as error:
            SaliencyEngine(json_path, backend=backend)
        assert str(json_path) in str(error.value) and len(str(error.value)) < 600


def test_a_description_nested_deep_or_too_large_is_refused_naming_it(tmp_path):
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelFileError, match="not a readable JSON") as error:
        read_description(nested)
    assert str(nested) in str(error.value)
    large = tmp_path / "large.json"
    large.write_text(json.dumps({"format": "skd_ros.sst", "pad": "x" * (2 << 20)}))
    with pytest.raises(ModelFileError, match="larger than 1 MiB") as error:
        read_description(large)
    assert str(large) in str(error.value)


def test_a_model_that_runs_too_long_at_load_is_stopped_and_refused(tmp_path):
    json_path = hostile.hostile_folder(tmp_path, hostile.slow_chain())  # within every limit
    with pytest.raises(ModelFileError, match="took longer than 0.01 s") as error:
        SaliencyEngine(json_path, warm_up_limit_s=0.01)
    assert str(json_path) in str(error.value)


# ------------------------------------------------------------------ engine


def test_onnx_runtime_map_has_the_model_resolution_and_range(engine):
    side = engine.resolution
    rng = np.random.default_rng(0)
    previous, current = (rng.random((3, side, side), dtype=np.float32) for _ in range(2))
    saliency = engine.predict(previous, current)
    assert saliency.shape == (side, side) and saliency.dtype == np.float32
    assert saliency.min() >= 0.0 and saliency.max() <= 1.0


def test_torch_backend_matches_onnx_runtime(engine, model_path):
    torch_engine = SaliencyEngine(model_path, backend="torch", threads=1)
    side = engine.resolution
    rng = np.random.default_rng(1)
    previous, current = (rng.random((3, side, side), dtype=np.float32) for _ in range(2))
    difference = np.abs(torch_engine.predict(previous, current) - engine.predict(previous, current))
    assert difference.max() < 1e-4


def test_wrong_input_shape_says_how_to_make_one(engine):
    with pytest.raises(ValueError, match="prepare_frame"):
        engine.predict(np.zeros((3, 8, 8), np.float32), np.zeros((3, 8, 8), np.float32))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backend": "tensorflow"}, "backend='tensorflow'"),
        ({"device": "tpu"}, "device='tpu'"),
        ({"threads": 0}, "threads=0"),
    ],
)
def test_bad_engine_options_are_refused(model_path, kwargs, match):
    with pytest.raises(BackendError, match=match):
        SaliencyEngine(model_path, **kwargs)


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_cuda_without_a_gpu_gives_a_clear_error(model_path, backend):
    import onnxruntime
    import torch

    providers = onnxruntime.get_available_providers()
    if torch.cuda.is_available() or "CUDAExecutionProvider" in providers:
        pytest.skip("a CUDA device is available here")
    with pytest.raises(BackendError, match="device='cuda'") as error:
        SaliencyEngine(model_path, backend=backend, device="cuda")
    assert "device: cpu" in str(error.value)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda(), reason="needs a CUDA device")
def test_cuda_engine_replays_a_graph_that_matches_eager_and_the_cpu(model_path):
    cpu = SaliencyEngine(model_path, backend="torch")
    gpu = SaliencyEngine(model_path, backend="torch", device="cuda")
    side = cpu.resolution
    rng = np.random.default_rng(0)
    pairs = [rng.random((2, 3, side, side), dtype=np.float32) for _ in range(3)]
    maps = [gpu.predict(*pair) for pair in pairs]  # each a copy: later frames leave it alone
    eager = gpu.predict_batch(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))
    for pair, saliency, batched in zip(pairs, maps, eager, strict=True):
        np.testing.assert_allclose(saliency, batched, atol=1e-4)  # graph (batch 1) vs eager
        # cuDNN convolutions use TF32 on Ampere and later: about 1e-3 relative to fp32
        np.testing.assert_allclose(saliency, cpu.predict(*pair), atol=2e-3)
    assert not np.allclose(maps[0], maps[1])


@pytest.mark.integration  # imports in a child process
def test_runtime_path_never_imports_torch(model_path, repo_root):
    code = f"""
import sys
import numpy as np
from skd_ros.inference.engine import SaliencyEngine, SaliencyStream
from skd_ros.inference.peaks import find_regions
from skd_ros.images.messages import camera_frame
import skd_ros.ros.node, skd_ros.tools.replay
engine = SaliencyEngine({str(model_path)!r})
stream = SaliencyStream(engine)
frame = np.full((3, engine.resolution, engine.resolution), 0.5, np.float32)
result = stream.step(frame, 0, "fmt")
find_regions(result.saliency, (640, 360))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "safetensors"))
print("HEAVY", heavy)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout, result.stdout


# ------------------------------------------------------------------ pairing


def test_pairing_resets_on_first_frame_backwards_gap_and_format_change():
    pairer = pairing.FramePairer(max_gap_s=0.5)
    frames = [np.full((3, 4, 4), i, np.float32) for i in range(7)]
    first = pairer.pair(frames[0], 1_000_000_000, (640, 480, "bgr8"))
    assert first.reset == pairing.FIRST_FRAME and first.previous is frames[0]
    second = pairer.pair(frames[1], 1_100_000_000, (640, 480, "bgr8"))
    assert second.reset is None and second.previous is frames[0]
    back = pairer.pair(frames[2], 900_000_000, (640, 480, "bgr8"))
    assert back.reset == pairing.TIME_BACKWARDS and back.previous is frames[2]
    gap = pairer.pair(frames[3], 1_500_000_000, (640, 480, "bgr8"))
    assert gap.reset == pairing.GAP and gap.previous is frames[3]
    same_stamp = pairer.pair(frames[4], 1_500_000_000, (640, 480, "bgr8"))
    assert same_stamp.reset is None and same_stamp.previous is frames[3]
    resized = pairer.pair(frames[5], 1_550_000_000, (320, 240, "bgr8"))
    assert resized.reset == pairing.FORMAT_CHANGED and "320" in resized.detail
    pairer.reset()
    assert pairer.pair(frames[6], 1_600_000_000, (320, 240, "bgr8")).reset == pairing.FIRST_FRAME


def test_max_gap_must_be_positive():
    with pytest.raises(ValueError, match="max_gap_s"):
        pairing.FramePairer(max_gap_s=0.0)


def test_stream_pairs_the_first_frame_with_itself_then_with_its_predecessor(engine):
    side = engine.resolution
    rng = np.random.default_rng(2)
    a, b = (rng.random((3, side, side), dtype=np.float32) for _ in range(2))
    stream = SaliencyStream(engine, max_gap_s=1.0)
    first = stream.step(a, 0, "f")
    assert first.reset == pairing.FIRST_FRAME
    np.testing.assert_allclose(first.saliency, engine.predict(a, a), atol=1e-6)
    second = stream.step(b, 33_000_000, "f")
    assert second.reset is None
    np.testing.assert_allclose(second.saliency, engine.predict(a, b), atol=1e-6)


# ------------------------------------------------------------------ peaks


def _blob(shape, centre, sigma, peak):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return peak * np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma**2))


def test_regions_are_sorted_scaled_to_the_input_and_measured():
    saliency = (_blob((64, 64), (16, 20), 2.0, 0.7) + _blob((64, 64), (48, 40), 3.0, 0.95)).astype(
        np.float32
    )
    regions = find_regions(saliency, (1280, 720), threshold=0.2, relative=0.0)
    assert regions.dtype == REGION_DTYPE and regions.dtype.names == REGION_FIELDS
    assert len(regions) == 2
    best, second = regions
    assert best["score"] == pytest.approx(0.95, abs=1e-3)
    assert second["score"] == pytest.approx(0.7, abs=1e-3)
    # centroids at the blob centres, in 1280x720 pixels (pixel centres at +0.5)
    assert best["u"] == pytest.approx((48 + 0.5) * 20, abs=1.0)
    assert best["v"] == pytest.approx((40 + 0.5) * 11.25, abs=1.0)
    assert best["x_min"] < best["u"] < best["x_max"] and best["y_min"] < best["v"] < best["y_max"]
    # mass shares: each region's sum over the whole map's sum
    mask = saliency >= 0.2
    _, labels = __import__("cv2").connectedComponents(mask.astype(np.uint8))
    share = saliency[labels == labels[40, 48]].sum() / saliency.sum()
    assert best["mass"] == pytest.approx(share, rel=1e-4)
    assert 0 < regions["mass"].sum() <= 1.0


def test_a_full_map_region_spans_the_whole_input_image():
    regions = find_regions(np.ones((8, 8), np.float32), (640, 480))
    assert len(regions) == 1
    assert tuple(regions[0][["x_min", "y_min", "x_max", "y_max"]]) == (0, 0, 640, 480)
    assert regions[0]["u"] == pytest.approx(320) and regions[0]["v"] == pytest.approx(240)
    assert regions[0]["mass"] == pytest.approx(1.0)


def test_an_empty_or_quiet_map_has_no_regions():
    assert len(find_regions(np.zeros((64, 64), np.float32), (64, 64))) == 0
    quiet = np.full((64, 64), 0.1, np.float32)
    assert len(find_regions(quiet, (64, 64), threshold=0.2)) == 0


def test_at_most_max_regions_best_first():
    saliency = np.zeros((64, 64), np.float32)
    for index, score in enumerate((0.3, 0.9, 0.5, 0.7, 0.6)):
        saliency[5 + 11 * index : 8 + 11 * index, 30:33] = score
    regions = find_regions(saliency, (64, 64), threshold=0.2, max_regions=3, relative=0.0)
    np.testing.assert_allclose(regions["score"], [0.9, 0.7, 0.6], atol=1e-6)


def test_non_maximum_suppression_drops_a_box_overlapping_a_better_one():
    saliency = np.zeros((64, 64), np.float32)
    saliency[10:50, 10:50] = 0.4  # a ring ...
    saliency[14:46, 14:46] = 0.0
    saliency[20:40, 20:40] = 0.9  # ... around a brighter square: boxes overlap, IoU 0.25
    loose = find_regions(saliency, (64, 64), threshold=0.3, relative=0.0, nms_iou=0.5)
    assert len(loose) == 2
    strict = find_regions(saliency, (64, 64), threshold=0.3, relative=0.0, nms_iou=0.2)
    assert len(strict) == 1 and strict[0]["score"] == pytest.approx(0.9)


def test_relative_threshold_finds_weak_peaks_and_separates_close_ones():
    weak = (_blob((64, 64), (20, 32), 3.0, 0.3) + _blob((64, 64), (30, 32), 3.0, 0.28)).astype(
        np.float32
    )
    assert len(find_regions(weak, (64, 64), threshold=0.5, relative=0.0)) == 0
    merged = find_regions(weak, (64, 64), threshold=0.05, relative=0.0)
    split = find_regions(weak, (64, 64), threshold=0.05, relative=0.8)
    assert len(merged) == 1 and len(split) == 2


@pytest.mark.parametrize(
    "kwargs",
    [{"threshold": 1.5}, {"max_regions": 0}, {"nms_iou": -0.1}, {"relative": 2.0}],
)
def test_bad_peak_options_are_refused(kwargs):
    with pytest.raises(ValueError):
        find_regions(np.zeros((8, 8), np.float32), (8, 8), **kwargs)


def test_peaks_of_the_real_model_fall_on_the_synthetic_targets(engine, on_target, target_clip):
    spec = ClipSpec(*target_clip, 12, 640, 360)
    stream = SaliencyStream(engine)
    hits = 0
    for frame in generate_clip(spec):
        model_input = prepare_frame(frame.image, engine.resolution)
        result = stream.step(model_input, frame.index * 33_333_333, (640, 360, "bgr8"))
        regions = find_regions(result.saliency, (640, 360))
        if len(regions):
            hits += on_target(regions[0], frame.saliency)
    assert hits >= 0.7 * spec.n_frames, f"top peak on a target in {hits}/{spec.n_frames} frames"


# ------------------------------------------------------------------ overlay


def test_overlay_of_an_extreme_frame_is_drawn_at_a_bounded_size():
    # text and lines sized by the frame's long side: a 2,000,000x1 frame got lines 3125 px
    # thick and a font scale of 1562, and its overlay took 17 s (or more) to draw
    saliency = np.zeros((64, 64), np.float32)
    saliency[30:34, 20:24] = 1.0
    frame = np.zeros((1, 2_000_000, 3), np.uint8)
    regions = find_regions(saliency, (frame.shape[1], frame.shape[0]))
    assert len(regions) == 1
    start = time.perf_counter()
    picture = overlay_with_regions(frame, saliency, regions)
    took = time.perf_counter() - start
    assert picture.shape == frame.shape
    assert took < 5.0, f"the overlay took {took:.1f} s"
    assert drawing_scale((720, 1280)) == 1.0  # the familiar sizes are kept
    assert drawing_scale((30000, 30000)) == drawing_scale((4320, 7680))
