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

import keras
import tensorflow as tf

from tfpt.train.history import History
from tfpt.train.progress import Progress
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


class KeepBest(keras.callbacks.Callback):
    """``ModelCheckpoint(save_best_only=True)`` on ``val_loss``, written atomically.

    Keras's own callback writes the file in place, so an interrupted save leaves a
    broken checkpoint behind; this one writes a temporary file and renames it.
    """

    def __init__(self, path: str | Path, best: float = math.inf):
        super().__init__()
        self.path, self.best = Path(path), best

    def on_epoch_end(self, epoch, logs=None):
        if logs["val_loss"] < self.best:
            from tfpt.checkpoint.keras import save

            self.best = logs["val_loss"]
            save(self.path, self.model, epoch=epoch + 1)  # as the PyTorch loop's keep-best


class HistoryCallback(keras.callbacks.Callback):
    """Fill a tfpt :class:`History` (the PyTorch loop's shape) and print its line."""

    def __init__(self, history: History, epochs: int, progress: bool):
        super().__init__()
        self.history_out, self.epochs, self.progress = history, epochs, progress

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs["lr"] = float(self.model.optimizer.learning_rate.numpy())  # the last step's rate
        self.history_out.append(seconds=time.perf_counter() - self.start,
                                **{k: logs[k] for k in ("loss", "accuracy", "val_loss",
                                                        "val_accuracy", "lr")})
        if self.progress:
            print(self.history_out.line(self.epochs))


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
        early_stopping: int | None = None, checkpoint: str | Path | None = None,
        logger: RunLogger | None = None, progress: bool = True, jit_compile: bool = False,
        history: History | None = None, callbacks: tuple = ()) -> History:
    """Keras ``compile`` + ``fit`` on ``train_ds``, validating on ``val_ds`` each epoch.

    ``jit_compile`` is explicit: Keras's "auto" turns XLA on whenever a GPU is
    visible, which changes speed and round-off.
    """
    history = history or History()
    same = (getattr(model, "compiled", False) and model.optimizer is optimizer
            and model.jit_compile == jit_compile)
    if not same:  # compiling again would throw away the traced step
        model.compile(optimizer=optimizer, loss=LOSS, metrics=["accuracy"],
                      jit_compile=jit_compile)
    first_step = history.epochs * len(train_ds)
    hooks = [HistoryCallback(history, epochs, progress), *callbacks]
    if schedule is not None:
        hooks.append(LearningRateCallback(schedule, first_step))
    if checkpoint is not None:
        hooks.append(KeepBest(checkpoint, min(history.val_loss, default=math.inf)))
    if logger is not None:
        hooks.append(TensorBoardCallback(logger, first_step))
    if early_stopping is not None:
        hooks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=early_stopping))
    try:
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=history.epochs,
                  callbacks=hooks, verbose=0,
                  shuffle=False)  # the dataset shuffles itself; Keras 3.15 warns otherwise
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"interrupted: History keeps the {history.epochs} completed epoch(s)")
    history.stopped_early = history.epochs < epochs and not history.interrupted
    if history.stopped_early and progress:
        print(f"early stopping: no lower val_loss for {early_stopping} epochs")
    return history


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
               schedule: Schedule | None = None, early_stopping: int | None = None,
               checkpoint: str | Path | None = None, logger: RunLogger | None = None,
               progress: bool = True, jit_compile: bool = False,
               history: History | None = None,
               on_epoch_end: Callable[[int, History], None] | None = None,
               log_every: int = 50) -> History:
    """The ``GradientTape`` loop of notebook 04 with :func:`fit`'s extras, as plain code.

    Each epoch: :func:`train_epoch`, then :func:`evaluate` on the validation set;
    keep-best, early stopping and Ctrl-C behave as in ``tfpt.train.torch.fit``.
    """
    history = history or History()
    if getattr(model, "optimizer", None) is not optimizer:  # a .keras file stores it
        model.compile(optimizer=optimizer, loss=LOSS)
    train_step, metrics = make_train_step(model, optimizer, jit_compile)
    best, waited = min(history.val_loss, default=math.inf), 0
    step = history.epochs * len(train_ds)
    try:
        for epoch in range(history.epochs, epochs):
            start = time.perf_counter()
            batches = Progress(train_ds, len(train_ds), f"epoch {epoch + 1}/{epochs}", progress,
                               every=log_every)

            def hook(done: int, batches=batches) -> None:
                show, log = batches.due(), logger is not None and done % logger.every == 0
                if show or log:
                    running = (float(metrics[0].result()), float(metrics[1].result()))
                    if show:
                        batches.show(loss=running[0], acc=running[1])
                    if log:
                        logger.step(done, *running, float(optimizer.learning_rate.numpy()))

            loss, accuracy = train_epoch(train_step, metrics, batches, optimizer, schedule,
                                         step, hook)
            step += len(train_ds)
            val_loss, val_accuracy = evaluate(model, val_ds)
            history.append(loss=loss, accuracy=accuracy, val_loss=val_loss,
                           val_accuracy=val_accuracy, lr=float(optimizer.learning_rate.numpy()),
                           seconds=time.perf_counter() - start)
            if progress:
                print(history.line(epochs))
            if logger is not None:
                logger.epoch(epoch + 1, history.last())
                logger.histograms({w.path: w.numpy() for w in model.weights}, epoch + 1)
            if val_loss < best:
                best, waited = val_loss, 0
                if checkpoint is not None:
                    from tfpt.checkpoint.keras import save

                    save(checkpoint, model, epoch=epoch + 1, history=history.to_dict())
            else:
                waited += 1
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, history)
            if early_stopping is not None and waited >= early_stopping:
                history.stopped_early = True
                print(f"early stopping: no lower val_loss for {early_stopping} epochs")
                break
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"interrupted: History keeps the {history.epochs} completed epoch(s)")
    return history
