"""Repeated, warmed-up timing: the median of several runs and their spread.

Every figure of the benchmark comes from here, so they are comparable: `warmup` untimed
calls, then `repeats` runs of `calls` calls each (chosen so one run takes about `run_s`),
reported as the median time per call with the lowest and highest run beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median over runs, and the fastest and slowest run."""

    median_s: float
    low_s: float
    high_s: float
    calls: int

    @property
    def ms(self) -> float:
        return self.median_s * 1e3

    def spread_pct(self) -> float:
        """Half the low-high range as a percentage of the median."""
        return 50.0 * (self.high_s - self.low_s) / self.median_s if self.median_s else 0.0


def time_call(
    fn: Callable[[], object], repeats: int = 7, run_s: float = 0.2, warmup: int = 3
) -> Timing:
    """Time `fn()` (see the module docstring); CPU-bound work, wall clock."""
    for _ in range(warmup):
        fn()
    started = time.perf_counter()
    fn()
    once = max(time.perf_counter() - started, 1e-7)
    calls = max(1, int(run_s / once))
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - started) / calls)
    runs_array = np.asarray(runs)
    return Timing(
        float(np.median(runs_array)), float(runs_array.min()), float(runs_array.max()), calls
    )
