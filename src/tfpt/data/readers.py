"""Read MNIST (IDX files) and CIFAR-10 (python pickles) into numpy arrays, no framework needed."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

_IDX_IMAGES, _IDX_LABELS = 2051, 2049


class DataFormatError(ValueError):
    """A data file does not have the layout its format promises (e.g. it was truncated)."""


def _read_idx(path: Path, magic: int) -> np.ndarray:
    raw = path.read_bytes()
    ndim = 3 if magic == _IDX_IMAGES else 1
    header = 4 * (1 + ndim)
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise DataFormatError(f"{path} is not an IDX file (bad header); delete it and re-download")
    dims = [int.from_bytes(raw[4 * (i + 1): 4 * (i + 2)], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataFormatError(
            f"{path} has {len(raw)} bytes but its header promises {expected} "
            "(truncated or altered); delete it and re-download"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_mnist(folder: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28, 1) uint8 and labels (N,) int64 from torchvision's ``MNIST/raw``."""
    prefix = "train" if train else "t10k"
    images = _read_idx(folder / f"{prefix}-images-idx3-ubyte", _IDX_IMAGES)
    labels = _read_idx(folder / f"{prefix}-labels-idx1-ubyte", _IDX_LABELS)
    if len(images) != len(labels):
        raise DataFormatError(f"{folder}: {len(images)} images but {len(labels)} labels")
    return images[..., None].copy(), labels.astype(np.int64)


class _ArraysOnly(pickle.Unpickler):
    """CIFAR-10's pickles hold dicts, lists, bytes and NumPy arrays; refuse anything else,
    so a tampered file in the data folder cannot run code (as ``weights_only=True``)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"),
               ("_codecs", "encode")}  # how protocol-2 pickles written by Python 3 store bytes

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not CIFAR-10 data")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return _ArraysOnly(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise DataFormatError(f"{path} cannot be read ({err}); delete it and re-download") from err


def _get(batch: dict, key: str):
    """The official pickles use bytes keys; re-saved ones (like the sample) use str keys."""
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    raise DataFormatError(f"CIFAR-10 batch has no {key!r} entry; delete it and re-download")


def read_cifar10(folder: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) uint8 and labels (N,) int64 from ``cifar-10-batches-py``."""
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    images, labels = [], []
    for name in names:
        batch = _unpickle(folder / name)
        data = np.asarray(_get(batch, "data"), dtype=np.uint8)
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(_get(batch, "labels"), dtype=np.int64))
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def read_cifar10_classes(folder: Path) -> tuple[str, ...]:
    meta = _unpickle(folder / "batches.meta")
    return tuple(n.decode() if isinstance(n, bytes) else n for n in _get(meta, "label_names"))


READERS = {"mnist": read_mnist, "cifar10": read_cifar10}
