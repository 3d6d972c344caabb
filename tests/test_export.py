"""tfpt export: every format of both frameworks checked against the eager model; bad input."""

from __future__ import annotations

import pytest

import tfpt
from tfpt import cli
from tfpt import export as tx
from tfpt.checkpoint import keras as ckpt_keras
from tfpt.checkpoint import torch as ckpt_torch
from tfpt.models import keras as keras_models
from tfpt.models import torch as torch_models

pytestmark = pytest.mark.slow  # trains checkpoints and exports them in every format


@pytest.fixture(autouse=True)
def _data(sample_root, monkeypatch):
    monkeypatch.setenv("TFPT_DATA_DIR", str(sample_root))


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A torch and a Keras MnistCNN checkpoint (fresh weights: export does not care)."""
    folder = tmp_path_factory.mktemp("ckpt")
    tfpt.seed(0)
    return {"torch": ckpt_torch.save(folder / "best.pt", torch_models.MnistCNN()),
            "keras": ckpt_keras.save(folder / "best.keras", keras_models.MnistCNN())}


def _export(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["export", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


FAST = [("torch", "onnx", "m.onnx"), ("torch", "pt2", "m.pt2"), ("keras", "saved_model", "sm"),
        ("keras", "litert", "m.tflite"), ("keras", "onnx", "m.onnx")]
SLOW = [pytest.param("torch", "aoti", "m_aoti.pt2", marks=pytest.mark.slow)]  # compiles C++


@pytest.mark.parametrize(("framework", "fmt", "name"), FAST + SLOW)
def test_every_format_passes_its_check(checkpoints, tmp_path, capsys, framework, fmt, name):
    code, out, err = _export(capsys, checkpoints[framework], "--format", fmt,
                             "--out", tmp_path / name, "--check", 16)
    verdict = out.strip().splitlines()[-1]
    assert code == 0, err
    assert verdict.startswith("check: 16 test images, max abs diff") and verdict.endswith("PASS")
    assert "argmax agrees 16/16" in verdict
    assert (tmp_path / name).exists() and [p.name for p in tmp_path.iterdir()] == [name]


def test_a_wrong_artifact_fails_with_exit_1(checkpoints, tmp_path, capsys, monkeypatch):
    eager = tx.twin("keras").eager
    monkeypatch.setattr(tx.twin("keras"), "eager", lambda model: lambda x: eager(model)(x) + 1e-2)
    code, out, _ = _export(capsys, checkpoints["keras"], "--format", "litert",
                           "--out", tmp_path / "m.tflite", "--check", 8)
    assert code == 1 and out.strip().endswith("FAIL") and "max abs diff 1.0e-02" in out


def _one_line_error(capsys, *argv) -> str:
    code, out, err = _export(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("tfpt export: error: ") and err.count("\n") == 1, err
    return err


def test_bad_input_is_one_line_and_exit_2(checkpoints, tmp_path, capsys):
    assert "cannot be exported as litert" in _one_line_error(
        capsys, checkpoints["torch"], "--format", "litert", "--out", tmp_path / "m.tflite")
    assert "cannot be exported as pt2" in _one_line_error(
        capsys, checkpoints["keras"], "--format", "pt2", "--out", tmp_path / "m.pt2")
    assert "no checkpoint" in _one_line_error(
        capsys, tmp_path / "missing.pt", "--format", "onnx", "--out", tmp_path / "m.onnx")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(checkpoints["torch"].read_bytes()[:5000])
    _one_line_error(capsys, corrupt, "--format", "onnx", "--out", tmp_path / "m.onnx")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert "cannot write there" in _one_line_error(
        capsys, checkpoints["torch"], "--format", "onnx", "--out", blocker / "m.onnx")
    assert "ending in .tflite" in _one_line_error(
        capsys, checkpoints["keras"], "--format", "litert", "--out", tmp_path / "m.onnx")


@pytest.mark.parametrize(("framework", "fmt", "name"),
                         [("torch", "onnx", "m.onnx"), ("keras", "litert", "m.tflite"),
                          ("torch", "pt2", "m.pt2")])
def test_a_truncated_artifact_is_a_clear_error(checkpoints, tmp_path, capsys, framework, fmt, name):
    path = tmp_path / name
    assert _export(capsys, checkpoints[framework], "--format", fmt, "--out", path,
                   "--check", 0)[0] == 0
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(tx.ExportError, match="cannot be loaded as .*it may be truncated"):
        tx.twin(framework).runner(path, fmt)
