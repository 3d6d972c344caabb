"""Import-order guard, and TensorFlow's start-up notices kept out of your output.

With TensorFlow >= 2.20, importing tensorflow *before* torch's compiler stack
(``torch._dynamo``, which loads triton) crashes the process with SIGSEGV when the
first torch optimizer is constructed or ``torch.compile`` is called: both libraries bring their
own LLVM, and whichever loads second clashes with the first
(tensorflow/tensorflow#124205). Loading torch, triton (the LLVM that clashes; the
compiler stack imports it) and torchvision first makes every later import order
safe, so ``import tfpt`` does exactly that. Triton is what must come first (a
test shows the crash without it); torchvision imports ``torch._dynamo`` itself, so
``import tfpt`` still loads the whole compiler stack (about 10 s on a 2-core CPU).

TensorFlow also writes a few notices straight to file descriptor 2 while it is
imported, before its own log settings apply ("All log messages before
absl::InitializeLog()...", "oneDNN custom operations are on...", "Could not find
cuda drivers..."). ``TF_ENABLE_ONEDNN_OPTS=0`` would silence one of them, but it
also switches oneDNN off, which made TensorFlow's training step on a 2-core CPU up
to 1.65x slower (docs/benchmarks.md).
So instead, the first ``import tensorflow`` after ``import tfpt`` runs with those
exact lines filtered out; anything else TensorFlow prints passes through.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator

# Set before TF is imported. Level 3 hides TF's C++ INFO, WARNING and ERROR lines: at
# level 2 a CPU-only machine logs "failed call to cuInit" at the first op. Set it
# to 0 yourself to see everything (a GPU that TF cannot use shows in `tfpt doctor`).
_TF_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}

# Imported in this order, if installed: each is a no-op when already loaded.
_TORCH_FIRST = ("torch", "triton", "torchvision")

# The start-up notices TensorFlow 2.21 writes to fd 2 during `import tensorflow`.
TF_IMPORT_NOISE = re.compile(
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"
    r"|^I\d{4} [\d:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are on\."
    r"|^I\d{4} [\d:. ]+\d+ cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine")


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name.split(".")[0]) is not None


def torch_side_loaded() -> bool:
    """Whether the LLVM that clashes with TensorFlow's (triton's) is loaded, or absent."""
    if "triton" in sys.modules or "torch._dynamo" in sys.modules:
        return True
    return "torch" in sys.modules and not _installed("triton")


def quiet_tensorflow_logs() -> None:
    """Set TF's log level (unless the user chose one) and filter its import-time notices."""
    for key, value in _TF_QUIET_ENV.items():
        os.environ.setdefault(key, value)
    if "tensorflow" not in sys.modules and _installed("tensorflow"):
        if not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, _QuietTensorFlowFinder())
    # torch logs "No CUDA runtime is found, using CUDA_HOME=..." on every CPU-only machine.
    logging.getLogger("torch.utils.cpp_extension").addFilter(_drop_no_cuda_notice)


def _drop_no_cuda_notice(record: logging.LogRecord) -> bool:
    return "No CUDA runtime is found" not in record.getMessage()


@contextlib.contextmanager
def filtered_fd2(noise: re.Pattern = TF_IMPORT_NOISE) -> Iterator[None]:
    """Send file descriptor 2 to a temporary file, then pass on every line except ``noise``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not noise.search(line.rstrip("\n")))
            if kept:
                os.write(2, kept.encode())


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of ``tensorflow`` inside :func:`filtered_fd2`."""

    def __init__(self, loader: importlib.abc.Loader, finder: importlib.abc.MetaPathFinder):
        self.loader, self.finder = loader, finder

    def __getattr__(self, name: str):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        try:
            with filtered_fd2():
                self.loader.exec_module(module)
        finally:  # put the real loader back: nothing later should see this wrapper
            module.__loader__ = self.loader
            if module.__spec__ is not None:
                module.__spec__.loader = self.loader


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of ``tensorflow`` until it has been imported once.

    Other libraries call ``importlib.util.find_spec("tensorflow")`` just to see
    whether it is installed, so the finder stays in place until the import itself runs.
    """

    searching = False

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or self.searching:
            return None
        self.searching = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.searching = False
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader, self)
        return spec


def load_torch_before_tensorflow() -> list[str]:
    """Import torch's compiler stack now, so a later ``import tensorflow`` is safe.

    Returns the modules it loaded. A learner with only TensorFlow installed
    loses nothing: missing packages are skipped.
    """
    if not _installed("torch"):
        return []
    if "tensorflow" in sys.modules and not torch_side_loaded():
        warnings.warn(
            "tensorflow was imported before tfpt. With TF >= 2.20 constructing a torch "
            "optimizer or calling torch.compile can crash the process "
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
