"""`train` end to end through its real command line: both stages, bags, resume, torchrun."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from skd_ros.data.bags import write_image_bag
from skd_ros.data.synthetic import ClipSpec, generate_clip, write_avs1k, write_frame_folders
from skd_ros.export import export_sst, load_sst
from skd_ros.models import ModelConfig, Sst
from skd_ros.training.loop import CHECKPOINT

pytestmark = pytest.mark.integration  # every test runs the train command

TRAIN = Path(sys.executable).with_name("train")
SUBCOMMANDS = (
    "run",
    "evaluate",
    "export",
    "quantize",
    "report",
    "synthetic",
    "footage",
    "background-boxes",
    "bag",
)


def tiny(tmp: Path, output: str, *extra: str) -> list[str]:
    """Overrides for a small, fast synthetic run shared by the tests in this file."""
    settings = [
        f"data.root={tmp / 'data'}",
        "data.synthetic_videos=[8, 1, 4]",
        "data.synthetic_frames=12",
        "data.synthetic_size=[320, 180]",
        "model.resolution=32",
        "teachers.spatial=spectral-residual",
        "teachers.temporal=flow",
        "optim.batch_size=16",
        "optim.workers=0",
        "stage1.epochs=12",
        "stage2.epochs=12",
        f"cache_dir={tmp / 'cache'}",
        f"output={tmp / output}",
        "threads=1",
        *extra,
    ]
    return [arg for item in settings for arg in ("--set", item)]


def train(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(TRAIN), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


GLOO = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}  # gloo, on the CPU


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`train <args>` as two gloo processes under torchrun; asserts it succeeded."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(29500 + os.getpid() % 1000),
        "-m", "skd_ros.training.cli", *args,
    ]  # fmt: skip
    result = subprocess.run(command, cwd=cwd, env=GLOO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def nss_of(metrics_json: Path) -> float:
    return json.loads(metrics_json.read_text())["all"]["NSS"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("train")


@pytest.fixture(scope="module")
def synthetic_run(workdir) -> Path:
    train("run", "--no-progress", *tiny(workdir, "run"), cwd=workdir)
    return workdir / "run"


def test_the_librarys_log_lines_reach_the_user(synthetic_run, workdir):
    # the cache logs through `logging` at INFO; without the tools' logging set up, Python
    # dropped every such line (warnings alone reached the terminal)
    again = tiny(workdir, "again", "stage1.epochs=1")
    result = train("run", "--no-progress", *again, "--stop-after", "stage1", cwd=workdir)
    assert "[skd_ros.training.cache] INFO: cache hit" in result.stderr, result.stderr[-2000:]


def test_help_documents_every_subcommand():
    text = subprocess.run([str(TRAIN), "--help"], capture_output=True, text=True).stdout
    for command in SUBCOMMANDS:
        assert command in text
        sub = subprocess.run([str(TRAIN), command, "--help"], capture_output=True, text=True)
        assert sub.returncode == 0 and "usage: train " + command in sub.stdout


def test_both_stages_on_synthetic_data_beat_an_untrained_sst(synthetic_run, workdir):
    for stage in ("stage1-spatial", "stage1-temporal", "stage2-sst"):
        assert (synthetic_run / stage / "checkpoint.pt").is_file()
        assert len((synthetic_run / stage / "log.jsonl").read_text().splitlines()) == 12
    trained = nss_of(synthetic_run / "model" / "metrics.json")
    untrained_dir = workdir / "untrained"
    paths = export_sst(Sst(ModelConfig(resolution=32)), untrained_dir)
    threads = ["--set", "threads=0"]  # config/train.yaml's default: torch's thread count
    train("evaluate", "--model", str(paths.metadata), *tiny(workdir, "run"), *threads, cwd=workdir)
    untrained = nss_of(untrained_dir / "metrics.json")
    assert trained > untrained + 0.5, (trained, untrained)


def test_evaluating_the_packaged_model_leaves_the_package_as_installed(
    synthetic_run, workdir, models_dir
):
    before = sorted(p.name for p in models_dir.iterdir())
    settings = tiny(workdir, "packaged-eval", "model.resolution=64")
    result = train(
        "evaluate", "--model", str(models_dir / "sst_demo_int8.json"), *settings, cwd=workdir
    )
    assert sorted(p.name for p in models_dir.iterdir()) == before
    written = workdir / "packaged-eval" / "evaluate" / "sst_demo_int8" / "metrics.json"
    assert written.is_file() and str(written) in result.stdout


def test_quantize_writes_an_int8_model_scored_beside_the_fp32_one(synthetic_run, workdir):
    model = synthetic_run / "model" / "sst.json"
    result = train("quantize", "--model", str(model), *tiny(workdir, "run"), cwd=workdir)
    int8 = json.loads((model.parent / "sst_int8.json").read_text())
    record = int8["quantization"]
    assert int8["precision"] == "int8" and int8["files"]["onnx"] == "sst_int8.onnx"
    assert record["nss_fp32"] == pytest.approx(nss_of(model.parent / "metrics.json"), abs=1e-3)
    assert abs(record["nss_drop"]) < 0.05, record  # the 1 % bar is checked on the demo weights
    assert f"NSS fp32 {record['nss_fp32']:.3f}, int8 {record['nss_int8']:.3f}" in result.stdout


def test_an_int8_model_outside_the_bar_is_refused_unless_kept(synthetic_run, workdir, tmp_path):
    sst = load_sst(synthetic_run / "model" / "sst.json")
    with torch.no_grad():  # a feature channel of 10**4 the head ignores: fp32 maps unchanged,
        sst.spatial.layer8[0].bias[0] = 1e4  # but uint8 activations of that tensor lose the rest
        sst.head.layer9[0].weight[:, 0] = 0.0
    model = export_sst(sst, tmp_path, "outlier").metadata
    (tmp_path / "outlier_int8.json").write_text("an earlier INT8 model")
    command = ["quantize", "--model", str(model), *tiny(workdir, "run")]
    says = refused(*command, cwd=workdir)
    assert "outside the 1 % bar" in says and "--keep-below-bar" in says, says
    assert (tmp_path / "outlier_int8.json").read_text() == "an earlier INT8 model"
    assert not (tmp_path / "outlier_int8.onnx").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch left
    result = train(*command, "--keep-below-bar", cwd=workdir)
    assert "OUTSIDE (kept: --keep-below-bar)" in result.stdout
    record = json.loads((tmp_path / "outlier_int8.json").read_text())["quantization"]
    assert record["within_bar"] is False and not record["nss_drop"] <= 0.01


def test_export_publishes_the_run_with_its_provenance(synthetic_run, workdir, tmp_path):
    train(
        "export",
        "--run",
        str(synthetic_run),
        "--out",
        str(tmp_path),
        "--name",
        "mine",
        "--what",
        "test weights",
        cwd=workdir,
    )
    info = json.loads((tmp_path / "mine.json").read_text())["info"]
    assert info["what"] == "test weights" and info["run"] == str(synthetic_run)
    assert info["teachers"] == {"spatial": "spectral-residual", "temporal": "flow"}
    assert info["config"]["stage2"]["epochs"] == 12 and info["training_seconds"] > 0
    assert info["metrics"]["scores"]["all"]["NSS"] == nss_of(
        synthetic_run / "model" / "metrics.json"
    )
    assert "history" not in info  # it stays in the run folder


def test_export_of_a_damaged_run_folder_is_one_clear_line(synthetic_run, workdir, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"data": {}}')  # edited: no model section
    for extra, says in (
        ([], "is not the config a `train run` writes"),
        (["--out", "/dev/null/x"], "Not a directory"),  # a path that cannot be a folder
        (["--name", "../x"], "plain file name"),
    ):
        source = run if not extra else synthetic_run
        result = subprocess.run(
            [str(TRAIN), "export", "--run", str(source), *extra],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2 and says in result.stderr, result.stderr
        assert "Traceback" not in result.stderr, result.stderr


def refused(*args: str, cwd: Path) -> str:
    """stderr of a `train` command expected to stop with one error line (exit 2)."""
    result = subprocess.run([str(TRAIN), *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


def test_a_refused_run_leaves_the_earlier_run_as_it_was(synthetic_run, workdir):
    saved = (synthetic_run / "config.json").read_text()
    changed = tiny(workdir, "run", "optim.lr=0.01")
    says = refused("run", "--no-progress", *changed, cwd=workdir)
    assert "exists from an earlier run" in says and "--resume" in says, says
    assert (synthetic_run / "config.json").read_text() == saved  # not the refused settings
    says = refused("run", "--no-progress", "--resume", *changed, cwd=workdir)
    assert "optim.lr: 0.001 -> 0.01" in says, says  # the setting that differs is named
    free = tiny(workdir, "run", "threads=2", "optim.workers=1")  # change no result
    assert train("run", "--no-progress", "--resume", *free, cwd=workdir).returncode == 0


def test_train_synthetic_refuses_counts_and_sizes_it_cannot_write(tmp_path):
    out = ["synthetic", "--out", str(tmp_path / "set")]
    for extra, says in (
        (["--videos", "-1", "1", "1"], "--videos: -1 must be an integer >= 0"),
        (["--videos", "0", "0", "0"], "0 videos in every split"),
        (["--size", "100000", "100000"], "width=100000: must be at most 7680"),
    ):
        assert says in refused(*out, *extra, cwd=tmp_path)
    assert not (tmp_path / "set" / "AVS1K").exists()


def test_synthetic_data_is_never_written_into_a_real_dataset(tmp_path):
    real = tmp_path / "real"
    write_avs1k(real, {"trainSet": [ClipSpec(1, "Vehicle", 2, 96, 64)]})
    before = sorted(real.rglob("*"))
    says = refused(
        "run", "--no-progress", *tiny(tmp_path, "out", f"data.root={real}"), cwd=tmp_path
    )
    assert "data.source=avs1k" in says and str(real / "AVS1K") in says, says
    assert sorted(real.rglob("*")) == before


def test_missing_evaluation_data_is_refused_before_training(tmp_path):
    frames = write_frame_folders(tmp_path / "frames", [ClipSpec(2, "Vehicle", 4, 96, 64)])
    missing = tmp_path / "held_out"
    settings = ["data.source=folders", f"data.root={frames}", f"data.eval_root={missing}"]
    says = refused("run", "--no-progress", *tiny(tmp_path, "out", *settings), cwd=tmp_path)
    assert str(missing) in says, says
    assert not (tmp_path / "out" / "stage1-spatial").exists()  # refused before any epoch


def test_training_from_a_recorded_bag(workdir, tmp_path):
    frames = [
        f.image for s in range(4) for f in generate_clip(ClipSpec(s, "Vehicle", 12, 320, 180))
    ]
    stamps = [i * 33_000_000 for i in range(len(frames))]
    bag = write_image_bag(tmp_path / "flight", frames, storage="mcap", stamps=stamps)
    held_out = write_frame_folders(tmp_path / "held_out", [ClipSpec(90, "Vehicle", 12, 320, 180)])
    result = train(
        "run",
        "--no-progress",
        *tiny(tmp_path, "bag-run", "data.source=bag", f"data.root={bag}"),
        "--set",
        f"data.eval_root={held_out}",
        cwd=tmp_path,
    )
    assert "no human ground truth" in result.stdout
    assert nss_of(tmp_path / "bag-run" / "model" / "metrics.json") > 0.3


def test_fine_tuning_a_bag_starts_from_the_given_weights(synthetic_run, workdir, tmp_path):
    """model.init: stage 2 from an exported Sst (stage 1 skipped); a bag with no labelled
    folder is trained and exported, and the run says it could not score it."""
    frames = [f.image for s in range(2) for f in generate_clip(ClipSpec(s, "Human", 12, 320, 180))]
    bag = write_image_bag(tmp_path / "flight", frames)
    start = synthetic_run / "model" / "sst.json"
    settings = ["data.source=bag", f"data.root={bag}", f"model.init={start}", "optim.lr=1e-12"]
    result = train("run", "--no-progress", *tiny(tmp_path, "tuned", *settings), cwd=tmp_path)
    assert "stage 2 starts from" in result.stdout and "not scored" in result.stdout
    assert "teachers on this data: stability (CC with the frame before)" in result.stdout
    assert "Sst speaks on" in result.stdout or "Sst's map stays below" in result.stdout
    run = tmp_path / "tuned"
    check = json.loads((run / "teacher_check.json").read_text())
    assert set(check["stability"]) == {"spectral-residual", "flow"}
    assert not (run / "stage1-spatial").exists() and (run / "stage2-sst" / CHECKPOINT).exists()
    tuned, started = load_sst(run / "model" / "sst.json"), load_sst(start)
    for name, weights in started.state_dict().items():  # lr 1e-12: where it started
        assert torch.allclose(tuned.state_dict()[name], weights, atol=1e-6), name
    info = json.loads((run / "model" / "sst.json").read_text())["info"]
    assert info["init"] == str(start)
    wrong = tiny(tmp_path, "wrong", *settings, "model.resolution=64")
    refused = subprocess.run(
        [str(TRAIN), "run", *wrong], cwd=tmp_path, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "another shape of model: resolution 32 (run: 64)" in (
        refused.stdout + refused.stderr
    )


def test_killed_run_resumes_to_the_same_weights(synthetic_run, workdir):
    args = ["run", "--no-progress", *tiny(workdir, "killed")]
    process = subprocess.Popen(
        [str(TRAIN), *args], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    log = workdir / "killed" / "stage1-temporal" / "log.jsonl"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if log.exists() and len(log.read_text().splitlines()) >= 3:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the run ended before it could be interrupted"
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert not (workdir / "killed" / "model").exists()
    train(*args, "--resume", cwd=workdir)
    straight = load_file(synthetic_run / "model" / "sst.safetensors")
    resumed = load_file(workdir / "killed" / "model" / "sst.safetensors")
    for key, value in straight.items():
        np.testing.assert_allclose(resumed[key], value, atol=1e-5, err_msg=key)


def test_stage_two_on_two_gloo_processes_matches_one_process(synthetic_run, workdir):
    import json
    import shutil

    # one stage-2 epoch (6 steps): over more, Adam amplifies the summation-order difference
    # of the gradient all-reduce (3 epochs: 1e-3 relative in the loss), hiding real bugs
    epochs = ["stage1.epochs=2", "stage2.epochs=1"]
    first = ["run", "--no-progress", *tiny(workdir, "one", *epochs), "--stop-after", "stage1"]
    train(*first, cwd=workdir)
    assert (workdir / "one" / "stage1-temporal" / CHECKPOINT).is_file()
    assert not (workdir / "one" / "stage2-sst").exists()  # --stop-after stage1 means it
    shutil.copytree(workdir / "one", workdir / "two")  # identical students for both
    train("run", "--no-progress", "--resume", *tiny(workdir, "one", *epochs), cwd=workdir)
    torchrun("run", "--no-progress", "--resume", *tiny(workdir, "two", *epochs), cwd=workdir)
    losses = [
        [json.loads(line)["loss"] for line in (workdir / run / "stage2-sst" / "log.jsonl").open()]
        for run in ("one", "two")
    ]
    # Same global batch of 16 (8 per process): only the summation order differs.
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
    single = load_file(workdir / "one" / "model" / "sst.safetensors")
    double = load_file(workdir / "two" / "model" / "sst.safetensors")
    # Adam moves each weight by about lr a step whatever its gradient's size, so a weight
    # whose gradient is near zero may step the other way when the summation order differs:
    # a few weights may differ by up to 2 lr a step (6 steps, lr 1e-3), the rest agree.
    for key, value in single.items():
        difference = np.abs(double[key] - value)
        assert difference.max() <= 2 * 1e-3 * 6, key
        assert np.mean(difference > 1e-3) <= 1e-3, (key, np.mean(difference > 1e-3))


def cache_files(cache_dir: Path) -> dict[str, object]:
    """Every file of a cache folder: .npy as bytes, meta.json without its build time/cost."""
    files = {}
    for path in sorted(cache_dir.rglob("*")):
        if path.is_file():
            name = str(path.relative_to(cache_dir))
            if path.suffix == ".json":
                meta = json.loads(path.read_text())
                files[name] = {
                    k: v for k, v in meta.items() if k not in ("created", "ms_per_frame")
                }
            else:
                files[name] = path.read_bytes()
    return files


def test_two_gloo_processes_label_shares_of_the_one_process_cache(tmp_path):
    settings = tiny(tmp_path, "run", "data.synthetic_videos=[5, 1, 1]")
    train("run", "--no-progress", *settings, "--stop-after", "cache", cwd=tmp_path)
    two = ["--set", f"cache_dir={tmp_path / 'cache-two'}", "--set", f"output={tmp_path / 'two'}"]
    result = torchrun(
        "run", "--no-progress", *settings, *two, "--stop-after", "cache", cwd=tmp_path
    )
    # 5 videos of 12 frames: shared 3 and 2, each process labelled its own
    assert (
        "process 0 of 2 (" in result.stdout and "labels 3 of 5 videos (36 frames)" in result.stdout
    )
    assert (
        "process 1 of 2 (" in result.stdout and "labels 2 of 5 videos (24 frames)" in result.stdout
    )
    one, two = cache_files(tmp_path / "cache"), cache_files(tmp_path / "cache-two")
    assert sorted(one) == sorted(two) and any("teachers/flow" in name for name in one)
    for name, content in one.items():
        assert two[name] == content, name


def test_a_cache_dir_that_is_not_shared_is_refused_before_labelling(tmp_path):
    """Two processes of one job in different folders, as on machines without a shared
    filesystem: the same relative cache_dir is two folders."""
    settings = tiny(tmp_path, "run", "cache_dir=cache", "data.synthetic_videos=[2, 1, 1]")
    port = str(29500 + (os.getpid() + 500) % 1000)
    processes = []
    for rank in (0, 1):
        folder = tmp_path / f"machine{rank}"
        folder.mkdir()
        env = {**GLOO, "RANK": str(rank), "LOCAL_RANK": "0", "WORLD_SIZE": "2"}
        env |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "LOCAL_WORLD_SIZE": "1"}
        command = [str(TRAIN), "run", "--no-progress", *settings, "--stop-after", "cache"]
        processes.append(
            subprocess.Popen(command, cwd=folder, env=env, stderr=subprocess.PIPE, text=True)
        )
    for rank, process in enumerate(processes):
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 2, stderr[-3000:]
        assert "is not one folder for every process of this job: process 1 on " in stderr
        assert "Nothing was computed" in stderr and "cache_dir cache is not" in stderr
        cache = tmp_path / f"machine{rank}" / "cache"
        assert not [p for p in cache.rglob("*") if p.suffix == ".npy"], rank


def test_reports_write_tables_and_the_mu_plot(synthetic_run, workdir):
    short = tiny(workdir, "reports", "stage1.epochs=2", "stage2.epochs=2")
    train("report", "ablations", "--no-progress", *short, cwd=workdir)
    text = (workdir / "reports" / "report-ablations" / "report.md").read_text()
    for row in ("Ablation-S", "Ablation-T", "Ablation-O", "SKD (full)"):
        assert f"| {row}" in text
    train("report", "mu-sweep", "--values", "0,1", "--no-progress", *short, cwd=workdir)
    sweep = workdir / "reports" / "report-mu-sweep"
    assert (sweep / "mu_sweep.png").stat().st_size > 1000
    assert "| mu=0.00 |" in (sweep / "report.md").read_text()


def test_baselines_and_resolutions_reports_list_every_model(synthetic_run, workdir):
    short = tiny(workdir, "reports", "stage1.epochs=2", "stage2.epochs=2")
    train("report", "baselines", "--no-progress", *short, cwd=workdir)
    baselines = json.loads((workdir / "reports" / "report-baselines" / "report.json").read_text())
    expected = ["center bias", "teacher: spectral-residual", "teacher: fine-grained"]
    expected += ["teacher: flow", "Ss (student)", "St (student)", "Sst-32", "Sst-64"]
    assert list(baselines) == expected
    assert all(set(row["all"]) >= {"AUC", "sAUC", "NSS", "SIM", "CC"} for row in baselines.values())
    spatial = ["--set", "report.spatial_teachers=[spectral-residual, fine-grained]"]
    train(
        "report", "resolutions", "--values", "32,64", "--no-progress", *short, *spatial, cwd=workdir
    )
    table = json.loads((workdir / "reports" / "report-resolutions" / "report.json").read_text())
    assert list(table) == [
        f"{teacher} / flow, {side}x{side}"
        for teacher in ("spectral-residual", "fine-grained")
        for side in (32, 64)
    ]
    assert len({row["all"]["NSS"] for row in table.values()}) == 4  # four different models


def test_teachers_and_ground_level_reports_list_every_row(workdir):
    short = tiny(workdir, "reports", "stage1.epochs=2", "stage2.epochs=2")
    lists = ["report.spatial_teachers=[spectral-residual, fine-grained]"]
    lists += ["report.temporal_teachers=[flow]", "report.ground_videos=[4, 2]"]
    short += [arg for item in lists for arg in ("--set", item)]
    train("report", "teachers", "--no-progress", *short, cwd=workdir)
    table = json.loads((workdir / "reports" / "report-teachers" / "report.json").read_text())
    teachers = ["spectral-residual", "fine-grained", "flow"]
    fused = ["spectral-residual + flow", "fine-grained + flow"]
    assert list(table) == [f"teacher: {t}" for t in teachers] + [f"fused: {f}" for f in fused]
    nss = {label: row["all"]["NSS"] for label, row in table.items()}
    assert len(set(nss.values())) == 5  # the fused targets are maps of their own
    train("report", "ground-level", "--no-progress", *short, cwd=workdir)
    folder = workdir / "reports" / "report-ground-level"
    table = json.loads((folder / "report.json").read_text())
    assert list(table) == ["Sst (aerial)", "Modify-A", "Modify-B"]
    assert len({row["all"]["NSS"] for row in table.values()}) == 3
    assert "Ground-level data: synthetic " in (folder / "report.md").read_text()
    for variant in ("aerial", "modify-a", "modify-b"):  # trained on the ground-level folders
        config = json.loads((folder / f"sst-{variant}" / "config.json").read_text())
        assert config["data"]["root"] == str(folder / "data" / "train")
        assert config["model"]["variant"] == variant
