"""``tfpt train``: the script a learner copies to a GPU box.

Trains one twin model on MNIST or CIFAR-10 with either framework, writes
TensorBoard logs (the same tags as notebook 04), a checkpoint after every epoch
(atomically) plus the best one, and the final metrics as JSON. ``--resume``
continues from the last checkpoint exactly: model, optimizer, learning-rate
schedule, epoch, data order and random state.

Output folder ``--out``: ``last.pt``/``last.keras`` (resume from here),
``best.pt``/``best.keras`` (lowest validation loss), ``metrics.json``, ``runs/``.
"""

from __future__ import annotations

import json
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import tfpt
from tfpt import data as tdata
from tfpt.train.history import History
from tfpt.train.schedule import OneCycle

DEFAULT_MODEL = {"mnist": "MnistCNN", "cifar10": "FastResNet"}
TFPT_MEMBER = "tfpt.json"  # our metadata inside a .keras zip


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
    out: str = "outputs/run"
    resume: bool = False
    seed: int = 0
    deterministic: bool = False
    limit: int | None = None  # first N training images (quick runs)
    test_limit: int | None = None
    log_every: int = 50  # plain progress lines when not on a terminal
    stop_after: int | None = None  # stop after this many epochs; --resume continues

    def epochs_now(self) -> int:
        return min(self.epochs, self.stop_after or self.epochs)

    def model_name(self) -> str:
        return self.model or DEFAULT_MODEL[self.dataset]

    def model_kwargs(self, spec) -> dict:
        kwargs = {"image_shape": tuple(spec.image_shape)}
        if self.width is not None:
            if self.model_name() != "FastResNet":
                raise ValueError(f"--width applies to FastResNet, not {self.model_name()}")
            kwargs["width"] = self.width
        return kwargs


def _metrics(cfg: Config, history: History, images: int, device: str) -> dict:
    train_seconds = float(np.sum(history.seconds))
    return {
        "framework": cfg.framework, "dataset": cfg.dataset, "model": cfg.model_name(),
        "epochs": history.epochs, "test_accuracy": history.val_accuracy[-1],
        "test_loss": history.val_loss[-1], "seconds_per_epoch": train_seconds / history.epochs,
        "images_per_second": images * history.epochs / train_seconds, "device": device,
        "amp": cfg.amp, "interrupted": history.interrupted, "history": history.to_dict(),
    }


def _load_data(cfg: Config):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", tdata.SampleDataWarning)
        ds = tdata.load(cfg.dataset)
    for w in caught:
        print(f"NOTE: {w.message}")
    return ds


# --- PyTorch ---------------------------------------------------------------------

def train_torch(cfg: Config) -> dict:
    import torch

    import tfpt.data.torch as data_torch
    from tfpt.checkpoint import torch as ckpt
    from tfpt.devices import torch_device
    from tfpt.models import build
    from tfpt.train import torch as loop
    from tfpt.train.tensorboard import RunLogger

    out = Path(cfg.out)
    device = torch_device(cfg.device)
    print(f"device: {device.device} ({device.reason})")
    tfpt.seed(cfg.seed, deterministic=cfg.deterministic)
    ds = _load_data(cfg)
    model = build("torch", cfg.model_name(), **cfg.model_kwargs(ds.spec)).to(device.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history = History()
    last = out / "last.pt"
    if cfg.resume and last.exists():
        state = ckpt.load(last, model, optimizer, map_location=device.device)
        history = History.from_dict(state["history"])
        torch.set_rng_state(state["rng"]["cpu"])
        if state["rng"].get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        print(f"resumed from {last} after epoch {history.epochs}")
    elif cfg.resume:
        print(f"--resume: no {last} yet, starting from scratch")
    augment = cfg.dataset == "cifar10"
    train = data_torch.loader(ds, batch_size=cfg.batch_size, seed=cfg.seed, limit=cfg.limit,
                              augment=augment, start_epoch=history.epochs)
    test = data_torch.loader(ds, "test", batch_size=1000, limit=cfg.test_limit)
    schedule = OneCycle(cfg.lr, cfg.epochs * len(train))
    logger = RunLogger("torch", f"{cfg.dataset}_{cfg.model_name()}", out / "runs")

    def save_last(epoch: int, h: History) -> None:
        rng = {"cpu": torch.get_rng_state(),
               "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
        ckpt.save(last, model, optimizer, epoch=epoch, history=h.to_dict(), rng=rng,
                  config=cfg.__dict__)

    history = loop.fit(model, train, test, cfg.epochs_now(), optimizer, schedule=schedule,
                       device=device.device, checkpoint=out / "best.pt", logger=logger,
                       amp=cfg.amp, history=history, on_epoch_end=save_last,
                       progress=True, log_every=cfg.log_every)
    logger.close()
    return _finish(cfg, history, len(train.dataset), device.device)


# --- TensorFlow / Keras ----------------------------------------------------------

def _seed_variables(model) -> list:
    # Dropout's random state. Matched by position: the auto-numbered names
    # (seed_generator_4, ...) differ from one process to the next.
    return [v for v in model.variables if "seed_generator_state" in v.path]


def _seed_states(model) -> list[list[int]]:
    return [v.numpy().tolist() for v in _seed_variables(model)]


def _restore_seed_states(model, states: list) -> None:
    variables = _seed_variables(model)
    if len(variables) != len(states):
        raise ValueError(f"checkpoint has {len(states)} random-state variables, model {len(variables)}")
    for v, state in zip(variables, states):
        v.assign(np.asarray(state, dtype=v.dtype))


def save_keras_resumable(path: Path, model, meta: dict) -> None:
    """A ``.keras`` file (model + optimizer state) with tfpt's metadata inside, atomically."""
    from tfpt.checkpoint import atomic_path

    with atomic_path(path) as tmp:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as zf:
            zf.writestr(TFPT_MEMBER, json.dumps(meta))


def read_keras_meta(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read(TFPT_MEMBER)) if TFPT_MEMBER in zf.namelist() else {}


def train_tf(cfg: Config) -> dict:
    import keras
    import tensorflow as tf

    import tfpt.data.tf as data_tf
    from tfpt.checkpoint import keras as ckpt
    from tfpt.devices import tf_device
    from tfpt.models import build
    from tfpt.train import keras as loop
    from tfpt.train.tensorboard import RunLogger

    if cfg.device == "cuda" and not tf.config.list_physical_devices("GPU"):
        raise ValueError("--device cuda but TensorFlow sees no GPU; "
                         "install tfpt[gpu] or use --device cpu")
    device = tf_device() if cfg.device != "cpu" else None
    device_name = device.device if device else "CPU:0"
    print(f"device: {device_name}")
    on_gpu = device is not None and device.device != "CPU:0"
    policy = ("mixed_float16" if on_gpu else "mixed_bfloat16") if cfg.amp else "float32"
    if cfg.amp:
        print(f"--amp: Keras policy {policy}")
    tfpt.seed(cfg.seed, deterministic=cfg.deterministic)
    ds = _load_data(cfg)
    out, last = Path(cfg.out), Path(cfg.out) / "last.keras"
    history = History()
    if cfg.resume and last.exists():
        model = ckpt.load(last)  # safe mode; the optimizer state comes with it
        optimizer = model.optimizer
        meta = read_keras_meta(last)
        history = History.from_dict(meta["history"])
        _restore_seed_states(model, meta.get("seed_states", []))
        print(f"resumed from {last} after epoch {history.epochs}")
    else:
        if cfg.resume:
            print(f"--resume: no {last} yet, starting from scratch")
        model = build("keras", cfg.model_name(), dtype=policy, **cfg.model_kwargs(ds.spec))
        optimizer = keras.optimizers.Adam(cfg.lr)
        if policy == "mixed_float16":  # float16 gradients underflow without loss scaling
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    augment = cfg.dataset == "cifar10"
    train = data_tf.loader(ds, batch_size=cfg.batch_size, seed=cfg.seed, limit=cfg.limit,
                           augment=augment, start_epoch=history.epochs)
    test = data_tf.loader(ds, "test", batch_size=1000, limit=cfg.test_limit)
    schedule = OneCycle(cfg.lr, cfg.epochs * len(train))
    logger = RunLogger("tf", f"{cfg.dataset}_{cfg.model_name()}", out / "runs")

    class SaveLast(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            save_keras_resumable(last, self.model, {
                "epoch": epoch + 1, "history": history.to_dict(),
                "seed_states": _seed_states(self.model), "config": cfg.__dict__})

    history = loop.fit_custom(model, train, test, cfg.epochs_now(), optimizer, schedule=schedule,
                              checkpoint=out / "best.keras", logger=logger, history=history,
                              callbacks=(SaveLast(),), progress=True, log_every=cfg.log_every)
    logger.close()
    return _finish(cfg, history, len(ds.arrays("train", cfg.limit)[1]), device_name)


def _finish(cfg: Config, history: History, images: int, device: str) -> dict:
    if history.epochs == 0:
        raise SystemExit("no epoch finished; nothing to report")
    metrics = _metrics(cfg, history, images, device)
    path = Path(cfg.out) / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2))
    print(f"test accuracy {metrics['test_accuracy']:.4f} after {history.epochs} epochs, "
          f"{metrics['seconds_per_epoch']:.1f} s/epoch, {metrics['images_per_second']:,.0f} "
          f"images/s on {device}; wrote {path}")
    return metrics


def train(cfg: Config) -> dict:
    """Run one training job as configured; returns the final metrics."""
    start = time.perf_counter()
    if cfg.framework not in ("torch", "tf"):
        raise ValueError(f"unknown framework {cfg.framework!r}: choose torch or tf")
    metrics = train_torch(cfg) if cfg.framework == "torch" else train_tf(cfg)
    print(f"total wall time {time.perf_counter() - start:.1f} s")
    return metrics
