"""MNIST and CIFAR-10 as one source of truth: numpy arrays both frameworks read.

``tfpt.data.load("mnist")`` returns uint8 images (N, H, W, C), int64 labels and
class names from the data root (``TFPT_DATA_DIR`` or ``data/``). Missing data is
downloaded through torchvision and verified by SHA-256. A root that holds fewer
images than the official set (like ``../shared/datasets``) is an offline
*sample*: it is verified against its ``SHA256SUMS`` and announced as such.

The framework halves build on the same arrays: ``tfpt.data.torch.loader`` (a
torchvision-style ``Dataset`` + ``DataLoader``, NCHW) and ``tfpt.data.tf.dataset``
(``tf.data``, NHWC). The same seed gives the same batch order in both.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfpt.config import DATA_ENV, data_root, display_path
from tfpt.data.catalog import DATASETS, DatasetSpec, UnknownDatasetError, get_spec
from tfpt.data.fetch import DownloadError, download
from tfpt.data.order import LoaderOptions, epoch_order, validation_split
from tfpt.data.readers import READERS, DataFormatError, read_cifar10_classes
from tfpt.data.verify import MANIFEST, ChecksumError, ManifestError, check_file, read_manifest
from tfpt.errors import TfptError

__all__ = [
    "DATASETS", "ChecksumError", "DataFormatError", "DownloadError", "ImageData",
    "LoaderOptions", "ManifestError", "MissingDataError", "SampleDataWarning", "UnknownDatasetError",
    "epoch_order", "get_spec", "load", "missing_message", "status", "validation_split",
]

SPLITS = ("train", "val", "test")


class MissingDataError(TfptError, FileNotFoundError):
    """The dataset is not in the data root and could not be downloaded."""


class SampleDataWarning(UserWarning):
    """Loud notice that the data is an offline sample, not the full dataset."""


@dataclass
class ImageData:
    """One dataset's arrays and what is known about where they came from."""

    spec: DatasetSpec
    x_train: np.ndarray  # (N, H, W, C) uint8
    y_train: np.ndarray  # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    root: Path
    verified: bool = field(default=False)

    @property
    def is_sample(self) -> bool:
        return len(self.x_train) < self.spec.full_train or len(self.x_test) < self.spec.full_test

    @property
    def kind(self) -> str:
        return "SAMPLE" if self.is_sample else "full"

    def arrays(self, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The (images, labels) of ``split``, cut to the first ``limit``.

        'train' and 'val' split the training images with :func:`validation_split`
        (90% / 10%, the same images every time); 'test' is the official test set.
        """
        if split == "test":
            return self.x_test[:limit], self.y_test[:limit]
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
        train, val = validation_split(len(self.y_train))
        index = (train if split == "train" else val)[:limit]
        return self.x_train[index], self.y_train[index]

    def describe(self) -> str:
        """One line: which data this is, how many images, and whether it was verified."""
        check = f"verified against {MANIFEST}" if self.verified else "no SHA256SUMS, not verified"
        what = "offline SAMPLE of the official set" if self.is_sample else "full official dataset"
        return (f"{self.spec.title}: {what}, {len(self.x_train):,} train / {len(self.x_test):,} "
                f"test images from {display_path(self.root)} ({check})")

    def __repr__(self) -> str:
        return f"<ImageData {self.describe()}>"


def _missing_files(spec: DatasetSpec, root: Path) -> list[str]:
    return [f for f in spec.files if not (root / spec.folder / f).exists()]  # broken link: missing


def _root(root: str | Path | None) -> Path:
    """The data root to use; a ``TFPT_DATA_DIR`` that points nowhere, or a root that is a
    file, is refused (a typo must not become an empty folder that downloads or says OK)."""
    if root is not None:
        path = Path(root).expanduser().resolve()
    else:
        path = data_root()
        if os.environ.get(DATA_ENV) and not path.exists():
            raise MissingDataError(
                f"{DATA_ENV}={os.environ[DATA_ENV]} does not exist: fix the path, create the "
                f"folder (mkdir -p) to download into it, or unset {DATA_ENV} to use data/")
    if path.exists() and not path.is_dir():
        raise MissingDataError(f"the data root {path} is a file, not a folder: point {DATA_ENV} "
                               "at the folder that holds MNIST/ and cifar-10-batches-py/")
    return path


def _missing_message(spec: DatasetSpec, root: Path, missing: list[str], why: str) -> str:
    return (
        f"{spec.title} is not in {root / spec.folder} (missing: {', '.join(missing)}) and "
        f"{why}. Either connect to the internet and load again (it downloads through "
        f"torchvision into {root}), or copy a downloaded copy there, or point {DATA_ENV} at a "
        f"folder that has it, e.g. `export {DATA_ENV}=../shared/datasets` for the offline sample."
    )


def _verify(spec: DatasetSpec, root: Path) -> bool:
    """Check every file of ``spec`` listed in the root's manifest; True if all were listed."""
    sums = read_manifest(root)
    listed = 0
    for f in spec.files:
        relative = f"{spec.folder}/{f}"
        if relative in sums:
            check_file(root, relative, sums[relative])
            listed += 1
    return listed == len(spec.files)


def load(name: str, root: str | Path | None = None, download_missing: bool = True) -> ImageData:
    """Load a dataset's train and test arrays, downloading and verifying as needed.

    Raises :class:`UnknownDatasetError` for a name tfpt does not know,
    :class:`MissingDataError` when the files are absent and cannot be downloaded,
    and :class:`ChecksumError` when a file does not match the manifest.
    """
    spec = get_spec(name)
    root = _root(root)
    missing = _missing_files(spec, root)
    if missing:
        if not download_missing:
            raise MissingDataError(_missing_message(spec, root, missing, "downloading is off"))
        try:
            download(spec, root)
        except DownloadError as err:
            raise MissingDataError(_missing_message(spec, root, missing, str(err))) from err
    verified = _verify(spec, root)
    folder = root / spec.folder
    x_train, y_train = READERS[spec.name](folder, train=True)
    x_test, y_test = READERS[spec.name](folder, train=False)
    classes = read_cifar10_classes(folder) if spec.name == "cifar10" else spec.classes
    data = ImageData(spec, x_train, y_train, x_test, y_test, classes, root, verified)
    if data.is_sample:
        # warn_explicit: the notice names tfpt.data.load, not a temporary file of the caller.
        warnings.warn_explicit(
            f"using an offline SAMPLE of {spec.title}: {len(x_train):,} of {spec.full_train:,} "
            f"training and {len(x_test):,} of {spec.full_test:,} test images "
            f"({display_path(root)})",
            SampleDataWarning, filename="tfpt.data.load", lineno=0, module="tfpt.data")
    return data


def status(name: str, root: str | Path | None = None) -> str:
    """'full', 'SAMPLE' or 'missing' with counts, for ``tfpt doctor``; never downloads."""
    spec = get_spec(name)
    root = _root(root)
    missing = _missing_files(spec, root)
    if missing:
        return f"missing ({len(missing)} of {len(spec.files)} files absent)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        data = load(name, root, download_missing=False)
    check = "verified" if data.verified else "unverified"
    return f"{data.kind}: {len(data.x_train):,} train / {len(data.x_test):,} test ({check})"


def missing_message(name: str, root: str | Path | None = None) -> str | None:
    """What is missing of ``name`` and how to get it (for ``tfpt doctor``), or None."""
    spec = get_spec(name)
    root = _root(root)
    missing = _missing_files(spec, root)
    if not missing:
        return None
    folder = root / spec.folder
    why = (f"{display_path(folder)} is incomplete (delete it to download it afresh)"
           if folder.exists() else "tfpt doctor does not download")
    return _missing_message(spec, root, missing, why)
