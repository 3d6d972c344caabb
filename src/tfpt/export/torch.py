"""PyTorch side of ``tfpt export``: ONNX, ``torch.export`` (.pt2) and AOTInductor packages.

Notebook 08 builds each call in view first: ``torch.export.export`` with a dynamic
batch (``torch.export.Dim``), ``torch.export.save/load``, ``torch.onnx.export(...,
dynamo=True)`` and ``torch._inductor.aoti_compile_and_package``. Runners take NHWC
float32 NumPy images (like the Keras twin) and transpose them to NCHW.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tfpt.export import ExportError

FORMATS = ("onnx", "pt2", "aoti")


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict, dict]:
    """The checkpoint's rebuilt model in eval mode, its info and its extra values."""
    from tfpt.checkpoint import torch as ckpt

    saved = ckpt.load(path)
    return saved.model.eval(), saved.info, saved.extra


def _nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def eager(model: nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    """The model itself, in eval mode and without autograd, on NHWC NumPy images."""
    model.eval()

    def run(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(_nchw(images)).numpy()

    return run


def exported(model: nn.Module, example: torch.Tensor) -> torch.export.ExportedProgram:
    """``torch.export.export`` with the batch dimension left dynamic."""
    batch = torch.export.Dim("batch")
    return torch.export.export(model.eval(), (example,), dynamic_shapes=({0: batch},))


def export(model: nn.Module, fmt: str, path: Path, images: np.ndarray) -> Path:
    """Write ``model`` as ``fmt`` to ``path``; ``images`` (NHWC, 2 or more) trace it."""
    example = _nchw(images)
    program = exported(model, example)
    if fmt == "pt2":
        torch.export.save(program, path)
    elif fmt == "onnx":
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter's progress lines
            torch.onnx.export(program, (example,), path, dynamo=True, external_data=False)
    elif fmt == "aoti":
        torch._inductor.aoti_compile_and_package(program, package_path=str(path))
    else:
        raise ExportError(f"PyTorch cannot export {fmt}; choose {', '.join(FORMATS)}")
    return path


def runner(path: str | Path, fmt: str) -> Callable[[np.ndarray], np.ndarray]:
    """Load an artifact with its runtime; a truncated or foreign file is an ExportError."""
    path = Path(path)
    if fmt == "onnx":
        from tfpt.export.onnx import runner as onnx_runner

        return onnx_runner(path, nchw=True)
    try:
        if fmt == "pt2":
            module = torch.export.load(path).module()
        elif fmt == "aoti":
            module = torch._inductor.aoti_load_package(str(path))
        else:
            raise ExportError(f"PyTorch cannot run {fmt}; choose {', '.join(FORMATS)}")
    except (RuntimeError, ValueError, OSError, KeyError, zipfile.BadZipFile) as err:
        raise ExportError(f"{path} cannot be loaded as {fmt} ({_first_line(err)}); "
                          "it may be truncated: export it again") from err

    def run(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = module(_nchw(images))
        return (out[0] if isinstance(out, (list, tuple)) else out).numpy()

    return run


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
