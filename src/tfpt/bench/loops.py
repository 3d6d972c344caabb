"""``tfpt bench`` section ``loops``: tfpt's training helpers against the most idiomatic
minimal loop of each framework (MnistCNN, real MNIST batches through each
framework's pipeline)."""

from __future__ import annotations

from functools import partial

from tfpt.bench.core import Candidate, timed
from tfpt.data.order import LoaderOptions

DROP_LAST = LoaderOptions(drop_last=True)  # every timed batch full


def torch_loops(data, n: int, batch: int) -> list[Candidate]:
    import torch
    import torch.nn.functional as F

    import tfpt.data.torch as tdata
    from tfpt.models.torch import MnistCNN
    from tfpt.train import torch as ttrain

    def tfpt_loop():
        model, train = MnistCNN(), tdata.loader(data, batch_size=batch, limit=n, options=DROP_LAST)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        return timed(lambda: ttrain.train_epoch(model, train, opt))

    def minimal():
        model, train = MnistCNN(), tdata.loader(data, batch_size=batch, limit=n, options=DROP_LAST)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def loop():
            model.train()
            for x, y in train:
                opt.zero_grad()
                F.cross_entropy(model(x), y).backward()
                opt.step()
        return timed(loop)

    return [Candidate("torch: tfpt.train.torch.train_epoch", "torch", "loops", False, tfpt_loop, n),
            Candidate("torch: minimal eager loop", "torch", "loops", True, minimal, n)]



def tf_loops(data, n: int, batch: int) -> list[Candidate]:
    import keras

    import tfpt.data.tf as fdata
    from tfpt.models.keras import MnistCNN
    from tfpt.train import keras as ktrain
    from tfpt.train.history import History

    def dataset():
        return fdata.loader(data, batch_size=batch, limit=n, options=DROP_LAST)

    def tfpt_custom():
        model, train, opt = MnistCNN(), dataset(), keras.optimizers.Adam(1e-3)
        step, metrics = ktrain.make_train_step(model, opt)
        return timed(lambda: ktrain.train_epoch(step, metrics, train, opt))

    def tfpt_fit():
        model, train, history = MnistCNN(), dataset(), History()
        opt = keras.optimizers.Adam(1e-3)
        val = fdata.loader(data, "val", batch_size=batch, limit=batch)

        def epoch():
            ktrain.fit(model, train, val, history.epochs + 1, opt, progress=False,
                       history=history)
            return history.seconds[-1]
        return epoch

    def keras_fit():
        model, train = MnistCNN(), dataset()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=ktrain.LOSS,
                      metrics=["accuracy"], jit_compile=False)
        return timed(lambda: model.fit(train, epochs=1, shuffle=False, verbose=0))

    return [Candidate("tf: tfpt.train.keras.train_epoch", "tf", "loops", False, tfpt_custom, n),
            Candidate("tf: tfpt.train.keras.fit", "tf", "loops", False, tfpt_fit, n),
            Candidate("tf: plain Keras fit", "tf", "loops", True, keras_fit, n),
            Candidate("tf: minimal tf.function loop", "tf", "loops", True,
                      partial(_tf_minimal, data, n, batch, True), n),
            Candidate("tf: eager loop (no tf.function)", "tf", "loops", True,
                      partial(_tf_minimal, data, n, batch, False), n)]




def _tf_minimal(data, n: int, batch: int, graph: bool):
    """The shortest GradientTape loop, with or without ``tf.function``."""
    import keras
    import tensorflow as tf

    import tfpt.data.tf as fdata
    from tfpt.models.keras import MnistCNN
    from tfpt.train.keras import LOSS

    model, opt = MnistCNN(), keras.optimizers.Adam(1e-3)
    train = fdata.loader(data, batch_size=batch, limit=n, options=DROP_LAST)

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = LOSS(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
    run = tf.function(step) if graph else step

    def loop():
        for x, y in train:
            run(x, y)
    return timed(loop)
