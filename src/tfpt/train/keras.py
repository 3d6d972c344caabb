"""Two TensorFlow training loops: Keras ``compile`` + ``fit``, and a custom
``GradientTape`` loop inside ``tf.function``.

Twin of :mod:`tfpt.train.torch`. Both loops here share the same Keras callbacks
(one-cycle schedule, early stopping, keep-best checkpoint, TensorBoard, History):
``fit`` hands them to Keras, ``fit_custom`` drives them through a ``CallbackList``.
"""

from __future__ import annotations

import math
import time
import weakref
from pathlib import Path

import keras
import tensorflow as tf

from tfpt.train.history import History
from tfpt.train.progress import Progress
from tfpt.train.schedule import OneCycle
from tfpt.train.tensorboard import RunLogger

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # our models emit logits


class OneCycleCallback(keras.callbacks.Callback):
    """Set the optimizer's learning rate from the shared schedule before every step."""

    def __init__(self, schedule: OneCycle, first_step: int = 0):
        super().__init__()
        self.schedule, self.global_step = schedule, first_step

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.schedule(self.global_step))
        self.global_step += 1


class HistoryCallback(keras.callbacks.Callback):
    """Fill a tfpt :class:`History` (the same shape as the PyTorch loop's)."""

    def __init__(self, history: History, progress: bool):
        super().__init__()
        self.history_out, self.progress = history, progress

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        lr = float(self.model.optimizer.learning_rate.numpy())
        self.history_out.append(loss=logs["loss"], accuracy=logs["accuracy"],
                                val_loss=logs["val_loss"], val_accuracy=logs["val_accuracy"],
                                lr=lr, seconds=time.perf_counter() - self.start)
        logs["lr"] = lr
        if self.progress:
            m = self.history_out.last()
            print(f"epoch {epoch + 1}: loss {m['loss']:.4f} acc {m['accuracy']:.4f} "
                  f"val_loss {m['val_loss']:.4f} val_acc {m['val_accuracy']:.4f} "
                  f"lr {m['lr']:.2e} ({m['seconds']:.1f} s)")


class KeepBest(keras.callbacks.Callback):
    """Save the model whenever ``val_loss`` improves, atomically (temp file + rename)."""

    def __init__(self, path: str | Path, best: float = math.inf):
        super().__init__()
        self.path, self.best = Path(path), best

    def on_epoch_end(self, epoch, logs=None):
        if logs["val_loss"] < self.best:
            from tfpt.checkpoint.keras import save

            self.best = logs["val_loss"]
            save(self.path, self.model)


class TensorBoardCallback(keras.callbacks.Callback):
    """Write the shared tfpt tags through tensorboardX (not Keras's own TensorBoard)."""

    def __init__(self, logger: RunLogger, first_step: int = 0):
        super().__init__()
        self.logger, self.global_step = logger, first_step

    def on_train_batch_end(self, batch, logs=None):
        self.global_step += 1
        if self.global_step % self.logger.every == 0:
            lr = float(self.model.optimizer.learning_rate.numpy())
            self.logger.step(self.global_step, float(logs["loss"]), float(logs["accuracy"]), lr)

    def on_epoch_end(self, epoch, logs=None):
        self.logger.epoch(epoch + 1, {**logs, "lr": float(self.model.optimizer.learning_rate.numpy())})
        self.logger.histograms({w.path: w.numpy() for w in self.model.weights}, epoch + 1)


def _callbacks(history, schedule, early_stopping, checkpoint, logger, progress, first_step,
               extra=()):
    callbacks = [HistoryCallback(history, progress), *extra]
    if schedule is not None:
        callbacks.append(OneCycleCallback(schedule, first_step))
    if checkpoint is not None:
        callbacks.append(KeepBest(checkpoint, min(history.val_loss, default=math.inf)))
    if logger is not None:
        callbacks.append(TensorBoardCallback(logger, first_step))
    if early_stopping is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=early_stopping))
    return callbacks


def fit(model: keras.Model, train_ds: tf.data.Dataset, val_ds: tf.data.Dataset, epochs: int,
        optimizer: keras.optimizers.Optimizer, schedule: OneCycle | None = None,
        early_stopping: int | None = None, checkpoint: str | Path | None = None,
        logger: RunLogger | None = None, progress: bool = True, jit_compile: bool = False,
        history: History | None = None, callbacks: tuple = ()) -> History:
    """Keras ``compile`` + ``fit``. ``jit_compile`` is explicit: Keras's "auto" turns XLA
    on whenever a GPU is visible, which changes speed and numerics."""
    history = history or History()
    if not _compiled_with(model, optimizer, jit_compile):  # recompiling would retrace
        model.compile(optimizer=optimizer, loss=LOSS, metrics=["accuracy"], jit_compile=jit_compile)
    callbacks = _callbacks(history, schedule, early_stopping, checkpoint, logger, progress,
                           history.epochs * len(train_ds), callbacks)
    try:
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=history.epochs,
                  callbacks=callbacks, shuffle=False, verbose=0)  # tfpt.data already shuffles
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"interrupted: History keeps the {history.epochs} completed epoch(s)")
    history.stopped_early = history.epochs < epochs and not history.interrupted
    return history


def _compiled_with(model: keras.Model, optimizer, jit_compile: bool) -> bool:
    return (getattr(model, "compiled", False) and model.optimizer is optimizer
            and model.jit_compile == jit_compile)


_TRAIN_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached_train_step(model, optimizer, jit_compile: bool):
    """The traced step and its metrics, kept per model so a second fit does not retrace."""
    cached = _TRAIN_STEPS.get(model)
    if cached is None or cached[0] is not optimizer or cached[1] != jit_compile:
        metrics = [keras.metrics.Mean(), keras.metrics.SparseCategoricalAccuracy()]
        cached = (optimizer, jit_compile, metrics,
                  make_train_step(model, optimizer, metrics, jit_compile))
        _TRAIN_STEPS[model] = cached
    return cached[2], cached[3]


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                    metrics: list[keras.metrics.Metric], jit_compile: bool = False):
    """One optimization step, traced into a graph by ``tf.function``.

    The running loss and accuracy are updated inside the graph, so the loop never
    waits for a Python number except when it shows one.
    """
    mean_loss, accuracy = metrics

    @tf.function(jit_compile=jit_compile, autograph=False)  # straight-line code
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)  # training=True: dropout and BN batch stats
            loss = LOSS(y, logits)
            scaled = optimizer.scale_loss(loss)  # loss scaling under mixed_float16, else a no-op
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        mean_loss.update_state(loss, sample_weight=tf.shape(y)[0])
        accuracy.update_state(y, logits)

    return train_step


_EVAL_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _eval_step(model: keras.Model):
    """A traced evaluation step, built once per model (a new tf.function per call
    would retrace every time)."""
    if model not in _EVAL_STEPS:
        @tf.function(autograph=False)  # no Python control flow inside: nothing to convert
        def eval_step(x, y):
            logits = model(x, training=False)
            losses = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            hits = tf.cast(tf.argmax(logits, axis=1) == y, tf.int64)
            return tf.reduce_sum(losses), tf.reduce_sum(hits)

        _EVAL_STEPS[model] = eval_step
    return _EVAL_STEPS[model]


def evaluate(model: keras.Model, dataset: tf.data.Dataset) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over ``dataset``, in inference mode."""
    eval_step = _eval_step(model)
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in dataset:
        loss_sum, hits = eval_step(x, y)
        total_loss += float(loss_sum)
        correct += int(hits)
        seen += int(tf.shape(y)[0])
    return total_loss / seen, correct / seen


def fit_custom(model: keras.Model, train_ds: tf.data.Dataset, val_ds: tf.data.Dataset,
               epochs: int, optimizer: keras.optimizers.Optimizer,
               schedule: OneCycle | None = None, early_stopping: int | None = None,
               checkpoint: str | Path | None = None, logger: RunLogger | None = None,
               progress: bool = True, jit_compile: bool = False,
               history: History | None = None, callbacks: tuple = (),
               log_every: int = 50) -> History:
    """A custom loop: ``GradientTape`` in ``tf.function``, the same callbacks as ``fit``."""
    history = history or History()
    # compile() traces nothing here: it attaches the optimizer, so callbacks can reach it
    # and a saved .keras file carries the optimizer state for resuming.
    if not (getattr(model, "compiled", False) and model.optimizer is optimizer):
        model.compile(optimizer=optimizer, loss=LOSS)
    metrics, train_step = _cached_train_step(model, optimizer, jit_compile)
    callbacks = keras.callbacks.CallbackList(
        _callbacks(history, schedule, early_stopping, checkpoint, logger, progress,
                   history.epochs * len(train_ds), callbacks), model=model)
    model.stop_training = False
    callbacks.on_train_begin()
    try:
        for epoch in range(history.epochs, epochs):
            callbacks.on_epoch_begin(epoch)
            for metric in metrics:
                metric.reset_state()
            bar = Progress(train_ds, len(train_ds), f"epoch {epoch + 1}/{epochs}", progress,
                           every=log_every)
            for batch, (x, y) in enumerate(bar):
                callbacks.on_train_batch_begin(batch)
                train_step(x, y)
                logs = {"loss": metrics[0].result(), "accuracy": metrics[1].result()}  # tensors
                callbacks.on_train_batch_end(batch, logs)
                if bar.due():
                    bar.show(loss=float(logs["loss"]), acc=float(logs["accuracy"]))
            logs = {name: float(value) for name, value in logs.items()}
            val_loss, val_accuracy = evaluate(model, val_ds)
            callbacks.on_epoch_end(epoch, {**logs, "val_loss": val_loss, "val_accuracy": val_accuracy})
            if model.stop_training:
                history.stopped_early = True
                break
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"interrupted: History keeps the {history.epochs} completed epoch(s)")
    callbacks.on_train_end()
    return history

