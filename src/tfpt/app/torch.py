"""``tfpt train --framework torch``: the loop of notebook 04 with resumable checkpoints.

The hooks of :class:`tfpt.app.pipeline.Run` for PyTorch. One worker of a group
(``--nproc``, notebook 07) wraps the model in ``DistributedDataParallel`` and trains
on its slice of every global batch with :func:`tfpt.distributed.torch.fit`. Twin of
:mod:`tfpt.app.keras`.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import tfpt.data.torch as data_torch
from tfpt.app.common import Config
from tfpt.app.pipeline import Run, execute
from tfpt.checkpoint import torch as ckpt
from tfpt.data.order import LoaderOptions
from tfpt.devices import DeviceChoice, torch_device
from tfpt.distributed import torch as tdist
from tfpt.errors import UsageError
from tfpt.models import build
from tfpt.train import torch as loop
from tfpt.train.history import History
from tfpt.train.loop import FitOptions


def _rng_state() -> dict:
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class FrameworkRun(Run):
    framework, suffix = "torch", ".pt"

    def __init__(self, cfg: Config, group, device: DeviceChoice):
        super().__init__(cfg, group)
        if group.world > 1:
            cfg.nproc = group.world  # also when torchrun started the workers
            cfg.check()  # again: flags that do not combine with several workers
            device = DeviceChoice("torch", group.device, f"rank {group.rank} of {group.world}")
        self.device = device.device
        print(f"device: {device.device} ({device.reason})")

    def build(self, ds) -> None:
        self.model = build("torch", self.cfg.model_name(),
                           **self.cfg.model_kwargs(ds.spec)).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)

    def resume(self, ds) -> dict:
        self.build(ds)
        extra = ckpt.load(self.last, self.model, self.optimizer, device=self.device).extra
        rng = extra.get("rng")  # one state per rank after a run of several
        if rng is not None:
            _set_rng_state(rng[self.group.rank % len(rng)] if isinstance(rng, list) else rng)
        return extra

    def loaders(self, ds, start_epoch: int) -> tuple:
        cfg = self.cfg
        options = LoaderOptions(augment=cfg.dataset == "cifar10", start_epoch=start_epoch)  # resume
        batches = dict(batch_size=cfg.batch_size, seed=cfg.seed, limit=cfg.limit, options=options)
        if self.group.world > 1:  # this rank's slice of every global batch
            train_data = tdist.shard_loader(ds, "train", group=self.group, **batches)
        elif cfg.data_on_device:  # one uint8 tensor on the device, whole batches augmented there
            train_data = data_torch.device_loader(ds, "train", device=self.device,
                                                  channels_last=cfg.channels_last, **batches)
        else:
            train_data = data_torch.loader(ds, "train", **batches)
        return train_data, data_torch.loader(ds, "val", batch_size=1000, limit=cfg.val_limit)

    def make_schedule(self, steps_per_epoch: int, done: int) -> None:
        """One cycle over all ``--epochs``; a larger ``--epochs`` on resume re-plans it."""
        cfg, saved = self.cfg, self.saved.get("schedule")
        self.schedule = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch,
            cycle_momentum=False)
        if saved is None:
            return
        if saved["total_steps"] == self.schedule.total_steps:
            self.schedule.load_state_dict(saved)  # exactly where it stopped
        else:  # the same cycle over the new total, at the step reached
            self.schedule.last_epoch = done * steps_per_epoch - 1
            self.schedule.step()
        for params, lr in zip(self.optimizer.param_groups, self.schedule.get_last_lr()):
            params["lr"] = lr  # the constructor reset it; the next step's rate comes back

    def fit(self, train_data, val_data, options: FitOptions) -> History:
        cfg, model = self.cfg, self.model
        if cfg.channels_last:
            model.to(memory_format=torch.channels_last)
        runner = torch.compile(model) if cfg.compile else model  # checkpoints keep `model`
        if self.group.world == 1:
            return loop.fit(runner, train_data, val_data, cfg.epochs_now(), self.optimizer,
                            self.schedule, device=self.device, amp=cfg.amp, **vars(options))
        runner = DistributedDataParallel(model)  # broadcasts rank 0's weights
        if not self.saved:  # one seed per rank: different dropout masks on different images
            torch.manual_seed(1000 * cfg.seed + self.group.rank)
        options = {**vars(options), "progress": self.group.rank == 0, "interruptible": False}
        return tdist.fit(runner, train_data, val_data, cfg.epochs_now(), self.optimizer,
                         self.schedule, group=self.group, amp=cfg.amp, **options)

    def save_last(self, epoch: int, history: History) -> None:
        rng = _rng_state()
        if self.group.world > 1:  # every rank's random state, to resume each rank exactly
            rng = [None] * self.group.world
            dist.all_gather_object(rng, _rng_state())
        if self.group.rank == 0:
            ckpt.save(self.last, self.model, self.optimizer, epoch=epoch,
                      history=history.to_dict(), rng=rng, schedule=self.schedule.state_dict(),
                      config=vars(self.cfg))

    def test(self, ds) -> tuple[float, float]:
        ckpt.load(self.best, self.model, device=self.device)
        return loop.evaluate(self.model, data_torch.loader(ds, "test", batch_size=1000,
                                                           limit=self.cfg.test_limit), self.device)

    def device_name(self) -> str:
        return str(next(self.model.parameters()).device)


def train(cfg: Config) -> dict:
    try:
        device = torch_device(cfg.device)
        group = tdist.setup(cfg.device, cfg.timeout)  # alone: rank 0 of 1, joins nothing
    except ValueError as err:
        raise UsageError(str(err)) from err
    try:
        return execute(FrameworkRun(cfg, group, device))
    finally:
        tdist.shutdown(group)
