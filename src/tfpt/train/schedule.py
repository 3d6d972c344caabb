"""The one-cycle cosine learning-rate schedule, as a plain function of the step.

Built in notebook 04, where it is checked against PyTorch's own ``OneCycleLR``.
PyTorch code uses that scheduler; Keras code calls this function from a callback
(``fit``) or before each step (a custom loop), so both frameworks get the same rates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class OneCycle:
    """Cosine warm-up from ``max_lr/div`` to ``max_lr``, then cosine decay to
    ``max_lr/div/final_div``: PyTorch's ``OneCycleLR(cycle_momentum=False)`` (Smith &
    Topin, 2017) with its defaults, as a function a Keras callback can call.
    """

    max_lr: float
    total_steps: int
    pct_start: float = 0.3
    div: float = 25.0
    final_div: float = 1e4

    def __call__(self, step: int) -> float:
        step = min(max(step, 0), self.total_steps - 1)
        start = self.max_lr / self.div
        end = start / self.final_div
        warm_end = float(self.pct_start * self.total_steps) - 1
        if step <= warm_end:
            return self._cosine(start, self.max_lr, step / warm_end)
        return self._cosine(self.max_lr, end, (step - warm_end) / (self.total_steps - 1 - warm_end))

    @staticmethod
    def _cosine(a: float, b: float, t: float) -> float:
        return b + (a - b) / 2.0 * (math.cos(math.pi * t) + 1)
