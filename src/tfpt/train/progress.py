"""Progress display: a tqdm bar on a terminal or in Jupyter, plain lines in a log file.

Under ``nohup`` or in a ``tmux`` log, a bar's carriage returns make an unreadable
mess, so there it prints one plain line every ``every`` steps instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator

from tqdm.auto import tqdm


def interactive() -> bool:
    """True on a terminal and in Jupyter; False when output goes to a file or pipe."""
    return sys.stdout.isatty() or "ipykernel" in sys.modules


class Progress:
    """Iterate over batches; ``show(**metrics)`` updates the bar or prints a line."""

    def __init__(self, iterable: Iterable, total: int, desc: str, enabled: bool = True,
                 every: int = 50):
        self.iterable, self.total, self.desc, self.every = iterable, total, desc, every
        self.enabled, self.bar_mode = enabled, enabled and interactive()
        self.step, self.start = 0, time.perf_counter()
        self.bar = tqdm(total=total, desc=desc, leave=False, mininterval=1.0,
                        disable=not self.bar_mode)

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.step += 1
            self.bar.update(1)
        self.bar.close()

    def due(self) -> bool:
        """Whether metrics would be shown now (so the loop fetches them only then)."""
        if not self.enabled:
            return False
        return self.step % 10 == 0 if self.bar_mode else (self.step + 1) % self.every == 0

    def show(self, **metrics: float) -> None:
        text = " ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        if self.bar_mode:
            self.bar.set_postfix_str(text, refresh=False)
        elif self.enabled:
            rate = (self.step + 1) / max(time.perf_counter() - self.start, 1e-9)
            print(f"{self.desc} step {self.step + 1}/{self.total} {text} ({rate:.1f} steps/s)",
                  flush=True)
