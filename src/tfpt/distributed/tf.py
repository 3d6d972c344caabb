"""TensorFlow half of :mod:`tfpt.distributed`: ``MultiWorkerMirroredStrategy``. Built in notebook 07.

Notebook 07 writes the custom loop by hand, first with ``MirroredStrategy`` over two
logical CPUs in one process, then in ``scripts/tf_worker.py`` with one process per
worker: ``strategy.scope()`` for the variables, ``experimental_distribute_dataset``
with ``AutoShardPolicy.DATA`` (each worker takes its slice of every global batch),
``strategy.run`` and ``tf.nn.compute_average_loss(..., global_batch_size=...)``.
Keras ``fit`` fails under ``MultiWorkerMirroredStrategy`` in Keras 3
(keras-team/keras#20585), hence the loop. This module is what each worker of
``tfpt train --framework tf --nproc N`` runs. Twin of :mod:`tfpt.distributed.torch`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import tfpt.data.tf as data_tf
from tfpt.data import ImageData
from tfpt.data.order import LoaderOptions
from tfpt.distributed import Group, in_group
from tfpt.train.history import History
from tfpt.train.keras import evaluate
from tfpt.train.loop import Epoch, FitOptions, drive

__all__ = ["ShardLoader", "fit", "make_train_step", "setup", "shard_loader", "shutdown"]

def setup(device: str = "auto", timeout: float = 120.0) -> Group:
    """``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names several workers; else the default.

    Call it before TensorFlow runs any op: the strategy starts this worker's server
    and waits until every worker in ``TF_CONFIG`` is up. Worker ``LOCAL_RANK`` of a
    machine with GPUs uses GPU ``LOCAL_RANK``. ``timeout``: seconds a collective
    waits for a missing worker before it raises.
    """
    if not in_group("tf"):
        return Group(0, 1, device, tf.distribute.get_strategy())
    gpus = tf.config.list_physical_devices("GPU")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    tf.config.set_visible_devices([] if device == "cpu" or not gpus else gpus[local % len(gpus)],
                                  "GPU")
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    return Group(strategy.cluster_resolver.task_id, strategy.num_replicas_in_sync, device, strategy)


def shutdown(group: Group) -> None:
    """Nothing to leave: each worker's server stops when its process ends."""


def _distribute(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset):
    """Split every global batch of ``dataset`` between the replicas, in replica order.

    ``AutoShardPolicy.DATA``: each worker reads the whole dataset and keeps its own
    part of every batch (the default, FILE, shards by input files; ours come from memory).
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


class ShardLoader:
    """This worker's slice of every global batch of :func:`tfpt.data.tf.loader`.

    Yields ``(images, labels, images_in_the_global_batch)``, the first two as
    per-replica values for ``strategy.run``. A last global batch with fewer images
    than replicas is skipped, so that no replica gets an empty slice.
    """

    def __init__(self, data: ImageData, split: str, batch_size: int, seed: int | None,
                 limit: int | None, options: LoaderOptions, group: Group):
        self.images = len(data.arrays(split, limit)[1])
        self.batch_size, self.group = batch_size, group
        if seed is None:  # unshuffled, as the torch twin
            options = dataclasses.replace(options, shuffle=False)
        dataset = data_tf.loader(data, split, batch_size, seed or 0, limit, options)
        self.distributed = _distribute(group.strategy, dataset.take(len(self)))

    def __len__(self) -> int:
        full, rest = divmod(self.images, self.batch_size)
        return full + (rest >= self.group.world)

    def __iter__(self) -> Iterator[tuple]:
        for i, (x, y) in enumerate(self.distributed):
            yield x, y, min(self.batch_size, self.images - i * self.batch_size)


def shard_loader(data: ImageData, split: str = "train", batch_size: int = 128, seed: int | None = 0,
                 limit: int | None = None, options: LoaderOptions = LoaderOptions(),
                 group: Group | None = None) -> ShardLoader:
    """:class:`ShardLoader`: ``batch_size`` is the global batch, over all replicas; the order
    is :func:`tfpt.data.tf.loader`'s (``seed=None``: unshuffled)."""
    return ShardLoader(data, split, batch_size, seed, limit, options,
                       group or Group(0, 1, "auto", tf.distribute.get_strategy()))


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                    group: Group) -> Callable:
    """One step of every replica on its slice; returns per replica [loss sum, correct, images].

    ``compute_average_loss`` divides each replica's loss *sum* by the images in the
    GLOBAL batch; the optimizer then *sums* the replicas' gradients (an all-reduce),
    which gives the gradient of the mean over the global batch. Mixed precision is
    decided by the model's dtype policy and a ``LossScaleOptimizer`` (PyTorch's twin
    takes ``amp`` instead).
    """
    strategy = group.strategy

    def step_fn(x, y, n_global):  # runs once per replica, on that replica's slice
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            per_example = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=n_global)
            scaled = optimizer.scale_loss(loss)  # mixed_float16 with a LossScaleOptimizer
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))  # all-reduce: sum
        correct = tf.argmax(logits, axis=1) == tf.cast(y, tf.int64)
        return tf.stack([tf.reduce_sum(tf.cast(per_example, tf.float64)),
                         tf.reduce_sum(tf.cast(correct, tf.float64)),
                         tf.cast(tf.shape(y)[0], tf.float64)])

    @tf.function(reduce_retracing=True)
    def train_step(x, y, n_global):
        return strategy.run(step_fn, args=(x, y, n_global))

    return train_step


def _all_sum(group: Group, values: np.ndarray) -> np.ndarray:
    """The sum of ``values`` over all workers (one all-reduce)."""
    strategy = group.strategy
    if group.world == 1:
        return values
    local = len(strategy.extended.worker_devices)  # replicas in this process
    per_replica = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(values / local, tf.float64))
    return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None).numpy()


def fit(model: keras.Model, train_loader: ShardLoader, val_loader, epochs: int,
        optimizer: keras.optimizers.Optimizer, schedule: Callable[[int], float] | None = None,
        group: Group | None = None, **options: Any) -> History:
    """:func:`tfpt.train.keras.fit_custom` for one worker of a group: every worker calls it.

    The epoch's training loss and accuracy are summed over all workers (one
    all-reduce per epoch); every worker evaluates the whole validation set, so all
    hold the same History. Only rank 0 prints (and should get the ``logger``).
    ``on_epoch_end`` runs on every worker (rank 0 alone should write files).
    ``options``: :class:`tfpt.train.loop.FitOptions`; a Ctrl-C propagates (the
    launcher stops every worker) unless ``interruptible=True``. Mixed precision
    comes from the model's dtype policy, so there is no ``amp`` argument.
    """
    group = group or Group(0, 1, "auto", tf.distribute.get_strategy())
    opts = FitOptions(**{"progress": group.rank == 0, "interruptible": False, **options})
    strategy = group.strategy
    train_step = make_train_step(model, optimizer, group)

    def train(index: int, batches, on_step) -> tuple[float, float]:
        step = index * len(train_loader)
        sums = tf.zeros(3, tf.float64)  # loss, correct, images: this worker's share
        for x, y, n_global in batches:
            if schedule is not None:
                optimizer.learning_rate.assign(schedule(step))
            out = train_step(x, y, tf.constant(n_global, tf.int64))
            sums += tf.add_n(strategy.experimental_local_results(out))  # no communication
            step += 1
            mine = lambda s=sums: tuple(float(v) for v in s.numpy()[:2] / s.numpy()[2])  # noqa: E731
            on_step(mine)
        loss_sum, correct, seen = _all_sum(group, sums.numpy())
        return loss_sum / seen, correct / seen

    return drive(epochs, train_loader, Epoch(
        train, lambda: evaluate(model, val_loader), lambda: float(optimizer.learning_rate.numpy()),
        lambda: {w.path: w.numpy() for w in model.weights}), opts)
