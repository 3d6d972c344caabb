"""What both halves of ``tfpt train`` share: the :class:`Config`, its checks, the data, the end.

:class:`Config` is the command line as a dataclass (``asdict(cfg)`` is what
checkpoints and ``metrics.json`` store); :func:`check_resume` decides which flags
may change on ``--resume``; :func:`finish` writes ``metrics.json``. Imports
neither framework.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from tfpt import data as tdata
from tfpt.app.outdir import writing
from tfpt.checkpoint import atomic_path
from tfpt.errors import UsageError
from tfpt.train.history import History

DEFAULT_MODEL = {"mnist": "MnistCNN", "cifar10": "FastResNet"}
FRAMEWORKS = ("torch", "tf")


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
        self._check_numbers()
        self._check_combinations()
        self._check_out()

    def _check_numbers(self) -> None:
        for flag, value in (("epochs", self.epochs), ("batch-size", self.batch_size),
                            ("limit", self.limit), ("val-limit", self.val_limit),
                            ("test-limit", self.test_limit), ("width", self.width),
                            ("log-every", self.log_every), ("stop-after", self.stop_after),
                            ("nproc", self.nproc)):
            if value is not None and value < 1:
                raise UsageError(f"--{flag} must be at least 1, got {value}")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"--lr must be a positive number, got {self.lr}")
        if not np.isfinite(np.float32(self.lr)):
            raise UsageError(f"--lr {self.lr} overflows float32 (the weights' type); "
                             "a useful rate is below 1")
        if not 0 <= self.seed < 2**32:
            raise UsageError(f"--seed must be between 0 and 2**32 - 1, got {self.seed}")

    def _check_combinations(self) -> None:
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
        if self.width is not None and self.model_name() != "FastResNet":
            raise UsageError(f"--width applies to FastResNet, not {self.model_name()}")

    def _check_out(self) -> None:
        if not str(self.out).strip():
            raise UsageError("--out is empty; name a folder for the checkpoints, e.g. outputs/run")
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
                args += [flag] if value is True else [f"{flag}={value}"]  # "--out=-x" stays one
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
    """A truncated or unreadable ``last.*``: say so, and name ``best.*`` when it may help."""
    fallback = (f"{best} may be intact: `cp {best} {last}` resumes from the best epoch"
                if best.exists() and best.stat().st_size > 0 else "no best checkpoint to fall back on")
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
    with writing(path, "the checkpoints are intact; --resume evaluates again"):
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(metrics, indent=2))
    if history.epochs < cfg.epochs and not history.stopped_early:
        print(f"stopped after epoch {history.epochs} of {cfg.epochs} (--resume continues)")
    epochs = "epoch" if history.epochs == 1 else "epochs"
    print(f"best epoch {best['epoch']} of {history.epochs} {epochs} (lowest val_loss "
          f"{best['val_loss']:.4f}, val_acc {best['val_accuracy']:.4f}); test accuracy "
          f"{test[1]:.4f}; "
          f"{metrics['seconds_per_epoch']:.1f} s/epoch, {metrics['images_per_second']:,.0f} "
          f"images/s on {device}; wrote {path}")
    return metrics


def best_epoch(history: History) -> dict:
    """The epoch with the lowest validation loss: the one ``best.*`` holds."""
    i = int(np.argmin(history.val_loss))
    return {"epoch": i + 1, "val_loss": history.val_loss[i], "val_accuracy": history.val_accuracy[i]}




# Flags that fix what a checkpoint holds or how it was trained: --resume must repeat them.
# --epochs may grow, and --stop-after, --log-every, --device, --nproc, --timeout,
# --test-limit and --out may change (they do not change the training trajectory).
FIXED_ON_RESUME = ("framework", "dataset", "model", "width", "batch_size", "lr", "seed", "limit",
                   "val_limit", "amp", "data_on_device", "channels_last", "compile",
                   "deterministic")
SCHEDULE_RULE = ("the one-cycle schedule spans --epochs: a larger --epochs on --resume re-plans it "
                 "over the new total and continues at the step reached")


def check_resume(cfg: Config, saved: dict, done: int, last: Path) -> None:
    """Refuse a ``--resume`` whose flags do not fit ``last``'s run, in one line naming the value.

    ``saved`` is the config stored in ``last``; ``done`` its completed epochs.
    """
    if not saved:
        raise UsageError(f"--resume: {last} was not written by tfpt train (no config in it); "
                         "start again without --resume or choose another --out")
    before = Config(**{k: v for k, v in saved.items() if k in Config.__dataclass_fields__})
    for key in FIXED_ON_RESUME:
        was, now = getattr(before, key), getattr(cfg, key)
        if key == "model":
            was, now = before.model_name(), cfg.model_name()
        if was != now:
            flag = "--" + key.replace("_", "-")
            raise UsageError(f"--resume: {last} was trained with {flag} {_shown(was)}, not "
                             f"{_shown(now)}; repeat {flag} {_shown(was)} or start a new --out")
    if cfg.epochs < done:
        raise UsageError(f"--resume: {last} has already trained {done} epochs; --epochs must be "
                         f"at least {done} ({SCHEDULE_RULE})")


def _shown(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "unset" if value is None else str(value)
