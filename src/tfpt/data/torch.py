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


def augment_transform(data: ImageData) -> v2.Compose:
    """Random crop (after padding 4 pixels of zeros) and horizontal flip, per image."""
    height = data.spec.image_shape[0]
    return v2.Compose([v2.RandomCrop(height, padding=4), v2.RandomHorizontalFlip()])


class ImageArrayDataset(Dataset):
    """Images held as one uint8 NCHW tensor; ``transform`` runs on a whole batch at once,
    ``augment`` (random, so different for every image) on each image of the batch."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform=None, augment=None):
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2)  # NHWC → NCHW, a view
        self.labels = torch.from_numpy(labels)
        self.transform, self.augment = transform, augment

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[i]
        image = self.transform(image) if self.transform else image
        return (self.augment(image) if self.augment else image), self.labels[i]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        # DataLoader calls this once per batch: one tensor op instead of batch_size calls.
        idx = torch.as_tensor(indices)
        images = self.images[idx]
        images = self.transform(images) if self.transform else images
        if self.augment:
            images = torch.stack([self.augment(image) for image in images])
        return images, self.labels[idx]


class EpochSampler(Sampler[int]):
    """Visits the data in :func:`tfpt.data.order.epoch_order`, a new order each epoch."""

    def __init__(self, n: int, seed: int | None, start_epoch: int = 0):
        self.counter = EpochCounter(n, seed, start_epoch)

    def __len__(self) -> int:
        return self.counter.n

    def __iter__(self) -> Iterator[int]:
        return iter(self.counter.next_order().tolist())


def _whole_batch(batch):
    return batch  # __getitems__ already returns stacked tensors


def loader(data: ImageData, split: str = "train", batch_size: int = 128,
           shuffle: bool | None = None, seed: int = 0, drop_last: bool = False,
           limit: int | None = None, augment: bool = False, start_epoch: int = 0) -> DataLoader:
    """A ``DataLoader`` of normalized float32 NCHW images and int64 labels.

    ``shuffle`` defaults to True for 'train'; the order comes from ``seed`` and
    the epoch number, exactly as in :func:`tfpt.data.tf.loader`. ``augment`` adds a
    random 4-pixel crop and horizontal flip (random, so never equal across frameworks).
    ``start_epoch`` makes the first pass use that epoch's order (for resuming).
    """
    images, labels = data.arrays(split, limit)
    shuffle = split == "train" if shuffle is None else shuffle
    dataset = ImageArrayDataset(images, labels, normalize_transform(data),
                                augment_transform(data) if augment else None)
    sampler = EpochSampler(len(dataset), seed if shuffle else None, start_epoch)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                      drop_last=drop_last, collate_fn=_whole_batch)
