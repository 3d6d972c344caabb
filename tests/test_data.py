"""tfpt.data: sample detection, arrays, verification and clear errors."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import urllib.error
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tfpt import data
from tfpt.data import fetch as download_mod


@pytest.mark.parametrize("name, shape", [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_data_is_verified_and_a_sample_says_so(sample_root, name, shape):
    """Holds for the offline sample and for the full datasets alike."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = data.load(name, sample_root)
    n_train, n_test = len(ds.x_train), len(ds.x_test)
    assert ds.verified and ds.is_sample == (n_train < ds.spec.full_train
                                            or n_test < ds.spec.full_test)
    notes = [w for w in caught if issubclass(w.category, data.SampleDataWarning)]
    assert len(notes) == int(ds.is_sample)
    if ds.is_sample:
        assert f"{n_train:,} of {ds.spec.full_train:,} training" in str(notes[0].message)
        assert notes[0].filename == "tfpt.data.load"  # no temporary path of the caller
    assert ds.x_train.shape == (n_train, *shape) and ds.x_test.shape == (n_test, *shape)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    assert ds.y_test.dtype == np.int64
    assert set(np.unique(ds.y_train)) == set(range(10)) == set(np.unique(ds.y_test))
    assert len(ds.classes) == 10
    assert ds.kind in ds.describe() and f"{n_train:,} train" in ds.describe()


def test_fewer_images_than_the_official_set_is_a_sample(mnist):
    small = data.ImageData(mnist.spec, mnist.x_train[:10], mnist.y_train[:10], mnist.x_test,
                           mnist.y_test, mnist.classes, mnist.root)
    whole = data.ImageData(mnist.spec, np.zeros((60_000, 1, 1, 1)), np.zeros(60_000),
                           np.zeros((10_000, 1, 1, 1)), np.zeros(10_000), mnist.classes, mnist.root)
    assert small.is_sample and small.kind == "SAMPLE" and not whole.is_sample


def test_describe_shows_no_machine_path(mnist, monkeypatch):
    monkeypatch.setenv("TFPT_DATA_DIR", str(mnist.root))
    assert "from $TFPT_DATA_DIR" in mnist.describe() and str(mnist.root) not in mnist.describe()


def test_validation_split_is_fixed_disjoint_and_ten_percent(mnist):
    n = len(mnist.y_train)
    train, val = data.validation_split(n)
    assert len(val) == round(n / 10) and len(train) + len(val) == n
    assert np.intersect1d(train, val).size == 0
    again = data.validation_split(n)
    np.testing.assert_array_equal(val, again[1])  # the same images every run
    x_val, y_val = mnist.arrays("val")
    np.testing.assert_array_equal(x_val, mnist.x_train[val])
    np.testing.assert_array_equal(mnist.arrays("train", 5)[1], mnist.y_train[train[:5]])
    assert set(np.unique(y_val)) == set(range(10))


def test_cifar_classes_come_from_the_meta_file(cifar10):
    assert cifar10.classes[0] == "airplane" and cifar10.classes[-1] == "truck"


def test_mnist_test_set_is_the_official_one(mnist):
    # The sample's test set is complete: the first label of the official t10k set is 7.
    assert mnist.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(mnist.y_test).sum() == 10_000


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(data.UnknownDatasetError, match="tfpt knows cifar10, mnist"):
        data.load("imagenet")


def test_altered_file_names_file_and_both_hashes(mnist_copy):
    target = mnist_copy / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    raw = bytearray(target.read_bytes())
    raw[100] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(data.ChecksumError) as err:
        data.load("mnist", mnist_copy, download_missing=False)
    message = str(err.value)
    assert "train-labels-idx1-ubyte" in message
    assert hashlib.sha256(raw).hexdigest() in message  # actual
    assert "96f2664a6b51cd0a90e1639b7e3debe1144f67b133898d625ab48da2053e1738" in message  # expected


def test_truncated_file_without_manifest_is_caught_by_the_reader(mnist_copy):
    (mnist_copy / "SHA256SUMS").unlink()
    target = mnist_copy / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    target.write_bytes(target.read_bytes()[:5000])
    with pytest.raises(data.DataFormatError, match="truncated"):
        data.load("mnist", mnist_copy, download_missing=False)


def test_missing_data_offline_says_where_and_how(tmp_path):
    with pytest.raises(data.MissingDataError) as err:
        data.load("mnist", tmp_path, download_missing=False)
    message = str(err.value)
    assert str(tmp_path) in message and "TFPT_DATA_DIR" in message and "download" in message


def test_failed_download_leaves_nothing_behind(tmp_path, monkeypatch):
    def offline(spec, into: Path):
        (into / "MNIST" / "raw").mkdir(parents=True)
        (into / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").write_bytes(b"half a fi")
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(download_mod, "_fetch_with_torchvision", offline)
    with pytest.raises(data.MissingDataError, match="could not download MNIST"):
        data.load("mnist", tmp_path)
    assert list(tmp_path.iterdir()) == []  # no partial file, no staging folder


def test_interrupted_download_leaves_nothing_behind(tmp_path, monkeypatch):
    def interrupted(spec, into: Path):
        (into / "MNIST" / "raw").mkdir(parents=True)
        (into / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"\x00" * 100)
        raise KeyboardInterrupt

    monkeypatch.setattr(download_mod, "_fetch_with_torchvision", interrupted)
    with pytest.raises(KeyboardInterrupt):
        data.load("mnist", tmp_path)
    assert list(tmp_path.iterdir()) == []


def _fake_mnist_download(sample_root: Path):
    """A fetch that 'downloads' the sample's files plus a gzip archive of one of them."""
    def fetch(spec, into: Path):
        raw = into / "MNIST" / "raw"
        shutil.copytree(sample_root / "MNIST" / "raw", raw)
        with gzip.open(raw / "t10k-labels-idx1-ubyte.gz", "wb") as f:
            f.write((raw / "t10k-labels-idx1-ubyte").read_bytes())
    return fetch


def test_download_with_wrong_checksum_deletes_and_raises(sample_root, tmp_path, monkeypatch):
    monkeypatch.setattr(download_mod, "_fetch_with_torchvision", _fake_mnist_download(sample_root))
    spec = replace(data.get_spec("mnist"), archives={"t10k-labels-idx1-ubyte.gz": "0" * 64})
    with pytest.raises(data.ChecksumError, match="expected 0000"):
        download_mod.download(spec, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_verified_download_moves_into_place_and_writes_manifest(sample_root, tmp_path, monkeypatch):
    fetch = _fake_mnist_download(sample_root)
    monkeypatch.setattr(download_mod, "_fetch_with_torchvision", fetch)
    probe = tmp_path / "probe"
    fetch(None, probe)
    digest = hashlib.sha256((probe / "MNIST/raw/t10k-labels-idx1-ubyte.gz").read_bytes()).hexdigest()
    shutil.rmtree(probe)
    spec = replace(data.get_spec("mnist"), archives={"t10k-labels-idx1-ubyte.gz": digest})
    download_mod.download(spec, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MNIST", "SHA256SUMS"]
    manifest = (tmp_path / "SHA256SUMS").read_text()
    assert manifest.count("MNIST/raw/") == 4
    with pytest.warns(data.SampleDataWarning):
        assert data.load("mnist", tmp_path, download_missing=False).verified


def test_status_never_downloads(tmp_path, sample_root, mnist):
    assert data.status("cifar10", tmp_path).startswith("missing")
    expected = f"{mnist.kind}: {len(mnist.x_train):,} train / {len(mnist.x_test):,} test (verified)"
    assert data.status("mnist", sample_root) == expected


def test_arrays_rejects_unknown_split(mnist):
    with pytest.raises(ValueError, match="unknown split 'validation': use one of train, val, test"):
        mnist.arrays("validation")


def test_cifar_pickles_cannot_run_code(tmp_path):
    """The batches are unpickled with an allow-list (arrays, dicts, lists, bytes only)."""
    import pickle

    from tfpt.data.readers import DataFormatError, _unpickle

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({"data": Payload()}))
    with pytest.raises(DataFormatError, match="refusing to load builtins.print"):
        _unpickle(tmp_path / "data_batch_1")
    arrays = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]}
    (tmp_path / "data_batch_2").write_bytes(pickle.dumps(arrays, protocol=2))
    assert _unpickle(tmp_path / "data_batch_2")[b"labels"] == [1, 2]
