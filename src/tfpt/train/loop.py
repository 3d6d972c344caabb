"""The epoch driver every tfpt training loop shares (framework-neutral; notebook 04 writes it out).

Notebook 04 writes three loops by hand; around one epoch of training and one
validation pass they all do the same bookkeeping. :func:`drive` is that
bookkeeping, written once: the :class:`History`, the progress display, TensorBoard
tags, keep-best (:class:`KeepBest`, the one owner of "is this the best epoch so
far?"), early stopping, ``on_epoch_end`` and a clean stop on Ctrl-C. Each framework
supplies only what a notebook builds, as an :class:`Epoch`: ``train_epoch`` and
``evaluate`` (the distributed twins their sharded versions). The adapters are
:func:`tfpt.train.torch.fit`, :func:`tfpt.train.keras.fit_custom`,
:func:`tfpt.distributed.torch.fit` and :func:`tfpt.distributed.tf.fit`; Keras
``fit`` stays Keras ``fit`` and uses :class:`KeepBest` through a callback.

Two guarantees a run relies on:
- an epoch counts only once all of its bookkeeping ran: a Ctrl-C that arrives while
  an epoch is being recorded and saved waits until that is done, so the History,
  ``last.*`` and ``best.*`` always describe the same epochs;
- a loss that becomes NaN or infinite stops the run with :class:`DivergedError`,
  naming the epoch and step, before anything of that epoch is recorded or saved.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfpt.errors import DivergedError
from tfpt.train.history import History
from tfpt.train.progress import Progress

EpochHook = Callable[[int, History], None]  # (epoch number, the History so far)
Running = Callable[[], tuple[float, float]]  # the running (loss, accuracy), fetched lazily


@dataclass
class FitOptions:
    """What every ``fit`` takes beyond model, data, optimizer and schedule (one object, not ten
    parameters). Pass them to any ``fit`` as keyword arguments."""

    early_stopping: int | None = None  # stop after this many epochs without a lower val_loss
    checkpoint: str | Path | None = None  # keep the best model here (the framework's format)
    logger: Any = None  # a tfpt.train.tensorboard.RunLogger
    progress: bool = True  # the per-epoch line and the progress display
    history: History | None = None  # continue this History (resuming)
    on_epoch_end: EpochHook | None = None  # after every recorded epoch (tfpt train: save last.*)
    on_best: EpochHook | None = None  # after on_epoch_end, when the epoch is the best so far
    log_every: int = 50  # steps between plain progress lines off a terminal
    interruptible: bool = True  # Ctrl-C ends fit with the History; False: it propagates
    planned_epochs: int | None = None  # the run's total for "epoch i/N" when it stops sooner


@dataclass
class Epoch:
    """What one framework supplies: one training pass and one validation pass.

    ``train(epoch, batches, on_step)`` iterates ``batches``, calls ``on_step(running)``
    after every batch and returns the epoch's (loss, accuracy); ``evaluate()``
    returns (val_loss, val_accuracy); ``lr()`` the learning rate of the step just
    taken; ``weights()`` named NumPy arrays for TensorBoard's histograms; ``save_best``
    writes the keep-best ``checkpoint`` (given when there is one).
    """

    train: Callable[[int, Iterable, Callable[[Running], None]], tuple[float, float]]
    evaluate: Callable[[], tuple[float, float]]
    lr: Callable[[], float]
    weights: Callable[[], dict]
    save_best: EpochHook | None = None


class KeepBest:
    """The one keep-best rule: an epoch is the best when its val_loss is lower than every
    earlier one; ``save(epoch, history)`` runs then. Calling it returns whether it was."""

    def __init__(self, *save: EpochHook | None, best: float = math.inf):
        self.save, self.best = [s for s in save if s is not None], best

    def __call__(self, epoch: int, history: History) -> bool:
        if not history.val_loss[-1] < self.best:
            return False
        self.best = history.val_loss[-1]
        for save in self.save:
            save(epoch, history)
        return True


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) back until the block ends, then raise it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list = []
    previous = signal.signal(signal.SIGINT, lambda *args: caught.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        if callable(previous):
            previous(*caught[0])
        raise KeyboardInterrupt


def check_finite(loss: float, what: str, epoch: int, step: int) -> None:
    """Raise :class:`DivergedError` naming epoch and step when ``loss`` is NaN or infinite."""
    if not math.isfinite(loss):
        raise DivergedError(
            f"the {what} became {loss} in epoch {epoch} (by step {step}): the learning rate is "
            "probably too high (lower --lr), or the data holds NaN/inf; nothing of this epoch "
            "was saved")


def interrupted_line(history: History) -> str:
    return f"interrupted: History keeps the {history.epochs} completed epoch(s)"


def early_stop_line(patience: int) -> str:
    return f"early stopping: no lower val_loss for {patience} epochs"


@dataclass
class _Run:
    epochs: int
    steps: int  # len(train_data)
    step: int  # global steps taken
    waited: int = 0


def drive(epochs: int, train_data, epoch: Epoch, options: FitOptions) -> History:
    """Train for ``epochs`` epochs (continuing ``options.history``) and return the History."""
    history = options.history if options.history is not None else History()
    keep = KeepBest(epoch.save_best, options.on_best, best=min(history.val_loss, default=math.inf))
    run = _Run(options.planned_epochs or epochs, len(train_data), history.epochs * len(train_data))
    try:
        for index in range(history.epochs, epochs):
            if _one_epoch(index, train_data, epoch, options, history, keep, run):
                history.stopped_early = True
                if options.progress:
                    print(early_stop_line(options.early_stopping), flush=True)
                break
    except KeyboardInterrupt:
        if not options.interruptible:
            raise
        history.interrupted = True
        print(interrupted_line(history), flush=True)
    return history


def _one_epoch(index: int, train_data, epoch: Epoch, options: FitOptions, history: History,
               keep: KeepBest, run: _Run) -> bool:
    """One epoch: train, validate, then record it whole; returns whether to stop early."""
    start, logger = time.perf_counter(), options.logger
    batches = Progress(train_data, run.steps, f"epoch {index + 1}/{run.epochs}", options.progress,
                       every=options.log_every)

    def on_step(running: Running) -> None:
        run.step += 1
        show, log = batches.due(), logger is not None and run.step % logger.every == 0
        if show or log:
            loss, accuracy = running()
            check_finite(loss, "training loss", index + 1, run.step)
            if show:
                batches.show(loss=loss, acc=accuracy)
            if log:
                logger.step(run.step, loss, accuracy, epoch.lr())

    loss, accuracy = epoch.train(index, batches, on_step)
    check_finite(loss, "training loss", index + 1, run.step)
    val_loss, val_accuracy = epoch.evaluate()
    check_finite(val_loss, "validation loss", index + 1, run.step)
    with deferred_interrupt():  # the epoch is recorded, logged and saved whole, or not at all
        history.append(loss=loss, accuracy=accuracy, val_loss=val_loss, val_accuracy=val_accuracy,
                       lr=epoch.lr(), seconds=time.perf_counter() - start)
        if options.progress:
            print(history.line(run.epochs), flush=True)
        if logger is not None:
            logger.epoch(index + 1, history.last())
            logger.histograms(epoch.weights(), index + 1)
        if options.on_epoch_end is not None:
            options.on_epoch_end(index + 1, history)
        run.waited = 0 if keep(index + 1, history) else run.waited + 1
    return options.early_stopping is not None and run.waited >= options.early_stopping
