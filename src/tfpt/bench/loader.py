"""``tfpt bench --loader``: images/s of each input path alone, CIFAR-10 with augmentation.

All with ``LoaderOptions(augment=True, drop_last=True)``:

- per image, PyTorch: ``tfpt.data.torch.loader``: a ``DataLoader`` whose torchvision
  transforms crop and flip one image at a time;
- per image, TensorFlow: ``tfpt.data.tf.loader``: a ``tf.data`` pipeline mapping a crop
  and flip over single images;
- batched, each framework: ``device_loader``: the uint8 data held as one
  tensor on the device (a GPU when there is one), whole batches cropped, flipped and
  normalized at once.

Each epoch reads ``steps`` batches and touches every batch's last value, so lazy
work is counted.
"""

from __future__ import annotations

import time
import warnings


def loader_candidates(frameworks: tuple[str, ...], batch_size: int, steps: int) -> list:
    """Per-image vs batched input pipelines of each framework, on augmented CIFAR-10."""
    from tfpt import data as tdata
    from tfpt.bench.core import Candidate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tdata.SampleDataWarning)
        cifar = tdata.load("cifar10")
    n = min(steps * batch_size, len(cifar.arrays("train")[1]))
    kwargs = {"batch_size": batch_size, "limit": n,
              "options": tdata.LoaderOptions(augment=True, drop_last=True)}
    images = steps * batch_size  # a timed epoch is `steps` batches, over several passes if need be
    found = []
    if "torch" in frameworks:
        import torch

        import tfpt.data.torch as dt

        device = "cuda" if torch.cuda.is_available() else "cpu"
        found += [
            Candidate("torch: per image (DataLoader + transforms)", "torch", "loader", True,
                      _timed(lambda: dt.loader(cifar, **kwargs), steps), images),
            Candidate(f"torch: batched, data on {device}", "torch", "loader", False,
                      _timed(lambda: dt.device_loader(cifar, device=device, **kwargs), steps),
                      images)]
    if "tf" in frameworks:
        import tensorflow as tf

        import tfpt.data.tf as df

        device = "cuda" if tf.config.list_physical_devices("GPU") else "cpu"
        found += [
            Candidate("tf: per image (tf.data map)", "tf", "loader", True,
                      _timed(lambda: df.loader(cifar, **kwargs), steps), images),
            Candidate(f"tf: batched, data on {device} (XLA)", "tf", "loader", False,
                      _timed(lambda: df.device_loader(cifar, device=device, **kwargs), steps),
                      images)]
    return found


def _touch(x) -> None:
    float(x[-1, -1, -1, -1])  # reads one value: waits for the device


def _timed(make_loader, steps: int):
    """A Candidate's ``make``: build the loader, return an epoch of ``steps`` batches."""
    def make():
        loader = make_loader()

        def epoch() -> float:
            start, done = time.perf_counter(), 0
            while done < steps:  # a small dataset (the sample) is passed over again
                for x, _ in loader:
                    _touch(x)
                    done += 1
                    if done == steps:
                        break
            return time.perf_counter() - start
        return epoch
    return make
