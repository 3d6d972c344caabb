"""PyTorch half of ``tfpt.data``: a torchvision-style ``Dataset`` and a ``DataLoader`` (NCHW).

Twin of :mod:`tfpt.data.tf`: same function names, same arguments, same batches.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision.transforms import v2

from tfpt.data import ImageData
from tfpt.data.order import EpochCounter


def normalize_transform(data: ImageData) -> v2.Compose:
    """uint8 → float32 in [0, 1] → standardized with the dataset's channel mean/std."""
    return v2.Compose([
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=list(data.spec.mean), std=list(data.spec.std)),
    ])


class ImageArrayDataset(Dataset):
    """Images held as one uint8 NCHW tensor; ``transform`` runs on a whole batch at once."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform=None):
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2)  # NHWC → NCHW, a view
        self.labels = torch.from_numpy(labels)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[i]
        return (self.transform(image) if self.transform else image), self.labels[i]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        # DataLoader calls this once per batch: one tensor op instead of batch_size calls.
        idx = torch.as_tensor(indices)
        images = self.images[idx]
        return (self.transform(images) if self.transform else images), self.labels[idx]


class EpochSampler(Sampler[int]):
    """Visits the data in :func:`tfpt.data.order.epoch_order`, a new order each epoch."""

    def __init__(self, n: int, seed: int | None):
        self.counter = EpochCounter(n, seed)

    def __len__(self) -> int:
        return self.counter.n

    def __iter__(self) -> Iterator[int]:
        return iter(self.counter.next_order().tolist())


def _whole_batch(batch):
    return batch  # __getitems__ already returns stacked tensors


def loader(data: ImageData, split: str = "train", batch_size: int = 128,
           shuffle: bool | None = None, seed: int = 0, drop_last: bool = False,
           limit: int | None = None) -> DataLoader:
    """A ``DataLoader`` of normalized float32 NCHW images and int64 labels.

    ``shuffle`` defaults to True for 'train'; the order comes from ``seed`` and
    the epoch number, exactly as in :func:`tfpt.data.tf.loader`.
    """
    images, labels = data.arrays(split, limit)
    shuffle = split == "train" if shuffle is None else shuffle
    dataset = ImageArrayDataset(images, labels, normalize_transform(data))
    sampler = EpochSampler(len(dataset), seed if shuffle else None)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                      drop_last=drop_last, collate_fn=_whole_batch)
