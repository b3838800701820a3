"""conv2d and pooling, forward + backward: mathdnn's fast path and formula path against PyTorch
CPU, and the convolutions against NumPy's own matrix-product throughput, all in one run.

    python benchmarks/bench_conv.py [--repeats 16] [--quick]

Each case computes the output and the gradients of every input (x, weight, bias) for a fixed
cotangent, in float32. Both frameworks wrap the same NumPy arrays without copying them
(``mathdnn.from_numpy``, ``torch.from_numpy``). mathdnn runs once with
``mathdnn.kernels.use("fast")``
and once with ``"reference"`` (the formula of ``functional/conv.py`` and ``pooling.py``); the
three steps are timed alternately (``timing.py``) and the median of each is reported. Before
timing, the outputs and gradients of all three are compared, so the benchmark never times a wrong
answer.

The ceiling of a NumPy engine on a convolution is the speed of its matrix products. For each
convolution the benchmark also times the three products of the formula path (``W · cols``,
``∂L/∂Y · colsᵀ``, ``Wᵀ · ∂L/∂Y``) on ready-made arrays with NumPy's own BLAS threads, and a
square 2048³ float32 product, and reports the fast path's useful GFLOP/s as a fraction of both.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from timing import geometric_mean, relative_error, time_alternately

import mathdnn
import mathdnn.functional as F
from mathdnn import kernels


@dataclass
class Case:
    name: str
    op: str  # "conv2d", "max_pool2d" or "avg_pool2d"
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...] | None = None
    kwargs: dict = field(default_factory=dict)


CASES = [
    Case("LeNet C1", "conv2d", (128, 1, 28, 28), (6, 1, 5, 5), {"padding": 2}),
    Case("LeNet C3", "conv2d", (128, 6, 14, 14), (16, 6, 5, 5)),
    Case("ResNet 3x3", "conv2d", (64, 32, 32, 32), (32, 32, 3, 3), {"padding": 1}),
    Case("finite differences", "conv2d", (1, 1, 512, 512), (2, 1, 3, 3), {"padding": 1}),
    Case("depthwise 3x3", "conv2d", (64, 32, 32, 32), (32, 1, 3, 3), {"padding": 1, "groups": 32}),
    Case("max_pool2d 2x2", "max_pool2d", (128, 6, 28, 28), None, {"kernel_size": 2}),
    Case("avg_pool2d 2x2", "avg_pool2d", (128, 6, 28, 28), None, {"kernel_size": 2}),
]


def make_steps(case: Case, rng: np.random.Generator) -> dict[str, Callable[[], list[np.ndarray]]]:
    """The three steps, each computing the output and all gradients."""
    arrays = [rng.standard_normal(case.x_shape, dtype=np.float32)]
    if case.w_shape is not None:
        arrays += [
            rng.standard_normal(case.w_shape, dtype=np.float32),
            rng.standard_normal(case.w_shape[0], dtype=np.float32),
        ]
    ours, theirs = getattr(F, case.op), getattr(torch.nn.functional, case.op)
    y_shape = ours(*[mathdnn.from_numpy(a) for a in arrays], **case.kwargs).shape
    cotangent = rng.standard_normal(y_shape, dtype=np.float32)

    def mathdnn_step(mode: str) -> Callable[[], list[np.ndarray]]:
        def step() -> list[np.ndarray]:
            with kernels.use(mode):
                inputs = [mathdnn.from_numpy(a).requires_grad_() for a in arrays]
                y = ours(*inputs, **case.kwargs)
                y.backward(cotangent)
            return [y.data] + [t.grad for t in inputs]

        return step

    def torch_step() -> list[np.ndarray]:
        inputs = [torch.from_numpy(a).requires_grad_() for a in arrays]
        y = theirs(*inputs, **case.kwargs)
        y.backward(torch.from_numpy(cotangent))
        return [y.detach().numpy()] + [t.grad.numpy() for t in inputs]

    return {"fast": mathdnn_step("fast"), "formula": mathdnn_step("reference"), "torch": torch_step}


def conv_flops(case: Case) -> float:
    """The useful multiply-adds of forward + backward, times 2: three products of
    ``2 · N · C_out · Ho · Wo · C_in/groups · kh · kw`` operations each."""
    n = case.x_shape[0]
    c_out, c_g, kh, kw = case.w_shape
    y = F.conv2d(
        mathdnn.from_numpy(np.zeros((1, *case.x_shape[1:]), np.float32)),
        mathdnn.from_numpy(np.zeros(case.w_shape, np.float32)),
        **case.kwargs,
    )
    ho, wo = y.shape[2:]
    return 3 * 2.0 * n * c_out * ho * wo * c_g * kh * kw


def gemm_step(case: Case, rng: np.random.Generator) -> Callable[[], object]:
    """The formula path's three products for this layer, on ready arrays, NumPy's BLAS threads."""
    c_out, c_g, kh, kw = case.w_shape
    groups = case.kwargs.get("groups", 1)
    n = case.x_shape[0]
    flops = conv_flops(case)
    columns = int(flops / (3 * 2 * c_out * c_g * kh * kw))  # N · Ho · Wo
    k = c_g * kh * kw
    w = rng.standard_normal((groups, c_out // groups, k), dtype=np.float32)
    cols = rng.standard_normal((groups, k, columns), dtype=np.float32)
    g = rng.standard_normal((groups, c_out // groups, columns), dtype=np.float32)
    del n

    def step() -> object:
        return (w @ cols, g @ cols.swapaxes(1, 2), w.swapaxes(1, 2) @ g)

    return step


def square_gemm_gflops(rng: np.random.Generator, size: int = 2048) -> float:
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    seconds = time_alternately({"gemm": lambda: a @ b}, repeats=4, block=2)["gemm"]
    return 2.0 * size**3 / seconds / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=16, help="timed steps of each (default 16)")
    parser.add_argument("--quick", action="store_true", help="2 repeats: a smoke test")
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    rng = np.random.default_rng(0)
    print(
        f"mathdnn {mathdnn.__version__} ({mathdnn.get_num_threads()} threads), torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}"
    )
    square = square_gemm_gflops(rng)
    print(f"NumPy float32 GEMM 2048³: {square:.0f} GFLOP/s")
    header = (
        f"{'case':<20} {'fast ms':>8} {'formula':>8} {'torch':>8} {'fast/torch':>10} "
        f"{'formula/torch':>13} {'fast gain':>9} {'GFLOP/s':>8} {'of GEMM':>8} {'of 2048³':>8}"
    )
    print(header)
    fast_ratios, formula_ratios = {}, {}
    for case in CASES:
        steps = make_steps(case, rng)
        results = {name: step() for name, step in steps.items()}
        error = max(relative_error(results[m], results["torch"]) for m in ("fast", "formula"))
        if error > 1e-3:
            raise SystemExit(
                f"bench_conv.py: {case.name}: mathdnn and PyTorch differ ({error:.1e})"
            )
        if case.op == "conv2d":
            steps["gemm"] = gemm_step(case, rng)
        t = time_alternately(steps, repeats)
        fast_ratios[case.name] = t["fast"] / t["torch"]
        formula_ratios[case.name] = t["formula"] / t["torch"]
        line = (
            f"{case.name:<20} {t['fast'] * 1e3:>8.2f} {t['formula'] * 1e3:>8.2f} "
            f"{t['torch'] * 1e3:>8.2f} {fast_ratios[case.name]:>10.2f} "
            f"{formula_ratios[case.name]:>13.2f} {t['formula'] / t['fast']:>8.2f}x"
        )
        if case.op == "conv2d":
            gflops = conv_flops(case) / t["fast"] / 1e9
            line += f" {gflops:>8.0f} {t['gemm'] / t['fast']:>7.0%} {gflops / square:>8.0%}"
        print(line, flush=True)
    conv = [c.name for c in CASES if c.op == "conv2d"]
    pools = [c.name for c in CASES if c.op != "conv2d"]
    for label, names in (("conv2d", conv), ("pools", pools)):
        print(
            f"geometric mean, {label}: fast/torch "
            f"{geometric_mean([fast_ratios[n] for n in names]):.2f}, formula/torch "
            f"{geometric_mean([formula_ratios[n] for n in names]):.2f}"
        )


if __name__ == "__main__":
    main()
