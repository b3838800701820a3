"""Problem 4 in practice: time a small CNN's forward + backward before and after
``pool_before_activation`` moves each max pool in front of its (non-decreasing) activation.

Run: ``python benchmarks/bench_pool_first.py [--repeats 15] [--batch 64]``.
"""

from __future__ import annotations

import argparse

import numpy as np

from mathdnn import nn
from mathdnn.hw4.p4_maxpool_commutes import rewrite_seconds, small_cnn


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
        t0, t1 = rewrite_seconds(small_cnn(activation, rng), x, args.repeats)
        print(
            f"{activation.__name__:<10} {1e3 * t0:>14.2f} {1e3 * t1:>14.2f} "
            f"{100 * (t0 - t1) / t0:>7.1f}%"
        )


if __name__ == "__main__":
    main()
