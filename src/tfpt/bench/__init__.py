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
- ``loader``: the input pipelines alone (:mod:`tfpt.bench.loader`).

Layout: :mod:`tfpt.bench.core` (the :class:`Candidate`), one module per section
(:mod:`~tfpt.bench.loops`, :mod:`~tfpt.bench.modes`, :mod:`~tfpt.bench.loader`),
and this module, which runs them and writes the table and the JSON.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfpt.bench.core import Candidate, load
from tfpt.errors import OutputError, UsageError

SECTIONS = ("loops", "modes", "loader")
MODELS = ("MnistCNN", "FastResNet")
__all__ = ["MODELS", "SECTIONS", "Candidate", "Settings", "candidates", "check_out", "run", "save",
           "table"]


@dataclass(frozen=True)
class Settings:
    """What one ``tfpt bench`` run measures (the command's flags; keyword arguments of :func:`run`)."""

    steps: int = 50  # batches per timed epoch
    batch_size: int = 128
    repeats: int = 3  # timed epochs per candidate, after one warm-up epoch
    compile_: bool = False  # add torch.compile to the modes section
    xla: bool = False  # add tf.function(jit_compile=True) to the modes section
    frameworks: tuple[str, ...] = ("torch", "tf")
    sections: tuple[str, ...] = ("loops",)
    width: int = 16  # FastResNet's width in the modes section
    models: tuple[str, ...] = MODELS


def candidates(settings: Settings) -> list[Candidate]:
    """Every candidate of the chosen sections and frameworks, not yet built."""
    from tfpt.bench import loader, loops, modes

    s, found = settings, []
    mnist = load("mnist")
    n = s.steps * s.batch_size
    if "loops" in s.sections and n > len(mnist.arrays("train")[1]):
        raise UsageError(f"{s.steps} steps of {s.batch_size} need {n:,} training images; the data "
                         f"has {len(mnist.arrays('train')[1]):,}: use fewer --steps")
    if "loops" in s.sections:
        found += loops.torch_loops(mnist, n, s.batch_size) if "torch" in s.frameworks else []
        found += loops.tf_loops(mnist, n, s.batch_size) if "tf" in s.frameworks else []
    if "modes" in s.sections:
        cifar = load("cifar10")
        for name, ds, kwargs in (("MnistCNN", mnist, {}), ("FastResNet", cifar, {"width": s.width})):
            if name not in s.models:
                continue
            if n > len(ds.arrays("train")[1]):
                raise UsageError(f"{n:,} images per epoch; {ds.spec.title} has "
                                 f"{len(ds.arrays('train')[1]):,}: use fewer --steps")
            x, y = modes.batches(ds, s.steps, s.batch_size)
            found += modes.torch_modes(name, kwargs, x, y, s.compile_) if "torch" in s.frameworks else []
            found += modes.tf_modes(name, kwargs, x, y, s.xla) if "tf" in s.frameworks else []
    if "loader" in s.sections:
        found += loader.loader_candidates(s.frameworks, s.batch_size, s.steps)
    return found


def run(**settings: Any) -> dict:
    """Measure every candidate; returns a JSON-ready dict of images/s. The keyword
    arguments are the fields of :class:`Settings`."""
    chosen = Settings(**settings)
    found = candidates(chosen)
    with _quiet_tf_retracing_warnings():
        return _measure(found, chosen)


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


def _measure(found: list[Candidate], settings: Settings) -> dict:
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
        for _ in range(settings.repeats):  # interleaved
            for c in block:
                c.seconds.append(epochs[c.name]())
    return _results(found, settings)


def _results(found: list[Candidate], settings: Settings) -> dict:
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
    s = settings
    return {"steps": s.steps, "batch_size": s.batch_size, "repeats": s.repeats, "width": s.width,
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


def check_out(path: str | Path) -> None:
    """Refuse an ``--out`` that cannot take the JSON, before minutes of measuring."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"--out {path} is a folder; name a file, e.g. {path / 'bench.json'}")
    parent = next((p for p in path.parents if p.exists()), Path("."))
    try:  # a real file, not os.access: /proc and read-only mounts pass os.access for root
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".tfpt-probe."):
            pass
    except OSError:
        raise UsageError(f"--out {path}: {parent} is not a folder you can write to") from None


def save(report: dict, path: str | Path) -> Path:
    """Write the report as JSON (atomically: an existing file is replaced whole or kept)."""
    from tfpt.checkpoint import atomic_path

    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(report, indent=2))
    except OSError as err:  # after minutes of measuring: one line, the table is printed above
        raise OutputError(f"could not write {path} ({err.strerror or err}); the results are "
                          "printed above") from err
    return path
