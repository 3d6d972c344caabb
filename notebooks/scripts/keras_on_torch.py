"""Keras 3 on the PyTorch backend: notebook 06's MnistCNN, run and trained by PyTorch.

Keras picks its backend once, when it is first imported, from ``KERAS_BACKEND``.
The notebook's kernel already runs Keras on TensorFlow, so notebook 06 calls this
script in a fresh process:

    python scripts/keras_on_torch.py FOLDER --lr 0.05 --batch-size 32

FOLDER holds ``start.weights.h5`` (weights saved by the TensorFlow-backend model)
and ``batch.npz`` (``x``: NHWC images, ``y``: labels). The script builds the same
Keras model, loads those weights, predicts ``x``, trains one epoch with ``fit`` on
``(x, y)`` and writes ``torch_predictions.npy`` and ``torch_trained.weights.h5``
back into FOLDER, so that the notebook can compare both with TensorFlow's. Last, it
exports the trained model to ONNX with ``model.export(format="onnx")``, which works
on the PyTorch backend too, and checks the file with onnxruntime.
"""

import os

os.environ["KERAS_BACKEND"] = "torch"  # before the first `import keras` in this process

import tfpt  # noqa: E402,F401,I001  first, as everywhere (no TensorFlow is imported here)

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from tfpt.models import keras as keras_models  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    batch = np.load(args.folder / "batch.npz")

    model = keras_models.MnistCNN(dropout=False)  # the very same builder as in TensorFlow
    model.load_weights(args.folder / "start.weights.h5")
    kernel = model.get_layer("conv1").kernel.value
    numbers = sum(p.numel() for p in model.parameters())
    print(f"backend: {keras.backend.backend()}")
    print(f"conv1 kernel: {type(kernel).__module__}.{type(kernel).__name__} {tuple(kernel.shape)}")
    print(f"the model is a torch.nn.Module: {isinstance(model, torch.nn.Module)}, "
          f"with {len(list(model.parameters()))} parameters ({numbers:,} numbers)")

    np.save(args.folder / "torch_predictions.npy", model.predict(batch["x"], verbose=0))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=args.lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(batch["x"], batch["y"], batch_size=args.batch_size, epochs=1,
                        shuffle=False, verbose=0)
    model.save_weights(args.folder / "torch_trained.weights.h5")
    print(f"fit: {len(batch['y']) // args.batch_size} steps, mean loss {history.history['loss'][0]:.4f}")
    print(f"exported ONNX: {export_onnx(model, args.folder / 'model.onnx', batch['x'][:8])}")
    return 0


def export_onnx(model: keras.Model, path: Path, x: np.ndarray) -> bool:
    """Export with Keras's own ``model.export`` and check that onnxruntime gives the same logits."""
    import onnxruntime

    model.export(path, format="onnx", verbose=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_logits = session.run(None, {session.get_inputs()[0].name: x})[0]
    return bool(np.allclose(onnx_logits, model.predict(x, verbose=0), rtol=1e-4, atol=1e-5))


if __name__ == "__main__":
    sys.exit(main())
