"""PyTorch half of :mod:`tfpt.distributed`: ``DistributedDataParallel``. Built in notebook 07.

Notebook 07 writes the pieces by hand in ``scripts/ddp_mnist.py``: ``init_process_group``,
``DistributedSampler`` + ``set_epoch``, ``DistributedDataParallel``, saving on rank 0,
``destroy_process_group``. This module is what each worker of ``tfpt train --nproc N``
(or ``torchrun ... -m tfpt train``) runs: the same calls, but every rank takes its
slice of tfpt's shared batch order (:func:`tfpt.distributed.shard`) instead of
``DistributedSampler``'s, so that N ranks reproduce one process batch for batch and
``--resume`` continues the order. Twin of :mod:`tfpt.distributed.tf`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from tfpt.data import ImageData
from tfpt.data.order import LoaderOptions
from tfpt.data.torch import ImageArrayDataset, augment_transform, normalize_transform
from tfpt.devices import torch_device
from tfpt.distributed import Group, in_group, shard
from tfpt.train.history import History
from tfpt.train.loop import Epoch, FitOptions, drive
from tfpt.train.torch import evaluate

__all__ = ["ShardLoader", "fit", "make_train_step", "setup", "shard_loader", "shutdown"]


def setup(device: str = "auto", timeout: float = 120.0) -> Group:
    """Join the process group the launcher described in the environment; alone, join nothing.

    gloo on CPUs, NCCL on GPUs (rank ``LOCAL_RANK`` of this machine gets GPU
    ``LOCAL_RANK``). ``timeout``: seconds a collective waits for a missing rank
    before it raises (the default would be 30 minutes).
    """
    choice = torch_device(device).device  # raises ValueError for a device that is not there
    if not in_group("torch"):
        return Group(0, 1, choice)
    if choice.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count()
        backend, choice = "nccl", f"cuda:{local}"
        torch.cuda.set_device(local)
    else:
        backend, choice = "gloo", "cpu"
    # Reads RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT from the environment (env://).
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout))
    return Group(dist.get_rank(), dist.get_world_size(), choice)


def shutdown(group: Group) -> None:
    """Leave the process group (every rank, at the end)."""
    if group.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


class ShardLoader:
    """This rank's slice of every global batch, in :func:`tfpt.data.order.epoch_order`.

    Yields ``(images, labels, images_in_the_global_batch)``. A last global batch
    with fewer images than ranks is skipped, so that no rank gets an empty slice.
    """

    def __init__(self, data: ImageData, split: str, batch_size: int, seed: int | None,
                 limit: int | None, options: LoaderOptions, group: Group):
        images, labels = data.arrays(split, limit)
        self.dataset = ImageArrayDataset(images, labels, normalize_transform(data),
                                         augment_transform(data) if options.augment else None)
        self.counter = options.counter(len(labels), split, seed)
        self.batch_size, self.group = batch_size, group

    def __len__(self) -> int:
        full, rest = divmod(len(self.dataset), self.batch_size)
        return full + (rest >= self.group.world)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
        order = self.counter.next_order()
        for i in range(len(self)):
            batch = order[i * self.batch_size:(i + 1) * self.batch_size]
            mine = shard(batch, self.group.rank, self.group.world)
            yield (*self.dataset.__getitems__(mine.tolist()), len(batch))


def shard_loader(data: ImageData, split: str = "train", batch_size: int = 128, seed: int | None = 0,
                 limit: int | None = None, options: LoaderOptions = LoaderOptions(),
                 group: Group | None = None) -> ShardLoader:
    """:class:`ShardLoader`: ``batch_size`` is the global batch, over all ranks; the order is
    :func:`tfpt.data.torch.loader`'s (``seed=None``: unshuffled)."""
    return ShardLoader(data, split, batch_size, seed, limit, options, group or Group(0, 1, "cpu"))


def make_train_step(model: nn.Module, optimizer: torch.optim.Optimizer, group: Group,
                    amp: bool = False) -> Callable:
    """One step on this rank's slice; returns this rank's [loss sum, correct, images].

    DDP *averages* the ranks' gradients in ``backward()``. Scaling each rank's loss
    sum by ``world / images in the global batch`` makes that average the gradient
    of the mean loss over the global batch, even when the slices differ in size
    (with equal slices it is simply each rank's mean loss).
    """
    device = torch.device(group.device)
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler("cuda", enabled=amp and device.type == "cuda")

    def train_step(x: torch.Tensor, y: torch.Tensor, n_global: int):
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
            logits = model(x)
            loss_sum = F.cross_entropy(logits, y, reduction="sum")
        scaler.scale(loss_sum * (group.world / n_global)).backward()  # DDP all-reduces here
        scaler.step(optimizer)
        scaler.update()
        correct = (logits.argmax(dim=1) == y).sum()
        return torch.stack([loss_sum.detach().double(), correct.double(),
                            torch.tensor(float(len(y)), dtype=torch.float64, device=device)])

    return train_step


def _all_sum(group: Group, values: torch.Tensor) -> torch.Tensor:
    """The sum of ``values`` over all ranks (one all-reduce)."""
    if group.world > 1:
        dist.all_reduce(values)
    return values


def fit(model: nn.Module, train_loader: ShardLoader, val_loader, epochs: int,
        optimizer: torch.optim.Optimizer,
        schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
        group: Group | None = None, amp: bool = False, **options: Any) -> History:
    """:func:`tfpt.train.torch.fit` for one rank of a group: every rank calls it.

    The epoch's training loss and accuracy are summed over all ranks (one
    all-reduce per epoch); every rank evaluates the whole validation set, so all
    hold the same History. Only rank 0 prints (and should get the ``logger``).
    ``on_epoch_end`` runs on every rank (it may use collectives; rank 0 alone should
    write files). ``options``: :class:`tfpt.train.loop.FitOptions`; a Ctrl-C
    propagates (the launcher stops every rank) unless ``interruptible=True``.
    """
    group = group or Group(0, 1, "cpu")
    opts = FitOptions(**{"progress": group.rank == 0, "interruptible": False, **options})
    plain = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    device = torch.device(group.device)
    train_step = make_train_step(model, optimizer, group, amp)
    lr = [optimizer.param_groups[0]["lr"]]

    def train(index: int, batches, on_step) -> tuple[float, float]:
        model.train()
        sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss, correct, images: mine
        for x, y, n_global in batches:
            lr[0] = optimizer.param_groups[0]["lr"]  # the rate of this step
            sums += train_step(x, y, n_global)
            on_step(lambda s=sums: ((s[0] / s[2]).item(), (s[1] / s[2]).item()))  # mine
            if schedule is not None:
                schedule.step()
        loss_sum, correct, seen = _all_sum(group, sums).tolist()
        return loss_sum / seen, correct / seen

    return drive(epochs, train_loader, Epoch(
        train, lambda: evaluate(plain, val_loader, device), lambda: lr[0],
        lambda: {n: p.detach().cpu().numpy() for n, p in plain.named_parameters()}), opts)
