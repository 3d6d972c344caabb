"""Training loops with one History shape for both frameworks, built in notebook 04.

- ``tfpt.train.torch``: ``train_epoch`` + ``evaluate`` + a thin ``fit``.
- ``tfpt.train.keras``: ``fit`` (Keras ``compile`` + ``fit`` with callbacks) and
  ``fit_custom`` (``make_train_step`` + ``train_epoch`` + ``evaluate``: a
  ``GradientTape`` loop inside ``tf.function``).

All return a :class:`History` (``loss``, ``accuracy``, ``val_loss``,
``val_accuracy``, ``lr``, ``seconds`` per epoch), validate on the validation split,
keep the best epoch on it, and write the same TensorBoard tags.
"""

from tfpt.train.history import History, plot_history
from tfpt.train.schedule import OneCycle

__all__ = ["History", "OneCycle", "plot_history"]
