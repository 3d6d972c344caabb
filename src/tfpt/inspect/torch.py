"""PyTorch twin of :mod:`tfpt.inspect.keras`: a shape table from forward hooks.

Built in notebook 06: ``print(model)`` lists the modules but no shapes, so run one
real batch with a hook on every leaf module that records what it returned.
"""

from __future__ import annotations

import torch
from torch import nn

from tfpt.inspect import Row

__all__ = ["shape_table"]


def _shape(output) -> tuple[int, ...]:
    """The shape of a module's output (of its first tensor when it returns several)."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    return tuple(output.shape)


def shape_table(model: nn.Module, x: torch.Tensor) -> list[Row]:
    """(name, type, output shape) of every leaf module, in call order, for input ``x``.

    Why hooks: the model runs unchanged and each module reports its own output, so
    the table shows what really happened for this input. The hooks are removed
    afterwards; the pass runs under ``torch.no_grad`` in eval mode (the mode is restored
    afterwards), as Keras runs ``training=False``: no BatchNorm statistic changes.
    Built in notebook 06.
    """
    rows: list[Row] = []

    def recorder(name: str):
        def hook(module: nn.Module, args, output) -> None:
            rows.append((name, type(module).__name__, _shape(output)))
        return hook

    handles = [module.register_forward_hook(recorder(name))
               for name, module in model.named_modules() if not list(module.children())]
    was_training = model.training
    model.eval()  # as Keras' training=False: no BatchNorm statistics updated, no dropout
    try:
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return rows
