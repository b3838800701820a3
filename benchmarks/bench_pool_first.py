"""Problem 4 in practice: time a small CNN's forward + backward before and after
``pool_before_activation`` moves each max pool in front of its (non-decreasing) activation.

Run: ``python benchmarks/bench_pool_first.py [--repeats 15] [--batch 64]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mfdnn import nn
from mfdnn.engine import Tensor
from mfdnn.hw4.p4_maxpool_commutes import pool_before_activation


def make_model(activation: type[nn.Activation], rng: np.random.Generator) -> nn.Sequential:
    """conv → σ → maxpool, twice, then a linear layer, on 1×28×28 images (float32)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, rng=rng),
        activation(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, rng=rng),
        activation(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10, rng=rng),
    )


def step_seconds(model: nn.Sequential, x: np.ndarray, repeats: int) -> float:
    """The median time of one forward + backward of ``sum(model(x)²)``."""
    times = []
    for _ in range(repeats + 1):  # the first run warms caches and is dropped
        model.zero_grad()
        start = time.perf_counter()
        y = model(Tensor(x))
        (y * y).sum().backward()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 1, 28, 28), dtype=np.float32)
    print(f"batch {args.batch}×1×28×28, median of {args.repeats} forward+backward passes")
    print(f"{'activation':<10} {'σ → pool (ms)':>14} {'pool → σ (ms)':>14} {'saved':>8}")
    for activation in (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Softplus):
        model = make_model(activation, rng)
        rewritten = pool_before_activation(model)
        # Interleave the two so drifts in machine load hit both alike.
        before, after = [], []
        for _ in range(3):
            before.append(step_seconds(model, x, args.repeats // 3 or 1))
            after.append(step_seconds(rewritten, x, args.repeats // 3 or 1))
        t0, t1 = np.median(before), np.median(after)
        print(
            f"{activation.__name__:<10} {1e3 * t0:>14.2f} {1e3 * t1:>14.2f} "
            f"{100 * (t0 - t1) / t0:>7.1f}%"
        )


if __name__ == "__main__":
    main()
