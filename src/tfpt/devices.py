"""Which device each framework will use, and why."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

TORCH_DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class DeviceChoice:
    """The device a framework will use, with the reason in plain words."""

    framework: str
    device: str
    reason: str

    def __str__(self) -> str:
        return f"{self.framework:<10} {self.device:<8} {self.reason}"


def torch_device(requested: str | torch.device = "auto") -> DeviceChoice:
    """Resolve ``requested`` (auto, cpu, cuda, cuda:N, mps) to a torch device.

    ``auto`` prefers cuda, then mps, then cpu. Asking for a device that is not
    there raises with what is available instead of failing later in a kernel.
    """
    import torch

    requested = str(requested)  # also a torch.device
    kind = requested.split(":")[0]
    if kind not in TORCH_DEVICES:
        raise ValueError(
            f"unknown device {requested!r}: choose one of {', '.join(TORCH_DEVICES)} "
            "(or cuda:N for a specific GPU)"
        )
    has_cuda = torch.cuda.is_available()
    has_mps = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    if kind == "auto":
        if has_cuda:
            return DeviceChoice("torch", "cuda", f"CUDA GPU found: {torch.cuda.get_device_name(0)}")
        if has_mps:
            return DeviceChoice("torch", "mps", "Apple GPU (MPS) found")
        return DeviceChoice("torch", "cpu", "no CUDA or MPS GPU visible to torch")
    if kind == "cuda" and not has_cuda:
        raise ValueError(
            f"device {requested!r} requested but torch sees no CUDA GPU "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda}); "
            "use --device cpu, or auto to pick what is there"
        )
    if kind == "mps" and not has_mps:
        raise ValueError(f"device {requested!r} requested but MPS is not available; use cpu or auto")
    return DeviceChoice("torch", requested, "requested explicitly")


def tf_device() -> DeviceChoice:
    """The device TensorFlow will place ops on by default."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return DeviceChoice("tensorflow", "GPU:0", f"{len(gpus)} GPU(s) visible to TensorFlow")
    built = "with CUDA" if tf.test.is_built_with_cuda() else "without CUDA"
    return DeviceChoice("tensorflow", "CPU:0", f"no GPU visible to TensorFlow (built {built})")


def devices() -> dict[str, DeviceChoice]:
    """The best device for each installed framework, with the reason."""
    found = {}
    if importlib.util.find_spec("torch"):
        found["torch"] = torch_device("auto")
    if importlib.util.find_spec("tensorflow"):
        found["tensorflow"] = tf_device()
    return found
