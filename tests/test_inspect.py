"""tfpt.inspect: the twin shape tables agree with each other and leave the model as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tfpt  # noqa: F401  (import-order guard first)
from tfpt.inspect import format_table
from tfpt.inspect import keras as inspect_keras
from tfpt.inspect import torch as inspect_torch
from tfpt.models import keras as keras_models
from tfpt.models import torch as torch_models

MNIST_CNN_KERAS = [
    ("conv1", "Conv2D", (3, 26, 26, 32)),
    ("conv2", "Conv2D", (3, 24, 24, 64)),
    ("pool", "MaxPooling2D", (3, 12, 12, 64)),
    ("drop1", "Dropout", (3, 12, 12, 64)),
    ("flatten", "Flatten", (3, 9216)),
    ("fc1", "Dense", (3, 128)),
    ("drop2", "Dropout", (3, 128)),
    ("fc2", "Dense", (3, 10)),
]


def _nhwc(shape: tuple) -> tuple:
    """A torch NCHW shape in Keras's NHWC order (other ranks are the same in both)."""
    return (shape[0], *shape[2:], shape[1]) if len(shape) == 4 else shape


def _inputs(n: int = 3) -> tuple[np.ndarray, torch.Tensor]:
    x = np.random.default_rng(0).standard_normal((n, 28, 28, 1)).astype(np.float32)
    return x, torch.from_numpy(x.transpose(0, 3, 1, 2).copy())


def test_keras_rows_for_mnist_cnn():
    x, _ = _inputs()
    assert inspect_keras.shape_table(keras_models.MnistCNN(), x) == MNIST_CNN_KERAS


def test_torch_rows_for_mnist_cnn_are_nchw_and_list_every_leaf():
    _, x = _inputs()
    rows = inspect_torch.shape_table(torch_models.MnistCNN(), x)
    assert [name for name, _, _ in rows] == ["conv1", "relu1", "conv2", "relu2", "pool", "drop1",
                                             "flatten", "fc1", "relu3", "drop2", "fc2"]
    assert rows[0] == ("conv1", "Conv2d", (3, 32, 26, 26))  # NCHW: channels second
    assert rows[-1] == ("fc2", "Linear", (3, 10))


@pytest.mark.parametrize("name", ["MLP", "MnistCNN", "ConvBNNet"])
def test_twins_give_the_same_shapes(name):
    """Same layer names, same shapes once NCHW is read as NHWC.

    The layout difference is real and stays in the rows: torch reports NCHW. torch
    also has rows Keras lacks: ReLU modules (Keras fuses ``activation='relu'`` into
    the layer before) and ``TFSamePad2d`` (Keras pads inside the conv).
    """
    x_np, x_pt = _inputs()
    keras_rows = inspect_keras.shape_table(getattr(keras_models, name)(), x_np)
    torch_rows = {n: shape for n, _, shape in
                  inspect_torch.shape_table(getattr(torch_models, name)(), x_pt)}
    assert keras_rows, "no Keras rows"
    for layer, _, shape in keras_rows:
        assert _nhwc(torch_rows[layer]) == shape, layer


def test_torch_twin_removes_its_hooks_and_keeps_the_mode():
    _, x = _inputs()
    model = torch_models.MnistCNN()
    model.train()
    inspect_torch.shape_table(model, x)
    assert all(not m._forward_hooks for m in model.modules())
    assert model.training
    model.eval()
    inspect_torch.shape_table(model, x)
    assert not model.training


def test_torch_twin_removes_its_hooks_when_the_model_fails():
    model = torch_models.MnistCNN()
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        inspect_torch.shape_table(model, torch.zeros(2, 1, 32, 32))  # wrong image size
    assert all(not m._forward_hooks for m in model.modules())


def test_twins_have_the_same_surface():
    import inspect

    for fn in ("shape_table",):
        keras_sig = inspect.signature(getattr(inspect_keras, fn))
        torch_sig = inspect.signature(getattr(inspect_torch, fn))
        assert list(keras_sig.parameters) == list(torch_sig.parameters)
        assert "Built in notebook 06" in getattr(inspect_keras, fn).__doc__
        assert "Built in notebook 06" in getattr(inspect_torch, fn).__doc__


def test_format_table_aligns_columns():
    text = format_table([("conv1", "Conv2D", (3, 26, 26, 32)), ("fc2", "Dense", (3, 10))])
    assert text.splitlines() == [
        "layer  type    output shape",
        "conv1  Conv2D  (3, 26, 26, 32)",
        "fc2    Dense   (3, 10)",
    ]
    assert format_table([]) == "layer  type  output shape"
