"""Index bookkeeping both frameworks share: the validation split and the batch order.

Built in view in the notebooks: ``epoch_order`` in 00 and 04, ``validation_split`` in 04.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VAL_FRACTION = 0.1  # share of the training images held out for validation
VAL_SEED = 0  # fixed, so every run (and both frameworks) holds out the same images


def validation_split(n: int, fraction: float = VAL_FRACTION, seed: int = VAL_SEED,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)`` of ``0..n-1``: a fixed, seeded ``fraction`` held out for validation.

    Early stopping, keep-best and learning curves look at the validation images;
    the test set stays untouched until the single evaluation at the end.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    held_out = np.random.default_rng(seed).permutation(n)[:round(n * fraction)]
    is_val = np.zeros(n, dtype=bool)
    is_val[held_out] = True
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


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


@dataclass(frozen=True)
class LoaderOptions:
    """What a loader takes beyond data, split, batch size, seed and limit (one object for
    every loader of both frameworks, not four more parameters each)."""

    shuffle: bool | None = None  # None: shuffle the 'train' split only
    drop_last: bool = False  # no partial last batch
    augment: bool = False  # a random 4-pixel crop and horizontal flip, per image
    start_epoch: int = 0  # the first pass uses this epoch's order (resuming)

    def order_seed(self, split: str, seed: int | None) -> int | None:
        """The seed of :func:`epoch_order` for ``split``: None when it is not shuffled."""
        shuffle = split == "train" if self.shuffle is None else self.shuffle
        return seed if shuffle else None

    def counter(self, n: int, split: str, seed: int | None) -> EpochCounter:
        """The epoch orders these options ask for, starting at ``start_epoch``."""
        return EpochCounter(n, self.order_seed(split, seed), self.start_epoch)

    def steps(self, n: int, batch_size: int) -> int:
        """Batches per epoch of ``n`` images."""
        return n // batch_size if self.drop_last else -(-n // batch_size)
