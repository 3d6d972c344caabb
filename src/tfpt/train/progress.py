"""Progress display: a tqdm bar on a terminal, plain lines in a log file, quiet in Jupyter.

Plumbing, not part of the lesson: the loops in notebook 04 print one line per
epoch, and so do the helpers. Within an epoch:
- on a terminal, a tqdm bar (redrawn in place);
- under ``nohup`` or in a ``tmux`` log, where a bar's carriage returns make an
  unreadable mess, one plain line every ``every`` steps;
- in Jupyter, nothing: a notebook keeps one clean line per epoch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator

from tqdm import tqdm


def mode() -> str:
    """'bar' on a terminal, 'quiet' in Jupyter, 'lines' when output goes to a file or pipe."""
    if "ipykernel" in sys.modules:
        return "quiet"
    return "bar" if sys.stderr.isatty() else "lines"


class Progress:
    """Iterate over batches; ``show(**metrics)`` updates the bar or prints a line."""

    def __init__(self, iterable: Iterable, total: int, desc: str, enabled: bool = True,
                 every: int = 50):
        self.iterable, self.total, self.desc, self.every = iterable, total, desc, every
        self.mode = mode() if enabled else "quiet"
        self.step, self.start = 0, time.perf_counter()
        self.bar = tqdm(total=total, desc=desc, leave=False, mininterval=1.0,
                        disable=self.mode != "bar")

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.step += 1
            self.bar.update(1)
        self.bar.close()

    def due(self) -> bool:
        """Whether metrics would be shown after the current batch (so the loop fetches
        them only then)."""
        done = self.step + 1  # batches finished once the loop body ends
        if self.mode == "bar":
            return done % 10 == 0
        return self.mode == "lines" and done % self.every == 0

    def show(self, **metrics: float) -> None:
        text = " ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        if self.mode == "bar":
            self.bar.set_postfix_str(text, refresh=False)
        elif self.mode == "lines":
            done = self.step + 1
            rate = done / max(time.perf_counter() - self.start, 1e-9)
            print(f"{self.desc} step {done}/{self.total} {text} ({rate:.1f} steps/s)",
                  flush=True)
