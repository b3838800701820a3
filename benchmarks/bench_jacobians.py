"""Problem 6: time and memory of the explicit Jacobian products vs backprop, as the width grows.

For an MLP n-n-n-n-1 (L = 4) and one input, ``mlp_gradients(method="jacobian")`` builds
``diag(σ'(z_ℓ))`` (n × n) and the products ``diag(σ') A_ℓ`` as dense matrices: O(n²) memory and
O(n³) time per layer. ``method="backprop"`` keeps a row vector: O(n) working memory, O(n²) time
(the forward matrix-vector products and the outer products ∂y_L/∂A_ℓ). Both return the same
gradients, which are themselves n² numbers; "working" memory is the peak (tracemalloc) minus the
bytes of the returned gradients.

Run: ``python benchmarks/bench_jacobians.py [--quick]`` (about half a minute; ``--quick``: widths
up to 256, a smoke test).
"""

from __future__ import annotations

import argparse

import numpy as np

from mathdnn.hw4.p6_jacobians import gradient_cost

WIDTHS = (32, 64, 128, 256, 512, 1024)
DEPTH = 4
FIT_FROM = 128  # fit the growth exponents on n >= this, where per-call overhead is negligible


def measure(n: int, method: str) -> tuple[float, float, float]:
    """(best time in s, peak bytes, working bytes = peak − bytes of the returned gradients)."""
    cost = gradient_cost(n, method, DEPTH)
    return cost.seconds, float(cost.peak), float(cost.working)


def slope(widths: list[int], values: list[float]) -> float:
    """The exponent k of values ∝ n^k, by least squares on log-log."""
    return float(np.polyfit(np.log(widths), np.log(values), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="widths up to 256: a smoke test")
    widths_run = WIDTHS[:4] if parser.parse_args().quick else WIDTHS
    rows = {m: [measure(n, m) for n in widths_run] for m in ("jacobian", "backprop")}
    print(f"MLP n-n-n-n-1 (L = {DEPTH}), σ = tanh, float64, one input; best of 5 runs")
    print(
        f"{'n':>6} {'jacobian ms':>12} {'backprop ms':>12} {'jac peak MiB':>13} "
        f"{'bp peak MiB':>12} {'jac work KiB':>13} {'bp work KiB':>12}"
    )
    for i, n in enumerate(widths_run):
        (tj, pj, wj), (tb, pb, wb) = rows["jacobian"][i], rows["backprop"][i]
        print(
            f"{n:>6} {tj * 1e3:>12.3f} {tb * 1e3:>12.3f} {pj / 2**20:>13.2f} {pb / 2**20:>12.2f} "
            f"{wj / 2**10:>13.1f} {wb / 2**10:>12.1f}"
        )
    fit = [i for i, n in enumerate(widths_run) if n >= FIT_FROM]
    widths = [widths_run[i] for i in fit]
    print(f"growth exponents k (value ∝ n^k, least squares on log-log, n >= {FIT_FROM}):")
    for method in ("jacobian", "backprop"):
        t, peak, work = (slope(widths, [rows[method][i][j] for i in fit]) for j in range(3))
        print(f"  {method:<9} time {t:.2f}   peak memory {peak:.2f}   working memory {work:.2f}")


if __name__ == "__main__":
    main()
