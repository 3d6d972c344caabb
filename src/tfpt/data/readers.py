"""Read MNIST (IDX files) and CIFAR-10 (python pickles) into numpy arrays, no framework needed.

Every file is checked before it is trusted: a regular file (a FIFO would block for
ever, a folder cannot be read), the layout its format promises, as many labels as
images, and every label one of the ten classes. What fails raises
:class:`DataFormatError` naming the file and the fix; nothing wrong is trained on.
"""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tfpt.errors import TfptError

_IDX_IMAGES, _IDX_LABELS = 2051, 2049
NUM_CLASSES = 10  # MNIST and CIFAR-10 both have ten
_CIFAR_PIXELS = 3 * 32 * 32
_REFETCH = "delete it and re-download"
_KINDS = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a named pipe (FIFO)",
          stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a device", stat.S_ISBLK: "a device"}


class DataFormatError(TfptError, ValueError):
    """A data file does not have the layout its format promises (e.g. it was truncated)."""


def _refuse_special(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS.items() if test(mode)), "not a regular file")
        raise DataFormatError(f"{path} is {kind}, not a data file: replace it with the real "
                              f"file ({_REFETCH})")


def open_data_file(path: Path) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file, else :class:`DataFormatError`.

    Checked with ``stat`` before opening and again on the open descriptor, which is
    opened non-blocking so that a FIFO swapped in between cannot hang the reader.
    """
    try:
        _refuse_special(path, path.stat().st_mode)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError as err:
        raise DataFormatError(f"{path} is missing (or a broken link); {_REFETCH}") from err
    except PermissionError as err:
        raise DataFormatError(f"{path} cannot be read (permission denied): make it readable, "
                              f"e.g. `chmod a+r {path}`") from err
    except OSError as err:
        raise DataFormatError(f"{path} cannot be read ({err.strerror}); {_REFETCH}") from err
    try:
        _refuse_special(path, os.fstat(fd).st_mode)
    except DataFormatError:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _read_bytes(path: Path) -> bytes:
    with open_data_file(path) as f:
        try:
            return f.read()
        except OSError as err:
            raise DataFormatError(f"{path} cannot be read ({err.strerror}); {_REFETCH}") from err


def check_labels(path: Path, labels: np.ndarray) -> None:
    """Raise unless every label is a class index, 0 to 9 (a wrong one would train wrongly)."""
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if len(bad):
        raise DataFormatError(
            f"{path} has {len(bad):,} label(s) outside 0..{NUM_CLASSES - 1} (label "
            f"{labels[bad[0]]} at index {bad[0]}); {_REFETCH}")


def _read_idx(path: Path, magic: int) -> np.ndarray:
    raw = _read_bytes(path)
    ndim = 3 if magic == _IDX_IMAGES else 1
    header = 4 * (1 + ndim)
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise DataFormatError(f"{path} is not an IDX file (bad header); {_REFETCH}")
    dims = [int.from_bytes(raw[4 * (i + 1): 4 * (i + 2)], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataFormatError(
            f"{path} has {len(raw)} bytes but its header promises {expected} "
            f"(truncated or altered); {_REFETCH}"
        )
    if ndim == 3 and dims[1:] != [28, 28]:
        raise DataFormatError(f"{path} holds {dims[1]}x{dims[2]} images, not MNIST's 28x28; "
                              f"{_REFETCH}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_mnist(folder: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28, 1) uint8 and labels (N,) int64 from torchvision's ``MNIST/raw``."""
    prefix = "train" if train else "t10k"
    images = _read_idx(folder / f"{prefix}-images-idx3-ubyte", _IDX_IMAGES)
    label_file = folder / f"{prefix}-labels-idx1-ubyte"
    labels = _read_idx(label_file, _IDX_LABELS)
    if len(images) != len(labels):
        raise DataFormatError(f"{folder}: {len(images)} images but {len(labels)} labels "
                              f"in {label_file.name}; {_REFETCH}")
    check_labels(label_file, labels)
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


# What unpickling damaged or hostile bytes raises: the file's fault, never tfpt's.
_UNPICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError,
                    IndexError, AttributeError, OverflowError, MemoryError)


def _unpickle(path: Path) -> dict:
    with open_data_file(path) as f:
        try:
            batch = _ArraysOnly(f, encoding="bytes").load()
        except _UNPICKLE_ERRORS as err:
            raise DataFormatError(f"{path} cannot be read ({err}); {_REFETCH}") from err
    if not isinstance(batch, dict):
        raise DataFormatError(f"{path} holds a {type(batch).__name__}, not a CIFAR-10 batch "
                              f"(a dict); {_REFETCH}")
    return batch


def _get(path: Path, batch: dict, key: str):
    """The official pickles use bytes keys; re-saved ones (like the sample) use str keys."""
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    raise DataFormatError(f"{path} is a CIFAR-10 batch without a {key!r} entry; {_REFETCH}")


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch's images (N, 32, 32, 3) and labels (N,), after checking both."""
    batch = _unpickle(path)
    data, labels = _get(path, batch, "data"), np.asarray(_get(path, batch, "labels"))
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == _CIFAR_PIXELS):
        what = (f"a {data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray)
                else f"a {type(data).__name__}")
        raise DataFormatError(f"{path}: 'data' is {what}, not uint8 rows of {_CIFAR_PIXELS} "
                              f"pixels; {_REFETCH}")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataFormatError(f"{path}: 'labels' is not a list of whole numbers; {_REFETCH}")
    if len(labels) != len(data):
        raise DataFormatError(f"{path}: {len(data)} images but {len(labels)} labels; {_REFETCH}")
    check_labels(path, labels)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.int64)


def read_cifar10(folder: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) uint8 and labels (N,) int64 from ``cifar-10-batches-py``."""
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    images, labels = zip(*(_cifar_batch(folder / name) for name in names))
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def read_cifar10_classes(folder: Path) -> tuple[str, ...]:
    """The ten class names from ``batches.meta``."""
    path = folder / "batches.meta"
    names = _get(path, _unpickle(path), "label_names")
    if (not isinstance(names, list | tuple) or len(names) != NUM_CLASSES
            or not all(isinstance(n, bytes | str) for n in names)):
        raise DataFormatError(f"{path}: 'label_names' is not a list of {NUM_CLASSES} names; "
                              f"{_REFETCH}")
    return tuple(n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names)


READERS = {"mnist": read_mnist, "cifar10": read_cifar10}
