"""Keras side of ``tfpt export``: SavedModel, LiteRT (.tflite) and ONNX via ``model.export``.

Notebook 08 builds each call in view first: ``model.export(path, format=...)``,
``tf.saved_model.load(path).serve``, ``ai_edge_litert.interpreter.Interpreter`` and
``onnxruntime.InferenceSession``. Runners take NHWC float32 NumPy images, like the
PyTorch twin.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from tfpt.export import ExportError

FORMATS = ("saved_model", "litert", "onnx")
KERAS_FORMAT = {"saved_model": "tf_saved_model", "litert": "litert", "onnx": "onnx"}


def load_checkpoint(path: str | Path) -> tuple[keras.Model, dict, dict]:
    """The checkpoint's model (loaded in safe mode), its info and its extra values."""
    from tfpt.checkpoint import keras as ckpt

    saved = ckpt.load(path)
    return saved.model, saved.info, saved.extra


def eager(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """The model itself in inference mode (``training=False``) on NHWC NumPy images."""
    return lambda images: np.asarray(model(images, training=False))


def export(model: keras.Model, fmt: str, path: Path, images: np.ndarray) -> Path:
    """``model.export(path, format=...)``, after one call on ``images`` (NHWC).

    The ONNX exporter refuses a model that was never called, as a freshly loaded one.
    """
    if fmt not in KERAS_FORMAT:
        raise ExportError(f"Keras cannot export {fmt}; choose {', '.join(FORMATS)}")
    model(images, training=False)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # tf2onnx's NumPy 2 FutureWarnings, LiteRT notices
        model.export(str(path), format=KERAS_FORMAT[fmt], verbose=False)
    return path


def runner(path: str | Path, fmt: str) -> Callable[[np.ndarray], np.ndarray]:
    """Load an artifact with its runtime; a truncated or foreign file is an ExportError."""
    path = Path(path)
    if fmt == "onnx":
        from tfpt.export.onnx import runner as onnx_runner

        return onnx_runner(path, nchw=False)
    try:
        if fmt == "saved_model":
            import tensorflow as tf

            loaded = tf.saved_model.load(str(path))  # keep it: .serve needs its variables
            return lambda images: loaded.serve(images).numpy()
        if fmt == "litert":
            return _litert(path)
    except (ValueError, OSError, RuntimeError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise ExportError(f"{path} cannot be loaded as {fmt} ({first}); it may be truncated: "
                          "export it again") from err
    raise ExportError(f"Keras cannot run {fmt}; choose {', '.join(FORMATS)}")


def _litert(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """A LiteRT interpreter, resized to each batch (the file's batch dimension is 1)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()

    def run(images: np.ndarray) -> np.ndarray:
        if tuple(interpreter.get_input_details()[0]["shape"]) != images.shape:
            interpreter.resize_tensor_input(inp["index"], images.shape)
            interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], images)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"]).copy()

    return run
