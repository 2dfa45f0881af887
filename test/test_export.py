"""Exported model files: ONNX parity, safetensors weights, JSON contract, corruption checks."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from skd_ros.atomic_write import append_line, write_image, write_json
from skd_ros.export import (
    INPUT_NAMES,
    export_sst,
    load_sst,
    model_file,
    onnx_parity_error,
    read_metadata,
)
from skd_ros.inference.model_files import ModelFileError
from skd_ros.inference.onnx_graph import SST_OPERATORS
from skd_ros.models import ModelConfig, Sst
from skd_ros.quantize import quantize_model, synthetic_calibration_pairs


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(3)
    model = Sst(ModelConfig(resolution=32))
    paths = export_sst(model, tmp_path_factory.mktemp("model"), info={"data": "unit test"})
    return model, paths


def test_onnx_runs_any_batch_and_matches_torch(exported):
    model, paths = exported
    session = ort.InferenceSession(str(paths.onnx), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(INPUT_NAMES)
    frames = np.random.default_rng(0).random((5, 3, 32, 32), dtype=np.float32)
    (out,) = session.run(None, {"previous": frames, "current": frames[::-1].copy()})
    with torch.inference_mode():
        expected = model(torch.from_numpy(frames), torch.from_numpy(frames[::-1].copy()))
    assert out.shape == (5, 1, 32, 32)
    assert np.abs(out - expected.numpy()).max() < 1e-4
    assert onnx_parity_error(model, paths.onnx) < 1e-4


def test_safetensors_weights_rebuild_the_same_model(exported):
    model, paths = exported
    rebuilt = load_sst(paths.metadata)
    assert rebuilt.config == model.config
    for key, value in model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[key], value), key


def test_metadata_describes_the_input_contract(exported):
    _, paths = exported
    metadata = read_metadata(paths.metadata)
    assert metadata["model"]["resolution"] == 32
    assert metadata["input"]["color_order"] == "rgb"
    assert metadata["input"]["shape"] == ["batch", 3, 32, 32]
    assert metadata["info"] == {"data": "unit test"}
    assert set(metadata["files"]["sha256"]) == {paths.onnx.name, paths.weights.name}


def test_corrupt_or_missing_files_are_reported_with_their_path(exported, tmp_path):
    _, paths = exported
    for source in (paths.onnx, paths.weights, paths.metadata):
        (tmp_path / source.name).write_bytes(source.read_bytes())
    weights = tmp_path / paths.weights.name
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelFileError, match="sha256"):
        model_file(tmp_path / paths.metadata.name, "weights")
    (tmp_path / paths.onnx.name).unlink()
    with pytest.raises(ModelFileError, match="sst.onnx"):
        model_file(tmp_path / paths.metadata.name, "onnx")
    with pytest.raises(ModelFileError, match="does not exist"):
        read_metadata(tmp_path / "missing.json")
    given = tmp_path / "notes.md"  # another suffix: the .json beside it is looked for
    with pytest.raises(ModelFileError, match=r"notes\.json does not exist .*given .*notes\.md"):
        read_metadata(given)


def test_foreign_or_broken_json_is_refused(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not a readable JSON"):
        read_metadata(tmp_path / "a.json")
    (tmp_path / "b.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelFileError, match="not an skd_ros model"):
        read_metadata(tmp_path / "b.json")
    (tmp_path / "c.json").write_text(json.dumps({"format": "skd_ros.sst", "format_version": 99}))
    with pytest.raises(ModelFileError, match="upgrade skd_ros"):
        read_metadata(tmp_path / "c.json")


def test_the_operator_allow_list_is_what_our_exports_contain(exported, tmp_path, models_dir):
    """SST_OPERATORS: read from the packaged models, fresh fp32 exports (with and without
    motion channels) and their INT8 copies."""
    _, paths = exported
    motion = export_sst(Sst(ModelConfig(resolution=32, motion_input=True)), tmp_path / "m")
    files = [*models_dir.glob("*.onnx")]
    for fp32 in (paths, motion):
        int8 = quantize_model(fp32.metadata, synthetic_calibration_pairs(32, 8), out_dir=tmp_path)
        files += [fp32.onnx, tmp_path / read_metadata(int8)["files"]["onnx"]]
    found = {(node.domain, node.op_type) for f in files for node in onnx.load(f).graph.node}
    assert {domain for domain, _ in found} == {""}
    assert {op for _, op in found} == SST_OPERATORS


@pytest.mark.integration  # slow: over a second here
def test_every_writer_replaces_a_link_instead_of_writing_through_it(exported, tmp_path):
    from skd_ros.demo_node import write_sheet
    from skd_ros.training import distributed, loop, pipeline
    from skd_ros.training.config import TrainConfig

    elsewhere, out = tmp_path / "elsewhere", tmp_path / "out"
    elsewhere.mkdir()
    out.mkdir()
    record = {"stage": "sst", "epoch": 1, "loss": 0.5, "frames_per_second": 10.0}
    picture = np.zeros((8, 8, 3), np.uint8)
    writes = {  # the project's own writers: export, run config, epoch log, demo sheet
        ("sst.onnx", "sst.safetensors", "sst.json"): lambda: export_sst(exported[0], out, "sst"),
        ("config.json",): lambda: pipeline._start_run(
            TrainConfig(), out, False, distributed.Context()
        ),
        ("log.jsonl",): lambda: loop._write_log(out, [record]),
        ("sheet.png",): lambda: write_sheet([(picture, picture)], out / "sheet.png"),
        ("plain.json",): lambda: write_json(out / "plain.json", {"a": 1}),
        ("plain.log",): lambda: append_line(out / "plain.log", "{}"),
        ("plain.png",): lambda: write_image(out / "plain.png", picture),
    }
    for names, write in writes.items():
        for name in names:
            (elsewhere / name).write_text("keep")
            (out / name).symlink_to(elsewhere / name)
        write()
        for name in names:
            assert (elsewhere / name).read_text() == "keep", name
            assert (out / name).is_file() and not (out / name).is_symlink(), name
    assert (out / "plain.log").read_text() == "{}\n"  # not the linked file's content
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left
