"""``tfpt bench --loader``: images/s of each input path alone, CIFAR-10 with augmentation.

- per image, PyTorch: ``tfpt.data.torch.loader(augment=True)``: a ``DataLoader`` whose
  torchvision transforms crop and flip one image at a time;
- per image, TensorFlow: ``tfpt.data.tf.loader(augment=True)``: a ``tf.data`` pipeline
  mapping a crop and flip over single images;
- batched, each framework: ``device_loader(augment=True)``: the uint8 data held as one
  tensor on the device (a GPU when there is one), whole batches cropped, flipped and
  normalized at once.

Each epoch reads ``steps`` batches and touches every batch's last value, so lazy
work is counted.
"""

from __future__ import annotations

import time
import warnings


def loader_candidates(frameworks: tuple[str, ...], batch_size: int, steps: int) -> list:
    from tfpt import data as tdata
    from tfpt.bench.core import Candidate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tdata.SampleDataWarning)
        cifar = tdata.load("cifar10")
    n = min(steps * batch_size, len(cifar.arrays("train")[1]))
    kwargs = {"batch_size": batch_size, "limit": n, "augment": True, "drop_last": True}
    images = steps * batch_size  # a timed epoch is `steps` batches, over several passes if need be

    def touch(x) -> None:
        float(x[-1, -1, -1, -1])  # reads one value: waits for the device

    def timed(make_loader):
        def make():
            loader = make_loader()

            def epoch() -> float:
                start, done = time.perf_counter(), 0
                while done < steps:  # a small dataset (the sample) is passed over again
                    for x, _ in loader:
                        touch(x)
                        done += 1
                        if done == steps:
                            break
                return time.perf_counter() - start
            return epoch
        return make

    found = []
    if "torch" in frameworks:
        import torch

        import tfpt.data.torch as dt

        device = "cuda" if torch.cuda.is_available() else "cpu"

        found += [
            Candidate("torch: per image (DataLoader + transforms)", "torch", "loader", True,
                      timed(lambda: dt.loader(cifar, **kwargs)), images),
            Candidate(f"torch: batched, data on {device}", "torch", "loader", False,
                      timed(lambda: dt.device_loader(cifar, device=device, **kwargs)), images)]
    if "tf" in frameworks:
        import tensorflow as tf

        import tfpt.data.tf as df

        device = "cuda" if tf.config.list_physical_devices("GPU") else "cpu"

        found += [
            Candidate("tf: per image (tf.data map)", "tf", "loader", True,
                      timed(lambda: df.loader(cifar, **kwargs)), images),
            Candidate(f"tf: batched, data on {device} (XLA)", "tf", "loader", False,
                      timed(lambda: df.device_loader(cifar, device=device, **kwargs)),
                      images)]
    return found
