"""``tfpt train --framework torch``: the loop of notebook 04 with resumable checkpoints.

One worker of a group (``--nproc``, notebook 07) wraps the model in
``DistributedDataParallel`` and trains on its slice of every global batch with
:func:`tfpt.distributed.torch.fit`. Twin of :mod:`tfpt.app.keras`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import tfpt
import tfpt.data.torch as data_torch
from tfpt.app import Config, UsageError, best_epoch, finish, load_data, resume_error
from tfpt.checkpoint import CheckpointError, atomic_path
from tfpt.checkpoint import torch as ckpt
from tfpt.devices import DeviceChoice, torch_device
from tfpt.distributed import torch as tdist
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
        group = tdist.setup(cfg.device, cfg.timeout)  # alone: rank 0 of 1, joins nothing
    except ValueError as err:
        raise UsageError(str(err)) from err
    try:
        return _train(cfg, device, group)
    finally:
        tdist.shutdown(group)


def _train(cfg: Config, device, group) -> dict:
    if group.world > 1:
        cfg.nproc = group.world  # also when torchrun started the workers
        cfg.check()  # again: flags that do not combine with several workers
        device = DeviceChoice("torch", group.device, f"rank {group.rank} of {group.world}")
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
        rng = saved.extra["rng"]  # one state per rank after a run of several
        _set_rng_state(rng[group.rank % len(rng)] if isinstance(rng, list) else rng)
        print(f"resumed from {last} after epoch {history.epochs}")
    elif cfg.resume:
        print(f"--resume: no {last} yet, starting from scratch")
    batches = dict(batch_size=cfg.batch_size, seed=cfg.seed, limit=cfg.limit,
                   augment=cfg.dataset == "cifar10", start_epoch=history.epochs)  # resume order
    if group.world > 1:  # this rank's slice of every global batch
        train_data = tdist.shard_loader(ds, "train", group=group, **batches)
    elif cfg.data_on_device:  # one uint8 tensor on the device, whole batches augmented there
        train_data = data_torch.device_loader(ds, "train", device=device.device,
                                              channels_last=cfg.channels_last, **batches)
    else:
        train_data = data_torch.loader(ds, "train", **batches)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * len(train_data), cycle_momentum=False)
    if saved is not None:
        schedule.load_state_dict(saved.extra["schedule"])
        for params, lr in zip(optimizer.param_groups, schedule.get_last_lr()):
            params["lr"] = lr  # the constructor reset it; the next step's rate comes back
    val_data = data_torch.loader(ds, "val", batch_size=1000, limit=cfg.val_limit)
    logger = (RunLogger("torch", f"{cfg.dataset}_{cfg.model_name()}", out / "runs")
              if group.rank == 0 else None)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    runner = torch.compile(model) if cfg.compile else model  # checkpoints keep `model`
    if group.world > 1:
        runner = DistributedDataParallel(model)  # broadcasts rank 0's weights
        if saved is None:  # one seed per rank: different dropout masks on different images
            torch.manual_seed(1000 * cfg.seed + group.rank)

    def save_last(epoch: int, h: History) -> None:
        rng = _rng_state()
        if group.world > 1:  # every rank's random state, to resume each rank exactly
            rng = [None] * group.world
            dist.all_gather_object(rng, _rng_state())
        if group.rank != 0:
            return
        ckpt.save(last, model, optimizer, epoch=epoch, history=h.to_dict(), rng=rng,
                  schedule=schedule.state_dict(), config=cfg.__dict__)
        if h.val_loss[-1] == min(h.val_loss):  # the best so far: keep a copy
            with atomic_path(best) as tmp:
                shutil.copyfile(last, tmp)

    if group.world > 1:
        history = tdist.fit(runner, train_data, val_data, cfg.epochs_now(), optimizer, schedule,
                            group=group, logger=logger, history=history, on_epoch_end=save_last,
                            log_every=cfg.log_every, amp=cfg.amp)
    else:
        history = loop.fit(runner, train_data, val_data, cfg.epochs_now(), optimizer, schedule,
                           device=device.device, logger=logger, amp=cfg.amp, history=history,
                           on_epoch_end=save_last, log_every=cfg.log_every)
    if group.rank != 0:
        return {"interrupted": False}  # rank 0 evaluates the test set and writes metrics.json
    logger.close()
    if history.epochs == 0:
        raise UsageError("no epoch finished; nothing to report")
    ckpt.load(best, model, device=device.device)  # the test set sees the best model, once
    test = loop.evaluate(model, data_torch.loader(ds, "test", batch_size=1000,
                                                  limit=cfg.test_limit), device.device)
    where = str(next(model.parameters()).device)
    images = len(ds.arrays("train", cfg.limit)[1])
    return finish(cfg, history, best_epoch(history), test, images, where)
