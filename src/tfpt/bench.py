"""``tfpt bench``: training throughput of tfpt's loops against idiomatic baselines.

Every candidate trains the classic MNIST CNN on the same images for a warm-up epoch
plus ``repeats`` timed epochs; candidates take turns (interleaved), so a slow
moment of the machine hits them all alike. Only the training epoch is timed (the
validation set is one small batch), and each candidate is scored by its fastest
epoch: on a shared 2-core VM, TensorFlow epochs were seen to stall by a fixed ~4 s
at random, so a median of three can land on a stall. Every epoch's time is kept in
the JSON. Prints a table and writes JSON; nothing is asserted.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Candidate:
    name: str
    framework: str
    baseline: bool  # an idiomatic loop to compare tfpt's loop against
    make: Callable[[], Callable[[], float]]  # builds state, returns "train one epoch -> seconds"
    seconds: list[float] = field(default_factory=list)


def _torch_candidates(data, n: int, batch: int, compile_: bool) -> list[Candidate]:
    import torch
    import torch.nn.functional as F

    import tfpt.data.torch as tdata
    from tfpt.models.torch import MnistCNN
    from tfpt.train import torch as ttrain

    def loaders():
        return (tdata.loader(data, batch_size=batch, limit=n, drop_last=True),
                tdata.loader(data, split="test", batch_size=batch, limit=batch))

    def tfpt_loop():
        model, (train, val) = MnistCNN(), loaders()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        from tfpt.train.history import History
        history = History()

        def epoch():
            ttrain.fit(model, train, val, history.epochs + 1, opt, device="cpu",
                       progress=False, history=history)
            return history.seconds[-1]
        return epoch

    def minimal(compiled: bool):
        def make():
            model, (train, _) = MnistCNN(), loaders()
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            step_model = torch.compile(model) if compiled else model

            def epoch():
                start = time.perf_counter()
                model.train()
                for x, y in train:
                    opt.zero_grad()
                    loss = F.cross_entropy(step_model(x), y)
                    loss.backward()
                    opt.step()
                return time.perf_counter() - start
            return epoch
        return make

    found = [Candidate("torch: tfpt.train.torch.fit", "torch", False, tfpt_loop),
             Candidate("torch: minimal eager loop", "torch", True, minimal(False))]
    if compile_:
        found.append(Candidate("torch: minimal loop + torch.compile", "torch", True, minimal(True)))
    return found


def _tf_candidates(data, n: int, batch: int, xla: bool) -> list[Candidate]:
    import keras
    import tensorflow as tf

    import tfpt.data.tf as fdata
    from tfpt.models.keras import MnistCNN
    from tfpt.train import keras as ktrain
    from tfpt.train.history import History

    def datasets():
        return (fdata.loader(data, batch_size=batch, limit=n, drop_last=True),
                fdata.loader(data, split="test", batch_size=batch, limit=batch))

    def tfpt_loop(fit_fn, jit: bool = False):
        def make():
            model, (train, val), history = MnistCNN(), datasets(), History()
            opt = keras.optimizers.Adam(1e-3)

            def epoch():
                fit_fn(model, train, val, history.epochs + 1, opt, progress=False,
                       jit_compile=jit, history=history)
                return history.seconds[-1]
            return epoch
        return make

    def keras_fit():
        model, (train, _) = MnistCNN(), datasets()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=ktrain.LOSS,
                      metrics=["accuracy"], jit_compile=False)

        def epoch():
            start = time.perf_counter()
            model.fit(train, epochs=1, shuffle=False, verbose=0)
            return time.perf_counter() - start
        return epoch

    def eager_loop(graph: bool):
        def make():
            model, (train, _) = MnistCNN(), datasets()
            opt = keras.optimizers.Adam(1e-3)

            def step(x, y):
                with tf.GradientTape() as tape:
                    loss = ktrain.LOSS(y, model(x, training=True))
                grads = tape.gradient(loss, model.trainable_variables)
                opt.apply_gradients(zip(grads, model.trainable_variables))
                return loss
            run = tf.function(step) if graph else step

            def epoch():
                start = time.perf_counter()
                for x, y in train:
                    run(x, y)
                return time.perf_counter() - start
            return epoch
        return make

    found = [Candidate("tf: tfpt.train.keras.fit_custom", "tf", False, tfpt_loop(ktrain.fit_custom)),
             Candidate("tf: tfpt.train.keras.fit", "tf", False, tfpt_loop(ktrain.fit)),
             Candidate("tf: plain Keras fit", "tf", True, keras_fit),
             Candidate("tf: minimal tf.function loop", "tf", True, eager_loop(True)),
             Candidate("tf: eager loop (no tf.function)", "tf", True, eager_loop(False))]
    if xla:
        found.append(Candidate("tf: fit_custom, jit_compile=True", "tf", False,
                               tfpt_loop(ktrain.fit_custom, jit=True)))
    return found


def run(steps: int = 50, batch_size: int = 128, repeats: int = 3, compile_: bool = False,
        xla: bool = False, frameworks: tuple[str, ...] = ("torch", "tf")) -> dict:
    """Measure every candidate; returns a JSON-ready dict of images/s."""
    from tfpt import data as tdata

    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tdata.SampleDataWarning)
        mnist = tdata.load("mnist")
    n = steps * batch_size
    if n > len(mnist.x_train):
        raise ValueError(f"{steps} steps of {batch_size} need {n} images; the data has "
                         f"{len(mnist.x_train)}: use fewer --steps")
    candidates = []
    if "torch" in frameworks:
        candidates += _torch_candidates(mnist, n, batch_size, compile_)
    if "tf" in frameworks:
        candidates += _tf_candidates(mnist, n, batch_size, xla)
    epochs = {c.name: c.make() for c in candidates}
    for c in candidates:  # warm-up: tracing, compilation, first allocations
        epochs[c.name]()
    for _ in range(repeats):  # interleaved
        for c in candidates:
            c.seconds.append(epochs[c.name]())
    return _results(candidates, n, steps, batch_size, repeats)


def _results(candidates, n, steps, batch_size, repeats) -> dict:
    import os

    rows = []
    for c in candidates:
        rate = n / min(c.seconds)
        rows.append({"name": c.name, "framework": c.framework, "baseline": c.baseline,
                     "images_per_s": rate, "epoch_seconds": c.seconds})
    for row in rows:
        best = max((r["images_per_s"] for r in rows
                    if r["framework"] == row["framework"] and r["baseline"]), default=np.nan)
        row["vs_best_baseline"] = row["images_per_s"] / best
    return {"model": "MnistCNN", "steps": steps, "batch_size": batch_size, "repeats": repeats,
            "images_per_epoch": n, "cpus": os.cpu_count(), "machine": platform.machine(),
            "results": rows}


def table(report: dict) -> str:
    lines = [f"{'candidate':<40} {'images/s':>9} {'vs best baseline':>17}"]
    for r in report["results"]:
        tag = " (baseline)" if r["baseline"] else ""
        lines.append(f"{r['name'] + tag:<40} {r['images_per_s']:>9,.0f} {r['vs_best_baseline']:>16.2f}x")
    lines.append(f"MnistCNN, batch {report['batch_size']}, {report['steps']} steps per epoch, "
                 f"best of {report['repeats']} interleaved epochs after a warm-up, "
                 f"{report['cpus']} CPUs")
    return "\n".join(lines)


def save(report: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    return path
