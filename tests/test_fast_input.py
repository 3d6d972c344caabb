"""The batched input path (data on the device, whole batches augmented at once) against the
per-image path: the same crops, the same distribution, reproducible, resumable; and
`tfpt train --fast` on a CPU."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf
import torch

import tfpt.data.tf as data_tf
import tfpt.data.torch as data_torch
from tfpt.app import Config, train
from tfpt.data import ImageData, LoaderOptions

AUGMENT = LoaderOptions(augment=True)

PAD = 4


def _reference_crop_flip(images_nhwc, offsets, flips):
    """One image at a time, with NumPy slicing: what the batched ops must reproduce."""
    padded = np.pad(images_nhwc, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)))
    h, w = images_nhwc.shape[1:3]
    out = [p[dy:dy + h, dx:dx + w] for p, (dy, dx) in zip(padded, offsets)]
    return np.stack([o[:, ::-1] if f else o for o, f in zip(out, flips)])


def test_batched_crop_and_flip_equal_the_per_image_reference():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    offsets = rng.integers(0, 2 * PAD + 1, (64, 2))
    flips = rng.random(64) < 0.5
    expected = _reference_crop_flip(images, offsets, flips)
    got_torch = data_torch.random_crop_flip(torch.from_numpy(images).permute(0, 3, 1, 2),
                                            torch.from_numpy(offsets), torch.from_numpy(flips))
    got_tf = data_tf.random_crop_flip(tf.constant(images), tf.constant(offsets, tf.int32),
                                      tf.constant(flips))
    np.testing.assert_array_equal(got_torch.permute(0, 2, 3, 1).numpy(), expected)
    np.testing.assert_array_equal(got_tf.numpy(), expected)


def _markers(cifar10, n: int = 2000) -> ImageData:
    """CIFAR-shaped images whose pixels say where they came from: channel 0 = row + 1,
    channel 1 = column + 1, so a crop's offset and flip can be read off any output."""
    row, col = np.meshgrid(np.arange(32) + 1, np.arange(32) + 1, indexing="ij")
    image = np.stack([row, col, np.full_like(row, 200)], axis=-1).astype(np.uint8)
    spec = replace(cifar10.spec, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    images = np.repeat(image[None], n, axis=0)
    labels = np.zeros(n, dtype=np.int64)
    return ImageData(spec, images, labels, images[:10], labels[:10], cifar10.classes, cifar10.root)


def _offsets_and_flips(batch_nhwc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.rint(batch_nhwc * 255.0).astype(int)  # undo x / 255 (mean 0, std 1)
    centre, right = pixels[:, 16, 16], pixels[:, 16, 17]
    flips = right[:, 1] < centre[:, 1]  # columns run backwards in a mirrored crop
    dy = centre[:, 0] - 1 - 16 + PAD
    dx = centre[:, 1] - 1 - np.where(flips, 15, 16) + PAD
    return np.stack([dy, dx], axis=1), flips


def _first_epoch(loader, nchw: bool) -> np.ndarray:
    batches = [np.asarray(x) for x, _ in loader]
    x = np.concatenate(batches)
    return x.transpose(0, 2, 3, 1) if nchw else x


LOADERS = {
    "torch per image": (lambda d: data_torch.loader(d, batch_size=500, options=AUGMENT), True),
    "torch batched": (lambda d: data_torch.device_loader(d, batch_size=500, options=AUGMENT), True),
    "tf per image": (lambda d: data_tf.loader(d, batch_size=500, options=AUGMENT), False),
    "tf batched": (lambda d: data_tf.device_loader(d, batch_size=500, options=AUGMENT), False),
}


@pytest.mark.parametrize("name", LOADERS)
def test_crops_and_flips_are_uniform_in_every_path(cifar10, name):
    make, nchw = LOADERS[name]
    offsets, flips = _offsets_and_flips(_first_epoch(make(_markers(cifar10)), nchw))
    n = len(flips)
    assert offsets.min() == 0 and offsets.max() == 2 * PAD  # the same support in every path
    for axis in range(2):  # chi-square over the 9 offsets; 26.1 is the 0.1% point for 8 dof
        counts = np.bincount(offsets[:, axis], minlength=2 * PAD + 1)
        expected = n / (2 * PAD + 1)
        assert ((counts - expected) ** 2 / expected).sum() < 26.1, counts
    assert abs(flips.mean() - 0.5) < 4 * np.sqrt(0.25 / n)  # within 4 standard errors


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_batched_path_is_seeded_and_resumes_by_epoch(cifar10, framework):
    module = data_torch if framework == "torch" else data_tf
    kwargs = {"batch_size": 100, "limit": 300, "seed": 3}
    fresh = module.device_loader(cifar10, options=AUGMENT, **kwargs)
    epoch0, epoch1 = ([np.asarray(x) for x, _ in fresh] for _ in range(2))
    again = [np.asarray(x) for x, _ in module.device_loader(cifar10, options=AUGMENT, **kwargs)]
    from_1 = LoaderOptions(augment=True, start_epoch=1)
    resumed = [np.asarray(x) for x, _ in module.device_loader(cifar10, options=from_1, **kwargs)]
    for a, b in zip(epoch0, again):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(epoch1, resumed):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(epoch0[0], epoch1[0])


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_without_augmentation_the_batched_path_gives_the_readable_batches(cifar10, framework):
    module = data_torch if framework == "torch" else data_tf
    kwargs = {"batch_size": 250, "limit": 500, "seed": 1}
    for (xa, ya), (xb, yb) in zip(module.loader(cifar10, **kwargs),
                                  module.device_loader(cifar10, **kwargs)):
        np.testing.assert_array_equal(np.asarray(ya), np.asarray(yb))
        # Folding /255, -mean and /std into one multiply-add changes float32 round-off only.
        np.testing.assert_allclose(np.asarray(xa), np.asarray(xb), rtol=0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_fast_training_runs_on_a_cpu(tmp_path, framework, monkeypatch):
    """--fast really takes the device loader, and compiles (torch.compile / XLA)."""
    import tfpt.app.keras as app_keras
    import tfpt.app.torch as app_torch

    used = []

    def spy(owner, name):
        real = getattr(owner, name)
        monkeypatch.setattr(owner, name, lambda *a, **k: used.append((name, k)) or real(*a, **k))

    if framework == "torch":
        spy(app_torch.data_torch, "device_loader")
        spy(app_torch.torch, "compile")
    else:
        spy(app_keras.data_tf, "device_loader")
        spy(app_keras.loop, "fit_custom")
    cfg = Config(framework=framework, dataset="cifar10", width=4, epochs=1, limit=256,
                 val_limit=100, test_limit=100, batch_size=64, fast=True, out=str(tmp_path))
    metrics = train(cfg)
    assert metrics["epochs"] == 1 and np.isfinite(metrics["test_loss"])
    names = [name for name, _ in used]
    assert "device_loader" in names
    if framework == "torch":
        assert "compile" in names and dict(used)["device_loader"]["channels_last"] is True
    else:
        assert dict(used)["fit_custom"]["jit_compile"] is True
