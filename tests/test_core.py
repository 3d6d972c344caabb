"""Seeding, quick mode, devices and packaging."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest

import tfpt
from tfpt.devices import torch_device

REPO = Path(__file__).resolve().parents[1]


def test_seed_reproduces_every_generator():
    import keras
    import tensorflow as tf
    import torch

    def draw():
        layer = keras.layers.Dense(2)
        layer.build((None, 4))
        return [random.random(), np.random.rand(3), torch.rand(3).numpy(),
                tf.random.uniform((3,)).numpy(), keras.random.uniform((3,)).numpy(),
                layer.kernel.numpy(),
                torch.nn.Linear(4, 2).weight.detach().numpy()]

    assert tfpt.seed(123) == ["python", "numpy", "torch", "tensorflow", "keras"]
    first = draw()
    tfpt.seed(123)
    second = draw()
    tfpt.seed(124)
    third = draw()
    for a, b, c in zip(first, second, third):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_seed_rejects_bad_values():
    with pytest.raises(ValueError, match="non-negative int"):
        tfpt.seed(-1)


def test_deterministic_mode_switches_both_frameworks_on_and_off():
    # In a child process: determinism is process-wide in both frameworks.
    code = textwrap.dedent("""
        import tfpt, torch
        from tensorflow.python.framework import config  # no public getter exists
        def state():
            return torch.are_deterministic_algorithms_enabled(), config.is_op_determinism_enabled()
        before = state()
        tfpt.seed(0, deterministic=True)
        on = state()
        tfpt.seed(0)  # a later run without the flag must not inherit it
        print(*before, *on, *state())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True", "True", "False", "False"]


def test_quick_mode(monkeypatch):
    monkeypatch.setenv("TFPT_QUICK", "1")
    assert tfpt.is_quick() and tfpt.quick(full=10, small=1) == 1
    monkeypatch.setenv("TFPT_QUICK", "0")
    assert not tfpt.is_quick() and tfpt.quick(full=10, small=1) == 10
    monkeypatch.delenv("TFPT_QUICK")
    assert tfpt.quick(full="full", small="small") == "full"


def test_data_root_override(monkeypatch, tmp_path):
    monkeypatch.setenv("TFPT_DATA_DIR", str(tmp_path))
    assert tfpt.data_root() == tmp_path.resolve()
    monkeypatch.delenv("TFPT_DATA_DIR")
    assert tfpt.data_root() == REPO / "data"


def test_devices_on_this_machine():
    import torch

    found = tfpt.devices()
    assert set(found) == {"torch", "tensorflow"}
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert found["torch"].device == expected and found["torch"].reason
    assert torch_device("cpu").device == "cpu"


def test_unknown_device_lists_choices():
    with pytest.raises(ValueError, match="unknown device 'tpu': choose one of auto, cpu, cuda, mps"):
        torch_device("tpu")


def test_missing_cuda_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="sees no CUDA GPU.*--device cpu"):
        torch_device("cuda")


def _pins(lines):
    return sorted(line.strip().strip('",-').strip() for line in lines if "==" in line)


def test_pyproject_and_environment_pin_the_same_stack():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pip_pins = _pins(project["dependencies"] + extras["test"] + extras["site"])
    env = (REPO / "environment.yml").read_text()
    conda_pins = _pins(re.findall(r"^\s+- ([\w\-\[\]]+==[\w.]+)$", env, flags=re.M))
    assert pip_pins == conda_pins and "torch==2.14.1" in pip_pins


def test_build_names_the_valid_models_and_frameworks():
    from tfpt.models import build, spec_of

    with pytest.raises(ValueError, match="unknown model 'ResNet50': choose one of MLP, MnistCNN"):
        build("torch", "ResNet50")
    with pytest.raises(ValueError, match="unknown framework 'jax'"):
        build("jax", "MLP")
    assert spec_of(build("tf", "MLP", hidden=32))["kwargs"]["hidden"] == 32
