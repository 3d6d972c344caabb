"""Checkpoints for both frameworks: atomic writes, format detection, clear errors.

Built on the raw calls of notebook 05. Both twins have the same surface:
``save(path, model, optimizer=None, **extra)`` and ``load(path, model=None,
optimizer=None, device=None) -> Loaded``.

- ``tfpt.checkpoint.torch`` saves a state dict with metadata and loads it with
  ``torch.load(weights_only=True)`` onto the local device; a twin model is rebuilt
  from the spec stored beside its weights.
- ``tfpt.checkpoint.keras`` saves ``.keras`` (architecture, weights, optimizer; our
  metadata as one more JSON member of the zip) or ``.weights.h5`` files, and loads
  with safe mode on.

Both write to a temporary file first and rename it into place, so an interrupted
save never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfpt.errors import TfptError

FORMAT = "tfpt-checkpoint"


class CheckpointError(TfptError, ValueError):
    """A checkpoint cannot be used: missing, truncated, other framework or other model."""


def one_line(err: BaseException, limit: int = 200) -> str:
    """The first line of an error from a library (Keras and torch write paragraphs), trimmed,
    so that a refused file still gets a one-line message."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = lines[0] if lines else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class Loaded:
    """What ``load`` gives back, in both frameworks."""

    model: Any  # the model with its weights restored
    optimizer: Any | None  # the optimizer with its state restored, if there was one
    extra: dict = field(default_factory=dict)  # what save(**extra) stored: epoch, history, ...
    info: dict = field(default_factory=dict)  # framework, model spec, versions, trained_on


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        tmp = staging / path.name  # same name: Keras checks the suffix
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def sniff(path: str | Path) -> str:
    """Which framework wrote ``path``: 'torch', 'keras' (.keras) or 'keras-weights' (.h5).

    Raises :class:`CheckpointError` for a missing, truncated or unknown file.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):
        return "keras-weights"
    if not head.startswith(b"PK"):
        raise CheckpointError(f"{path} is not a checkpoint tfpt knows (neither a zip nor HDF5 file)")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise CheckpointError(f"{path} is truncated or corrupted ({err}); "
                              "use an earlier checkpoint or train again") from err
    if bad is not None:
        raise CheckpointError(f"{path} is corrupted (member {bad} fails its CRC check)")
    if "config.json" in names and "model.weights.h5" in names:
        return "keras"
    if any(n.endswith("data.pkl") for n in names):
        return "torch"
    raise CheckpointError(f"{path} is a zip file but not a Keras or PyTorch checkpoint")


def expect(path: str | Path, framework: str) -> None:
    """Raise a clear error unless ``path`` was written by ``framework``."""
    found = sniff(path)
    wanted = {"torch": ("torch",), "keras": ("keras", "keras-weights")}[framework]
    if found not in wanted:
        other = "tfpt.checkpoint.keras.load" if framework == "torch" else "tfpt.checkpoint.torch.load"
        raise CheckpointError(
            f"{path} is a {found} checkpoint, not a {framework} one: load it with {other}, "
            "or move its weights across with tfpt.port")


def check_spec(path: str | Path, saved: dict, current: dict) -> None:
    """Raise unless the twin model a checkpoint was saved from is the one given
    (``{}`` on either side, a model tfpt did not build, skips the check)."""
    if saved and current and saved != current:
        raise CheckpointError(
            f"{path} holds {saved['name']}({_args(saved)}) but the model is "
            f"{current['name']}({_args(current)}); build the same model to load it")


def _args(spec: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in spec.get("kwargs", {}).items())
