"""``tfpt train --framework tf``: the GradientTape loop of notebook 04 with resumable checkpoints.

One worker of a group (``--nproc``, notebook 07) builds the model under
``MultiWorkerMirroredStrategy`` and trains with :func:`tfpt.distributed.tf.fit`: a
``strategy.run`` loop, since Keras ``fit`` fails under that strategy in Keras 3
(keras-team/keras#20585). Twin of :mod:`tfpt.app.torch`.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import tfpt
import tfpt.data.tf as data_tf
from tfpt.app import Config, UsageError, best_epoch, finish, load_data, resume_error
from tfpt.checkpoint import CheckpointError, atomic_path
from tfpt.checkpoint import keras as ckpt
from tfpt.distributed import tf as tfdist
from tfpt.models import build
from tfpt.train import OneCycle
from tfpt.train import keras as loop
from tfpt.train.history import History
from tfpt.train.tensorboard import RunLogger


def _rng_state(model: keras.Model) -> list[list[int]]:
    """Dropout's random state: Keras keeps it in seed-generator variables of the model."""
    return [v.numpy().tolist() for v in _seed_variables(model)]


def _set_rng_state(model: keras.Model, state: list) -> None:
    variables = _seed_variables(model)
    if len(variables) != len(state):
        raise CheckpointError(f"checkpoint has {len(state)} random-state variables, "
                              f"the model {len(variables)}")
    for v, values in zip(variables, state):
        v.assign(np.asarray(values, dtype=v.dtype))


def _seed_variables(model: keras.Model) -> list:
    # Matched by position: the auto-numbered names (seed_generator_4, ...) differ
    # from one process to the next.
    return [v for v in model.variables if "seed_generator_state" in v.path]


def _placement(requested: str):
    """Where TensorFlow runs: ``--device cpu`` really keeps it off a GPU."""
    gpus = tf.config.list_physical_devices("GPU")
    if requested == "cuda" and not gpus:
        raise UsageError("--device cuda, but TensorFlow sees no GPU: install tfpt[gpu] "
                         "(TensorFlow's CUDA libraries), or use --device cpu")
    if requested == "cpu":
        return tf.device("/CPU:0")
    return tf.device("/GPU:0") if requested == "cuda" else contextlib.nullcontext()


def train(cfg: Config) -> dict:
    group = tfdist.setup(cfg.device, cfg.timeout)  # first: a worker joins before any op runs
    placement = _placement(cfg.device)
    with placement if group.world == 1 else contextlib.nullcontext():  # else the strategy's
        return _train(cfg, group)


def _train(cfg: Config, group) -> dict:
    if group.world > 1:
        cfg.nproc = group.world  # also when each worker was started by hand with TF_CONFIG
        cfg.check()  # again: flags that do not combine with several workers
    on_gpu = cfg.device != "cpu" and bool(tf.config.list_physical_devices("GPU"))
    policy = ("mixed_float16" if on_gpu else "mixed_bfloat16") if cfg.amp else "float32"
    if cfg.amp:
        print(f"--amp: Keras policy {policy}")
    tfpt.seed(cfg.seed, deterministic=cfg.deterministic)
    ds = load_data(cfg)
    out = Path(cfg.out)
    last, best = out / "last.keras", out / "best.keras"
    history = History()
    with group.strategy.scope():  # variables mirrored on every replica (alone: no-op)
        if cfg.resume and last.exists():
            try:
                saved = ckpt.load(last)  # safe mode; the optimizer and its state come with it
            except CheckpointError as err:
                raise resume_error(cfg, last, best, err) from err
            model, optimizer = saved.model, saved.optimizer
            history = History.from_dict(saved.extra["history"])
            _set_rng_state(model, saved.extra["rng"])
            print(f"resumed from {last} after epoch {history.epochs}")
        else:
            if cfg.resume:
                print(f"--resume: no {last} yet, starting from scratch")
            model = build("keras", cfg.model_name(), dtype=policy, **cfg.model_kwargs(ds.spec))
            optimizer = keras.optimizers.Adam(cfg.lr)
            if policy == "mixed_float16":  # float16 gradients underflow without loss scaling
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            model.compile(optimizer=optimizer, loss=loop.LOSS)  # a .keras file stores it
    device = model.weights[0].value.device.split("device:")[-1]
    print(f"device: {device}" + (f" (worker {group.rank} of {group.world})" if group.world > 1 else ""))
    batches = dict(batch_size=cfg.batch_size, seed=cfg.seed, limit=cfg.limit,
                   augment=cfg.dataset == "cifar10", start_epoch=history.epochs)  # resume order
    if group.world > 1:  # this worker's slice of every global batch
        train_data = tfdist.shard_loader(ds, "train", group=group, **batches)
    elif cfg.data_on_device:  # one uint8 tensor on the device, whole batches augmented there
        train_data = data_tf.device_loader(ds, "train", device=cfg.device, **batches)
    else:
        train_data = data_tf.loader(ds, "train", **batches)
    val_data = data_tf.loader(ds, "val", batch_size=1000, limit=cfg.val_limit)
    schedule = OneCycle(cfg.lr, cfg.epochs * len(train_data))
    logger = (RunLogger("tf", f"{cfg.dataset}_{cfg.model_name()}", out / "runs")
              if group.rank == 0 else None)

    def save_last(epoch: int, h: History) -> None:
        if group.rank != 0:  # the workers' weights are identical: the chief writes
            return
        ckpt.save(last, model, optimizer, epoch=epoch, history=h.to_dict(),
                  rng=_rng_state(model), config=cfg.__dict__)
        if h.val_loss[-1] == min(h.val_loss):  # the best so far: keep a copy
            with atomic_path(best) as tmp:
                shutil.copyfile(last, tmp)

    if group.world > 1:
        history = tfdist.fit(model, train_data, val_data, cfg.epochs_now(), optimizer, schedule,
                             group=group, logger=logger, history=history,
                             on_epoch_end=save_last, log_every=cfg.log_every)
    else:
        history = loop.fit_custom(model, train_data, val_data, cfg.epochs_now(), optimizer,
                                  schedule=schedule, logger=logger, history=history,
                                  jit_compile=cfg.compile,
                                  on_epoch_end=save_last, log_every=cfg.log_every)
    if group.rank != 0:
        return {"interrupted": False}  # the chief evaluates the test set and writes metrics.json
    logger.close()
    if history.epochs == 0:
        raise UsageError("no epoch finished; nothing to report")
    best_model = ckpt.load(best).model  # the test set sees the best model, once
    test = loop.evaluate(best_model, data_tf.loader(ds, "test", batch_size=1000,
                                                    limit=cfg.test_limit))
    images = len(ds.arrays("train", cfg.limit)[1])
    return finish(cfg, history, best_epoch(history), test, images, device)
