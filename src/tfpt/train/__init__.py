"""Training loops with one History shape for both frameworks.

- ``tfpt.train.torch.fit``: the explicit PyTorch loop, written to be read.
- ``tfpt.train.keras.fit``: Keras ``compile`` + ``fit`` with callbacks.
- ``tfpt.train.keras.fit_custom``: a ``GradientTape`` loop inside ``tf.function``.

All three return a :class:`History` (``loss``, ``accuracy``, ``val_loss``,
``val_accuracy``, ``lr`` per epoch), use the same one-cycle learning-rate schedule,
early stopping and keep-best checkpoint, and write the same TensorBoard tags.
"""

from tfpt.train.history import History, plot_history
from tfpt.train.schedule import OneCycle

__all__ = ["History", "OneCycle", "plot_history"]
