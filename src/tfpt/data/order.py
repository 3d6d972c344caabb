"""The batch order both frameworks share: one permutation per (seed, epoch)."""

from __future__ import annotations

import numpy as np


def epoch_order(n: int, seed: int | None, epoch: int) -> np.ndarray:
    """Indices ``0..n-1`` in the order epoch ``epoch`` visits them.

    ``seed=None`` means no shuffling. The torch sampler and the tf.data pipeline
    both call this, so the same seed gives the same batches in both frameworks
    (tf.data's own ``shuffle`` and torch's ``RandomSampler`` use different
    generators and could never agree).
    """
    if seed is None:
        return np.arange(n, dtype=np.int64)
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int64)


class EpochCounter:
    """Yields ``epoch_order`` for epoch 0, 1, 2, ... on each new pass over the data."""

    def __init__(self, n: int, seed: int | None, start_epoch: int = 0):
        self.n, self.seed, self.epoch = n, seed, start_epoch

    def next_order(self) -> np.ndarray:
        order = epoch_order(self.n, self.seed, self.epoch)
        self.epoch += 1
        return order
