"""One seeding helper for every notebook: Python, NumPy, PyTorch, TensorFlow and Keras.

Built in notebook 00, which seeds each generator by hand and asserts that this
helper draws the same numbers, ``keras.random`` included.
"""

from __future__ import annotations

import importlib.util
import os
import random

import numpy as np


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def seed(n: int, deterministic: bool = False) -> list[str]:
    """Seed ``random``, NumPy, torch, TensorFlow and Keras (those installed) with ``n``.

    Each framework keeps its own random generator, so the same seed reproduces
    each framework's numbers run after run, but never makes torch and TF draw
    the *same* numbers. ``deterministic=True`` also asks both for deterministic
    kernels (slower; on CPU most kernels already are); ``False`` turns that back
    off, so one run's choice does not leak into the next run in the same process.
    Returns what was seeded.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"seed must be a non-negative int, got {n!r}")
    random.seed(n)
    np.random.seed(n)
    seeded = ["python", "numpy"]
    if _installed("torch"):
        _seed_torch(n, deterministic)
        seeded.append("torch")
    if _installed("tensorflow"):
        _seed_tensorflow(n, deterministic)
        seeded.append("tensorflow")
    if _installed("keras"):
        _seed_keras(n)
        seeded.append("keras")
    return seeded


def _seed_torch(n: int, deterministic: bool) -> None:
    import torch

    torch.manual_seed(n)  # seeds the CPU and every CUDA device
    if deterministic:
        # cuBLAS needs a fixed workspace to be deterministic on CUDA.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    elif torch.are_deterministic_algorithms_enabled():
        torch.use_deterministic_algorithms(False)


def _seed_tensorflow(n: int, deterministic: bool) -> None:
    import tensorflow as tf

    # Seeds TF's random ops. Keras 3 layers draw their initializer and dropout seeds
    # from Python's `random`, seeded in seed() above; keras.random has its own generator.
    tf.random.set_seed(n)
    if deterministic:
        # Also turns Keras's automatic XLA off, which is not deterministic.
        tf.config.experimental.enable_op_determinism()
    else:
        from tensorflow.python.framework import config  # the public API has no "disable"

        if config.is_op_determinism_enabled():
            config.disable_op_determinism()


def _seed_keras(n: int) -> None:
    import keras

    # Besides random/NumPy/TF (seeded again, same values), this drops Keras' global
    # SeedGenerator, so keras.random.* without a seed repeats after re-seeding.
    keras.utils.set_random_seed(n)
