"""Keras twins of :mod:`tfpt.models.torch` (NHWC input, logits out).

Every layer gets ``dtype``: a layer without it would compute in the default float32
and quietly round a float64 model's activations. ``dtype`` may also be a mixed
precision policy ("mixed_float16", "mixed_bfloat16"): then inputs and logits stay
float32, as Keras's mixed-precision guide advises.
"""

from __future__ import annotations

import keras
from keras import layers

from tfpt.models import twin


def _io(dtype: str) -> str:
    """The dtype of inputs and logits: float32 under a mixed policy."""
    return "float32" if dtype.startswith("mixed") else dtype


@twin
def MLP(image_shape=(28, 28, 1), hidden: int = 128, num_classes: int = 10,
        dropout: float = 0.0, dtype: str = "float32") -> keras.Sequential:
    """Flatten → Dense(hidden) → ReLU → Dropout → Dense(num_classes)."""
    return keras.Sequential([
        keras.Input(shape=image_shape, dtype=_io(dtype)),
        layers.Flatten(name="flatten", dtype=dtype),
        layers.Dense(hidden, activation="relu", name="fc1", dtype=dtype),
        layers.Dropout(dropout, name="drop", dtype=dtype),
        layers.Dense(num_classes, name="fc2", dtype=_io(dtype)),
    ], name="MLP")


@twin
def MnistCNN(image_shape=(28, 28, 1), num_classes: int = 10, dropout: bool = True,
             dtype: str = "float32") -> keras.Sequential:
    """The classic Keras MNIST CNN: conv32 → conv64 → maxpool → dropout → dense128 → dense.

    ``dropout=False`` keeps the Dropout layers with rate 0 (for lockstep parity runs).
    """
    on = 1.0 if dropout else 0.0
    return keras.Sequential([
        keras.Input(shape=image_shape, dtype=_io(dtype)),
        layers.Conv2D(32, 3, activation="relu", name="conv1", dtype=dtype),
        layers.Conv2D(64, 3, activation="relu", name="conv2", dtype=dtype),
        layers.MaxPooling2D(2, name="pool", dtype=dtype),
        layers.Dropout(0.25 * on, name="drop1", dtype=dtype),
        layers.Flatten(name="flatten", dtype=dtype),
        layers.Dense(128, activation="relu", name="fc1", dtype=dtype),
        layers.Dropout(0.5 * on, name="drop2", dtype=dtype),
        layers.Dense(num_classes, name="fc2", dtype=_io(dtype)),
    ], name="MnistCNN")


@twin
def ConvBNNet(image_shape=(28, 28, 1), num_classes: int = 10, width: int = 16,
              dtype: str = "float32") -> keras.Sequential:
    """conv → BN → ReLU → maxpool → stride-2 'same' conv → BN → ReLU → dense.

    The convs have no bias: BatchNorm subtracts the mean, so a bias would do nothing.
    """
    return keras.Sequential([
        keras.Input(shape=image_shape, dtype=_io(dtype)),
        layers.Conv2D(width, 3, padding="same", use_bias=False, name="conv1", dtype=dtype),
        layers.BatchNormalization(name="bn1", dtype=dtype),
        layers.ReLU(name="relu1", dtype=dtype),
        layers.MaxPooling2D(2, name="pool", dtype=dtype),
        layers.Conv2D(2 * width, 3, strides=2, padding="same", use_bias=False,
                      name="conv2", dtype=dtype),
        layers.BatchNormalization(name="bn2", dtype=dtype),
        layers.ReLU(name="relu2", dtype=dtype),
        layers.Flatten(name="flatten", dtype=dtype),
        layers.Dense(num_classes, name="fc", dtype=_io(dtype)),
    ], name="ConvBNNet")


def _conv_bn(x, filters: int, name: str, dtype: str):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv", dtype=dtype)(x)
    # momentum 0.9 (PyTorch's 0.1): moving statistics that settle within a few dozen
    # steps, which short runs need; Keras's default 0.99 takes hundreds.
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn", dtype=dtype)(x)
    return layers.ReLU(name=f"{name}_relu", dtype=dtype)(x)


@twin
def FastResNet(image_shape=(32, 32, 3), num_classes: int = 10, width: int = 64,
               dtype: str = "float32") -> keras.Model:
    """A small ResNet for CIFAR-10 (the 'ResNet-9' of the DAWNBench speed runs).

    prep conv → [conv, pool, residual(conv, conv)] → [conv, pool] → [conv, pool,
    residual(conv, conv)] → global max-pool → dense. ``width`` scales every layer:
    64 on a GPU, 16 on a laptop CPU.
    """
    w = width
    inputs = keras.Input(shape=image_shape, dtype=_io(dtype))
    x = _conv_bn(inputs, w, "prep", dtype)
    for i, (filters, residual) in enumerate([(2 * w, True), (4 * w, False), (8 * w, True)], 1):
        x = _conv_bn(x, filters, f"layer{i}", dtype)
        x = layers.MaxPooling2D(2, name=f"layer{i}_pool", dtype=dtype)(x)
        if residual:
            r = _conv_bn(x, filters, f"layer{i}_res1", dtype)
            r = _conv_bn(r, filters, f"layer{i}_res2", dtype)
            x = layers.Add(name=f"layer{i}_add", dtype=dtype)([x, r])
    x = layers.GlobalMaxPooling2D(name="pool", dtype=dtype)(x)
    outputs = layers.Dense(num_classes, name="fc", dtype=_io(dtype))(x)
    return keras.Model(inputs, outputs, name="FastResNet")
