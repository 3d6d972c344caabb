"""onnxruntime for both frameworks' ONNX files (notebook 08: one runtime for both)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from tfpt.export import ExportError


def runner(path: str | Path, nchw: bool) -> Callable[[np.ndarray], np.ndarray]:
    """An ``onnxruntime.InferenceSession`` on NHWC images (transposed when ``nchw``)."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own untyped Fail/InvalidProtobuf errors
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise ExportError(f"{path} cannot be loaded as onnx ({first}); it may be truncated: "
                          "export it again") from err
    name = session.get_inputs()[0].name

    def run(images: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(images.transpose(0, 3, 1, 2)) if nchw else images
        return session.run(None, {name: x})[0]

    return run
