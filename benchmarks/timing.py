"""Timing shared by the benchmarks: several steps timed alternately in one process.

Absolute times on a shared machine are noise; what the benchmarks report is the ratio of two
steps measured side by side. Each step runs in blocks of ``block`` timed calls, the blocks of the
steps alternating, so that load from elsewhere hits all of them alike. The first call of a block
is not timed: right after another framework's step, caches and thread pools are in its state.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np


def time_alternately(
    steps: dict[str, Callable[[], object]], repeats: int, block: int = 4
) -> dict[str, float]:
    """Median seconds per call of each step, from alternating blocks of ``block`` + 1 calls."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(max(1, -(-repeats // block))):
        for name, step in steps.items():
            step()
            for _ in range(block):
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def geometric_mean(values: Sequence[float]) -> float:
    return math.exp(float(np.mean(np.log(values))))


def relative_error(ours: Sequence[np.ndarray], theirs: Sequence[np.ndarray]) -> float:
    """The largest ``max|a − b| / max|b|`` over pairs of arrays."""
    return max(
        float(np.max(np.abs(a - b), initial=0.0) / (np.max(np.abs(b), initial=0.0) + 1e-30))
        for a, b in zip(ours, theirs, strict=True)
    )
