"""Fixtures for the unit tests: the offline sample and throw-away copies of it."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import pytest

import tfpt  # noqa: F401  (import-order guard first)
from tfpt import data

REPO = Path(__file__).resolve().parents[1]


def _find_sample() -> Path | None:
    for candidate in (os.environ.get("TFPT_DATA_DIR"), REPO.parent / "shared" / "datasets"):
        if candidate and (Path(candidate) / "SHA256SUMS").exists():
            return Path(candidate).resolve()
    return None


@pytest.fixture(scope="session")
def sample_root() -> Path:
    root = _find_sample()
    if root is None:
        pytest.skip("offline sample not found: set TFPT_DATA_DIR to ../shared/datasets")
    return root


@pytest.fixture(scope="session")
def mnist(sample_root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.SampleDataWarning)
        return data.load("mnist", sample_root)


@pytest.fixture(scope="session")
def cifar10(sample_root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.SampleDataWarning)
        return data.load("cifar10", sample_root)


@pytest.fixture
def mnist_copy(sample_root, tmp_path) -> Path:
    """A writable copy of the MNIST sample with its manifest lines."""
    shutil.copytree(sample_root / "MNIST", tmp_path / "MNIST")
    lines = [line for line in (sample_root / "SHA256SUMS").read_text().splitlines()
             if "MNIST/" in line]
    (tmp_path / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    for f in (tmp_path / "MNIST" / "raw").iterdir():
        f.chmod(0o644)
    return tmp_path
