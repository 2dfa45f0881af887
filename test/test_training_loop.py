"""The training machinery: config, epoch batches, checkpoints and resume, on real networks."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from skd_ros.models import ModelConfig, Sst
from skd_ros.teachers.deep_nets import DEFAULT_INPUT_SIZE
from skd_ros.training import distributed
from skd_ros.training.batches import EpochBatches, PairBatches
from skd_ros.training.checkpoint import load_checkpoint, save_checkpoint
from skd_ros.training.config import TrainConfig, load_config
from skd_ros.training.loop import CHECKPOINT, LOG, LoopSettings
from skd_ros.training.stages import fused_target, train_sst, train_student

ROOT = Path(__file__).resolve().parents[1]
CPU = distributed.Context()


def blob_data(count=48, side=32, seed=0):
    """Frames with a bright moving square and its map: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    frames = (rng.random((count, 3, side, side)) * 60).astype(np.uint8)
    targets = np.zeros((count, side, side), np.float16)
    for i in range(count):
        y, x = rng.integers(4, side - 12, size=2)
        frames[i, :, y : y + 8, x : x + 8] = 250
        targets[i, y : y + 8, x : x + 8] = 1.0
    previous = np.maximum(np.arange(count) - 1, 0)
    return frames, previous, targets


def settings(epochs=2, **kwargs):
    return LoopSettings(epochs=epochs, batch_size=16, lr=1e-3, seed=0, progress=False, **kwargs)


def test_shipped_yaml_loads_and_overrides_apply():
    config = load_config(ROOT / "config" / "train.yaml", ["optim.mu=0.3", "model.resolution=32"])
    assert config.optim.mu == 0.3 and config.model.resolution == 32
    assert config.optim.batch_size == 128 and config.optim.lr == 1e-3  # the paper's settings
    assert load_config(None).to_dict() == TrainConfig().to_dict()
    # the config's default deep-teacher size is the teachers' own default
    assert tuple(config.teachers.stage0_input_size) == DEFAULT_INPUT_SIZE


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.mu=1.5", "optim.mu=1.5 is invalid"),
        ("optim.mu=high", "should be float"),
        ("optim.batchsize=4", "unknown key 'optim.batchsize'"),
        ("data.source=s3", "one of"),
        ("nonsense", "section.key=value"),
        ("teachers.stage0_input_size=[770, 448]", "multiples of 32"),
        ("teachers.stage0_input_size=[768]", "stage0_input_size"),
        ("optim.lr=.inf", "optim.lr=inf is invalid"),
        ("stage1.epochs=true", "stage1.epochs=True should be int"),
        ("teachers.stage0_batch_size=0", "teachers.stage0_batch_size=0 is invalid"),
        ("model.resolution=30", "multiple of 4"),  # refused before any data or stage 0
        ("model.variant=wide", "unknown variant"),
        ("optim={lrr: 5}", "unknown key 'optim.lrr'"),  # nested: the section is named
        ("optim.mu=[0", "not valid YAML"),
        ("data.source=folders", "needs data.eval_root"),  # before training, not after it
        ("teachers.target=both", "teachers.target='both' is invalid"),
        ("model.init=/no/such.json", "model.init='/no/such.json'"),
        ("optim.lr.foo=1", "optim.lr is a value, not a section"),
        ("data.synthetic_size=[160]", "data.synthetic_size=\\[160\\] is invalid"),
        ("data.synthetic_size=[100000, 100000]", "integers in \\[64, 7680\\]"),
        ("optim.seed=-1", "optim.seed=-1 is invalid"),
        ("report.spatial_teachers=[]", "report.spatial_teachers=\\[\\] is invalid"),
        ("report.ground_root=/data/dhf1k", "report.ground_eval_root='' is invalid"),
        ("report.ground_videos=[4, 0]", "report.ground_videos"),
    ],
)
def test_bad_settings_are_refused_with_the_key(override, message):
    with pytest.raises(ValueError, match=message):
        load_config(None, [override])


def test_yaml_1_1_quirks_are_read_as_meant(tmp_path):
    config = load_config(None, ["optim.lr=1e-3", "output=0755", "cache_dir=2024-01-01"])
    assert config.optim.lr == 0.001  # PyYAML reads 1e-3 (no dot) as a string
    assert (config.output, config.cache_dir) == ("0755", "2024-01-01")  # as typed, not 493
    path = tmp_path / "run.yaml"
    path.write_text("output: 2024\noptim:\n  lr: 5e-4\n")
    assert (load_config(path).output, load_config(path).optim.lr) == ("2024", 0.0005)


def test_a_yaml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("optim:\n  lr: [0.1\n")
    with pytest.raises(ValueError, match=f"{path} is not valid YAML"):
        load_config(path)
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ValueError, match=f"{path} is not a text file"):
        load_config(path)


def _alias_bomb(levels: int) -> str:
    """A config whose value nests `levels` anchors, ten references each (a billion laughs)."""
    value = '&l0 "laugh"'
    for level in range(1, levels + 1):
        value = f"&l{level} [{value}, {', '.join([f'*l{level - 1}'] * 9)}]"
    return f"data:\n  synthetic_videos: {value}\n"  # refused by validate, which quotes it


def test_yaml_aliases_are_refused_before_anything_expands_them(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb(6))  # 10**6 leaves: its repr alone would be 9 MB
    with pytest.raises(ValueError, match="alias") as error:
        load_config(path)
    assert str(path) in str(error.value) and len(str(error.value)) < 500
    with pytest.raises(ValueError, match="alias") as error:
        load_config(None, ["data.synthetic_size=[&side 640, *side]"])


def test_a_huge_config_or_value_gives_a_short_message(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("# padding\n" * 200_000)
    with pytest.raises(ValueError, match="larger than 1 MiB"):
        load_config(path)
    for override in ("data.source=" + "x" * 100_000, "data.synthetic_videos=" + "[" * 50_000):
        with pytest.raises(ValueError) as error:
            load_config(None, [override])
        assert len(str(error.value)) < 500, str(error.value)[:1000]


def test_frames_too_small_to_train_on_are_refused_naming_the_bag(tmp_path):
    from skd_ros.data.bags import bag_videos, write_image_bag
    from skd_ros.data.video import LayoutError
    from skd_ros.teachers import build_teacher
    from skd_ros.training.cache import build_cache

    frames = [np.full((1, 1, 3), value, np.uint8) for value in (10, 200, 90)]
    bag = write_image_bag(tmp_path / "tiny", frames)
    with pytest.raises(LayoutError, match="is 1x1 pixels; frames must be at least 32x32") as error:
        build_cache(bag_videos(bag), 32, [build_teacher("flow")], tmp_path / "cache", False)
    assert str(bag) in str(error.value) and "/camera/image_raw" in str(error.value)


def test_epoch_batches_are_a_seeded_permutation_split_across_processes():
    single = list(EpochBatches(50, 10, seed=3))
    assert sorted(i for b in single for i in b) == list(range(50))
    shards = [list(EpochBatches(50, 10, seed=3, rank=r, world_size=2)) for r in range(2)]
    for step, batch in enumerate(single):
        assert shards[0][step] + shards[1][step] == batch
    again = EpochBatches(50, 10, seed=3)
    again.set_epoch(1)
    assert list(again) != single
    with pytest.raises(ValueError, match="multiple of the process count"):
        EpochBatches(50, 9, seed=0, world_size=2)


def test_more_processes_than_gpus_is_refused_with_the_fix():
    from skd_ros.training.distributed import check_gpu_for_process

    check_gpu_for_process(0, 1)
    with pytest.raises(ValueError, match="--nproc_per_node 1") as error:
        check_gpu_for_process(1, 1)
    assert "CUDA_VISIBLE_DEVICES=" in str(error.value)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_stage_two_builds_and_calibrates_sst_on_the_students_gpu():
    from skd_ros.models import ModelConfig, SpatialStudent, Sst, TemporalStudent
    from skd_ros.models.layers import calibrate, head_convolutions

    config = ModelConfig(resolution=32)
    sst = Sst.from_students(SpatialStudent(config).cuda(), TemporalStudent(config).cuda())
    assert {p.device.type for p in sst.parameters()} == {"cuda"}
    frames = torch.rand(4, 3, 32, 32)  # calibration batches come from the cache, on the CPU
    calibrate(sst, head_convolutions(sst.head), frames, frames)
    assert torch.isfinite(sst(frames.cuda(), frames.cuda())).all()


def test_students_and_sst_learn_a_visible_target(tmp_path):
    frames, previous, targets = blob_data()
    config = ModelConfig(resolution=32)
    data = PairBatches(frames, previous, targets, teacher=targets)
    ss = train_student("spatial", config, data, 0.5, settings(8), tmp_path / "ss", CPU)
    st = train_student("temporal", config, data, 0.5, settings(1), tmp_path / "st", CPU)
    sst = train_sst(Sst.from_students(ss, st), data, settings(1), tmp_path / "sst", CPU)
    history = load_checkpoint(tmp_path / "ss" / CHECKPOINT).history
    assert history[-1]["loss"] < history[0]["loss"]
    assert len((tmp_path / "ss" / LOG).read_text().splitlines()) == 8
    assert isinstance(sst, Sst)


def test_resume_continues_to_the_same_weights(tmp_path, capsys):
    frames, previous, targets = blob_data()
    config = ModelConfig(resolution=32)
    data = PairBatches(frames, previous, targets, teacher=targets)
    straight = train_student("spatial", config, data, 0.5, settings(3), tmp_path / "a", CPU)
    train_student("spatial", config, data, 0.5, settings(1), tmp_path / "b", CPU)
    assert load_checkpoint(tmp_path / "b" / CHECKPOINT).epoch == 1
    with pytest.raises(FileExistsError, match="--resume"):
        train_student("spatial", config, data, 0.5, settings(3), tmp_path / "b", CPU)
    capsys.readouterr()
    resumed = train_student(
        "spatial", config, data, 0.5, settings(3, resume=True), tmp_path / "b", CPU
    )
    said = capsys.readouterr().out
    assert f"resuming from {tmp_path / 'b' / CHECKPOINT}: 1 of 3 epoch(s) already done" in said
    for key, value in straight.state_dict().items():
        assert torch.allclose(resumed.state_dict()[key], value, atol=1e-6), key
    assert len((tmp_path / "b" / LOG).read_text().splitlines()) == 3


KILLED_TRAINING = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {test_dir!r})
from test_training_loop import CPU, blob_data, settings
from skd_ros.models import ModelConfig
from skd_ros.training.batches import PairBatches
from skd_ros.training.stages import train_student

stage, when, epoch = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
real_replace, saves = os.replace, []

def replace(source, target):  # SIGKILL around the rename of epoch `epoch`'s checkpoint
    killing = Path(target).name == "checkpoint.pt" and len(saves) + 1 == epoch
    saves.extend([target] if Path(target).name == "checkpoint.pt" else [])
    if killing and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(source, target)
    if killing and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)

os.replace = replace
frames, previous, targets = blob_data()
data = PairBatches(frames, previous, targets, teacher=targets)
train_student("spatial", ModelConfig(resolution=32), data, 0.5, settings(3), stage, CPU)
"""


@pytest.mark.integration  # trains in a child process
@pytest.mark.parametrize(("when", "saved"), [("after", 2), ("before", 1)])
def test_a_kill_around_the_checkpoint_rename_leaves_log_and_checkpoint_agreeing(
    tmp_path, when, saved
):
    """SIGKILL right after epoch 2's checkpoint rename (before its log line) or right before
    it (a temporary file left): resume gives log.jsonl epochs 1, 2, 3 and no stale file."""
    import subprocess
    import sys

    script = KILLED_TRAINING.format(test_dir=str(ROOT / "test"))
    stage = tmp_path / "stage"
    child = [sys.executable, "-c", script, str(stage), when, "2"]
    killed = subprocess.run(child, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    assert load_checkpoint(stage / CHECKPOINT).epoch == saved
    frames, previous, targets = blob_data()
    data = PairBatches(frames, previous, targets, teacher=targets)
    config = ModelConfig(resolution=32)
    train_student("spatial", config, data, 0.5, settings(3, resume=True), stage, CPU)
    logged = [json.loads(line) for line in (stage / LOG).read_text().splitlines()]
    assert [record["epoch"] for record in logged] == [1, 2, 3]
    assert logged == load_checkpoint(stage / CHECKPOINT).history
    assert sorted(p.name for p in stage.iterdir()) == [CHECKPOINT, LOG]


def test_a_checkpoint_claiming_more_epochs_than_configured_is_refused(tmp_path):
    frames, previous, targets = blob_data()
    data = PairBatches(frames, previous, targets, teacher=targets)
    config = ModelConfig(resolution=32)
    train_student("spatial", config, data, 0.5, settings(1), tmp_path, CPU)
    state = load_checkpoint(tmp_path / CHECKPOINT)
    state.epoch = 1_000_000  # the history says 1: not a checkpoint this code wrote
    save_checkpoint(tmp_path / CHECKPOINT, state)
    with pytest.raises(ValueError, match=f"checkpoint {tmp_path / CHECKPOINT} has a malformed"):
        train_student("spatial", config, data, 0.5, settings(3, resume=True), tmp_path, CPU)
    state.epoch = 5
    state.history = [dict(state.history[0], epoch=n) for n in range(1, 6)]
    save_checkpoint(tmp_path / CHECKPOINT, state)
    with pytest.raises(ValueError, match="claims 5 finished epoch.s., more than the 3") as error:
        train_student("spatial", config, data, 0.5, settings(3, resume=True), tmp_path, CPU)
    assert str(tmp_path / CHECKPOINT) in str(error.value)


def test_a_diverging_loss_stops_training_before_saving_garbage(tmp_path):
    from skd_ros.training.loop import TrainingDiverged

    frames, previous, targets = blob_data()
    data = PairBatches(frames, previous, targets, teacher=targets)
    diverging = LoopSettings(epochs=2, batch_size=16, lr=1e30, seed=0, progress=False)
    with pytest.raises(TrainingDiverged, match=r"loss became (nan|inf).*Lower the learning rate"):
        train_student("spatial", ModelConfig(resolution=32), data, 0.5, diverging, tmp_path, CPU)
    assert not (tmp_path / CHECKPOINT).exists()  # nothing of the diverged epoch is kept


def test_export_refuses_non_finite_weights_and_names_with_folders(tmp_path):
    from skd_ros.export import export_sst

    model = Sst(ModelConfig(resolution=32))
    with pytest.raises(ValueError, match="plain file name"):
        export_sst(model, tmp_path / "export", "../sst")
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(ValueError, match="NaN or infinity"):
        export_sst(model, tmp_path / "export", "sst")
    assert not (tmp_path / "export").exists()


def test_corrupt_checkpoint_names_the_file(tmp_path):
    path = tmp_path / CHECKPOINT
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=str(path)):
        load_checkpoint(path)
    for payload in (3, [1, 2], {"model": {}, "optimizer": {}, "epoch": "three"}):
        torch.save(payload, path)  # loadable, but not what save_checkpoint writes
        with pytest.raises(ValueError, match=str(path)):
            load_checkpoint(path)


def test_a_checkpoint_of_another_model_names_the_file_on_resume(tmp_path):
    frames, previous, targets = blob_data()
    data = PairBatches(frames, previous, targets, teacher=targets)
    train_student("spatial", ModelConfig(resolution=32), data, 0.5, settings(1), tmp_path, CPU)
    other = ModelConfig(resolution=32, first_kernels=(5, 5))  # another shape of first layers
    with pytest.raises(ValueError, match=f"{tmp_path / CHECKPOINT} does not fit"):
        train_student("spatial", other, data, 0.5, settings(2, resume=True), tmp_path, CPU)


def test_fused_target_normalises_each_teacher_then_averages():
    a = np.array([[[0, 2], [4, 4]]], np.float32)
    b = np.array([[[1, 1], [1, 1]]], np.float32)  # flat: contributes nothing
    fused = fused_target([a, b]).astype(np.float32)
    assert np.allclose(fused, [[[0.0, 0.25], [0.5, 0.5]]])


def test_a_fused_target_on_disk_is_the_one_in_memory(tmp_path):
    rng = np.random.default_rng(3)
    maps = [rng.random((5, 8, 8)).astype(np.float16) for _ in range(2)]
    on_disk = fused_target(maps, tmp_path, chunk=2)  # frames 0-1, 2-3, 4
    assert isinstance(on_disk, np.memmap) and not list(tmp_path.iterdir())  # a nameless file
    assert np.array_equal(on_disk, fused_target(maps))


def test_the_synthetic_set_replaces_only_its_own_videos(tmp_path, capsys):
    from skd_ros.training.sources import write_synthetic

    dataset = write_synthetic(tmp_path, [2, 0, 1], frames=2, size=[96, 64], seed=5)
    frames = dataset / "trainSet" / "Frame"
    mine = frames / "Other_0777"  # not the generator's: must survive every rewrite
    mine.mkdir()
    first = sorted(p.name for p in frames.iterdir())
    old_test = [p.name for p in (dataset / "testSet" / "Frame").iterdir()]
    stamp = (tmp_path / "synthetic.json").stat().st_mtime_ns
    write_synthetic(tmp_path, [2, 0, 1], frames=2, size=[96, 64], seed=5)  # same: kept
    assert (tmp_path / "synthetic.json").stat().st_mtime_ns == stamp
    write_synthetic(tmp_path, [1, 0, 1], frames=3, size=[96, 64], seed=50)
    videos = sorted(p.name for p in frames.iterdir())
    assert len(first) == 3 and len(videos) == 2 and "Other_0777" in videos, (first, videos)
    generated = next(frames / name for name in videos if name != "Other_0777")
    assert len(list(generated.iterdir())) == 3  # the new settings' frames, nothing stale
    assert old_test and not (dataset / "testSet" / "Frame" / old_test[0]).exists()
    assert not (dataset / "testSet" / "Ground" / old_test[0]).exists()
    record = json.loads((tmp_path / "synthetic.json").read_text())
    older = {key: value for key, value in record.items() if key != "generator"}  # before v2
    (tmp_path / "synthetic.json").write_text(json.dumps(older))
    before = (generated / sorted(p.name for p in generated.iterdir())[0]).stat().st_mtime_ns
    write_synthetic(tmp_path, [1, 0, 1], frames=3, size=[96, 64], seed=50)  # older generator
    assert json.loads((tmp_path / "synthetic.json").read_text()) == record  # rewritten
    assert (generated / sorted(p.name for p in generated.iterdir())[0]).stat().st_mtime_ns > before
    (tmp_path / "synthetic.json").unlink()  # no record: a real dataset for all we know
    with pytest.raises(ValueError, match="data.source=avs1k"):
        write_synthetic(tmp_path, [1, 0, 1], frames=3, size=[96, 64], seed=50)


def test_report_runs_share_deep_teachers_trained_on_the_same_data(tmp_path):
    from skd_ros.teachers.deep import save_deep_teacher
    from skd_ros.teachers.deep_nets import DeepNetConfig, DeepSaliencyNet
    from skd_ros.training.reports import _share_stage0

    first = load_config(None, [f"output={tmp_path / 'sst-64'}"])
    (tmp_path / "sst-64").mkdir()
    (tmp_path / "sst-64" / "config.json").write_text(json.dumps(first.to_dict()))
    torch.manual_seed(0)
    trained = tmp_path / "sst-64" / "teachers" / "deep-spatial"
    save_deep_teacher(DeepSaliencyNet(DeepNetConfig(3, input_size=(64, 64))), trained, "spatial")
    other_side = load_config(None, ["model.resolution=32", f"output={tmp_path / 'sst-32'}"])
    assert _share_stage0(other_side, tmp_path / "sst-32")  # the resolution is not stage 0's
    for suffix in (".json", ".safetensors"):
        copied = tmp_path / "sst-32" / "teachers" / f"deep-spatial{suffix}"
        assert copied.read_bytes() == trained.with_suffix(suffix).read_bytes()
    other_data = load_config(None, ["data.synthetic_seed=7", f"output={tmp_path / 'seed-7'}"])
    assert not _share_stage0(other_data, tmp_path / "seed-7")  # other data: trained anew
    assert not (tmp_path / "seed-7" / "teachers").exists()


def test_a_model_to_fine_tune_is_checked_whole_before_any_work(tmp_path, repo_root):
    """model.init: another variant is refused naming what differs, and so is a description
    whose weights are missing (found now, not after hours of labelling)."""
    import shutil

    with pytest.raises(ValueError, match="another shape of model: first_kernels"):
        load_config(None, ["model.init=packaged", "model.variant=modify-b"])
    models = repo_root / "resource" / "models"
    lone = tmp_path / "sst_demo.json"
    for suffix in (".json", ".onnx"):
        shutil.copy(models / f"sst_demo{suffix}", tmp_path / f"sst_demo{suffix}")
    with pytest.raises(ValueError, match="next to its .safetensors"):
        load_config(None, [f"model.init={lone}"])
    assert load_config(None, ["model.init=packaged"]).init_model().name == "sst_demo.json"


def test_stop_after_stage1_with_a_model_to_fine_tune_is_refused():
    from skd_ros.training.pipeline import run

    config = load_config(None, ["model.init=packaged"])
    with pytest.raises(ValueError, match="fine-tuning skips stage 1"):
        run(config, stop_after="stage1", progress=False)
