"""tfpt: TensorFlow/Keras and PyTorch side by side.

``import tfpt`` first: it loads torch's compiler stack before TensorFlow can
(see :mod:`tfpt._guard` for why), and quiets TF's C++ start-up logs. The
framework-specific halves live in twin modules (``tfpt.data.torch`` beside
``tfpt.data.tf``, ``tfpt.models.torch`` beside ``tfpt.models.keras``), each
importing only its own framework, with one name per concept in both halves
(``tests/test_twins.py`` checks both rules for all seven pairs).

The file-name rule, written here once: a TensorFlow twin is ``keras.py`` when it
builds on the Keras API (models, train, checkpoint, inspect, app) and ``tf.py``
when it works below Keras, with ``tf.data`` or ``tf.distribute`` (data,
distributed). Everywhere a framework is *named* (``tfpt train --framework``,
``tfpt.models.build``, ``metrics.json``) the words are ``"torch"`` and ``"tf"``.
"""

from tfpt import _guard

_guard.quiet_tensorflow_logs()
_guard.load_torch_before_tensorflow()

from tfpt.config import data_root, is_quick, quick  # noqa: E402
from tfpt.devices import devices  # noqa: E402
from tfpt.seeding import seed  # noqa: E402

__version__ = "0.1.0"
__all__ = ["data_root", "devices", "is_quick", "quick", "seed", "__version__"]
