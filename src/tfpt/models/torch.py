"""PyTorch twins of :mod:`tfpt.models.keras` (NCHW input, logits out)."""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from tfpt.models import twin


class TFSamePad2d(nn.Module):
    """Zero-pad like TF's ``padding='same'``: the odd extra pixel goes bottom/right.

    PyTorch's ``padding='same'`` refuses stride > 1, and ``padding=1`` pads both
    sides, which shifts every window of a stride-2 conv on an even-sized input.
    """

    def __init__(self, kernel_size: int, stride: int):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def _pads(self, size: int) -> tuple[int, int]:
        total = max((math.ceil(size / self.stride) - 1) * self.stride + self.kernel_size - size, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self._pads(x.shape[-2])
        left, right = self._pads(x.shape[-1])
        return F.pad(x, (left, right, top, bottom))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


def _bn(channels: int, momentum: float = 0.01) -> nn.BatchNorm2d:
    # Keras's epsilon 1e-3; torch momentum m is Keras momentum 1 - m (default 0.99).
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=momentum)


def _finish(model: nn.Sequential, dtype: str) -> nn.Sequential:
    return model.to(getattr(torch, dtype))


@twin
def MLP(image_shape=(28, 28, 1), hidden: int = 128, num_classes: int = 10,
        dropout: float = 0.0, dtype: str = "float32") -> nn.Sequential:
    """Flatten → Linear(hidden) → ReLU → Dropout → Linear(num_classes)."""
    h, w, c = image_shape
    return _finish(nn.Sequential(OrderedDict(
        flatten=nn.Flatten(),
        fc1=nn.Linear(h * w * c, hidden),
        relu=nn.ReLU(),
        drop=nn.Dropout(dropout),
        fc2=nn.Linear(hidden, num_classes),
    )), dtype)


@twin
def MnistCNN(image_shape=(28, 28, 1), num_classes: int = 10, dropout: bool = True,
             dtype: str = "float32") -> nn.Sequential:
    """The classic MNIST CNN: conv32 → conv64 → maxpool → dropout → linear128 → linear.

    ``dropout=False`` keeps the Dropout layers with p=0 (for lockstep parity runs).
    """
    h, w, c = image_shape
    on = 1.0 if dropout else 0.0
    flat = 64 * ((h - 4) // 2) * ((w - 4) // 2)
    return _finish(nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(c, 32, 3), relu1=nn.ReLU(),
        conv2=nn.Conv2d(32, 64, 3), relu2=nn.ReLU(),
        pool=nn.MaxPool2d(2),
        drop1=nn.Dropout(0.25 * on),
        flatten=nn.Flatten(),
        fc1=nn.Linear(flat, 128), relu3=nn.ReLU(),
        drop2=nn.Dropout(0.5 * on),
        fc2=nn.Linear(128, num_classes),
    )), dtype)


@twin
def ConvBNNet(image_shape=(28, 28, 1), num_classes: int = 10, width: int = 16,
              dtype: str = "float32") -> nn.Sequential:
    """conv → BN → ReLU → maxpool → stride-2 TF-'same' conv → BN → ReLU → linear."""
    h, w, c = image_shape
    h2, w2 = math.ceil((h // 2) / 2), math.ceil((w // 2) / 2)
    return _finish(nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(c, width, 3, padding=1, bias=False), bn1=_bn(width), relu1=nn.ReLU(),
        pool=nn.MaxPool2d(2),
        pad2=TFSamePad2d(3, 2),
        conv2=nn.Conv2d(width, 2 * width, 3, stride=2, bias=False), bn2=_bn(2 * width), relu2=nn.ReLU(),
        flatten=nn.Flatten(),
        fc=nn.Linear(2 * width * h2 * w2, num_classes),
    )), dtype)


def _conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), bn=_bn(c_out, momentum=0.1),
        relu=nn.ReLU()))


class _Stage(nn.Module):
    """conv-BN-ReLU, max-pool, and optionally a residual pair of conv-BN-ReLU."""

    def __init__(self, c_in: int, c_out: int, residual: bool):
        super().__init__()
        self.conv = _conv_bn(c_in, c_out)
        self.pool = nn.MaxPool2d(2)
        self.res = nn.Sequential(_conv_bn(c_out, c_out), _conv_bn(c_out, c_out)) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.conv(x))
        return x + self.res(x) if self.res is not None else x


@twin
def FastResNet(image_shape=(32, 32, 3), num_classes: int = 10, width: int = 64,
               dtype: str = "float32") -> nn.Sequential:
    """A small ResNet for CIFAR-10 (the 'ResNet-9' of the DAWNBench speed runs).

    prep conv → [conv, pool, residual(conv, conv)] → [conv, pool] → [conv, pool,
    residual(conv, conv)] → global max-pool → linear. ``width`` scales every layer:
    64 on a GPU, 16 on a laptop CPU.
    """
    c, w = image_shape[2], width
    return _finish(nn.Sequential(OrderedDict(
        prep=_conv_bn(c, w),
        layer1=_Stage(w, 2 * w, residual=True),
        layer2=_Stage(2 * w, 4 * w, residual=False),
        layer3=_Stage(4 * w, 8 * w, residual=True),
        pool=nn.AdaptiveMaxPool2d(1),
        flatten=nn.Flatten(),
        fc=nn.Linear(8 * w, num_classes),
    )), dtype)
