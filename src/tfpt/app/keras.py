"""``tfpt train --framework tf``: the GradientTape loop of notebook 04 with resumable checkpoints.

The hooks of :class:`tfpt.app.pipeline.Run` for TensorFlow. One worker of a group
(``--nproc``, notebook 07) builds the model under ``MultiWorkerMirroredStrategy`` and
trains with :func:`tfpt.distributed.tf.fit`: a ``strategy.run`` loop, since Keras
``fit`` fails under that strategy in Keras 3 (keras-team/keras#20585). Twin of
:mod:`tfpt.app.torch`.
"""

from __future__ import annotations

import contextlib
import json

import keras
import numpy as np
import tensorflow as tf

import tfpt.data.tf as data_tf
from tfpt.app.common import Config
from tfpt.app.pipeline import Run, execute
from tfpt.checkpoint import CheckpointError
from tfpt.checkpoint import keras as ckpt
from tfpt.data.order import LoaderOptions
from tfpt.distributed import tf as tfdist
from tfpt.errors import UsageError
from tfpt.models import build
from tfpt.train import OneCycle
from tfpt.train import keras as loop
from tfpt.train.history import History
from tfpt.train.loop import FitOptions


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


class FrameworkRun(Run):
    framework, suffix = "tf", ".keras"

    def __init__(self, cfg: Config, group):
        super().__init__(cfg, group)
        if group.world > 1:
            cfg.nproc = group.world  # also when each worker was started by hand with TF_CONFIG
            cfg.check()  # again: flags that do not combine with several workers
        on_gpu = cfg.device != "cpu" and bool(tf.config.list_physical_devices("GPU"))
        self.policy = ("mixed_float16" if on_gpu else "mixed_bfloat16") if cfg.amp else "float32"
        if cfg.amp:
            print(f"--amp: Keras policy {self.policy}")

    def build(self, ds) -> None:
        with self.group.strategy.scope():  # variables mirrored on every replica (alone: no-op)
            self.model = build("tf", self.cfg.model_name(), dtype=self.policy,
                               **self.cfg.model_kwargs(ds.spec))
            self.optimizer = keras.optimizers.Adam(self.cfg.lr)
            if self.policy == "mixed_float16":  # float16 gradients underflow without scaling
                self.optimizer = keras.optimizers.LossScaleOptimizer(self.optimizer)
            self.model.compile(optimizer=self.optimizer, loss=loop.LOSS)  # a .keras file stores it
        self._say_device()

    def resume(self, ds) -> dict:
        with self.group.strategy.scope():
            saved = ckpt.load(self.last)  # safe mode; the optimizer and its state come with it
        self.model, self.optimizer = saved.model, saved.optimizer
        if saved.info.get("model"):  # keep the spec, so the next save can be checked too
            self.model.tfpt_spec = json.dumps(saved.info["model"])
        if "rng" in saved.extra:
            _set_rng_state(self.model, saved.extra["rng"])
        self._say_device()
        return saved.extra

    def _say_device(self) -> None:
        self.device = self.model.weights[0].value.device.split("device:")[-1]
        world = self.group.world
        print(f"device: {self.device}" + (f" (worker {self.group.rank} of {world})"
                                          if world > 1 else ""))

    def loaders(self, ds, start_epoch: int) -> tuple:
        cfg = self.cfg
        options = LoaderOptions(augment=cfg.dataset == "cifar10", start_epoch=start_epoch)  # resume
        batches = dict(batch_size=cfg.batch_size, seed=cfg.seed, limit=cfg.limit, options=options)
        if self.group.world > 1:  # this worker's slice of every global batch
            train_data = tfdist.shard_loader(ds, "train", group=self.group, **batches)
        elif cfg.data_on_device:  # one uint8 tensor on the device, whole batches augmented there
            train_data = data_tf.device_loader(ds, "train", device=cfg.device, **batches)
        else:
            train_data = data_tf.loader(ds, "train", **batches)
        return train_data, data_tf.loader(ds, "val", batch_size=1000, limit=cfg.val_limit)

    def make_schedule(self, steps_per_epoch: int, done: int) -> None:
        """One cycle over all ``--epochs``, a function of the global step: a larger
        ``--epochs`` on resume re-plans it and continues at the step reached."""
        self.schedule = OneCycle(self.cfg.lr, self.cfg.epochs * steps_per_epoch)

    def fit(self, train_data, val_data, options: FitOptions) -> History:
        cfg = self.cfg
        if self.group.world == 1:
            return loop.fit_custom(self.model, train_data, val_data, cfg.epochs_now(),
                                   self.optimizer, self.schedule, jit_compile=cfg.compile,
                                   **vars(options))
        options = {**vars(options), "progress": self.group.rank == 0, "interruptible": False}
        return tfdist.fit(self.model, train_data, val_data, cfg.epochs_now(), self.optimizer,
                          self.schedule, group=self.group, **options)

    def save_last(self, epoch: int, history: History) -> None:
        if self.group.rank == 0:  # the workers' weights are identical: the chief writes
            ckpt.save(self.last, self.model, self.optimizer, epoch=epoch,
                      history=history.to_dict(), rng=_rng_state(self.model), config=vars(self.cfg))

    def test(self, ds) -> tuple[float, float]:
        best_model = ckpt.load(self.best).model
        return loop.evaluate(best_model, data_tf.loader(ds, "test", batch_size=1000,
                                                        limit=self.cfg.test_limit))

    def device_name(self) -> str:
        return self.device


def train(cfg: Config) -> dict:
    group = tfdist.setup(cfg.device, cfg.timeout)  # first: a worker joins before any op runs
    placement = _placement(cfg.device)
    with placement if group.world == 1 else contextlib.nullcontext():  # else the strategy's
        return execute(FrameworkRun(cfg, group))
