"""`tfpt train`: metrics and checkpoints, exact resume, plain progress, AMP, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from tfpt.app import Config, UsageError, train

pytestmark = pytest.mark.slow  # every test here trains through tfpt train (in-process or a subprocess)

COMMON = dict(epochs=2, limit=512, val_limit=200, test_limit=200, batch_size=64,
              deterministic=True)
CIFAR = dict(dataset="cifar10", model="FastResNet", width=8)


@pytest.mark.parametrize("framework", ["torch", "tf"])
@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_resume_equals_an_uninterrupted_run(tmp_path, framework, dataset, capsys):
    extra = CIFAR if dataset == "cifar10" else {"dataset": dataset}
    full = train(Config(framework=framework, out=str(tmp_path / "full"), **COMMON, **extra))
    assert "stopped after" not in capsys.readouterr().out
    train(Config(framework=framework, out=str(tmp_path / "part"), stop_after=1, **COMMON, **extra))
    stopped = capsys.readouterr().out  # the planned total in every label, and what comes next
    assert "epoch 1/2:" in stopped and "epoch 1/1" not in stopped
    assert "stopped after epoch 1 of 2 (--resume continues)" in stopped
    resumed = train(Config(framework=framework, out=str(tmp_path / "part"), resume=True,
                           **COMMON, **extra))
    assert resumed["epochs"] == full["epochs"] == 2
    for key in ("loss", "val_loss", "val_accuracy", "lr"):
        np.testing.assert_array_equal(resumed["history"][key], full["history"][key], err_msg=key)
    suffix = ".pt" if framework == "torch" else ".keras"
    assert {p.name for p in (tmp_path / "part").iterdir()} == {
        f"last{suffix}", f"best{suffix}", "metrics.json", "runs"}
    saved = json.loads((tmp_path / "part" / "metrics.json").read_text())
    assert saved["test_accuracy"] == resumed["test_accuracy"] == full["test_accuracy"]
    assert saved["images_per_second"] > 0 and saved["best_epoch"] in (1, 2)
    best = int(np.argmin(full["history"]["val_loss"]))  # chosen on validation, not test
    assert saved["val_accuracy"] == full["history"]["val_accuracy"][best]


def test_cli_prints_plain_lines_when_not_a_terminal(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "tfpt", "train", "--framework", "torch", "--epochs", "1",
         "--limit", "256", "--test-limit", "100", "--batch-size", "32", "--log-every", "4",
         "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "epoch 1/1 step 4/8 loss" in result.stdout and "\r" not in result.stdout
    assert sum("step" in line for line in lines) == 2  # steps 4 and 8
    assert "offline SAMPLE of MNIST" in result.stdout and "test accuracy" in lines[-2]
    assert "1 epoch" in lines[-2] and "1 epochs" not in result.stdout
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 1


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_amp_on_cpu_uses_bfloat16_and_trains(tmp_path, framework, monkeypatch):
    """--amp on a CPU: torch steps run under a bfloat16 autocast; the Keras model that was
    trained and saved computes in bfloat16."""
    autocasts = []
    real = torch.autocast
    monkeypatch.setattr(torch, "autocast", lambda *a, **k: autocasts.append(k) or real(*a, **k))
    metrics = train(Config(framework=framework, amp=True, out=str(tmp_path), epochs=1, limit=256,
                           test_limit=100, batch_size=32))
    assert np.isfinite(metrics["test_loss"]) and metrics["test_accuracy"] > 0.2
    if framework == "torch":
        assert {"dtype": torch.bfloat16, "enabled": True} in autocasts
    else:
        from tfpt.checkpoint import keras as ckpt

        model = ckpt.load(tmp_path / "last.keras").model
        weighted = [layer for layer in model.layers if layer.weights]  # convs, BN, dense
        # all but the logits layer, which stays float32 as Keras's mixed-precision guide advises
        assert {layer.dtype_policy.name for layer in weighted[:-1]} == {"mixed_bfloat16"}
        assert weighted[0].compute_dtype == "bfloat16"


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "tfpt", *args], capture_output=True, text=True,
                          timeout=timeout, env=os.environ.copy())


def _one_line_error(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stderr[-1500:])
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("tfpt train: error: "), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.mark.parametrize("args, fragment", [
    (["--batch-size", "0"], "--batch-size: must be a whole number of at least 1, got '0'"),
    (["--lr", "-1"], "--lr: must be a positive number, got '-1'"),
    (["--limit", "0"], "--limit: must be a whole number of at least 1"),
    (["--epochs", "two"], "--epochs: must be a whole number"),
    (["--seed", "-3"], "--seed must be between 0 and 2**32 - 1"),
    (["--width", "8"], "--width applies to FastResNet, not MnistCNN"),
])
def test_bad_numbers_are_one_line_errors(args, fragment):
    _one_line_error(_cli("train", *args, "--out", "/nonexistent/never-written"), fragment)


def test_out_naming_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    _one_line_error(_cli("train", "--out", str(tmp_path / "file")), "is a file")
    _one_line_error(_cli("train", "--out", str(tmp_path / "file" / "run")), "is a file")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("framework, fragment", [("torch", "torch sees no CUDA GPU"),
                                                 ("tf", "TensorFlow sees no GPU")])
def test_cuda_without_a_gpu_is_a_one_line_error(tmp_path, framework, fragment):
    _one_line_error(_cli("train", "--framework", framework, "--device", "cuda",
                         "--out", str(tmp_path)), fragment)


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_resume_over_a_truncated_checkpoint_names_the_fallback(tmp_path, framework):
    small = ["--framework", framework, "--epochs", "2", "--limit", "128", "--val-limit", "64",
             "--test-limit", "64", "--batch-size", "64", "--out", str(tmp_path)]
    assert _cli("train", *small, "--stop-after", "1").returncode == 0
    suffix = ".pt" if framework == "torch" else ".keras"
    last = tmp_path / f"last{suffix}"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    _one_line_error(_cli("train", *small, "--resume"), "truncated", f"best{suffix} may be intact")


def test_tf_on_cpu_says_where_it_ran(tmp_path):
    """The recorded device is read from the trained weights (on a CPU-only machine it is
    CPU:0 either way: the placement rule itself is tested with a pretended GPU below)."""
    metrics = train(Config(framework="tf", device="cpu", out=str(tmp_path), epochs=1, limit=128,
                           val_limit=64, test_limit=64, batch_size=64))
    assert metrics["device"] == "CPU:0"


def test_tf_placement_keeps_cpu_runs_off_a_visible_gpu(monkeypatch):
    import tensorflow as tf

    from tfpt.app import keras as app_keras

    real = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: ["a GPU"] if kind == "GPU" else real(kind))
    assert app_keras._placement("cpu")._device_name == "/CPU:0"  # --device cpu pins the CPU
    assert app_keras._placement("cuda")._device_name == "/GPU:0"
    assert not hasattr(app_keras._placement("auto"), "_device_name")  # auto: TensorFlow decides
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: [] if kind == "GPU" else real(kind))
    with pytest.raises(UsageError, match="--device cuda, but TensorFlow sees no GPU"):
        app_keras._placement("cuda")


def test_config_errors_name_the_flag(tmp_path):
    with pytest.raises(UsageError, match="--width applies to FastResNet, not MnistCNN"):
        train(Config(width=8, out=str(tmp_path)))
    with pytest.raises(UsageError, match="smaller than one batch"):
        train(Config(limit=10, out=str(tmp_path)))
    with pytest.raises(UsageError, match="--deterministic does not combine with --compile"):
        train(Config(framework="tf", fast=True, deterministic=True, out=str(tmp_path)))
