"""PyTorch half of ``tfpt.data``: a torchvision-style ``Dataset`` and a ``DataLoader`` (NCHW).

Twin of :mod:`tfpt.data.tf`: same function names, same arguments, same batches.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision.transforms import v2

from tfpt.data import ImageData
from tfpt.data.order import EpochCounter, LoaderOptions

PAD = 4  # pixels of zero (black) padding before the random crop (CIFAR-10's usual 4)


def normalize_transform(data: ImageData) -> v2.Compose:
    """uint8 → float32 in [0, 1] → standardized with the dataset's channel mean/std."""
    return v2.Compose([
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=list(data.spec.mean), std=list(data.spec.std)),
    ])


def augment_transform(data: ImageData) -> v2.Compose:
    """Random crop (after padding 4 black pixels: it runs on the uint8 image, before
    normalizing) and horizontal flip, per image; the same distribution as :func:`random_crop_flip`."""
    height = data.spec.image_shape[0]
    return v2.Compose([v2.RandomCrop(height, padding=PAD), v2.RandomHorizontalFlip()])


class ImageArrayDataset(Dataset):
    """Images held as one uint8 NCHW tensor; ``augment`` (random, so different for every
    image) runs first, on each uint8 image, then ``transform`` on the whole batch at once."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform=None, augment=None):
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2)  # NHWC → NCHW, a view
        self.labels = torch.from_numpy(labels)
        self.transform, self.augment = transform, augment

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[i]
        image = self.augment(image) if self.augment else image  # on uint8: pads black
        return (self.transform(image) if self.transform else image), self.labels[i]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        # DataLoader calls this once per batch: one tensor op instead of batch_size calls.
        idx = torch.as_tensor(indices)
        images = self.images[idx]
        if self.augment:
            images = torch.stack([self.augment(image) for image in images])
        return (self.transform(images) if self.transform else images), self.labels[idx]


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


def loader(data: ImageData, split: str = "train", batch_size: int = 128, seed: int = 0,
           limit: int | None = None, options: LoaderOptions = LoaderOptions()) -> DataLoader:
    """A ``DataLoader`` of normalized float32 NCHW images and int64 labels.

    The 'train' split is shuffled (``options.shuffle`` decides otherwise) in an order
    that comes from ``seed`` and the epoch number, exactly as in
    :func:`tfpt.data.tf.loader`. ``options.augment`` adds a random 4-pixel crop and
    horizontal flip (random, so never equal across frameworks).
    """
    images, labels = data.arrays(split, limit)
    dataset = ImageArrayDataset(images, labels, normalize_transform(data),
                                augment_transform(data) if options.augment else None)
    sampler = EpochSampler(len(dataset), options.order_seed(split, seed), options.start_epoch)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                      drop_last=options.drop_last, collate_fn=_whole_batch)


# --- the fast path: the whole split on the device, whole batches augmented at once ---



def random_crop_flip(images: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor,
                     pad: int = PAD) -> torch.Tensor:
    """Crop every image of an NCHW batch at its own offset after zero-padding, and mirror
    the ones marked in ``flips``, with one gather (no Python loop over images).

    ``offsets`` is (B, 2) with values in ``0..2*pad`` (row, column); a flip is
    reading the window's columns backwards.
    """
    n, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad)).view(n, c, -1)  # rows of w + 2 pad pixels
    rows = offsets[:, :1] + torch.arange(h, device=images.device)  # (B, H)
    cols = offsets[:, 1:] + torch.arange(w, device=images.device)  # (B, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    pixel = rows[:, :, None] * (w + 2 * pad) + cols[:, None, :]  # (B, H, W) flat positions
    pixel = pixel.view(n, 1, h * w).expand(n, c, h * w)
    return padded.gather(2, pixel).view(n, c, h, w)


class DeviceLoader:
    """Batches from one uint8 tensor that lives on ``device``: the GPU-ready input path.

    Same order as :func:`loader` (:func:`tfpt.data.order.epoch_order`); the random
    crop and flip (``augment``) are drawn per image from a generator seeded by
    ``(seed, epoch)``, for the whole batch at once; uint8 → float, scaling and
    standardization are one multiply-add. ``channels_last`` returns NCHW tensors
    stored NHWC in memory (faster convolutions on GPUs and some CPUs).
    """

    def __init__(self, data: ImageData, split: str = "train", batch_size: int = 128,
                 seed: int = 0, limit: int | None = None,
                 options: LoaderOptions = LoaderOptions(), device: str | torch.device = "cpu",
                 channels_last: bool = False):
        images, labels = data.arrays(split, limit)
        self.device = torch.device(device)
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().to(self.device)
        self.labels = torch.from_numpy(labels).to(self.device)
        self.counter = options.counter(len(labels), split, seed)
        self.seed, self.batch_size, self.options = seed, batch_size, options
        self.channels_last = channels_last
        std = torch.tensor(data.spec.std, device=self.device).view(1, -1, 1, 1)
        mean = torch.tensor(data.spec.mean, device=self.device).view(1, -1, 1, 1)
        self.scale, self.shift = 1.0 / (255.0 * std), -mean / std  # x/255 - mean, / std

    def __len__(self) -> int:
        return self.options.steps(len(self.labels), self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch = self.counter.epoch
        order = torch.from_numpy(self.counter.next_order()).to(self.device)
        generator = torch.Generator(self.device).manual_seed(self.seed * 1_000_003 + epoch)
        for i in range(len(self)):
            index = order[i * self.batch_size:(i + 1) * self.batch_size]
            images = self.images.index_select(0, index)  # 20x faster than images[index]
            if self.options.augment:
                offsets = torch.randint(0, 2 * PAD + 1, (len(index), 2), generator=generator,
                                        device=self.device)
                flips = torch.rand(len(index), generator=generator, device=self.device) < 0.5
                images = random_crop_flip(images, offsets, flips)
            images = images.float().mul_(self.scale).add_(self.shift)  # in place: no copies
            if self.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            yield images, self.labels.index_select(0, index)


def device_loader(data: ImageData, split: str = "train", batch_size: int = 128, seed: int = 0,
                  limit: int | None = None, options: LoaderOptions = LoaderOptions(),
                  device: str = "cpu", channels_last: bool = False) -> DeviceLoader:
    """:class:`DeviceLoader`: :func:`loader`'s arguments plus where the data lives and, for
    convolutions that prefer it, NHWC memory (``channels_last``)."""
    return DeviceLoader(data, split, batch_size, seed, limit, options, device, channels_last)
