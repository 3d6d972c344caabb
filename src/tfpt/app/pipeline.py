"""The one ``tfpt train`` pipeline; :mod:`tfpt.app.torch` and :mod:`tfpt.app.keras` fill in its hooks.

Seed, load the data, build the model (or load ``last.*`` and check that the
flags fit it), make the loaders and the schedule, train through the shared epoch
driver (:func:`tfpt.train.loop.drive`) which saves ``last.*`` after every epoch and
keeps a copy of the best one as ``best.*``, then evaluate the test set once on
``best.*`` and write ``metrics.json``. Imports neither framework.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import tfpt
from tfpt.app.common import Config, best_epoch, check_resume, finish, load_data, resume_error
from tfpt.app.outdir import writing
from tfpt.checkpoint import CheckpointError, atomic_path
from tfpt.data import ImageData
from tfpt.distributed import Group
from tfpt.errors import UsageError
from tfpt.train.history import History
from tfpt.train.loop import FitOptions
from tfpt.train.tensorboard import RunLogger


class Run:
    """One training job. A framework half sets ``framework``/``suffix`` and the hooks below."""

    framework = ""  # "torch" or "tf"
    suffix = ""  # ".pt" or ".keras"

    def __init__(self, cfg: Config, group: Group):
        self.cfg, self.group = cfg, group
        out = Path(cfg.out)
        self.last, self.best = out / f"last{self.suffix}", out / f"best{self.suffix}"
        self.saved: dict = {}  # what last.* held, when resuming

    # hooks -----------------------------------------------------------------------------
    def build(self, ds: ImageData) -> None:
        """A fresh model and optimizer."""
        raise NotImplementedError

    def resume(self, ds: ImageData) -> dict:
        """Model and optimizer from ``self.last``; returns the checkpoint's ``extra``."""
        raise NotImplementedError

    def loaders(self, ds: ImageData, start_epoch: int) -> tuple:
        """(training loader in the shared order from ``start_epoch``, validation loader)."""
        raise NotImplementedError

    def make_schedule(self, steps_per_epoch: int, done: int) -> None:
        raise NotImplementedError

    def fit(self, train_data, val_data, options: FitOptions) -> History:
        raise NotImplementedError

    def save_last(self, epoch: int, history: History) -> None:
        raise NotImplementedError

    def test(self, ds: ImageData) -> tuple[float, float]:
        """(loss, accuracy) of ``self.best`` on the test split."""
        raise NotImplementedError

    def device_name(self) -> str:
        raise NotImplementedError

    # shared ----------------------------------------------------------------------------
    def start(self, ds: ImageData) -> History:
        """Build the model, or load ``last.*`` when resuming; returns the History so far."""
        if not (self.cfg.resume and self.last.exists()):
            if self.cfg.resume:
                self._refuse_other_framework()
                print(f"--resume: no {self.last} yet, starting from scratch")
            self.build(ds)
            return History()
        try:
            self.saved = self.resume(ds)
        except CheckpointError as err:
            raise resume_error(self.cfg, self.last, self.best, err) from err
        check_resume(self.cfg, self.saved.get("config") or {}, len(self.saved.get(
            "history", {}).get("loss", [])), self.last)
        history = History.from_dict(self.saved["history"])
        print(f"resumed from {self.last} after epoch {history.epochs}")
        return history

    def _refuse_other_framework(self) -> None:
        """``--resume`` into the other framework's run: say so, instead of starting afresh over
        its metrics.json."""
        other, framework = {".pt": (".keras", "tf"), ".keras": (".pt", "torch")}[self.suffix]
        theirs = self.last.with_suffix(other)
        if theirs.exists():
            raise UsageError(f"--resume: {theirs.parent} holds {theirs.name}, a {framework} run, "
                             f"not {self.last.name}; add --framework {framework}, or choose another "
                             "--out")

    def keep_best(self, epoch: int, history: History) -> None:
        """``best.*``: a copy of the ``last.*`` just written (so it is resumable too)."""
        if self.group.rank != 0:
            return
        with writing(self.best, f"{self.last} (epoch {epoch}) is intact"):
            with atomic_path(self.best) as tmp:
                shutil.copyfile(self.last, tmp)

    def save(self, epoch: int, history: History) -> None:
        """``last.*`` after every epoch; a failed write names the intact previous one."""
        with writing(self.last, f"the previous {self.last.name} is intact (--resume continues "
                                "from it)"):
            self.save_last(epoch, history)


def execute(run: Run) -> dict:
    """Run the pipeline; returns the metrics (other ranks: only whether it was interrupted)."""
    cfg = run.cfg
    tfpt.seed(cfg.seed, deterministic=cfg.deterministic)
    ds = load_data(cfg)
    history = run.start(ds)
    train_data, val_data = run.loaders(ds, history.epochs)
    run.make_schedule(len(train_data), history.epochs)
    logger = None
    if run.group.rank == 0:
        runs = Path(cfg.out) / "runs"
        with writing(runs, "nothing was trained yet"):
            logger = RunLogger(run.framework, f"{cfg.dataset}_{cfg.model_name()}", runs)
    options = FitOptions(logger=logger, history=history, on_epoch_end=run.save,
                         on_best=run.keep_best, log_every=cfg.log_every,
                         planned_epochs=cfg.epochs)  # "epoch 1/2" when --stop-after 1
    try:
        history = run.fit(train_data, val_data, options)
    finally:
        if logger is not None:
            logger.close()
    if run.group.rank != 0:
        return {"interrupted": history.interrupted}  # rank 0 tests and writes metrics.json
    if history.epochs == 0:
        if history.interrupted:
            print("interrupted before the first epoch finished: no checkpoint was written")
            return {"interrupted": True}
        raise UsageError("no epoch finished; nothing to report")
    test = run.test(ds)  # the test set sees the best model, once
    images = len(ds.arrays("train", cfg.limit)[1])
    return finish(cfg, history, best_epoch(history), test, images, run.device_name())
