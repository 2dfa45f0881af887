"""Teachers: classical, deep (stage 0), external model files, precomputed maps, fusion."""

import json

import cv2
import numpy as np
import pytest
import torch

from skd_ros.data.avs1k import scan_avs1k
from skd_ros.data.synthetic import ClipSpec, default_splits, generate_clip, write_avs1k
from skd_ros.models import SpatialStudent, TemporalStudent
from skd_ros.models.summary import count_macs, count_parameters
from skd_ros.teachers import BUILTIN_NAMES, Teacher, build_teacher, fuse, parse_spec
from skd_ros.teachers.classical import FlowTeacher, StaticSaliencyTeacher
from skd_ros.teachers.deep import (
    DeepTeacher,
    Stage0Data,
    load_deep_teacher,
    stage0_loss,
    train_deep_teacher,
)
from skd_ros.teachers.deep_nets import DeepNetConfig, DeepSaliencyNet
from skd_ros.teachers.external import OnnxTeacher, TorchScriptTeacher
from skd_ros.teachers.precomputed import PrecomputedTeacher

SIZE = {"width": 320, "height": 180}
SMALL_NET = (128, 64)  # deep teachers' input size in tests, to train in seconds


def clip(seed=7, category="Vehicle", n_frames=6):
    return list(generate_clip(ClipSpec(seed, category, n_frames, **SIZE)))


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage0")
    write_avs1k(root, default_splits(4, 0, 0, n_frames=6, **SIZE, base_seed=60))
    return scan_avs1k(root, "trainSet")


def in_and_out(saliency: np.ndarray, boxes, size=(SIZE["width"], SIZE["height"])):
    """Mean of the map inside the target boxes and elsewhere (map resized to the frame)."""
    saliency = cv2.resize(saliency, size)
    inside = np.zeros(saliency.shape, bool)
    for x0, y0, x1, y1 in boxes:
        inside[y0:y1, x0:x1] = True
    return float(saliency[inside].mean()), float(saliency[~inside].mean())


@pytest.mark.parametrize("name", ["spectral-residual", "fine-grained"])
def test_static_saliency_maps_are_bounded_maps(name):
    teacher = build_teacher(name)
    assert isinstance(teacher, StaticSaliencyTeacher) and isinstance(teacher, Teacher)
    assert teacher.kind == "spatial" and teacher.name == name
    frame = clip(n_frames=1)[0].image
    big = cv2.resize(frame, (1280, 720))
    for image, shape in ((frame, (180, 320)), (big, (180, 320))):
        saliency = teacher(image, image)
        assert saliency.shape == shape and saliency.dtype == np.float32
        assert saliency.min() >= 0.0 and saliency.max() == pytest.approx(1.0)


def test_static_saliency_without_opencv_contrib_names_the_package(monkeypatch):
    # Plain opencv-python has no cv2.saliency: the package still imports (deep and flow
    # teachers, the GPU benchmark), and only these two teachers refuse, saying what to install.
    monkeypatch.delattr(cv2, "saliency")
    with pytest.raises(RuntimeError, match="opencv-contrib-python-headless"):
        build_teacher("spectral-residual")
    assert isinstance(build_teacher("flow"), FlowTeacher)


def test_flow_teacher_finds_moving_vehicles_under_ego_motion():
    teacher = build_teacher("flow")
    assert isinstance(teacher, FlowTeacher) and teacher.kind == "temporal"
    spec = ClipSpec(11, "Vehicle", 6, **SIZE, camera="nadir", finish=False)  # cars ~30 px
    frames = list(generate_clip(spec))
    assert not np.array_equal(frames[0].image, frames[1].image)
    first = teacher(frames[0].image, frames[0].image)
    assert first.shape == (180, 320) and not first.any()
    inside, outside = [], []
    for before, now in zip(frames[:-1], frames[1:], strict=True):
        saliency = teacher(before.image, now.image)
        assert saliency.dtype == np.float32 and saliency.min() >= 0 and saliency.max() <= 1
        a, b = in_and_out(saliency, now.boxes)
        inside.append(a)
        outside.append(b)
    assert np.mean(inside) > 5 * np.mean(outside), (inside, outside)


def test_flow_teacher_removes_parallax_of_static_structure_but_keeps_a_still_cameras_motion():
    # a moving oblique camera: roofs and tree crowns move against the ground (parallax)
    with_parallax, without = FlowTeacher(), FlowTeacher(parallax=0.0)
    outside = {"new": [], "old": []}
    for seed in (3, 4, 5):
        spec = ClipSpec(seed, "Vehicle", 3, 640, 360, fps=10, camera="oblique", finish=False)
        frames = list(generate_clip(spec))
        for before, now in zip(frames[:-1], frames[1:], strict=True):
            for key, teacher in (("new", with_parallax), ("old", without)):
                saliency = teacher(before.image, now.image)
                inside, away = in_and_out(saliency, now.boxes, (640, 360))
                outside[key].append((inside, away))
    new, old = (np.mean(outside[key], axis=0) for key in ("new", "old"))
    assert new[1] < 0.7 * old[1], (new, old)  # much less fires away from the targets
    assert new[0] / new[1] > old[0] / old[1]  # and the targets stand out more
    # a still camera: nothing to remove, the map is the plain residual's
    still = list(generate_clip(ClipSpec(2, "Human", 3, 320, 180, camera="hover", finish=False)))
    assert np.array_equal(
        with_parallax(still[0].image, still[2].image), without(still[0].image, still[2].image)
    )


def test_deep_teachers_are_ten_times_the_students():
    frame = torch.zeros(1, 3, 64, 64)
    for channels, student in ((3, SpatialStudent()), (6, TemporalStudent())):
        net = DeepSaliencyNet(DeepNetConfig(channels))
        width, height = net.config.input_size
        teacher_macs = count_macs(net, torch.zeros(1, channels, height, width))
        student_macs = count_macs(student, frame.repeat(1, channels // 3, 1, 1))
        assert count_parameters(net) >= 10 * count_parameters(student)
        assert teacher_macs >= 10 * student_macs


@pytest.mark.integration  # slow: over a second here
def test_stage0_lowers_the_loss_and_saves_exactly(labelled, tmp_path):
    for kind in ("spatial", "temporal"):
        out = tmp_path / f"deep-{kind}.json"
        model = train_deep_teacher(
            kind, labelled, out, epochs=3, batch_size=8, input_size=SMALL_NET, progress=False
        )
        assert model.stage0["loss_after"] < 0.8 * model.stage0["loss_before"]
        teacher = build_teacher(out)
        assert isinstance(teacher, DeepTeacher) and teacher.kind == kind
        assert teacher.name == f"deep-{kind}" and len(teacher.identity) == 16
        loaded = teacher.model.state_dict()
        for key, value in model.state_dict().items():
            assert torch.equal(value.cpu(), loaded[key]), key
        frames = clip(n_frames=2)
        saliency = teacher(frames[0].image, frames[1].image)
        assert saliency.shape == SMALL_NET[::-1] and saliency.dtype == np.float32
        assert saliency.min() >= 0.0 and saliency.max() <= 1.0
        same = DeepTeacher(model.cpu(), kind, "x", "")  # where build_teacher loads it
        assert np.array_equal(saliency, same(*[f.image for f in frames]))
        description = json.loads(out.read_text())
        assert description["kind"] == kind and description["weights"].endswith(".safetensors")
    assert build_teacher("deep-spatial", weights=tmp_path / "deep-spatial.json").kind == "spatial"
    with pytest.raises(ValueError, match="holds a spatial teacher, not a temporal one"):
        build_teacher("deep-temporal", weights=tmp_path / "deep-spatial.json")
    weights = tmp_path / "deep-spatial.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ValueError, match="does not match the SHA-256"):
        load_deep_teacher(tmp_path / "deep-spatial.json")


def test_stage0_refuses_unlabelled_data_and_measures_loss(labelled):
    class Unlabelled:
        labelled = False

    with pytest.raises(ValueError, match="needs labelled videos"):
        train_deep_teacher("spatial", [Unlabelled()], progress=False)
    data = Stage0Data.from_videos("temporal", labelled[:1], SMALL_NET, max_frames=3)
    assert len(data) == 3 and data.targets.shape == (3, 64, 128)  # frames 0, 2, 4 of 6
    assert data.inputs(np.arange(3)).shape == (3, 6, 64, 128)
    assert len(data.frames) == 5  # 0 (paired with itself), 1, 2, 3, 4
    first = data.inputs(np.array([0]))[0]
    assert np.array_equal(first[:3], first[3:])
    full = Stage0Data.from_videos("temporal", labelled[:1], SMALL_NET, max_frames=None)
    assert len(full.frames) == len(full) == 6 and list(full.previous) == [0, 0, 1, 2, 3, 4]
    spatial = Stage0Data.from_videos("spatial", labelled[:1], SMALL_NET)
    assert spatial.inputs(np.arange(2)).shape == (2, 3, 64, 128) and spatial.previous is None
    net = DeepSaliencyNet(DeepNetConfig(6, input_size=SMALL_NET))
    assert stage0_loss(net, data) > 0


class Tiny(torch.nn.Module):
    """A small fully convolutional 'teacher' to export."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.conv(frames) * 5.0


def test_torchscript_teacher_loads_and_runs(tmp_path):
    torch.manual_seed(0)
    module = Tiny(6).eval()
    path = tmp_path / "mine.pt"
    torch.jit.script(module).save(str(path))
    teacher = build_teacher(f"{path}?kind=temporal&size=96x64")
    assert isinstance(teacher, TorchScriptTeacher)
    assert teacher.kind == "temporal" and teacher.name == "mine.pt" and teacher.size == (96, 64)
    frames = clip(n_frames=2)
    saliency = teacher(frames[0].image, frames[1].image)
    assert saliency.shape == (64, 96) and saliency.min() == 0.0 and saliency.max() == 1.0
    full = build_teacher(path, kind="temporal")(frames[0].image, frames[1].image)
    assert full.shape == (180, 320)
    (tmp_path / "mine.pt2").write_bytes(b"")
    with pytest.raises(ValueError, match="pt2 files are not accepted.*export the teacher to ONNX"):
        build_teacher(tmp_path / "mine.pt2")


def test_onnx_teacher_reads_kind_and_size_from_the_model(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "mine.onnx"
    torch.onnx.export(
        Tiny(3).eval(), (torch.zeros(1, 3, 64, 96),), str(path), dynamo=True, verbose=False
    )
    teacher = build_teacher(path)
    assert isinstance(teacher, OnnxTeacher)
    assert teacher.kind == "spatial" and teacher.size == (96, 64)
    frame = clip(n_frames=1)[0].image
    saliency = teacher(frame, frame)
    assert saliency.shape == (64, 96) and saliency.dtype == np.float32
    assert saliency.min() == 0.0 and saliency.max() == pytest.approx(1.0)
    torch.manual_seed(0)  # the same weights as the exported model
    torch.jit.script(Tiny(3).eval()).save(str(tmp_path / "same.pt"))
    same = build_teacher(tmp_path / "same.pt", size=(96, 64))(frame, frame)
    assert np.abs(same - saliency).max() < 1e-4
    with pytest.raises(ValueError, match="takes 6 channels, the model 3"):
        OnnxTeacher(path, kind="temporal")
    with pytest.raises(ValueError, match="fixed at 96x64"):
        OnnxTeacher(path, size=(128, 64))


def test_precomputed_maps_are_read_by_frame_name(tmp_path):
    folder = tmp_path / "maps"
    (folder / "Vehicle_0003").mkdir(parents=True)
    ramp = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (32, 1))
    cv2.imwrite(str(folder / "Vehicle_0003" / "Vehicle_0003_00001.png"), ramp)
    np.save(folder / "Vehicle_0003" / "Vehicle_0003_00002.npy", np.eye(8) * 3.0)
    teacher = build_teacher(f"{folder}?kind=temporal")
    assert isinstance(teacher, PrecomputedTeacher) and teacher.kind == "temporal"
    assert teacher.name == "maps" and teacher.identity
    frame = clip(n_frames=1)[0].image
    teacher.set_frame("Vehicle_0003", "Vehicle_0003_00001")
    saliency = teacher(frame, frame)
    assert saliency.shape == (32, 64) and saliency[0, 0] == 0.0 and saliency[0, -1] == 1.0
    teacher.set_frame("Vehicle_0003", "Vehicle_0003_00002")
    assert np.array_equal(teacher(frame, frame), np.eye(8, dtype=np.float32))
    missing = folder / "Vehicle_0003" / "Vehicle_0003_00003"
    teacher.set_frame("Vehicle_0003", "Vehicle_0003_00003")
    with pytest.raises(FileNotFoundError, match=f"expected {missing}.png"):
        teacher(frame, frame)
    with pytest.raises(RuntimeError, match="needs set_frame"):
        teacher(frame, frame)


def test_build_teacher_dispatch_and_errors(tmp_path):
    assert isinstance(build_teacher("flow?width=320"), FlowTeacher)
    assert build_teacher("flow?width=320").width == 320
    assert parse_spec("m.onnx?size=384x224&threads=2") == (
        "m.onnx",
        {"size": "384x224", "threads": 2},
    )
    with pytest.raises(ValueError, match="unknown teacher 'salnet'; choose one of") as error:
        build_teacher("salnet")
    for name in BUILTIN_NAMES:
        assert name in str(error.value)
    with pytest.raises(ValueError, match="deep-spatial needs trained weights"):
        build_teacher("deep-spatial")
    with pytest.raises(FileNotFoundError, match="missing.onnx does not exist"):
        build_teacher(tmp_path / "missing.onnx")
    (tmp_path / "weights.pth").write_bytes(b"pickle")
    with pytest.raises(ValueError, match=".pth is not a model format"):
        build_teacher(tmp_path / "weights.pth")
    with pytest.raises(ValueError, match="not key=value"):
        build_teacher("flow?fast")


def test_fusion_normalises_each_map_then_averages():
    a = np.array([[0.0, 2.0], [4.0, 4.0]], np.float32)
    b = np.array([[1.0, 1.0], [1.0, 3.0]], np.float32)
    expected = (np.array([[0, 0.5], [1, 1]]) + np.array([[0, 0], [0, 1]])) / 2
    assert np.allclose(fuse([a, b]), expected)
    assert np.allclose(fuse([a, np.ones((2, 2))]), expected * 0 + np.array([[0, 0.5], [1, 1]]) / 2)
    big = cv2.resize(b, (4, 4), interpolation=cv2.INTER_NEAREST)
    assert fuse([a, big]).shape == (2, 2)
    batch = fuse([np.stack([a, b]), np.stack([b, a])])
    assert batch.shape == (2, 2, 2) and np.allclose(batch[0], expected)
    with pytest.raises(ValueError, match="at least one map"):
        fuse([])
