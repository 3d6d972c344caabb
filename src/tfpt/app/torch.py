"""``tfpt train --framework torch``: the loop of notebook 04 with resumable checkpoints.

Twin of :mod:`tfpt.app.keras`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

import tfpt
import tfpt.data.torch as data_torch
from tfpt.app import Config, UsageError, best_epoch, finish, load_data, resume_error
from tfpt.checkpoint import CheckpointError, atomic_path
from tfpt.checkpoint import torch as ckpt
from tfpt.devices import torch_device
from tfpt.models import build
from tfpt.train import torch as loop
from tfpt.train.history import History
from tfpt.train.tensorboard import RunLogger


def _rng_state() -> dict:
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def train(cfg: Config) -> dict:
    try:
        device = torch_device(cfg.device)
    except ValueError as err:
        raise UsageError(str(err)) from err
    print(f"device: {device.device} ({device.reason})")
    tfpt.seed(cfg.seed, deterministic=cfg.deterministic)
    ds = load_data(cfg)
    out = Path(cfg.out)
    last, best = out / "last.pt", out / "best.pt"
    model = build("torch", cfg.model_name(), **cfg.model_kwargs(ds.spec)).to(device.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history, saved = History(), None
    if cfg.resume and last.exists():
        try:
            saved = ckpt.load(last, model, optimizer, device=device.device)
        except CheckpointError as err:
            raise resume_error(cfg, last, best, err) from err
        history = History.from_dict(saved.extra["history"])
        _set_rng_state(saved.extra["rng"])
        print(f"resumed from {last} after epoch {history.epochs}")
    elif cfg.resume:
        print(f"--resume: no {last} yet, starting from scratch")
    batches = dict(batch_size=cfg.batch_size, seed=cfg.seed, limit=cfg.limit,
                   augment=cfg.dataset == "cifar10", start_epoch=history.epochs)  # resume order
    if cfg.data_on_device:  # one uint8 tensor on the device, whole batches augmented there
        train_data = data_torch.device_loader(ds, "train", device=device.device,
                                              channels_last=cfg.channels_last, **batches)
    else:
        train_data = data_torch.loader(ds, "train", **batches)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * len(train_data), cycle_momentum=False)
    if saved is not None:
        schedule.load_state_dict(saved.extra["schedule"])
        for group, lr in zip(optimizer.param_groups, schedule.get_last_lr()):
            group["lr"] = lr  # the constructor reset it; the next step's rate comes back
    val_data = data_torch.loader(ds, "val", batch_size=1000, limit=cfg.val_limit)
    logger = RunLogger("torch", f"{cfg.dataset}_{cfg.model_name()}", out / "runs")
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    runner = torch.compile(model) if cfg.compile else model  # checkpoints keep `model`

    def save_last(epoch: int, h: History) -> None:
        ckpt.save(last, model, optimizer, epoch=epoch, history=h.to_dict(), rng=_rng_state(),
                  schedule=schedule.state_dict(), config=cfg.__dict__)
        if h.val_loss[-1] == min(h.val_loss):  # the best so far: keep a copy
            with atomic_path(best) as tmp:
                shutil.copyfile(last, tmp)

    history = loop.fit(runner, train_data, val_data, cfg.epochs_now(), optimizer, schedule,
                       device=device.device, logger=logger, amp=cfg.amp, history=history,
                       on_epoch_end=save_last, log_every=cfg.log_every)
    logger.close()
    if history.epochs == 0:
        raise UsageError("no epoch finished; nothing to report")
    ckpt.load(best, model, device=device.device)  # the test set sees the best model, once
    test = loop.evaluate(model, data_torch.loader(ds, "test", batch_size=1000,
                                                  limit=cfg.test_limit), device.device)
    where = str(next(model.parameters()).device)
    images = len(ds.arrays("train", cfg.limit)[1])
    return finish(cfg, history, best_epoch(history), test, images, where)
