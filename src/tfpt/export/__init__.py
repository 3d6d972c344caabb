"""``tfpt export``: a ``tfpt train`` checkpoint leaves Python, proven equal to its eager model.

Built in notebook 08, which first makes every artifact with the frameworks' own calls
(``model.export``, ``torch.export.export``, ``torch.onnx.export``,
``aoti_compile_and_package``) and then asserts that this package gives the same numbers.
The twins :mod:`tfpt.export.torch` and :mod:`tfpt.export.keras` share one surface:
``FORMATS``, ``load_checkpoint(path)``, ``eager(model)``, ``export(model, fmt, path,
images)`` and ``runner(path, fmt)``; runners and eager models both take NHWC float32
NumPy images and return logits, so one check serves both frameworks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfpt.errors import UsageError

FORMATS = {"torch": ("onnx", "pt2", "aoti"), "keras": ("saved_model", "litert", "onnx")}
SUFFIX = {"onnx": ".onnx", "litert": ".tflite", "pt2": ".pt2", "aoti": ".pt2", "saved_model": ""}
# float32 logits computed with another op order differ by round-off: <= 6e-7 on a fresh
# MnistCNN (shared/reference/export.md), up to 1.5e-5 on notebook 08's trained one (LiteRT,
# 10,000 test images); a wrong conversion (a bias, a layout) moves them
# by 1e-2 or more, so 1e-4 sits between the two (above round-off, 100x below a bug).
TOLERANCE = 1e-4


class ExportError(UsageError):
    """The export cannot start or its artifact cannot be read: shown as one line, exit 2."""


@dataclass(frozen=True)
class Check:
    """An artifact's outputs against the eager model's, on the same real test images."""

    images: int
    max_abs: float
    agree: int  # images whose predicted class (argmax) is the same
    tolerance: float = TOLERANCE

    @property
    def passed(self) -> bool:
        return self.max_abs <= self.tolerance

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (f"check: {self.images} test images, max abs diff {self.max_abs:.1e} "
                f"(tolerance {self.tolerance:.0e}), argmax agrees {self.agree}/{self.images}: "
                f"{verdict}")


def twin(framework: str):
    """The framework's module, :mod:`tfpt.export.torch` or :mod:`tfpt.export.keras`."""
    return importlib.import_module(f"tfpt.export.{framework}")


def framework_of(checkpoint: str | Path) -> str:
    """'torch' or 'keras', from the checkpoint file's contents (not its name)."""
    from tfpt.checkpoint import CheckpointError, sniff

    try:
        kind = sniff(checkpoint)
    except CheckpointError as err:
        raise ExportError(str(err)) from err
    if kind == "keras-weights":
        raise ExportError(f"{checkpoint} holds Keras weights only; export a .keras checkpoint "
                          "(tfpt train writes best.keras)")
    return kind


def compare(run: Callable, reference: Callable, images: np.ndarray) -> Check:
    """Run both on ``images`` (NHWC float32) and measure how far apart their logits are."""
    got, want = np.asarray(run(images)), np.asarray(reference(images))
    return Check(len(images), float(np.abs(got - want).max()),
                 int((got.argmax(1) == want.argmax(1)).sum()))


def test_images(dataset: str, n: int) -> np.ndarray:
    """The first ``n`` real test images of ``dataset``, normalized as training saw them."""
    from tfpt import data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.SampleDataWarning)
        loaded = data.load(dataset)
    scale = np.float32(1.0 / 255.0)
    mean, std = (np.asarray(v, np.float32) for v in (loaded.spec.mean, loaded.spec.std))
    return ((loaded.x_test[:n].astype(np.float32) * scale - mean) / std).astype(np.float32)


def dataset_of(info: dict, extra: dict) -> str:
    """The dataset a checkpoint was trained on: its saved config, else its input shape."""
    dataset = (extra.get("config") or {}).get("dataset")
    if dataset:
        return dataset
    shape = tuple((info.get("model") or {}).get("kwargs", {}).get("image_shape", (28, 28, 1)))
    return {(28, 28, 1): "mnist", (32, 32, 3): "cifar10"}.get(shape, "mnist")


def check_out(out: str | Path, fmt: str) -> Path:
    """Refuse an ``--out`` that cannot hold this format before any slow work starts."""
    out = Path(out)
    if SUFFIX[fmt] and out.suffix != SUFFIX[fmt]:
        raise ExportError(f"--out {out}: a {fmt} artifact is a file ending in {SUFFIX[fmt]}")
    if out.is_dir() and (SUFFIX[fmt] or any(out.iterdir())
                         and not (out / "saved_model.pb").exists()):
        raise ExportError(f"--out {out} is a folder with other files in it; choose a new path")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out.parent).close()
    except OSError as err:
        raise ExportError(f"--out {out}: cannot write there ({err.strerror}); "
                          "choose a writable path") from err
    return out


def write(out: Path, make: Callable[[Path], object]) -> Path:
    """Call ``make(tmp)`` on a path beside ``out``, then move the result onto ``out``.

    An interrupted or failed export never leaves a half-written artifact at ``out``.
    """
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        tmp = staging / out.name
        make(tmp)
        if out.is_dir():
            shutil.rmtree(out)  # an earlier SavedModel (check_out refused anything else)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def size_of(path: Path) -> int:
    """Bytes on disk of a file, or of every file under a folder (a SavedModel)."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run(checkpoint: str | Path, fmt: str, out: str | Path, check: int = 256) -> Check | None:
    """Export ``checkpoint`` as ``fmt`` to ``out``; then check it on ``check`` test images."""
    framework = framework_of(checkpoint)
    if fmt not in FORMATS[framework]:
        raise ExportError(f"a {framework} checkpoint cannot be exported as {fmt}; choose "
                          f"{', '.join(FORMATS[framework])}")
    out = check_out(out, fmt)
    side = twin(framework)
    model, info, extra = side.load_checkpoint(checkpoint)
    images = test_images(dataset_of(info, extra), max(check, 2))
    start = time.perf_counter()
    write(out, lambda tmp: side.export(model, fmt, tmp, images[:2]))
    from tfpt.config import display_path

    print(f"wrote {display_path(out)} ({fmt}, {size_of(out) / 1e6:.1f} MB) "
          f"in {time.perf_counter() - start:.1f} s")
    if check == 0:
        return None
    return compare(side.runner(out, fmt), side.eager(model), images[:check])


def _command(args: argparse.Namespace) -> int:
    from tfpt.checkpoint import CheckpointError
    from tfpt.data import ChecksumError, DataFormatError, MissingDataError
    from tfpt.errors import TfptError

    try:
        result = run(args.checkpoint, args.format, args.out, args.check)
    except (TfptError, CheckpointError, MissingDataError, ChecksumError, DataFormatError) as err:
        print(f"tfpt export: error: {err}", file=sys.stderr)
        return getattr(err, "exit_code", 2)
    if result is None:
        return 0
    print(result)
    return 0 if result.passed else 1


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number (0: no check), got {text!r}")
    return int(text)


def add_parser(commands) -> argparse.ArgumentParser:
    """Register ``tfpt export`` on the CLI's subparsers (cli.py calls this)."""
    parser = commands.add_parser("export", help="a checkpoint as SavedModel, LiteRT, ONNX, "
                                 ".pt2 or AOTInductor, checked against the eager model")
    parser.add_argument("checkpoint", help="a .pt or .keras file written by tfpt train")
    parser.add_argument("--format", required=True,
                        choices=("saved_model", "litert", "onnx", "pt2", "aoti"),
                        help="Keras: saved_model, litert, onnx; torch: onnx, pt2, aoti")
    parser.add_argument("--out", required=True, help="the artifact (a folder for saved_model)")
    parser.add_argument("--check", type=_count, default=256, metavar="N",
                        help="compare with the eager model on N real test images (0: skip)")
    parser.set_defaults(func=_command)
    return parser
