"""``tfpt bench`` section ``modes``: graph modes for MnistCNN and FastResNet, one training
step on batches already in memory: PyTorch eager vs ``torch.compile``, TensorFlow
eager vs ``tf.function`` vs XLA. The first call (tracing, compiling) is timed on its own."""

from __future__ import annotations

import numpy as np

from tfpt.bench.core import Candidate, timed


def batches(data, steps: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` standardized NHWC batches, drawn once (the pipeline is not timed here)."""
    x, y = data.arrays("train", steps * batch)
    x = ((x / 255.0 - np.array(data.spec.mean)) / np.array(data.spec.std)).astype(np.float32)
    return x.reshape(steps, batch, *x.shape[1:]), y.reshape(steps, batch)


def torch_modes(name: str, model_kwargs: dict, x: np.ndarray, y: np.ndarray,
                 compile_: bool) -> list[Candidate]:
    import torch
    import torch.nn.functional as F

    from tfpt.models import build

    xs = torch.from_numpy(x.transpose(0, 1, 4, 2, 3).copy())  # steps, batch, C, H, W
    ys = torch.from_numpy(y)

    def make(compiled: bool):
        def build_epoch():
            model = build("torch", name, **model_kwargs)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            forward = torch.compile(model) if compiled else model  # forward and backward

            def loop():
                model.train()
                for xb, yb in zip(xs, ys):
                    opt.zero_grad()
                    F.cross_entropy(forward(xb), yb).backward()
                    opt.step()
            return timed(loop)
        return build_epoch

    n = x.shape[0] * x.shape[1]
    found = [Candidate(f"torch {name}: eager", "torch", "modes", True, make(False), n)]
    if compile_:
        found.append(Candidate(f"torch {name}: torch.compile", "torch", "modes", False,
                               make(True), n))
    return found


def tf_modes(name: str, model_kwargs: dict, x: np.ndarray, y: np.ndarray,
              xla: bool) -> list[Candidate]:
    import keras
    import tensorflow as tf

    from tfpt.models import build
    from tfpt.train.keras import LOSS

    xs, ys = tf.constant(x), tf.constant(y)

    def make(mode: str):
        def build_epoch():
            model, opt = build("tf", name, **model_kwargs), keras.optimizers.Adam(1e-3)

            def step(xb, yb):
                with tf.GradientTape() as tape:
                    loss = LOSS(yb, model(xb, training=True))
                grads = tape.gradient(loss, model.trainable_variables)
                opt.apply_gradients(zip(grads, model.trainable_variables))
            run = step if mode == "eager" else tf.function(step, jit_compile=mode == "xla")

            def loop():
                for i in range(xs.shape[0]):
                    run(xs[i], ys[i])
            return timed(loop)
        return build_epoch

    n = x.shape[0] * x.shape[1]
    found = [Candidate(f"tf {name}: eager", "tf", "modes", True, make("eager"), n),
             Candidate(f"tf {name}: tf.function", "tf", "modes", False, make("graph"), n)]
    if xla:
        found.append(Candidate(f"tf {name}: tf.function + XLA", "tf", "modes", False,
                               make("xla"), n))
    return found
