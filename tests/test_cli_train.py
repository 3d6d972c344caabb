"""`tfpt train`: metrics and checkpoints, exact resume, plain progress, AMP, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from tfpt.train.run import Config, train

COMMON = dict(epochs=2, limit=512, test_limit=200, batch_size=64, deterministic=True)
CIFAR = dict(dataset="cifar10", model="FastResNet", width=8)


@pytest.mark.parametrize("framework", ["torch", "tf"])
@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_resume_equals_an_uninterrupted_run(tmp_path, framework, dataset):
    extra = CIFAR if dataset == "cifar10" else {"dataset": dataset}
    full = train(Config(framework=framework, out=str(tmp_path / "full"), **COMMON, **extra))
    train(Config(framework=framework, out=str(tmp_path / "part"), stop_after=1, **COMMON, **extra))
    resumed = train(Config(framework=framework, out=str(tmp_path / "part"), resume=True,
                           **COMMON, **extra))
    assert resumed["epochs"] == full["epochs"] == 2
    for key in ("loss", "val_loss", "val_accuracy", "lr"):
        np.testing.assert_array_equal(resumed["history"][key], full["history"][key], err_msg=key)
    suffix = ".pt" if framework == "torch" else ".keras"
    assert {p.name for p in (tmp_path / "part").iterdir()} == {
        f"last{suffix}", f"best{suffix}", "metrics.json", "runs"}
    saved = json.loads((tmp_path / "part" / "metrics.json").read_text())
    assert saved["test_accuracy"] == resumed["test_accuracy"] and saved["images_per_second"] > 0


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
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 1


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_amp_on_cpu_uses_bfloat16_and_trains(tmp_path, framework, capsys):
    metrics = train(Config(framework=framework, amp=True, out=str(tmp_path), epochs=1, limit=256,
                           test_limit=100, batch_size=32))
    assert metrics["amp"] and np.isfinite(metrics["test_loss"]) and metrics["test_accuracy"] > 0.2
    if framework == "tf":
        assert "mixed_bfloat16" in capsys.readouterr().out


def test_unknown_device_and_bad_width(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="sees no CUDA GPU"):
        train(Config(device="cuda", out=str(tmp_path)))
    with pytest.raises(ValueError, match="--width applies to FastResNet, not MnistCNN"):
        train(Config(width=8, out=str(tmp_path)))
