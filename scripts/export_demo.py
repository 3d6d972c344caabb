"""Make the site demo's two ONNX models and its three sample digits, reproducibly.

Trains tfpt's PyTorch MnistCNN briefly (one seeded epoch on MNIST's training split), ports
its weights into the Keras twin with tfpt.port, exports both to ONNX (Keras with
``model.export(format="onnx")``, PyTorch with ``torch.onnx.export(..., dynamo=True)``) and
checks that onnxruntime gives the same ten scores for each. The models read 14×14 images
(MNIST halved by 2×2 means), which keeps each file under 1 MB; the 28×28 model weighs 4.7 MB.

    TFPT_DATA_DIR=/work/shared/datasets python scripts/export_demo.py [--out docs/demo]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image

import tfpt  # after torch (sorted) is the safe order: TensorFlow comes in through tfpt.models
from tfpt import data, port
from tfpt.models import keras as keras_models
from tfpt.models import torch as torch_models

ROOT = Path(__file__).resolve().parents[1]
SIZE = 14
SAMPLE_DIGITS = (3, 7, 2)  # the first test image of each of these digits is shipped
TOLERANCE = 1e-4  # float32 logits of order 10 from two runtimes: round-off is ~1e-6


def halve(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28[, 1]) -> float32 (N, 14, 14, 1) in [0, 1]: 2×2 means, as the page does."""
    x = images.reshape(len(images), SIZE, 2, SIZE, 2).astype(np.float32)
    return (x.mean(axis=(2, 4)) / np.float32(255))[..., None]


def train_torch(x: np.ndarray, y: np.ndarray, epochs: int) -> torch.nn.Module:
    """Seeded passes of Adam over (x, y): a demo model, not a tuned one."""
    tfpt.seed(0)
    model = torch_models.MnistCNN(image_shape=(SIZE, SIZE, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt))
        for start in range(0, len(xt), 128):
            batch = order[start:start + 128]
            loss = torch.nn.functional.cross_entropy(model(xt[batch]), yt[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def run_onnx(path: Path, x_nhwc: np.ndarray) -> np.ndarray:
    """Scores from onnxruntime; the PyTorch file takes NCHW, the Keras file NHWC."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    x = x_nhwc if inp.shape[-1] == 1 else x_nhwc.transpose(0, 3, 1, 2)
    return session.run(None, {inp.name: np.ascontiguousarray(x)})[0]


def export(model: torch.nn.Module, out: Path) -> None:
    """Write keras.onnx and torch.onnx for ``model`` (and its Keras twin) into ``out``."""
    keras_model = keras_models.MnistCNN(image_shape=(SIZE, SIZE, 1))
    port.torch_to_keras(model, keras_model)
    keras_model(np.zeros((1, SIZE, SIZE, 1), np.float32))  # Keras exports only a model it has called
    keras_model.export(str(out / "keras.onnx"), format="onnx", verbose=False)
    example = (torch.zeros(1, 1, SIZE, SIZE),)
    torch.onnx.export(model, example, str(out / "torch.onnx"), dynamo=True, external_data=False,
                      dynamic_shapes={"input": {0: torch.export.Dim("batch")}}, verbose=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "demo")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    mnist = data.load("mnist")
    x_train, y_train = mnist.arrays("train")
    model = train_torch(halve(x_train), y_train, args.epochs)
    export(model, args.out)
    x_test, y_test = mnist.arrays("test")
    picks = [int(np.flatnonzero(y_test == d)[0]) for d in SAMPLE_DIGITS]
    for digit, index in zip(SAMPLE_DIGITS, picks):
        Image.fromarray(x_test[index].reshape(28, 28)).save(args.out / f"digit-{digit}.png")
    x = halve(x_test)
    with torch.no_grad():
        eager = model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    scores = {name: run_onnx(args.out / f"{name}.onnx", x) for name in ("keras", "torch")}
    for name, s in scores.items():
        diff = float(np.abs(s - eager).max())
        print(f"{name}.onnx vs eager PyTorch on {len(x)} test images: max |diff| {diff:.1e}")
        assert diff < TOLERANCE, f"{name}.onnx differs from the model it exports"
    accuracy = float((scores["torch"].argmax(1) == y_test).mean())
    print(f"test accuracy {accuracy:.3f}; files in {args.out}:",
          ", ".join(f"{p.name} {p.stat().st_size / 1024:.1f} KB" for p in sorted(args.out.iterdir())
                    if p.suffix in (".onnx", ".png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
