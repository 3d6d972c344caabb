"""Training loops with one History shape for both frameworks, built in notebook 04.

- ``tfpt.train.torch``: ``train_epoch`` + ``evaluate`` + a thin ``fit``.
- ``tfpt.train.keras``: ``fit`` (Keras ``compile`` + ``fit`` with callbacks) and
  ``fit_custom`` (``make_train_step`` + ``train_epoch`` + ``evaluate``: a
  ``GradientTape`` loop inside ``tf.function``).

- ``tfpt.train.loop``: the epoch driver both custom loops (and the distributed
  twins) hand their ``train_epoch``/``evaluate`` to: History, progress,
  TensorBoard, keep-best, early stopping, Ctrl-C, NaN checks, written once.

All return a :class:`History` (``loss``, ``accuracy``, ``val_loss``,
``val_accuracy``, ``lr``, ``seconds`` per epoch), validate on the validation split,
keep the best epoch on it, and write the same TensorBoard tags.
"""

from tfpt.train.history import History
from tfpt.train.schedule import OneCycle

__all__ = ["History", "OneCycle"]
