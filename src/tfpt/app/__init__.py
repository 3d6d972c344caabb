"""``tfpt train``: the script a learner copies to a GPU box (walked through in notebook 05).

Trains one twin model on MNIST or CIFAR-10 with either framework: the training
images minus a fixed 10% validation split (:func:`tfpt.data.validation_split`)
train the model, the validation images choose the best epoch, and the test set is
evaluated once, at the end, on that best model. Writes TensorBoard logs, a
resumable checkpoint after every epoch (atomically) plus a copy of the best one,
and the final metrics as JSON. ``--resume`` continues from the last checkpoint
exactly: model, optimizer, learning-rate schedule, epoch, data order, random state.

Output folder ``--out``: ``last.pt``/``last.keras`` (resume from here),
``best.pt``/``best.keras`` (lowest validation loss; resumable too),
``metrics.json``, ``runs/`` (TensorBoard).

``--nproc N`` (notebook 07) starts N data-parallel workers of this same command on
this machine (:func:`launch`) and waits: PyTorch DDP, or TensorFlow
``MultiWorkerMirroredStrategy``. Every worker takes its slice of each global batch;
rank 0 alone prints, writes the files above and evaluates the test set; the
launcher keeps each rank's output in ``logs/rank<r>.log``. A process that was
started as one worker of a group (``torchrun ... -m tfpt train``, or ``TF_CONFIG``
naming several workers) trains as that worker.

The framework halves are twins: :mod:`tfpt.app.torch` and :mod:`tfpt.app.keras`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from tfpt import data as tdata
from tfpt import distributed
from tfpt.config import display_path
from tfpt.train.history import History

DEFAULT_MODEL = {"mnist": "MnistCNN", "cifar10": "FastResNet"}
FRAMEWORKS = ("torch", "tf")


class UsageError(ValueError):
    """A problem with the command's input; the CLI prints it as one line and exits 2."""


@dataclass
class Config:
    framework: str = "torch"
    dataset: str = "mnist"
    model: str | None = None
    width: int | None = None
    epochs: int = 5
    batch_size: int = 128
    lr: float = 3e-3
    device: str = "auto"
    amp: bool = False
    data_on_device: bool = False  # the batched input path: uint8 data on the device
    channels_last: bool = False  # PyTorch: NHWC memory layout for convolutions
    compile: bool = False  # torch.compile / TensorFlow XLA (jit_compile=True)
    fast: bool = False  # all four above
    out: str = "outputs/run"
    resume: bool = False
    seed: int = 0
    deterministic: bool = False
    limit: int | None = None  # first N training images (quick runs)
    val_limit: int | None = None  # first N validation images
    test_limit: int | None = None  # first N test images
    log_every: int = 50  # plain progress lines when not on a terminal
    stop_after: int | None = None  # stop after this many epochs; --resume continues
    nproc: int = 1  # data-parallel worker processes on this machine (notebook 07)
    timeout: float = 120.0  # seconds a worker waits for a missing one before failing

    def check(self) -> None:
        """Raise :class:`UsageError` naming the flag, before anything is loaded or trained."""
        if self.framework not in FRAMEWORKS:
            raise UsageError(f"--framework must be torch or tf, not {self.framework!r}")
        if self.dataset not in DEFAULT_MODEL:
            raise UsageError(f"--dataset must be one of {', '.join(DEFAULT_MODEL)}, "
                             f"not {self.dataset!r}")
        for flag, value in (("epochs", self.epochs), ("batch-size", self.batch_size),
                            ("limit", self.limit), ("val-limit", self.val_limit),
                            ("test-limit", self.test_limit), ("width", self.width),
                            ("log-every", self.log_every), ("stop-after", self.stop_after)):
            if value is not None and value < 1:
                raise UsageError(f"--{flag} must be at least 1, got {value}")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"--lr must be a positive number, got {self.lr}")
        if self.nproc < 1:
            raise UsageError(f"--nproc must be at least 1, got {self.nproc}")
        if self.nproc > 1:
            if self.batch_size % self.nproc:
                raise UsageError(f"--batch-size {self.batch_size} (the global batch) does not split "
                                 f"evenly over --nproc {self.nproc} workers")
            unsupported = [flag for flag, on in (("--compile", self.compile),
                                                 ("--data-on-device", self.data_on_device),
                                                 ("--channels-last", self.channels_last)) if on]
            if unsupported:
                raise UsageError(f"--nproc does not combine with {', '.join(unsupported)} yet")
        if self.framework == "tf" and self.deterministic and self.compile:
            raise UsageError("--deterministic does not combine with --compile (or --fast) for tf: "
                             "XLA has no deterministic max-pool gradient; drop one of them")
        if self.seed < 0:
            raise UsageError(f"--seed must be 0 or more, got {self.seed}")
        if self.width is not None and self.model_name() != "FastResNet":
            raise UsageError(f"--width applies to FastResNet, not {self.model_name()}")
        out = Path(self.out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {self.out} is a file; give a folder for the checkpoints")
        for parent in out.parents:
            if parent.exists() and not parent.is_dir():
                raise UsageError(f"--out {self.out}: {parent} is a file, not a folder")

    def __post_init__(self) -> None:
        if self.fast:
            self.amp = self.data_on_device = self.channels_last = self.compile = True

    def epochs_now(self) -> int:
        return min(self.epochs, self.stop_after or self.epochs)

    def model_name(self) -> str:
        return self.model or DEFAULT_MODEL[self.dataset]

    def argv(self) -> list[str]:
        """The ``tfpt train`` flags that give this config (how the launcher starts workers)."""
        args = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value != f.default and value is not False:
                flag = "--" + f.name.replace("_", "-")
                args += [flag] if value is True else [flag, str(value)]
        return args

    def model_kwargs(self, spec) -> dict:
        kwargs = {"image_shape": tuple(spec.image_shape)}
        if self.width is not None:
            kwargs["width"] = self.width
        return kwargs


def load_data(cfg: Config) -> tdata.ImageData:
    """The dataset, with a sample notice printed as a plain line (it goes to the log)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", tdata.SampleDataWarning)
        ds = tdata.load(cfg.dataset)
    for w in caught:
        print(f"NOTE: {w.message}")
    if cfg.limit is not None and cfg.limit < cfg.batch_size:
        raise UsageError(f"--limit {cfg.limit} is smaller than one batch "
                         f"(--batch-size {cfg.batch_size})")
    return ds


def resume_error(cfg: Config, last: Path, best: Path, err: Exception) -> UsageError:
    """A truncated or unreadable ``last.*``: say so, and name ``best.*`` when it is intact."""
    fallback = (f"{best} is intact: `cp {best} {last}` resumes from the best epoch"
                if best.exists() else "no best checkpoint to fall back on")
    return UsageError(f"--resume: {err}. {fallback}, or start again without --resume")


def finish(cfg: Config, history: History, best: dict, test: tuple[float, float], images: int,
           device: str) -> dict:
    """Write ``metrics.json`` and print the one-line summary."""
    if history.epochs == 0:
        raise UsageError("no epoch finished; nothing to report")
    seconds = float(np.sum(history.seconds))
    metrics = {
        "framework": cfg.framework, "dataset": cfg.dataset, "model": cfg.model_name(),
        "epochs": history.epochs, "best_epoch": best["epoch"],
        "val_loss": best["val_loss"], "val_accuracy": best["val_accuracy"],
        "test_loss": test[0], "test_accuracy": test[1],
        "seconds_per_epoch": seconds / history.epochs,
        "images_per_second": images * history.epochs / seconds, "device": device,
        "amp": cfg.amp, "interrupted": history.interrupted, "config": asdict(cfg),
        "history": history.to_dict(),
    }
    path = Path(cfg.out) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2))
    epochs = "epoch" if history.epochs == 1 else "epochs"
    print(f"best epoch {best['epoch']} of {history.epochs} {epochs} (val_acc "
          f"{best['val_accuracy']:.4f}); test accuracy {test[1]:.4f}; "
          f"{metrics['seconds_per_epoch']:.1f} s/epoch, {metrics['images_per_second']:,.0f} "
          f"images/s on {device}; wrote {path}")
    return metrics


def best_epoch(history: History) -> dict:
    i = int(np.argmin(history.val_loss))
    return {"epoch": i + 1, "val_loss": history.val_loss[i], "val_accuracy": history.val_accuracy[i]}


def launch(cfg: Config) -> dict:
    """Start ``cfg.nproc`` workers of ``tfpt train`` on this machine, wait, return the metrics.

    Raises :class:`tfpt.distributed.WorkerFailed` (one line: which rank, its exit
    code, its log) as soon as a worker dies; the others are stopped, never left hanging.
    """
    what = "DDP" if cfg.framework == "torch" else "MultiWorkerMirroredStrategy"
    logs = Path(cfg.out) / "logs"
    print(f"starting {cfg.nproc} {what} workers; rank 0 prints, every rank logs to "
          f"{display_path(logs)}/", flush=True)
    try:
        distributed.launch([sys.executable, "-m", "tfpt", "train", *cfg.argv()],
                           distributed.worker_envs(cfg.framework, cfg.nproc), logs)
    except KeyboardInterrupt:
        print("interrupted: the workers were stopped; the last checkpoint is intact (--resume)")
        return {"interrupted": True}
    return json.loads((Path(cfg.out) / "metrics.json").read_text())


def train(cfg: Config) -> dict:
    """Run one training job as configured; returns the final metrics."""
    start = time.perf_counter()
    cfg.check()
    if cfg.nproc > 1 and not distributed.in_group(cfg.framework):
        metrics = launch(cfg)  # this process only starts the workers and waits
    else:
        if cfg.framework == "torch":
            from tfpt.app.torch import train as run
        else:
            from tfpt.app.keras import train as run
        if distributed.in_group(cfg.framework):  # one worker of a group
            if distributed.rank() == 0:
                return run(cfg)  # the launcher, if any, prints the total time
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
                return run(cfg)  # the other ranks stay silent: rank 0 does the talking
        metrics = run(cfg)
    print(f"total wall time {time.perf_counter() - start:.1f} s")
    return metrics
