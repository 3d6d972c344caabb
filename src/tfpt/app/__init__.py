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

Layout: this module only dispatches (one process, a launcher, or one worker);
:mod:`tfpt.app.common` holds the :class:`Config` and what both halves share,
:mod:`tfpt.app.outdir` the output folder's lock and write errors,
:mod:`tfpt.app.pipeline` the one pipeline, and the framework halves, twins,
fill in its hooks: :mod:`tfpt.app.torch` and :mod:`tfpt.app.keras`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

from tfpt import distributed
from tfpt.app.common import Config, best_epoch, finish, load_data, resume_error
from tfpt.app.outdir import LOCKED_ENV, claim
from tfpt.config import display_path
from tfpt.errors import UsageError

__all__ = ["Config", "UsageError", "best_epoch", "finish", "launch", "load_data", "resume_error",
           "train"]


def launch(cfg: Config) -> dict:
    """Start ``cfg.nproc`` workers of ``tfpt train`` on this machine, wait, return the metrics.

    Raises :class:`tfpt.distributed.WorkerFailed` (one line: which rank, its exit
    code, its log) as soon as a worker dies; the others are stopped, never left hanging.
    """
    what = "DDP" if cfg.framework == "torch" else "MultiWorkerMirroredStrategy"
    logs = Path(cfg.out) / "logs"
    print(f"starting {cfg.nproc} {what} workers; rank 0 prints, every rank logs to "
          f"{display_path(logs)}/", flush=True)
    envs = [{**env, LOCKED_ENV: "1"} for env in distributed.worker_envs(cfg.framework, cfg.nproc)]
    try:
        distributed.launch([sys.executable, "-m", "tfpt", "train", *cfg.argv()], envs, logs)
    except KeyboardInterrupt:
        last = [p.name for p in (Path(cfg.out) / "last.pt", Path(cfg.out) / "last.keras") if p.exists()]
        print("interrupted: the workers were stopped; " + (f"{last[0]} is intact (--resume continues)"
              if last else "no checkpoint was written yet"))
        return {"interrupted": True}
    return json.loads((Path(cfg.out) / "metrics.json").read_text())


def train(cfg: Config) -> dict:
    """Run one training job as configured; returns the final metrics."""
    start = time.perf_counter()
    cfg.check()
    worker = distributed.in_group(cfg.framework)  # one worker of a group
    with claim(cfg.out) if not worker or distributed.rank() == 0 else contextlib.nullcontext():
        if worker:
            return _as_worker(cfg)  # the launcher, if any, prints the total time
        metrics = launch(cfg) if cfg.nproc > 1 else _framework(cfg)(cfg)
    print(f"total wall time {time.perf_counter() - start:.1f} s")
    return metrics


def _framework(cfg: Config):
    if cfg.framework == "torch":
        from tfpt.app.torch import train as run
    else:
        from tfpt.app.keras import train as run
    return run


def _as_worker(cfg: Config) -> dict:
    if distributed.rank() == 0:
        return _framework(cfg)(cfg)
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        return _framework(cfg)(cfg)  # the other ranks stay silent: rank 0 does the talking
