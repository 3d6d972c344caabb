"""TensorFlow half of ``tfpt.data``: a ``tf.data`` pipeline (NHWC).

Twin of :mod:`tfpt.data.torch`: same function names, same arguments, same batches.
The shuffle order comes from :func:`tfpt.data.order.epoch_order` instead of
``Dataset.shuffle``, so that one seed gives the same batches as the torch loader.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfpt.data import ImageData
from tfpt.data.order import EpochCounter


def normalize_fn(data: ImageData):
    """uint8 → float32 in [0, 1] → standardized; the same float ops as the torch transform."""
    mean = tf.constant(data.spec.mean, tf.float32)
    std = tf.constant(data.spec.std, tf.float32)
    scale = tf.constant(1.0 / 255.0, tf.float32)

    def normalize(images: tf.Tensor) -> tf.Tensor:
        return (tf.cast(images, tf.float32) * scale - mean) / std

    return normalize


def augment_fn(data: ImageData, seed: int):
    """Random crop (after padding 4 pixels of zeros) and horizontal flip, per image.

    Stateless ops seeded by (seed, epoch, image index): the same run draws the same
    crops, so a resumed run continues exactly (stateful TF random ops would restart).
    """
    shape = data.spec.image_shape

    def augment(image: tf.Tensor, epoch: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
        key = tf.stack([tf.cast(seed, tf.int64) * 1_000_003 + epoch, index])
        padded = tf.pad(image, [[4, 4], [4, 4], [0, 0]])
        cropped = tf.image.stateless_random_crop(padded, shape, seed=key)
        return tf.image.stateless_random_flip_left_right(cropped, seed=key + 1)

    return augment


def loader(data: ImageData, split: str = "train", batch_size: int = 128,
           shuffle: bool | None = None, seed: int = 0, drop_last: bool = False,
           limit: int | None = None, augment: bool = False,
           start_epoch: int = 0) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of normalized float32 NHWC images and int64 labels.

    ``shuffle`` defaults to True for 'train'; the order comes from ``seed`` and
    the epoch number, exactly as in :func:`tfpt.data.torch.loader`. Each pass
    over the dataset (each Keras epoch) draws the next epoch's order. ``augment``
    adds a random 4-pixel crop and horizontal flip (random, so never equal across
    frameworks). ``start_epoch`` makes the first pass use that epoch's order (for resuming).
    """
    images, labels = data.arrays(split, limit)
    shuffle = split == "train" if shuffle is None else shuffle
    counter = EpochCounter(len(labels), seed if shuffle else None, start_epoch)
    x, y = tf.constant(images), tf.constant(labels)
    normalize = normalize_fn(data)

    def orders():  # called anew on every pass over the dataset
        epoch = counter.epoch
        order = counter.next_order()
        yield order, np.full(len(order), epoch, dtype=np.int64)

    spec = tf.TensorSpec(shape=(None,), dtype=tf.int64)
    indices = tf.data.Dataset.from_generator(orders, output_signature=(spec, spec))
    steps = len(labels) // batch_size if drop_last else -(-len(labels) // batch_size)
    indices = indices.unbatch()
    if augment:  # per image, before batching, so every image gets its own crop and flip
        flip_crop = augment_fn(data, seed)
        batches = (indices.map(lambda i, e: (flip_crop(normalize(tf.gather(x, i)), e, i),
                                             tf.gather(y, i)),
                               num_parallel_calls=tf.data.AUTOTUNE)
                   .batch(batch_size, drop_remainder=drop_last))
    else:  # gather whole batches at once: one op per batch
        batches = (indices.batch(batch_size, drop_remainder=drop_last)
                   .map(lambda i, _: (normalize(tf.gather(x, i)), tf.gather(y, i)),
                        num_parallel_calls=tf.data.AUTOTUNE))
    return (batches.apply(tf.data.experimental.assert_cardinality(steps))  # len() and Keras know it
            .prefetch(tf.data.AUTOTUNE))
