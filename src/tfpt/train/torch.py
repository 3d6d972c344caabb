"""The PyTorch training loop, built step by step in notebook 04.

``train_epoch`` and ``evaluate`` are the notebook's two functions, plus mixed
precision (notebook 05) and a hook for progress and logging. ``fit`` is a short
adapter that hands them to the shared epoch driver, :func:`tfpt.train.loop.drive`
(History, one line per epoch, TensorBoard, keep-best on the validation set, early
stopping, a clean stop on Ctrl-C). Twin of :mod:`tfpt.train.keras`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from tfpt.devices import torch_device
from tfpt.train.history import History
from tfpt.train.loop import Epoch, FitOptions, drive

# Called after every batch with the running sums (on the device) and the images seen.
StepHook = Callable[[torch.Tensor, torch.Tensor, int], None]


def train_epoch(model: nn.Module, loader, optimizer: torch.optim.Optimizer,
                schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
                device: str | torch.device = "cpu", amp: bool = False,
                hook: StepHook | None = None) -> tuple[float, float]:
    """One pass over ``loader`` in train mode; returns (mean loss, accuracy).

    ``schedule`` is stepped after every batch. ``amp``: bfloat16 autocast on the
    CPU; float16 autocast with a gradient scaler on CUDA (float16 gradients
    underflow without it).
    """
    device = torch.device(device)
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler("cuda", enabled=amp and device.type == "cuda")
    model.train()  # dropout on, BatchNorm uses batch statistics
    loss_sum = torch.zeros((), device=device)  # running sums stay on the device:
    correct = torch.zeros((), device=device, dtype=torch.long)  # no GPU sync per step
    seen = 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()  # gradients accumulate otherwise
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
            logits = model(x)
            loss = F.cross_entropy(logits, y)
        scaler.scale(loss).backward()  # without AMP: loss.backward()
        scaler.step(optimizer)  # without AMP: optimizer.step()
        scaler.update()
        loss_sum += loss.detach() * len(y)
        correct += (logits.argmax(dim=1) == y).sum()
        seen += len(y)
        if hook is not None:  # before the schedule moves on: it sees this step's rate
            hook(loss_sum, correct, seen)
        if schedule is not None:
            schedule.step()
    return loss_sum.item() / seen, correct.item() / seen


def evaluate(model: nn.Module, loader, device: str | torch.device = "cpu",
             ) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over ``loader``, in eval mode without gradients."""
    model.eval()  # dropout off, BatchNorm uses its running statistics
    loss_sum, correct, seen = 0.0, 0, 0
    with torch.no_grad():  # no graph is recorded: less memory, faster
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(dim=1) == y).sum().item()
            seen += len(y)
    return loss_sum / seen, correct / seen


def fit(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader, epochs: int,
        optimizer: torch.optim.Optimizer,
        schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
        device: str = "auto", amp: bool = False, **options: Any) -> History:
    """Train for ``epochs`` epochs (continuing ``history`` when resuming).

    Each epoch: :func:`train_epoch`, then :func:`evaluate` on the *validation* loader;
    the rest (History, progress, TensorBoard, keep-best ``checkpoint``, early stopping,
    ``on_epoch_end``, Ctrl-C) is :func:`tfpt.train.loop.drive`, shared with the Keras
    twin; ``options`` are the fields of :class:`tfpt.train.loop.FitOptions`. The test
    set is not touched here: evaluate it once, at the end.
    """
    opts = FitOptions(**options)
    device = torch.device(torch_device(device).device)
    model.to(device)
    lr = [optimizer.param_groups[0]["lr"]]  # the rate of the step just taken

    def train(index: int, batches, on_step) -> tuple[float, float]:
        def hook(loss_sum, correct, seen):  # before the schedule moves on: this step's rate
            lr[0] = optimizer.param_groups[0]["lr"]
            on_step(lambda: (loss_sum.item() / seen, correct.item() / seen))

        return train_epoch(model, batches, optimizer, schedule, device, amp, hook)

    def save_best(epoch: int, history: History) -> None:
        from tfpt.checkpoint.torch import save

        save(opts.checkpoint, model, optimizer, epoch=epoch, history=history.to_dict())

    return drive(epochs, train_loader, Epoch(
        train, lambda: evaluate(model, val_loader, device), lambda: lr[0],
        lambda: {n: p.detach().cpu().numpy() for n, p in model.named_parameters()},
        save_best if opts.checkpoint is not None else None), opts)
