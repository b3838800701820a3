"""The engine's cost per operation: small ops, forward + backward, in mathdnn, in plain NumPy (the
same arithmetic with no autodiff), and in PyTorch, measured in one run.

    python benchmarks/bench_overhead.py [--repeats 7] [--quick]

On arrays this small the arithmetic takes a few microseconds, so what is measured is each
framework's own work per operation: building the graph node, checking arguments, dispatching,
and running the VJP. "overhead" is mathdnn's time minus NumPy's, per op.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

import mathdnn
import mathdnn.functional as F

TF = torch.nn.functional


def per_call(fn: Callable[[], object], repeats: int, calls: int = 2000) -> float:
    """Median over ``repeats`` runs of ``calls`` calls: seconds per call."""
    for _ in range(100):
        fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - start) / calls)
    return float(np.median(runs))


def cases(rng: np.random.Generator) -> dict[str, dict[str, Callable[[], object]]]:
    """For each op: the mathdnn, NumPy and PyTorch versions of forward + backward."""
    x = rng.standard_normal((64, 784), dtype=np.float32)
    a, b0 = rng.standard_normal(784, dtype=np.float32), np.float32(0.1)
    w, bias = rng.standard_normal((10, 784), dtype=np.float32), np.zeros(10, np.float32)
    h = rng.standard_normal((64, 10), dtype=np.float32)
    labels = rng.integers(0, 10, 64)
    g_h = np.ones_like(h)
    xt, ht, labels_t = torch.from_numpy(x), torch.from_numpy(h), torch.from_numpy(labels)

    def mf(
        build: Callable[..., mathdnn.Tensor], *arrays: np.ndarray, grad: np.ndarray | None = None
    ):
        def step() -> None:
            leaves = [mathdnn.from_numpy(v).requires_grad_() for v in arrays]
            y = build(*leaves)
            y.backward(grad)

        return step

    def th(build: Callable[..., torch.Tensor], *tensors: torch.Tensor, grad=None):
        leaves = [t.clone().requires_grad_() for t in tensors]

        def step() -> None:
            for t in leaves:
                t.grad = None
            build(*leaves).backward(grad)

        return step

    def np_linear_score() -> None:
        z = x @ a + b0
        g = np.ones_like(z)
        (g @ x, g.sum())  # ∂L/∂a, ∂L/∂b: x needs no gradient

    def np_linear() -> None:
        y = x @ w.T + bias
        g = np.ones_like(y)
        (g.T @ x, g.sum(axis=0))

    def np_tanh() -> None:
        t = np.tanh(h)
        g_h * (1 - t * t)

    def np_add() -> np.ndarray:
        return h + h  # its VJP passes g on to both operands: no arithmetic

    def np_cross_entropy() -> None:
        shifted = h - h.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        -log_p[np.arange(64), labels].mean()
        p = np.exp(log_p)
        p[np.arange(64), labels] -= 1
        p / 64

    g_score = np.ones(64, np.float32)
    return {
        "linear 784→1 (Problem 5's score)": {
            "mathdnn": lambda: (
                F.linear(
                    mathdnn.from_numpy(x), *[mathdnn.tensor(v, requires_grad=True) for v in (a, b0)]
                )
            ).backward(g_score),
            "numpy": np_linear_score,
            "torch": th(
                lambda aa, bb: xt @ aa + bb,
                torch.from_numpy(a),
                torch.tensor(b0),
                grad=torch.from_numpy(g_score),
            ),
        },
        "linear 784→10": {
            "mathdnn": lambda: F.linear(
                mathdnn.from_numpy(x), *[mathdnn.tensor(v, requires_grad=True) for v in (w, bias)]
            ).backward(np.ones((64, 10), np.float32)),
            "numpy": np_linear,
            "torch": th(
                lambda ww, bb: TF.linear(xt, ww, bb),
                torch.from_numpy(w),
                torch.from_numpy(bias),
                grad=torch.ones(64, 10),
            ),
        },
        "tanh (64, 10)": {
            "mathdnn": mf(F.tanh, h, grad=g_h),
            "numpy": np_tanh,
            "torch": th(torch.tanh, ht, grad=torch.from_numpy(g_h)),
        },
        "add (64, 10)": {
            "mathdnn": mf(lambda u: u + u, h, grad=g_h),
            "numpy": np_add,
            "torch": th(lambda u: u + u, ht, grad=torch.from_numpy(g_h)),
        },
        "cross_entropy (64, 10)": {
            "mathdnn": mf(lambda u: F.cross_entropy(u, labels), h),
            "numpy": np_cross_entropy,
            "torch": th(lambda u: TF.cross_entropy(u, labels_t), ht),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs of each (default 7)")
    parser.add_argument("--quick", action="store_true", help="2 runs: a smoke test")
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    torch.set_num_threads(1)
    print(
        f"mathdnn {mathdnn.__version__}, torch {torch.__version__} (1 thread), "
        f"numpy {np.__version__}"
    )
    print(
        f"{'op, forward + backward':<34} {'mathdnn µs':>9} {'NumPy µs':>9} {'overhead':>9} "
        f"{'torch µs':>9} {'mathdnn/torch':>11}"
    )
    for name, steps in cases(np.random.default_rng(0)).items():
        t = {k: per_call(step, repeats) * 1e6 for k, step in steps.items()}
        print(
            f"{name:<34} {t['mathdnn']:>9.1f} {t['numpy']:>9.1f} {t['mathdnn'] - t['numpy']:>9.1f} "
            f"{t['torch']:>9.1f} {t['mathdnn'] / t['torch']:>11.2f}"
        )


if __name__ == "__main__":
    main()
