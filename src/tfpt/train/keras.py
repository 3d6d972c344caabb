"""Two TensorFlow training loops, built step by step in notebook 04.

- ``fit``: Keras ``compile`` + ``fit``, with the callbacks the notebook writes
  (a per-step learning rate, keep-best, a History line per epoch, TensorBoard)
  and Keras's own ``EarlyStopping``.
- ``fit_custom``: the notebook's ``GradientTape`` loop (``make_train_step`` +
  ``train_epoch`` + ``evaluate``) with the same History, keep-best checkpoint,
  early stopping and TensorBoard tags, written as plain loop code.

Both choose the best epoch on the *validation* set and leave the test set alone.
Twin of :mod:`tfpt.train.torch`, with three differences the frameworks impose:
datasets (``train_ds``, ``val_ds``) where PyTorch takes loaders; ``train_epoch``
takes the traced step from ``make_train_step`` rather than the model (tracing once
per model is the point of ``tf.function``); and the Keras loops take ``jit_compile``
(``fit`` also Keras ``callbacks``) where the PyTorch loop takes a ``device``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from tfpt.train.history import History
from tfpt.train.loop import Epoch, FitOptions, KeepBest, drive, early_stop_line, interrupted_line
from tfpt.train.tensorboard import RunLogger

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # our models emit logits
Schedule = Callable[[int], float]  # step -> learning rate, e.g. tfpt.train.OneCycle


class LearningRateCallback(keras.callbacks.Callback):
    """Set the optimizer's learning rate from ``schedule(step)`` before every batch."""

    def __init__(self, schedule: Schedule, first_step: int = 0):
        super().__init__()
        self.schedule, self.step = schedule, first_step

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.schedule(self.step))
        self.step += 1


class KeepBestCallback(keras.callbacks.Callback):
    """``ModelCheckpoint(save_best_only=True)`` on ``val_loss``, written atomically.

    Keras's own callback writes the file in place, so an interrupted save leaves a
    broken checkpoint behind; this one writes a temporary file and renames it. The
    rule and the file's contents (epoch, History) are the custom loops':
    :class:`tfpt.train.loop.KeepBest`.
    """

    def __init__(self, path: str | Path | None, history: History,
                 on_best: Callable[[int, History], None] | None = None, best: float = math.inf):
        super().__init__()
        self.history_in, self.path = history, path
        self.keep = KeepBest(self._save if path is not None else None, on_best, best=best)

    def _save(self, epoch: int, history: History) -> None:
        from tfpt.checkpoint.keras import save

        save(self.path, self.model, epoch=epoch, history=history.to_dict())

    def on_epoch_end(self, epoch, logs=None):
        self.keep(epoch + 1, self.history_in)  # after HistoryCallback recorded the epoch


class HistoryCallback(keras.callbacks.Callback):
    """Fill a tfpt :class:`History` (the PyTorch loop's shape) and print its line."""

    def __init__(self, history: History, epochs: int, progress: bool,
                 on_epoch_end: Callable[[int, History], None] | None = None):
        super().__init__()
        self.history_out, self.epochs, self.progress = history, epochs, progress
        self.after = on_epoch_end

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs["lr"] = float(self.model.optimizer.learning_rate.numpy())  # the last step's rate
        self.history_out.append(seconds=time.perf_counter() - self.start,
                                **{k: logs[k] for k in ("loss", "accuracy", "val_loss",
                                                        "val_accuracy", "lr")})
        if self.progress:
            print(self.history_out.line(self.epochs), flush=True)
        if self.after is not None:
            self.after(epoch + 1, self.history_out)


class TensorBoardCallback(keras.callbacks.Callback):
    """Write tfpt's tags through tensorboardX (the same tags as the PyTorch loop)."""

    def __init__(self, logger: RunLogger, first_step: int = 0):
        super().__init__()
        self.logger, self.step = logger, first_step

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.logger.every == 0:
            lr = float(self.model.optimizer.learning_rate.numpy())
            self.logger.step(self.step, float(logs["loss"]), float(logs["accuracy"]), lr)

    def on_epoch_end(self, epoch, logs=None):
        lr = float(self.model.optimizer.learning_rate.numpy())
        self.logger.epoch(epoch + 1, {**logs, "lr": lr})
        self.logger.histograms({w.path: w.numpy() for w in self.model.weights}, epoch + 1)


def fit(model: keras.Model, train_ds: tf.data.Dataset, val_ds: tf.data.Dataset, epochs: int,
        optimizer: keras.optimizers.Optimizer, schedule: Schedule | None = None,
        jit_compile: bool = False, callbacks: tuple = (), **options: Any) -> History:
    """Keras ``compile`` + ``fit`` on ``train_ds``, validating on ``val_ds`` each epoch.

    ``options`` are the fields of :class:`tfpt.train.loop.FitOptions`, as callbacks:
    keep-best uses the custom loops' :class:`~tfpt.train.loop.KeepBest`, early stopping
    is Keras's own. ``log_every`` does not apply (``fit`` runs with ``verbose=0``).
    ``jit_compile`` is explicit: Keras's "auto" turns XLA on whenever a GPU is
    visible, which changes speed and round-off.
    """
    opts = FitOptions(**options)
    if opts.log_every != FitOptions.log_every:
        raise TypeError("Keras fit prints no per-step lines: log_every applies to fit_custom")
    history = opts.history if opts.history is not None else History()
    same = (getattr(model, "compiled", False) and model.optimizer is optimizer
            and model.jit_compile == jit_compile)
    if not same:  # compiling again would throw away the traced step
        model.compile(optimizer=optimizer, loss=LOSS, metrics=["accuracy"],
                      jit_compile=jit_compile)
    try:
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=history.epochs,
                  callbacks=_callbacks(opts, history, epochs, schedule, len(train_ds), callbacks),
                  verbose=0, shuffle=False)  # the dataset shuffles itself; Keras 3.15 warns
    except KeyboardInterrupt:
        if not opts.interruptible:
            raise
        history.interrupted = True
        print(interrupted_line(history), flush=True)
    history.stopped_early = history.epochs < epochs and not history.interrupted
    if history.stopped_early and opts.progress:
        print(early_stop_line(opts.early_stopping), flush=True)
    return history


def _callbacks(opts: FitOptions, history: History, epochs: int, schedule: Schedule | None,
               steps: int, extra: tuple) -> list:
    """Keras callbacks for :func:`fit`'s options, in the order the custom loops run them."""
    first_step = history.epochs * steps
    hooks = [HistoryCallback(history, epochs, opts.progress, opts.on_epoch_end), *extra]
    if schedule is not None:
        hooks.append(LearningRateCallback(schedule, first_step))
    if opts.checkpoint is not None or opts.on_best is not None:
        hooks.append(KeepBestCallback(opts.checkpoint, history, opts.on_best,
                                      min(history.val_loss, default=math.inf)))
    if opts.logger is not None:
        hooks.append(TensorBoardCallback(opts.logger, first_step))
    if opts.early_stopping is not None:
        hooks.append(keras.callbacks.EarlyStopping(monitor="val_loss",
                                                   patience=opts.early_stopping))
    return hooks


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                    jit_compile: bool = False):
    """The training step traced by ``tf.function``, and the two running metrics it updates.

    The metrics are updated inside the graph, so the loop never waits for a
    Python number except when it shows one. Returns ``(train_step, (mean_loss, accuracy))``.
    """
    mean_loss, accuracy = keras.metrics.Mean(), keras.metrics.SparseCategoricalAccuracy()

    @tf.function(jit_compile=jit_compile)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)  # training=True: dropout on, BN batch stats
            loss = LOSS(y, logits)
            scaled = optimizer.scale_loss(loss)  # mixed_float16 with a LossScaleOptimizer
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        mean_loss.update_state(loss, sample_weight=tf.shape(y)[0])
        accuracy.update_state(y, logits)

    return train_step, (mean_loss, accuracy)


def train_epoch(train_step, metrics, dataset, optimizer: keras.optimizers.Optimizer,
                schedule: Schedule | None = None, first_step: int = 0,
                hook: Callable[[int], None] | None = None) -> tuple[float, float]:
    """One pass over ``dataset`` with a step from :func:`make_train_step`;
    returns (mean loss, accuracy). ``hook(step)`` runs after every batch."""
    for metric in metrics:
        metric.reset_state()
    step = first_step
    for x, y in dataset:
        if schedule is not None:
            optimizer.learning_rate.assign(schedule(step))
        train_step(x, y)
        step += 1
        if hook is not None:
            hook(step)
    return float(metrics[0].result()), float(metrics[1].result())


def evaluate(model: keras.Model, dataset: tf.data.Dataset) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over ``dataset``, in inference mode.

    Eager: on batches of hundreds of images the per-op overhead is small, and
    there is nothing to trace again for every new model.
    """
    loss_sum, correct, seen = 0.0, 0, 0
    for x, y in dataset:
        logits = model(x, training=False)
        losses = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        loss_sum += float(tf.reduce_sum(losses))
        correct += int(tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1) == y, tf.int32)))
        seen += int(tf.shape(y)[0])
    return loss_sum / seen, correct / seen


def fit_custom(model: keras.Model, train_ds: tf.data.Dataset, val_ds: tf.data.Dataset,
               epochs: int, optimizer: keras.optimizers.Optimizer,
               schedule: Schedule | None = None, jit_compile: bool = False,
               **options: Any) -> History:
    """The ``GradientTape`` loop of notebook 04 with :func:`fit`'s extras, as plain code.

    Each epoch: :func:`train_epoch`, then :func:`evaluate` on the validation set; the
    rest is :func:`tfpt.train.loop.drive`, shared with ``tfpt.train.torch.fit``
    (``options``: the fields of :class:`tfpt.train.loop.FitOptions`).
    """
    opts = FitOptions(**options)
    if getattr(model, "optimizer", None) is not optimizer:  # a .keras file stores it
        model.compile(optimizer=optimizer, loss=LOSS)
    train_step, metrics = make_train_step(model, optimizer, jit_compile)

    def train(index: int, batches, on_step) -> tuple[float, float]:
        running = lambda: (float(metrics[0].result()), float(metrics[1].result()))  # noqa: E731
        return train_epoch(train_step, metrics, batches, optimizer, schedule,
                           index * len(train_ds), lambda step: on_step(running))

    def save_best(epoch: int, history: History) -> None:
        from tfpt.checkpoint.keras import save

        save(opts.checkpoint, model, epoch=epoch, history=history.to_dict())

    return drive(epochs, train_ds, Epoch(
        train, lambda: evaluate(model, val_ds), lambda: float(optimizer.learning_rate.numpy()),
        lambda: {w.path: w.numpy() for w in model.weights},
        save_best if opts.checkpoint is not None else None), opts)
