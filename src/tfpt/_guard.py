"""Import-order guard: load PyTorch's compiler stack before TensorFlow can.

With TensorFlow >= 2.20, importing tensorflow *before* torch's compiler stack
(``torch._dynamo``, which loads triton) crashes the process with SIGSEGV at the
first torch optimizer step or ``torch.compile`` call: both libraries bring their
own LLVM, and whichever loads second clashes with the first
(tensorflow/tensorflow#124205). Loading torch, ``torch._dynamo`` and torchvision
first makes every later import order safe, so ``import tfpt`` does exactly that.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import warnings

# Quiet TensorFlow's C++ start-up logging; these must be set before TF is imported.
_TF_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}

# Imported in this order, if installed: each is a no-op when already loaded.
_TORCH_FIRST = ("torch", "torch._dynamo", "torchvision")


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name.split(".")[0]) is not None


def quiet_tensorflow_logs() -> None:
    """Set TF's log-level variables unless the user chose their own."""
    for key, value in _TF_QUIET_ENV.items():
        os.environ.setdefault(key, value)


def load_torch_before_tensorflow() -> list[str]:
    """Import torch's compiler stack now, so a later ``import tensorflow`` is safe.

    Returns the modules it loaded. A learner with only TensorFlow installed
    loses nothing: missing packages are skipped.
    """
    if not _installed("torch"):
        return []
    if "tensorflow" in sys.modules and "torch._dynamo" not in sys.modules:
        warnings.warn(
            "tensorflow was imported before tfpt. With TF >= 2.20 a later torch "
            "optimizer step or torch.compile can crash the process "
            "(tensorflow/tensorflow#124205). Put `import tfpt` first in your "
            "notebook or script, then restart the kernel.",
            RuntimeWarning,
            stacklevel=3,
        )
        return []
    loaded = []
    for name in _TORCH_FIRST:
        if _installed(name):
            importlib.import_module(name)
            loaded.append(name)
    return loaded
