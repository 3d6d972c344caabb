"""The PyTorch training loop, built step by step in notebook 04.

``train_epoch`` and ``evaluate`` are the notebook's two functions, plus mixed
precision (notebook 05) and a hook for progress and logging. ``fit`` is the thin
part around them that a real run needs: the History, one line per epoch,
TensorBoard, a keep-best checkpoint chosen on the validation set, early stopping
and a clean stop on Ctrl-C. Twin of :mod:`tfpt.train.keras`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from tfpt.devices import torch_device
from tfpt.train.history import History
from tfpt.train.progress import Progress
from tfpt.train.tensorboard import RunLogger

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
        device: str = "auto", early_stopping: int | None = None,
        checkpoint: str | Path | None = None, logger: RunLogger | None = None,
        amp: bool = False, progress: bool = True, history: History | None = None,
        on_epoch_end: Callable[[int, History], None] | None = None,
        log_every: int = 50) -> History:
    """Train for ``epochs`` epochs (continuing ``history`` when resuming).

    Each epoch: :func:`train_epoch`, then :func:`evaluate` on the *validation* loader.
    ``checkpoint`` keeps the model with the lowest validation loss (written
    atomically); ``early_stopping`` stops after that many epochs without one.
    Ctrl-C stops cleanly: the History keeps the completed epochs. The test set is
    not touched here: evaluate it once, at the end.
    """
    device = torch.device(torch_device(device).device)
    model.to(device)
    history = history or History()
    best, waited = min(history.val_loss, default=math.inf), 0
    step = history.epochs * len(train_loader)
    try:
        for epoch in range(history.epochs, epochs):
            start = time.perf_counter()
            batches = Progress(train_loader, len(train_loader), f"epoch {epoch + 1}/{epochs}",
                               progress, every=log_every)

            def hook(loss_sum, correct, seen, batches=batches):
                nonlocal step, lr
                step, lr = step + 1, optimizer.param_groups[0]["lr"]
                show, log = batches.due(), logger is not None and step % logger.every == 0
                if show or log:
                    running = (loss_sum.item() / seen, correct.item() / seen)
                    if show:
                        batches.show(loss=running[0], acc=running[1])
                    if log:
                        logger.step(step, *running, lr)

            lr = optimizer.param_groups[0]["lr"]  # becomes the rate of the epoch's last step
            loss, accuracy = train_epoch(model, batches, optimizer, schedule, device, amp, hook)
            val_loss, val_accuracy = evaluate(model, val_loader, device)
            history.append(loss=loss, accuracy=accuracy, val_loss=val_loss,
                           val_accuracy=val_accuracy, lr=lr, seconds=time.perf_counter() - start)
            if progress:
                print(history.line(epochs))
            if logger is not None:
                logger.epoch(epoch + 1, history.last())
                logger.histograms({n: p.detach().cpu().numpy()
                                   for n, p in model.named_parameters()}, epoch + 1)
            if val_loss < best:
                best, waited = val_loss, 0
                if checkpoint is not None:
                    from tfpt.checkpoint.torch import save

                    save(checkpoint, model, optimizer, epoch=epoch + 1, history=history.to_dict())
            else:
                waited += 1
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, history)
            if early_stopping is not None and waited >= early_stopping:
                history.stopped_early = True
                print(f"early stopping: no lower val_loss for {early_stopping} epochs")
                break
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"interrupted: History keeps the {history.epochs} completed epoch(s); "
              "the last checkpoint is intact")
    return history
