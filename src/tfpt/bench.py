"""``tfpt bench``: training throughput, measured; numbers are printed, never asserted.

Three sections, each a list of candidates; within each framework they take turns
(interleaved), so a slow moment of the machine hits them all alike, and each is
scored by its fastest timed epoch after a warm-up; every epoch's time is kept in
the JSON.

- ``loops``: tfpt's training helpers against the most idiomatic minimal loop of
  each framework (MnistCNN, real MNIST batches through each framework's pipeline).
- ``modes``: graph modes for MnistCNN and FastResNet, one training step on batches
  already in memory: PyTorch eager vs ``torch.compile``, TensorFlow eager vs
  ``tf.function`` vs XLA. The first call (tracing, compiling) is timed on its own.
- ``loader``: the input pipelines alone (see :mod:`tfpt.bench_loader`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SECTIONS = ("loops", "modes", "loader")


@dataclass
class Candidate:
    name: str
    framework: str
    section: str
    baseline: bool  # an idiomatic reference to compare tfpt's code against
    make: Callable[[], Callable[[], float]]  # builds state, returns "run one epoch -> seconds"
    images: int  # images per timed epoch
    seconds: list[float] = field(default_factory=list)
    first_seconds: float = float("nan")  # the warm-up epoch: tracing and compiling included


def _timed(loop: Callable[[], None]) -> Callable[[], float]:
    def epoch() -> float:
        start = time.perf_counter()
        loop()
        return time.perf_counter() - start
    return epoch


# --- loops -------------------------------------------------------------------------

def _torch_loops(data, n: int, batch: int) -> list[Candidate]:
    import torch
    import torch.nn.functional as F

    import tfpt.data.torch as tdata
    from tfpt.models.torch import MnistCNN
    from tfpt.train import torch as ttrain

    def tfpt_loop():
        model, train = MnistCNN(), tdata.loader(data, batch_size=batch, limit=n, drop_last=True)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        return _timed(lambda: ttrain.train_epoch(model, train, opt))

    def minimal():
        model, train = MnistCNN(), tdata.loader(data, batch_size=batch, limit=n, drop_last=True)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def loop():
            model.train()
            for x, y in train:
                opt.zero_grad()
                F.cross_entropy(model(x), y).backward()
                opt.step()
        return _timed(loop)

    return [Candidate("torch: tfpt.train.torch.train_epoch", "torch", "loops", False, tfpt_loop, n),
            Candidate("torch: minimal eager loop", "torch", "loops", True, minimal, n)]


def _tf_loops(data, n: int, batch: int) -> list[Candidate]:
    import keras
    import tensorflow as tf

    import tfpt.data.tf as fdata
    from tfpt.models.keras import MnistCNN
    from tfpt.train import keras as ktrain
    from tfpt.train.history import History

    def dataset():
        return fdata.loader(data, batch_size=batch, limit=n, drop_last=True)

    def tfpt_custom():
        model, train, opt = MnistCNN(), dataset(), keras.optimizers.Adam(1e-3)
        step, metrics = ktrain.make_train_step(model, opt)
        return _timed(lambda: ktrain.train_epoch(step, metrics, train, opt))

    def tfpt_fit():
        model, train, history = MnistCNN(), dataset(), History()
        opt = keras.optimizers.Adam(1e-3)
        val = fdata.loader(data, "val", batch_size=batch, limit=batch)

        def epoch():
            ktrain.fit(model, train, val, history.epochs + 1, opt, progress=False,
                       history=history)
            return history.seconds[-1]
        return epoch

    def keras_fit():
        model, train = MnistCNN(), dataset()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=ktrain.LOSS,
                      metrics=["accuracy"], jit_compile=False)
        return _timed(lambda: model.fit(train, epochs=1, shuffle=False, verbose=0))

    def minimal(graph: bool):
        def make():
            model, train, opt = MnistCNN(), dataset(), keras.optimizers.Adam(1e-3)

            def step(x, y):
                with tf.GradientTape() as tape:
                    loss = ktrain.LOSS(y, model(x, training=True))
                grads = tape.gradient(loss, model.trainable_variables)
                opt.apply_gradients(zip(grads, model.trainable_variables))
            run = tf.function(step) if graph else step

            def loop():
                for x, y in train:
                    run(x, y)
            return _timed(loop)
        return make

    return [Candidate("tf: tfpt.train.keras.train_epoch", "tf", "loops", False, tfpt_custom, n),
            Candidate("tf: tfpt.train.keras.fit", "tf", "loops", False, tfpt_fit, n),
            Candidate("tf: plain Keras fit", "tf", "loops", True, keras_fit, n),
            Candidate("tf: minimal tf.function loop", "tf", "loops", True, minimal(True), n),
            Candidate("tf: eager loop (no tf.function)", "tf", "loops", True, minimal(False), n)]


# --- modes -------------------------------------------------------------------------

def _batches(data, steps: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` standardized NHWC batches, drawn once (the pipeline is not timed here)."""
    x, y = data.arrays("train", steps * batch)
    x = ((x / 255.0 - np.array(data.spec.mean)) / np.array(data.spec.std)).astype(np.float32)
    return x.reshape(steps, batch, *x.shape[1:]), y.reshape(steps, batch)


def _torch_modes(name: str, model_kwargs: dict, x: np.ndarray, y: np.ndarray,
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
            return _timed(loop)
        return build_epoch

    n = x.shape[0] * x.shape[1]
    found = [Candidate(f"torch {name}: eager", "torch", "modes", True, make(False), n)]
    if compile_:
        found.append(Candidate(f"torch {name}: torch.compile", "torch", "modes", False,
                               make(True), n))
    return found


def _tf_modes(name: str, model_kwargs: dict, x: np.ndarray, y: np.ndarray,
              xla: bool) -> list[Candidate]:
    import keras
    import tensorflow as tf

    from tfpt.models import build
    from tfpt.train.keras import LOSS

    xs, ys = tf.constant(x), tf.constant(y)

    def make(mode: str):
        def build_epoch():
            model, opt = build("keras", name, **model_kwargs), keras.optimizers.Adam(1e-3)

            def step(xb, yb):
                with tf.GradientTape() as tape:
                    loss = LOSS(yb, model(xb, training=True))
                grads = tape.gradient(loss, model.trainable_variables)
                opt.apply_gradients(zip(grads, model.trainable_variables))
            run = step if mode == "eager" else tf.function(step, jit_compile=mode == "xla")

            def loop():
                for i in range(xs.shape[0]):
                    run(xs[i], ys[i])
            return _timed(loop)
        return build_epoch

    n = x.shape[0] * x.shape[1]
    found = [Candidate(f"tf {name}: eager", "tf", "modes", True, make("eager"), n),
             Candidate(f"tf {name}: tf.function", "tf", "modes", False, make("graph"), n)]
    if xla:
        found.append(Candidate(f"tf {name}: tf.function + XLA", "tf", "modes", False,
                               make("xla"), n))
    return found


# --- running -----------------------------------------------------------------------

def _load(name: str):
    from tfpt import data as tdata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tdata.SampleDataWarning)
        return tdata.load(name)


MODELS = ("MnistCNN", "FastResNet")


def candidates(sections: tuple[str, ...], steps: int, batch_size: int, compile_: bool,
               xla: bool, frameworks: tuple[str, ...], width: int,
               models: tuple[str, ...] = MODELS) -> list[Candidate]:
    """Every candidate of the chosen sections and frameworks, not yet built."""
    from tfpt.app import UsageError

    found: list[Candidate] = []
    mnist = _load("mnist")
    n = steps * batch_size
    if "loops" in sections and n > len(mnist.arrays("train")[1]):
        raise UsageError(f"{steps} steps of {batch_size} need {n:,} training images; the data "
                         f"has {len(mnist.arrays('train')[1]):,}: use fewer --steps")
    if "loops" in sections:
        found += _torch_loops(mnist, n, batch_size) if "torch" in frameworks else []
        found += _tf_loops(mnist, n, batch_size) if "tf" in frameworks else []
    if "modes" in sections:
        cifar = _load("cifar10")
        for name, ds, kwargs in (("MnistCNN", mnist, {}), ("FastResNet", cifar, {"width": width})):
            if name not in models:
                continue
            if n > len(ds.arrays("train")[1]):
                raise UsageError(f"{n:,} images per epoch; {ds.spec.title} has "
                                 f"{len(ds.arrays('train')[1]):,}: use fewer --steps")
            x, y = _batches(ds, steps, batch_size)
            found += _torch_modes(name, kwargs, x, y, compile_) if "torch" in frameworks else []
            found += _tf_modes(name, kwargs, x, y, xla) if "tf" in frameworks else []
    if "loader" in sections:
        from tfpt.bench_loader import loader_candidates

        found += loader_candidates(frameworks, batch_size, steps)
    return found


def run(steps: int = 50, batch_size: int = 128, repeats: int = 3, compile_: bool = False,
        xla: bool = False, frameworks: tuple[str, ...] = ("torch", "tf"),
        sections: tuple[str, ...] = ("loops",), width: int = 16,
        models: tuple[str, ...] = MODELS) -> dict:
    """Measure every candidate; returns a JSON-ready dict of images/s."""
    found = candidates(sections, steps, batch_size, compile_, xla, frameworks, width, models)
    with _quiet_tf_retracing_warnings():
        return _measure(found, repeats, steps, batch_size, width)


@contextlib.contextmanager
def _quiet_tf_retracing_warnings():
    """Keras's fit() called once per timed epoch makes TF warn about retracing: noise here."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _measure(found: list[Candidate], repeats: int, steps: int, batch_size: int, width: int) -> dict:
    """Each framework in its own block: right after a PyTorch epoch, PyTorch's OpenMP
    threads still spin for a while and slow TensorFlow down, which would charge one
    framework for the other. Within a block, candidates take turns."""
    for framework in dict.fromkeys(c.framework for c in found):
        block = [c for c in found if c.framework == framework]
        time.sleep(1.0)  # let the other framework's threads go idle
        epochs = {}
        for c in block:  # build, then one warm-up epoch: tracing, compilation, first allocations
            epochs[c.name] = c.make()
            c.first_seconds = epochs[c.name]()
        for _ in range(repeats):  # interleaved
            for c in block:
                c.seconds.append(epochs[c.name]())
    return _results(found, steps, batch_size, repeats, width)


def _results(found: list[Candidate], steps, batch_size, repeats, width) -> dict:
    rows = []
    for c in found:
        best = min(c.seconds)
        rows.append({"name": c.name, "framework": c.framework, "section": c.section,
                     "baseline": c.baseline, "images_per_s": c.images / best,
                     "first_epoch_seconds": c.first_seconds,
                     "compile_seconds": max(c.first_seconds - best, 0.0),
                     "epoch_seconds": c.seconds})
    for row in rows:
        group = row["name"].split(":")[0]  # e.g. "torch", "tf FastResNet"
        refs = [r["images_per_s"] for r in rows if r["baseline"] and r["section"] == row["section"]
                and r["name"].split(":")[0] == group]
        row["vs_baseline"] = row["images_per_s"] / max(refs) if refs else float("nan")
    return {"steps": steps, "batch_size": batch_size, "repeats": repeats, "width": width,
            "cpus": os.cpu_count(), "machine": platform.machine(), "results": rows}


def table(report: dict) -> str:
    lines = []
    for section in SECTIONS:
        rows = [r for r in report["results"] if r["section"] == section]
        if not rows:
            continue
        lines.append(f"{section:<56} {'images/s':>10} {'vs baseline':>12} {'1st epoch extra':>16}")
        for r in rows:
            tag = " (baseline)" if r["baseline"] else ""
            lines.append(f"  {r['name'] + tag:<54} {r['images_per_s']:>10,.0f} "
                         f"{r['vs_baseline']:>11.2f}x {r['compile_seconds']:>14.2f} s")
    footer = (f"batch {report['batch_size']}, {report['steps']} steps per epoch, best of "
              f"{report['repeats']} interleaved epochs after a warm-up epoch; vs baseline: "
              "against the fastest baseline of the same group")
    if any("FastResNet" in r["name"] for r in report["results"]):
        footer += f"; FastResNet width {report['width']}"
    lines.append(footer)
    return "\n".join(lines)


def save(report: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    return path
