"""INT8 Sst: the packaged INT8 model and `quantize_model` on the packaged fp32 one."""

import json
import shutil
from pathlib import Path

import hostile_models as hostile
import numpy as np
import pytest

from skd_ros.inference.engine import SaliencyEngine
from skd_ros.quantize import quantize_model, synthetic_calibration_pairs
from skd_ros.training import cli


@pytest.fixture(scope="module")
def pairs():
    return synthetic_calibration_pairs(64, count=24, seed=77)


def _maps(engine: SaliencyEngine, pairs) -> np.ndarray:
    previous = np.stack([p for p, _ in pairs])
    current = np.stack([c for _, c in pairs])
    return engine.predict_batch(previous, current)


def test_calibration_pairs_are_consecutive_model_inputs_of_every_category():
    pairs = synthetic_calibration_pairs(32, count=12, seed=5)
    assert len(pairs) == 12
    assert all(p.shape == c.shape == (3, 32, 32) and p.dtype == np.float32 for p, c in pairs)
    assert all(p.min() >= 0.0 and p.max() <= 1.0 for p, _ in pairs)
    np.testing.assert_array_equal(pairs[0][1], pairs[1][0])  # frame i+1's previous is frame i


def test_quantized_model_is_smaller_loads_and_agrees_with_fp32(tmp_path, pairs, models_dir):
    for path in models_dir.glob("sst_demo.*"):
        shutil.copy(path, tmp_path)
    int8_json = quantize_model(tmp_path / "sst_demo.json", pairs[:16], info={"note": "test"})
    metadata = json.loads(int8_json.read_text())
    assert metadata["precision"] == "int8" and metadata["quantization"]["note"] == "test"
    onnx = tmp_path / metadata["files"]["onnx"]
    assert onnx.stat().st_size < 0.5 * (tmp_path / "sst_demo.onnx").stat().st_size
    fp32 = _maps(SaliencyEngine(tmp_path / "sst_demo.json"), pairs[16:])
    int8 = _maps(SaliencyEngine(int8_json), pairs[16:])
    assert np.abs(int8 - fp32).max() < 0.2
    assert np.corrcoef(int8.ravel(), fp32.ravel())[0, 1] > 0.98
    torch_int8 = SaliencyEngine(int8_json, backend="torch")  # weights entry stays fp32
    np.testing.assert_allclose(_maps(torch_int8, pairs[16:]), fp32, atol=1e-4)


def test_packaged_int8_model_is_the_default_and_recorded_its_accuracy(pairs, models_dir):
    engine = SaliencyEngine()
    assert engine.description.path.name == "sst_demo_int8.json"
    record = engine.description.metadata["quantization"]
    assert record["nss_drop"] <= 0.01 and record["nss_int8"] > 3.0
    fp32 = _maps(SaliencyEngine(models_dir / "sst_demo.json"), pairs)
    assert np.corrcoef(_maps(engine, pairs).ravel(), fp32.ravel())[0, 1] > 0.98


def test_quantize_replaces_links_at_its_outputs_instead_of_writing_through_them(
    tmp_path, pairs, models_dir
):
    folder, elsewhere = tmp_path / "model", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    for path in models_dir.glob("sst_demo.*"):
        shutil.copy(path, folder)
    for name in ("sst_demo_int8.onnx", "sst_demo_int8.json"):
        (elsewhere / name).write_text("not ours to replace")
        (folder / name).symlink_to(elsewhere / name)
    int8_json = quantize_model(folder / "sst_demo.json", pairs[:8])
    for name in ("sst_demo_int8.onnx", "sst_demo_int8.json"):
        assert (elsewhere / name).read_text() == "not ours to replace"
        assert not (folder / name).is_symlink()
    SaliencyEngine(int8_json)


def _bad_models(folder: Path) -> dict[str, Path]:
    """Model folders the probe fed to `train quantize` and `train evaluate`."""
    outside = folder / "outside.bin"
    outside.write_bytes(bytes(12))
    models = {
        "not onnx": hostile.write_model_folder(folder / "data", b"\x00\x01 not an onnx model"),
        "external data outside": hostile.hostile_folder(
            folder / "external", hostile.external_weights("../outside.bin")
        ),
        "external data link": hostile.hostile_folder(
            folder / "link", hostile.external_weights("weights.bin")
        ),
        "custom operator": hostile.hostile_folder(folder / "custom", hostile.custom_operator()),
        "nested JSON": folder / "nested.json",
    }
    (folder / "link" / "weights.bin").symlink_to(outside)
    models["nested JSON"].write_text("[" * 100_000)
    return models


@pytest.mark.parametrize("command", ["quantize", "evaluate"])
def test_a_bad_model_is_one_line_naming_the_file(tmp_path, capsys, command):
    for case, model in _bad_models(tmp_path).items():
        settings = ["--set", f"cache_dir={tmp_path / 'cache'}", "--set", f"data.root={tmp_path}/d"]
        code = cli.main([command, "--model", str(model), "--no-progress", *settings])
        err = capsys.readouterr().err
        assert code == 2, (case, err)
        assert len(err.strip().splitlines()) == 1 and f"train {command}: error: " in err, case
        named = model if case == "nested JSON" else model.with_suffix(".onnx")
        assert str(named) in err, (case, err)
