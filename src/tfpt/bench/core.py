"""What every ``tfpt bench`` section is made of: a :class:`Candidate` and a timer.

Imports neither framework; :mod:`tfpt.bench.loops`, :mod:`tfpt.bench.modes` and
:mod:`tfpt.bench.loader` build candidates from it, :mod:`tfpt.bench` runs them.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Candidate:
    name: str
    framework: str
    section: str
    baseline: bool  # an idiomatic reference to compare tfpt's code against
    make: Callable[[], Callable[[], float]]  # builds state, returns "run one epoch -> seconds"
    images: int  # images per timed epoch
    seconds: list[float] = field(default_factory=list)
    first_seconds: float = float("nan")  # the warm-up epoch: tracing and compiling included


def timed(loop: Callable[[], None]) -> Callable[[], float]:
    def epoch() -> float:
        start = time.perf_counter()
        loop()
        return time.perf_counter() - start
    return epoch



def load(name: str):
    """A dataset, without the sample notice (the benchmark reports its own sizes)."""
    from tfpt import data as tdata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tdata.SampleDataWarning)
        return tdata.load(name)
