"""tfpt: TensorFlow/Keras and PyTorch side by side.

``import tfpt`` first: it loads torch's compiler stack before TensorFlow can
(see :mod:`tfpt._guard` for why), and quiets TF's C++ start-up logs. The
framework-specific halves live in twin modules (``tfpt.data.torch`` beside
``tfpt.data.tf``, ``tfpt.models.torch`` beside ``tfpt.models.keras``), each
importing only its own framework.
"""

from tfpt import _guard

_guard.quiet_tensorflow_logs()
_guard.load_torch_before_tensorflow()

from tfpt.config import data_root, is_quick, quick  # noqa: E402
from tfpt.devices import devices  # noqa: E402
from tfpt.seeding import seed  # noqa: E402

__version__ = "0.1.0"
__all__ = ["data_root", "devices", "is_quick", "quick", "seed", "__version__"]
