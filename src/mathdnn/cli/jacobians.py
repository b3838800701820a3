"""``mathdnn jacobians``: Problem 6's gradients of a random MLP, checked three ways.

``mathdnn jacobians [--layers 784,64,32,1] [--activation tanh] [--seed S] [--show]`` builds a random
MLP, prints each layer's Jacobian shapes, then for every ``∂y_L/∂A_ℓ`` and ``∂y_L/∂b_ℓ`` the max
|difference| between the explicit Jacobian products and backprop, between the formulas and the
engine's autodiff, and between the formulas and central finite differences. Exit status 0 only if
every difference is within its tolerance.

The explicit Jacobians take O(n²) memory per layer (and O(n³) time), so widths whose estimated
memory exceeds ``--max-memory`` or what the process can get are refused before anything is
allocated (``mathdnn.cli.memory``).
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from mathdnn.cli import CommandError, seed
from mathdnn.cli.memory import add_max_memory, check_memory
from mathdnn.functional.activation import ACTIVATIONS
from mathdnn.hw4.p6_jacobians import (
    autodiff_gradients,
    finite_difference_gradients,
    init_mlp,
    layer_jacobians,
    mlp_gradients,
    output_jacobians,
)

FD_MAX_ENTRIES = 200  # finite differences on at most this many random entries per parameter
SHOW_MAX_ENTRIES = 400  # --show prints matrices up to this size in full
TOL_EXACT = 1e-10  # the formulas against each other and against autodiff (float64)
TOL_FD = 1e-6  # against central differences with ε = 1e-6
DEFAULT_MAX_MEMORY_GIB = 1.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "jacobians",
        help="Problem 6: MLP gradients from the layer Jacobians vs backprop, autodiff, FD",
        description="Build a random MLP y_L = A_L σ(… σ(A_1 x + b_1) …) + b_L with a scalar "
        "output, print its layer Jacobians' shapes and a table of max |difference| between the "
        "explicit Jacobian products, backprop, the engine's autodiff and finite differences for "
        "every ∂y_L/∂A_ℓ and ∂y_L/∂b_ℓ.",
    )
    parser.add_argument(
        "--layers",
        default="784,64,32,1",
        help="widths n_0,…,n_L, comma-separated; n_L must be 1 (default 784,64,32,1)",
    )
    parser.add_argument(
        "--activation",
        default="tanh",
        help=f"σ, one of {', '.join(ACTIVATIONS)} (default tanh)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random MLP (default 0)")
    add_max_memory(
        parser,
        DEFAULT_MAX_MEMORY_GIB,
        "--layers whose explicit Jacobians (n_ℓ × n_ℓ matrices in float64, held twice, plus the "
        "parameters and six gradients of their shape)",
    )
    parser.add_argument(
        "--show",
        action="store_true",
        help=f"print the Jacobians and gradients with at most {SHOW_MAX_ENTRIES} entries in full",
    )
    parser.set_defaults(run=run)


def parse_layers(text: str) -> tuple[int, ...]:
    """``"784,64,32,1"`` -> ``(784, 64, 32, 1)``; at least two positive ints, the last 1."""
    try:
        layers = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise CommandError(
            f"--layers must be comma-separated positive ints like 784,64,32,1, got {text!r}"
        ) from None
    if len(layers) < 2 or min(layers) < 1:
        raise CommandError(f"--layers needs at least two positive widths n_0,…,n_L, got {text!r}")
    if layers[-1] != 1:
        raise CommandError(f"--layers must end with 1 (a scalar output y_L), got {text!r}")
    return layers


def estimated_bytes(layers: tuple[int, ...]) -> int:
    """The float64 memory this command holds at its peak, from the widths alone.

    Part (a)'s matrices ``diag σ'(z_ℓ)`` (``n_ℓ × n_ℓ``, 1 × 1 for ℓ = L) and
    ``diag σ'(z_ℓ) A_ℓ`` (``n_ℓ × n_{ℓ−1}``) are held twice (the table's, and those of
    ``mlp_gradients(method="jacobian")``); every ``A_ℓ``-shaped array seven times (the
    parameters and the explicit, backprop, autodiff and finite-difference gradients, two of them
    with a copy of the parameters). Within 30 % of the peak tracemalloc measured.
    """
    L = len(layers) - 1
    jacobians = sum(
        (n * n if ell < L else 1) + n * n_prev
        for ell, (n_prev, n) in enumerate(itertools.pairwise(layers), start=1)
    )
    parameters = sum(n * n_prev for n_prev, n in itertools.pairwise(layers))
    return 8 * (2 * jacobians + 7 * parameters)


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.nanmax(np.abs(a - b)))


def _show(name: str, matrix: np.ndarray) -> None:
    if matrix.size <= SHOW_MAX_ENTRIES:
        with np.printoptions(precision=4, suppress=True, linewidth=100):
            print(f"{name} =\n{matrix}")
    else:
        print(f"{name}: {matrix.shape}, {matrix.size} entries (not shown)")


def run(args: argparse.Namespace) -> int:
    layers = parse_layers(args.layers)
    if args.activation not in ACTIVATIONS:
        raise CommandError(
            f"unknown --activation {args.activation!r}; valid: {', '.join(ACTIVATIONS)}"
        )
    seed("--seed", args.seed)
    check_memory(
        estimated_bytes(layers),
        args.max_memory,
        f"--layers {','.join(map(str, layers))}",
        "use narrower layers (the explicit n_ℓ × n_ℓ Jacobians take most of it)",
    )
    activation = args.activation
    As, bs = init_mlp(layers, args.seed, np.float64)
    x = np.random.default_rng(args.seed + 1).standard_normal(layers[0])
    L = len(As)

    print(f"MLP {'-'.join(map(str, layers))}, σ = {activation}, seed {args.seed}, L = {L}")
    pairs = layer_jacobians(As, bs, x, activation)
    J = output_jacobians(As, bs, x, activation)
    print(f"{'ℓ':>3}  {'∂y_ℓ/∂b_ℓ':>12}  {'∂y_ℓ/∂y_ℓ−1':>12}  {'∂y_L/∂y_ℓ':>12}")
    for ell, (dy_db, dy_dyprev) in enumerate(pairs, start=1):
        print(f"{ell:>3}  {dy_db.shape!s:>12}  {dy_dyprev.shape!s:>12}  {J[ell].shape!s:>12}")
    if args.show:
        for ell, (dy_db, dy_dyprev) in enumerate(pairs, start=1):
            _show(f"∂y_{ell}/∂b_{ell}", dy_db)
            _show(f"∂y_{ell}/∂y_{ell - 1}", dy_dyprev)
        for ell in range(L + 1):
            _show(f"∂y_{L}/∂y_{ell} (product of part (a))", J[ell])

    explicit = mlp_gradients(As, bs, x, activation, method="jacobian")
    backprop = mlp_gradients(As, bs, x, activation, method="backprop")
    autodiff = autodiff_gradients(As, bs, x, activation)
    numeric = finite_difference_gradients(
        As, bs, x, activation, max_entries=FD_MAX_ENTRIES, seed=args.seed
    )

    print()
    print(
        f"max |difference| (float64). FD: central differences, ε = 1e-6, on at most "
        f"{FD_MAX_ENTRIES} random entries per parameter (column 'FD entries')."
    )
    header = (
        f"{'gradient':<10} {'shape':>10} {'jac−backprop':>13} {'formula−autodiff':>17} "
        f"{'formula−FD':>11} {'FD entries':>13}  status"
    )
    print(header)
    failed = 0
    for kind, k in (("A", 0), ("b", 1)):
        for ell in range(1, L + 1):
            e, bp = explicit[k][ell - 1], backprop[k][ell - 1]
            ad, fd = autodiff[k][ell - 1], numeric[k][ell - 1]
            d_methods = _max_diff(e, bp)
            d_autodiff = max(_max_diff(e, ad), _max_diff(bp, ad))
            d_fd = max(_max_diff(e, fd), _max_diff(bp, fd))
            checked = int(np.count_nonzero(~np.isnan(fd)))
            ok = d_methods <= TOL_EXACT and d_autodiff <= TOL_EXACT and d_fd <= TOL_FD
            failed += not ok
            name = f"∂y_L/∂{kind}_{ell}"
            entries = f"{checked}/{fd.size}"
            print(
                f"{name:<10} {e.shape!s:>10} {d_methods:>13.2e} {d_autodiff:>17.2e} "
                f"{d_fd:>11.2e} {entries:>13}  {'pass' if ok else 'FAIL'}"
            )
            if args.show:
                _show(f"  {name}", bp)
    print(
        f"tolerances: {TOL_EXACT:.0e} between formulas and autodiff, {TOL_FD:.0e} against FD; "
        f"{2 * L - failed} passed, {failed} failed"
    )
    return 1 if failed else 0
