"""TensorFlow half of ``tfpt.data``: a ``tf.data`` pipeline (NHWC).

Twin of :mod:`tfpt.data.torch`: same function names, same arguments, same batches.
The shuffle order comes from :func:`tfpt.data.order.epoch_order` instead of
``Dataset.shuffle``, so that one seed gives the same batches as the torch loader.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from tfpt.data import ImageData
from tfpt.data.order import LoaderOptions

PAD = 4  # pixels of zero (black) padding before the random crop (CIFAR-10's usual 4)


def normalize_fn(data: ImageData):
    """uint8 → float32 in [0, 1] → standardized; the same float ops as the torch transform."""
    mean = tf.constant(data.spec.mean, tf.float32)
    std = tf.constant(data.spec.std, tf.float32)
    scale = tf.constant(1.0 / 255.0, tf.float32)

    def normalize(images: tf.Tensor) -> tf.Tensor:
        return (tf.cast(images, tf.float32) * scale - mean) / std

    return normalize


def augment_fn(data: ImageData, seed: int):
    """Random crop (after padding 4 black pixels: it runs on the uint8 image, before
    normalizing) and horizontal flip, per image; the same distribution as :func:`random_crop_flip`.

    Stateless ops seeded by (seed, epoch, image index), crop and flip from separate
    keys: the same run draws the same crops, so a resumed run continues exactly
    (stateful TF random ops would restart).
    """
    shape = data.spec.image_shape

    def augment(image: tf.Tensor, epoch: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
        stream = tf.cast(seed, tf.int64) * 1_000_003 + epoch
        padded = tf.pad(image, [[PAD, PAD], [PAD, PAD], [0, 0]])  # uint8: black
        cropped = tf.image.stateless_random_crop(padded, shape, seed=tf.stack([stream, 2 * index]))
        return tf.image.stateless_random_flip_left_right(cropped, seed=tf.stack([stream, 2 * index + 1]))

    return augment


def loader(data: ImageData, split: str = "train", batch_size: int = 128, seed: int = 0,
           limit: int | None = None, options: LoaderOptions = LoaderOptions()) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of normalized float32 NHWC images and int64 labels.

    The 'train' split is shuffled (``options.shuffle`` decides otherwise) in an order
    that comes from ``seed`` and the epoch number, exactly as in
    :func:`tfpt.data.torch.loader`. Each pass over the dataset (each Keras epoch) draws
    the next epoch's order. ``options.augment`` adds a random 4-pixel crop and
    horizontal flip (random, so never equal across frameworks).
    """
    images, labels = data.arrays(split, limit)
    counter = options.counter(len(labels), split, seed)
    drop_last = options.drop_last
    x, y = tf.constant(images), tf.constant(labels)
    normalize = normalize_fn(data)

    def orders():  # called anew on every pass over the dataset
        epoch = counter.epoch
        order = counter.next_order()
        yield order, np.full(len(order), epoch, dtype=np.int64)

    spec = tf.TensorSpec(shape=(None,), dtype=tf.int64)
    indices = tf.data.Dataset.from_generator(orders, output_signature=(spec, spec))
    steps = options.steps(len(labels), batch_size)
    indices = indices.unbatch()
    if options.augment:  # per image, before batching, so every image gets its own crop and flip
        flip_crop = augment_fn(data, seed)
        batches = (indices.map(lambda i, e: (normalize(flip_crop(tf.gather(x, i), e, i)),
                                             tf.gather(y, i)),
                               num_parallel_calls=tf.data.AUTOTUNE)
                   .batch(batch_size, drop_remainder=drop_last))
    else:  # gather whole batches at once: one op per batch
        batches = (indices.batch(batch_size, drop_remainder=drop_last)
                   .map(lambda i, _: (normalize(tf.gather(x, i)), tf.gather(y, i)),
                        num_parallel_calls=tf.data.AUTOTUNE))
    return (batches.apply(tf.data.experimental.assert_cardinality(steps))  # len() and Keras know it
            .prefetch(tf.data.AUTOTUNE))


# --- the fast path: the whole split on the device, whole batches augmented at once ---

_TF_DEVICES = {"cpu": "/CPU:0", "cuda": "/GPU:0", "gpu": "/GPU:0", "auto": None}


def random_crop_flip(images: tf.Tensor, offsets: tf.Tensor, flips: tf.Tensor,
                     pad: int = PAD) -> tf.Tensor:
    """Crop every image of an NHWC batch at its own offset after zero-padding, and mirror
    the ones marked in ``flips``, with one batched gather (no loop over images).

    ``offsets`` is (B, 2) with values in ``0..2*pad`` (row, column); a flip is
    reading the window's columns backwards.
    """
    n, h, w, c = tf.shape(images)[0], images.shape[1], images.shape[2], images.shape[3]
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    flat = tf.reshape(padded, (n, (h + 2 * pad) * (w + 2 * pad), c))  # pixels in a row
    rows = offsets[:, :1] + tf.range(h)  # (B, H)
    cols = offsets[:, 1:] + tf.range(w)  # (B, W)
    cols = tf.where(flips[:, None], tf.reverse(cols, [1]), cols)
    pixel = tf.reshape(rows[:, :, None] * (w + 2 * pad) + cols[:, None, :], (n, h * w))
    return tf.reshape(tf.gather(flat, pixel, batch_dims=1), (n, h, w, c))


class DeviceLoader:
    """Batches from one uint8 tensor that lives on ``device``: the GPU-ready input path.

    Same order as :func:`loader` (:func:`tfpt.data.order.epoch_order`); the random
    crop and flip (``augment``) are drawn per image by stateless ops seeded by
    ``(seed, epoch, batch)``, for the whole batch at once inside one ``tf.function``
    compiled with XLA (which fuses the gathers, the cast and the multiply-add: 3x
    faster than the plain graph on a CPU); uint8 → float, scaling and
    standardization are one multiply-add.
    """

    def __init__(self, data: ImageData, split: str = "train", batch_size: int = 128,
                 seed: int = 0, limit: int | None = None,
                 options: LoaderOptions = LoaderOptions(), device: str = "cpu"):
        images, labels = data.arrays(split, limit)
        self.place = _TF_DEVICES.get(device, device)  # None: TensorFlow's default placement
        with self._placed():
            self.images, self.labels = tf.constant(images), tf.constant(labels)
        self.counter = options.counter(len(labels), split, seed)
        self.seed, self.batch_size, self.options = seed, batch_size, options
        std, mean = np.array(data.spec.std), np.array(data.spec.mean)
        scale = tf.constant(1.0 / (255.0 * std), tf.float32)
        shift = tf.constant(-mean / std, tf.float32)

        @tf.function(jit_compile=True)
        def batch(index: tf.Tensor, key: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            x = tf.gather(self.images, index)
            if options.augment:
                n = tf.shape(index)[0]
                offsets = tf.random.stateless_uniform((n, 2), key, 0, 2 * PAD + 1, tf.int32)
                flips = tf.random.stateless_uniform((n,), key + 1) < 0.5
                x = random_crop_flip(x, offsets, flips)
            return tf.cast(x, tf.float32) * scale + shift, tf.gather(self.labels, index)

        self._batch = batch

    def _placed(self):
        return tf.device(self.place) if self.place else contextlib.nullcontext()

    def __len__(self) -> int:
        return self.options.steps(int(self.labels.shape[0]), self.batch_size)

    def __iter__(self) -> Iterator[tuple[tf.Tensor, tf.Tensor]]:
        epoch = self.counter.epoch
        order = self.counter.next_order()
        with self._placed():
            for i in range(len(self)):
                index = tf.constant(order[i * self.batch_size:(i + 1) * self.batch_size])
                key = tf.constant([self.seed * 1_000_003 + epoch, 2 * i], tf.int64)
                yield self._batch(index, key)


def device_loader(data: ImageData, split: str = "train", batch_size: int = 128, seed: int = 0,
                  limit: int | None = None, options: LoaderOptions = LoaderOptions(),
                  device: str = "cpu") -> DeviceLoader:
    """:class:`DeviceLoader`: :func:`loader`'s arguments plus where the data lives (TensorFlow
    images are NHWC already, so there is no ``channels_last``)."""
    return DeviceLoader(data, split, batch_size, seed, limit, options, device)
