"""TensorBoard logs through tensorboardX, with the same tags for both frameworks.

Tags: ``step/loss``, ``step/accuracy`` (running means over the epoch so far, like
Keras's progress bar), ``step/lr``; ``epoch/loss``, ``epoch/accuracy``,
``epoch/val_loss``, ``epoch/val_accuracy``, ``epoch/lr``; weight histograms
``weights/<name>``. Runs go to
``runs/<framework>/<run-name>``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tensorboardX import SummaryWriter

STEP_TAGS = ("loss", "accuracy", "lr")
EPOCH_TAGS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")


class RunLogger:
    """One run's event file; every value arrives as plain numbers or NumPy arrays."""

    def __init__(self, framework: str, run_name: str, root: str | Path = "runs",
                 every: int = 10):
        self.log_dir = Path(root) / framework / run_name
        self.writer = SummaryWriter(str(self.log_dir))
        self.every = every  # log step scalars every N steps

    def step(self, step: int, loss: float, accuracy: float, lr: float) -> None:
        if step % self.every == 0:
            for tag, value in zip(STEP_TAGS, (loss, accuracy, lr)):
                self.writer.add_scalar(f"step/{tag}", float(value), step)

    def epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        for tag in EPOCH_TAGS:
            self.writer.add_scalar(f"epoch/{tag}", float(metrics[tag]), epoch)

    def histograms(self, named_arrays: dict[str, np.ndarray], epoch: int) -> None:
        for name, array in named_arrays.items():
            self.writer.add_histogram(f"weights/{name}", np.asarray(array), epoch)

    def close(self) -> None:
        self.writer.close()


def read_scalars(log_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """All scalars of a run as ``{tag: [(step, value), ...]}``, read back from its event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
