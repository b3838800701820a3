"""Problem 4 in practice: a small CNN's forward + backward before and after
``pool_before_activation`` moves each max pool in front of its (non-decreasing) activation: the
activation evaluations per image, counted, and the time, measured in interleaved pairs.

Run: ``python benchmarks/bench_pool_first.py [--repeats 15] [--batch 64]``.
"""

from __future__ import annotations

import argparse

import numpy as np

from mathdnn import nn
from mathdnn.hw4.p4_maxpool_commutes import (
    activation_evaluations,
    pool_before_activation,
    rewrite_timing,
    small_cnn,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 1, 28, 28), dtype=np.float32)
    model = small_cnn(nn.ReLU, rng)
    before = activation_evaluations(model, x[:1])
    after = activation_evaluations(pool_before_activation(model), x[:1])
    print(f"activation evaluations per image: {before:,} as written, {after:,} rewritten")
    print(f"batch {args.batch}×1×28×28, best of {args.repeats} interleaved forward+backward pairs")
    print(
        f"{'activation':<10} {'σ → pool (ms)':>14} {'pool → σ (ms)':>14} {'saved':>8} "
        f"{'pairs faster':>13} {'sign test p':>12}"
    )
    for activation in (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Softplus):
        t = rewrite_timing(small_cnn(activation, rng), x, args.repeats)
        print(
            f"{activation.__name__:<10} {1e3 * t.best_before:>14.2f} {1e3 * t.best_after:>14.2f} "
            f"{100 * t.saving:>7.1f}% {t.faster:>6} of {len(t.before):<4} {t.p_value:>12.3g}"
        )


if __name__ == "__main__":
    main()
