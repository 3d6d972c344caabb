"""TensorFlow half of ``tfpt.data``: a ``tf.data`` pipeline (NHWC).

Twin of :mod:`tfpt.data.torch`: same function names, same arguments, same batches.
The shuffle order comes from :func:`tfpt.data.order.epoch_order` instead of
``Dataset.shuffle``, so that one seed gives the same batches as the torch loader.
"""

from __future__ import annotations

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


def loader(data: ImageData, split: str = "train", batch_size: int = 128,
           shuffle: bool | None = None, seed: int = 0, drop_last: bool = False,
           limit: int | None = None) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of normalized float32 NHWC images and int64 labels.

    ``shuffle`` defaults to True for 'train'; the order comes from ``seed`` and
    the epoch number, exactly as in :func:`tfpt.data.torch.loader`. Each pass
    over the dataset (each Keras epoch) draws the next epoch's order.
    """
    images, labels = data.arrays(split, limit)
    shuffle = split == "train" if shuffle is None else shuffle
    counter = EpochCounter(len(labels), seed if shuffle else None)
    x, y = tf.constant(images), tf.constant(labels)
    normalize = normalize_fn(data)

    def orders():  # called anew on every pass over the dataset
        yield counter.next_order()

    indices = tf.data.Dataset.from_generator(
        orders, output_signature=tf.TensorSpec(shape=(None,), dtype=tf.int64))
    steps = len(labels) // batch_size if drop_last else -(-len(labels) // batch_size)
    return (indices.unbatch()
            .batch(batch_size, drop_remainder=drop_last)
            .apply(tf.data.experimental.assert_cardinality(steps))  # len() and Keras know it
            .map(lambda i: (normalize(tf.gather(x, i)), tf.gather(y, i)),
                 num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
