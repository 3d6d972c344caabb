"""tfpt.train: the three loops, one History, the same schedule, TensorBoard tags,
early stopping on the validation split and clean interruption."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch

import tfpt
import tfpt.data.tf as data_tf
import tfpt.data.torch as data_torch
from tfpt.checkpoint import keras as ckpt_keras
from tfpt.checkpoint import torch as ckpt_torch
from tfpt.models import keras as keras_models
from tfpt.models import torch as torch_models
from tfpt.train import History, OneCycle
from tfpt.train import keras as train_keras
from tfpt.train import torch as train_torch
from tfpt.train.history import KEYS
from tfpt.train.tensorboard import RunLogger, read_scalars

pytestmark = pytest.mark.slow  # trains models for several epochs

N, BATCH, VAL = 512, 64, 256
STEPS = N // BATCH


@pytest.fixture(autouse=True)
def _seeded():
    tfpt.seed(0)


def _torch_run(mnist, epochs=2, schedule=None, **kwargs):
    model = torch_models.MnistCNN()
    train = data_torch.loader(mnist, batch_size=BATCH, limit=N)
    val = data_torch.loader(mnist, split="val", batch_size=VAL, limit=VAL)
    opt = torch.optim.Adam(model.parameters(), lr=kwargs.pop("lr", 1e-3))
    if schedule is not None:  # the PyTorch loop steps torch's own OneCycleLR
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=schedule.max_lr, total_steps=schedule.total_steps, cycle_momentum=False)
    return model, train_torch.fit(model, train, val, epochs, opt, schedule, device="cpu",
                                  progress=False, **kwargs)


def _keras_run(mnist, fit, epochs=2, train=None, **kwargs):
    model = keras_models.MnistCNN()
    train = train or data_tf.loader(mnist, batch_size=BATCH, limit=N)
    val = data_tf.loader(mnist, split="val", batch_size=VAL, limit=VAL)
    opt = keras.optimizers.Adam(kwargs.pop("lr", 1e-3))
    return model, fit(model, train, val, epochs, opt, progress=False, **kwargs)


LOOPS = {
    "torch": lambda mnist, **kw: _torch_run(mnist, **kw),
    "keras-fit": lambda mnist, **kw: _keras_run(mnist, train_keras.fit, **kw),
    "tf-custom": lambda mnist, **kw: _keras_run(mnist, train_keras.fit_custom, **kw),
}


@pytest.mark.parametrize("total", [57, 235, 1000])
def test_one_cycle_is_torch_one_cycle_lr_bit_for_bit(total):
    schedule = OneCycle(max_lr=0.01, total_steps=total)
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=0.01)
    ref = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=total,
                                              cycle_momentum=False)
    for step in range(total):
        assert schedule(step) == opt.param_groups[0]["lr"], step
        opt.step()
        ref.step() if step < total - 1 else None
    assert schedule(0) == pytest.approx(0.01 / 25)
    assert max(map(schedule, range(total))) == pytest.approx(0.01, rel=1e-3)


def test_torch_train_epoch_is_the_plain_loop(mnist):
    """The helper's train_epoch does exactly what the notebook's few lines do."""
    def plain(model, loader, opt):
        model.train()
        loss_sum, correct, seen = torch.zeros(()), torch.zeros((), dtype=torch.long), 0
        for x, y in loader:
            opt.zero_grad()
            logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
        return loss_sum.item() / seen, correct.item() / seen

    results = []
    for epoch_fn in (plain, lambda m, lo, o: train_torch.train_epoch(m, lo, o)):
        tfpt.seed(0)
        model = torch_models.MnistCNN()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        results.append((epoch_fn(model, data_torch.loader(mnist, batch_size=BATCH, limit=N), opt),
                        [p.detach().clone() for p in model.parameters()]))
    assert results[0][0] == results[1][0]
    assert all(torch.equal(a, b) for a, b in zip(results[0][1], results[1][1]))


@pytest.mark.parametrize("loop", LOOPS)
def test_every_loop_learns_and_fills_the_same_history(mnist, tmp_path, loop):
    schedule = OneCycle(3e-3, 2 * STEPS)
    logger = RunLogger(loop, "t", tmp_path, every=2)
    _, history = LOOPS[loop](mnist, schedule=schedule, logger=logger)
    logger.close()
    assert history.epochs == 2 and not history.interrupted
    assert all(len(getattr(history, k)) == 2 for k in KEYS)
    assert history.val_accuracy[-1] > 0.6  # 1,024 images seen: far above chance (0.1)
    assert history.lr[-1] == pytest.approx(schedule(2 * STEPS - 1), rel=1e-6)  # last step's rate
    scalars = read_scalars(tmp_path / loop / "t")
    assert set(scalars) == {"step/loss", "step/accuracy", "step/lr", "epoch/loss",
                            "epoch/accuracy", "epoch/val_loss", "epoch/val_accuracy", "epoch/lr"}
    assert [s for s, _ in scalars["epoch/val_accuracy"]] == [1, 2]
    assert [s for s, _ in scalars["step/loss"]] == list(range(2, 2 * STEPS + 1, 2))
    assert scalars["epoch/val_accuracy"][-1][1] == pytest.approx(history.val_accuracy[-1], rel=1e-6)


@pytest.mark.parametrize("loop", LOOPS)
def test_early_stopping(mnist, loop):
    _, history = LOOPS[loop](mnist, epochs=5, lr=0.0, early_stopping=1)  # nothing can improve
    assert history.epochs == 2 and history.stopped_early


class InterruptingLoader:
    """Wraps a DataLoader and presses Ctrl-C in the middle of epoch ``at_epoch``."""

    def __init__(self, loader, at_epoch: int):
        self.loader, self.at_epoch, self.epoch = loader, at_epoch, 0

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        self.epoch += 1
        for i, batch in enumerate(self.loader):
            if self.epoch == self.at_epoch and i == 3:
                raise KeyboardInterrupt
            yield batch


def test_torch_interrupt_keeps_history_and_checkpoint_consistent(mnist, tmp_path):
    model = torch_models.MnistCNN()
    train = InterruptingLoader(data_torch.loader(mnist, batch_size=BATCH, limit=N), at_epoch=2)
    val = data_torch.loader(mnist, split="val", batch_size=VAL, limit=VAL)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    path = tmp_path / "best.pt"
    history = train_torch.fit(model, train, val, 3, opt, device="cpu", checkpoint=path,
                              progress=False)
    assert history.interrupted and history.epochs == 1
    saved = ckpt_torch.load(path, torch_models.MnistCNN())
    assert saved.extra["epoch"] == 1 and History.from_dict(saved.extra["history"]).epochs == 1
    assert list(tmp_path.iterdir()) == [path]  # no temp files left


class InterruptCallback(keras.callbacks.Callback):
    def __init__(self, at_epoch: int):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_begin(self, batch, logs=None):
        if self.epoch == self.at_epoch and batch == 3:
            raise KeyboardInterrupt


@pytest.mark.parametrize("fit", [train_keras.fit, train_keras.fit_custom])
def test_keras_interrupt_keeps_history_and_checkpoint_consistent(mnist, tmp_path, fit):
    path = tmp_path / "best.keras"
    if fit is train_keras.fit:  # Keras drives the loop: interrupt from a callback
        kwargs = {"callbacks": (InterruptCallback(at_epoch=2),)}
    else:  # our loop: interrupt from the data
        kwargs = {"train": InterruptingLoader(data_tf.loader(mnist, batch_size=BATCH, limit=N),
                                              at_epoch=2)}
    model, history = _keras_run(mnist, fit, epochs=3, checkpoint=path, **kwargs)
    assert history.interrupted and history.epochs == 1
    saved = ckpt_keras.load(path)
    restored = saved.model
    assert saved.extra["epoch"] == 1  # the keep-best file says which epoch it holds
    x = data_tf.loader(mnist, split="test", batch_size=8, limit=8)
    assert np.isfinite(restored.predict(x, verbose=0)).all()
    assert list(tmp_path.iterdir()) == [path]
