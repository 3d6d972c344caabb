"""The PyTorch training loop, written out so a learner can read every step.

Twin of :mod:`tfpt.train.keras`: same History, schedule, early stopping,
keep-best checkpoint and TensorBoard tags.
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
from tfpt.train.schedule import OneCycle
from tfpt.train.tensorboard import RunLogger


def evaluate(model: nn.Module, loader: DataLoader, device: str | torch.device = "cpu",
             ) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over ``loader``, in eval mode without gradients."""
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(dim=1) == y).sum().item()
            seen += len(y)
    return total_loss / seen, correct / seen


def _params_for_histograms(model: nn.Module) -> dict:
    return {name: p.detach().cpu().numpy() for name, p in model.named_parameters()}


def fit(model: nn.Module, train_loader: DataLoader, val_loader: DataLoader, epochs: int,
        optimizer: torch.optim.Optimizer, schedule: OneCycle | None = None,
        device: str = "auto", early_stopping: int | None = None,
        checkpoint: str | Path | None = None, logger: RunLogger | None = None,
        amp: bool = False, progress: bool = True, history: History | None = None,
        on_epoch_end: Callable[[int, History], None] | None = None,
        log_every: int = 50) -> History:
    """Train ``model`` for ``epochs`` (continuing ``history`` when resuming).

    ``schedule`` sets the learning rate every step; ``early_stopping`` stops after
    that many epochs without a lower validation loss; ``checkpoint`` keeps the best
    model (lowest validation loss), written atomically. ``amp`` uses float16
    autocast with a gradient scaler on CUDA, bfloat16 autocast on the CPU.
    Ctrl-C stops cleanly: the History keeps the completed epochs and the last
    checkpoint stays intact. ``on_epoch_end(epoch, history)`` runs after each epoch
    (``tfpt train`` saves its resumable checkpoint there).
    """
    device = torch.device(torch_device(device).device)
    model.to(device)
    history = history or History()
    # Mixed precision: float16 + gradient scaling on CUDA; bfloat16 (no scaling needed:
    # it has float32's range) on the CPU.
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    use_amp = amp and device.type in ("cuda", "cpu")
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and device.type == "cuda")
    best, waited = min(history.val_loss, default=math.inf), 0
    step = history.epochs * len(train_loader)
    try:
        for epoch in range(history.epochs, epochs):
            start = time.perf_counter()
            model.train()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            seen = 0
            bar = Progress(train_loader, len(train_loader), f"epoch {epoch + 1}/{epochs}",
                           progress, every=log_every)
            for x, y in bar:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                if schedule is not None:
                    for group in optimizer.param_groups:
                        group["lr"] = schedule(step)
                optimizer.zero_grad(set_to_none=True)  # gradients accumulate otherwise
                with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                    logits = model(x)
                    loss = F.cross_entropy(logits, y)
                scaler.scale(loss).backward()  # a no-op scale without AMP
                scaler.step(optimizer)
                scaler.update()

                # Running metrics stay on the device; .item() only when shown.
                loss_sum += loss.detach() * len(y)
                correct += (logits.argmax(dim=1) == y).sum()
                seen += len(y)
                step += 1
                show = bar.due()
                log = logger is not None and step % logger.every == 0
                if show or log:
                    running = (loss_sum.item() / seen, correct.item() / seen)
                    if show:
                        bar.show(loss=running[0], acc=running[1])
                    if log:
                        logger.step(step, *running, optimizer.param_groups[0]["lr"])

            val_loss, val_accuracy = evaluate(model, val_loader, device)
            history.append(loss=loss_sum.item() / seen, accuracy=correct.item() / seen,
                           val_loss=val_loss, val_accuracy=val_accuracy,
                           lr=optimizer.param_groups[0]["lr"], seconds=time.perf_counter() - start)
            _report(epoch, epochs, history, progress)
            if logger is not None:
                logger.epoch(epoch + 1, history.last())
                logger.histograms(_params_for_histograms(model), epoch + 1)
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
                print(f"early stopping: no better val_loss for {early_stopping} epochs")
                break
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"interrupted: History keeps the {history.epochs} completed epoch(s); "
              "the last checkpoint is intact")
    return history


def _report(epoch: int, epochs: int, history: History, progress: bool) -> None:
    if progress:
        m = history.last()
        print(f"epoch {epoch + 1}/{epochs}: loss {m['loss']:.4f} acc {m['accuracy']:.4f} "
              f"val_loss {m['val_loss']:.4f} val_acc {m['val_accuracy']:.4f} "
              f"lr {m['lr']:.2e} ({m['seconds']:.1f} s)")
