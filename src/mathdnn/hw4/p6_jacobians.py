"""Problem 6: backpropagation for an MLP, from the layer Jacobians.

For the MLP ``y_0 = x``, ``y_ℓ = σ(A_ℓ y_{ℓ−1} + b_ℓ)`` (ℓ < L), ``y_L = A_L y_{L−1} + b_L`` with
a scalar output: (a) what are the layer Jacobians, and (b) what are the gradients of ``y_L`` with
respect to every ``A_ℓ`` and ``b_ℓ``, as products of them?

Answer: The formulas below. Multiplying the product of (a)'s matrices from the left, a row vector
at a time, is backpropagation: it never builds an ``n×n`` matrix.

Built as matrices (``method="jacobian"``) and applied as a row vector from the left
(``method="backprop"``), they agree with the engine's autodiff, with PyTorch and with finite
differences to rounding (``mathdnn jacobians``); backprop needs O(n) working memory against O(n²)
(``gradient_cost``, ``benchmarks/bench_jacobians.py``). In use: an MNIST classifier trained by
``mlp_backprop`` alone and by autodiff from the same start has the same parameters, to rounding,
after every step (``compare_training``, ``mathdnn mlp``).

Layers are numbered 1..L as in ``hw4.md``; in the Python lists ``As``, ``bs`` layer ℓ is at index
ℓ−1, while the lists of activations ``ys`` and of output Jacobians hold ``y_0 … y_L`` at index ℓ::

    y_0 = x,   z_ℓ = A_ℓ y_{ℓ−1} + b_ℓ,   y_ℓ = σ(z_ℓ)  (ℓ = 1..L−1),   y_L = A_L y_{L−1} + b_L

with ``A_ℓ`` of shape ``(n_ℓ, n_{ℓ−1})``, ``b_ℓ`` of shape ``(n_ℓ,)`` and a scalar output,
``n_L = 1``. With L = 1 the network is affine. Part (a), the layer Jacobians::

    ∂y_L/∂b_L = 1,   ∂y_L/∂y_{L−1} = A_L,
    ∂y_ℓ/∂b_ℓ = diag(σ'(z_ℓ)),   ∂y_ℓ/∂y_{ℓ−1} = diag(σ'(z_ℓ)) A_ℓ        (ℓ = 1..L−1)

Part (b), the parameter gradients, in the homework's convention (``∂y_L/∂A_ℓ`` has the shape of
``A_ℓ``)::

    ∂y_L/∂y_ℓ = (∂y_L/∂y_{L−1}) (∂y_{L−1}/∂y_{L−2}) … (∂y_{ℓ+1}/∂y_ℓ)       a 1 × n_ℓ row
    ∂y_L/∂b_ℓ = diag(σ'(z_ℓ)) (∂y_L/∂y_ℓ)ᵀ,   ∂y_L/∂A_ℓ = diag(σ'(z_ℓ)) (∂y_L/∂y_ℓ)ᵀ y_{ℓ−1}ᵀ
    ∂y_L/∂b_L = 1,   ∂y_L/∂A_L = y_{L−1}ᵀ

Two ways to evaluate them: ``method="jacobian"`` builds every matrix above exactly as written
(``diag(σ')`` is an ``n_ℓ × n_ℓ`` matrix, the products are matrix products: O(n²) memory and
O(n³) time per layer); ``method="backprop"`` multiplies the row vector ``v = ∂y_L/∂y_ℓ`` from the
left and applies each Jacobian implicitly, ``v diag(σ'(z)) A = (v ⊙ σ'(z)) A``, so it never holds
more than a few vectors besides the gradients it returns (O(n) working memory, O(n²) time).

Multi-output networks (a classifier with ``n_L`` logits and a loss on top) use the same
recursion: :func:`mlp_backprop` starts it from the output cotangent ``g = ∂loss/∂y_L`` (a row of
length ``n_L``) instead of ``∂y_L/∂y_L = 1``, giving ``∂loss/∂b_L = g``,
``∂loss/∂A_L = gᵀ y_{L−1}ᵀ`` and ``v = g A_L``. The scalar-output formulas are the special case
``n_L = 1``, ``g = 1``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

import numpy as np
from matplotlib.figure import Figure as PlotFigure
from matplotlib.patches import Rectangle
from tqdm import tqdm

import mathdnn.functional as F
from mathdnn import nn
from mathdnn.check import FD, ROUNDING, Check, max_abs_difference, pytorch_checks
from mathdnn.command import Command, CommandError, add_mnist_dir, mnist_data
from mathdnn.command import seed as seed_flag
from mathdnn.command.memory import DEFAULT_MAX_MEMORY_GIB, add_max_memory, check_memory
from mathdnn.data import MNIST, DataLoader, flatten_scale, load_mnist
from mathdnn.engine import Tensor
from mathdnn.engine.gradcheck import central_differences
from mathdnn.exercise import (
    ActivationRef,
    Case,
    Counterexample,
    Exercise,
    Mismatch,
    Search,
    Student,
    Task,
    array_list,
    example_array,
    float_array,
    fmt,
    index_text,
    mismatch,
    replaced,
    show,
    simpler_values,
)
from mathdnn.functional import numerics
from mathdnn.functional.activation import ACTIVATIONS, ActivationFunction
from mathdnn.hw4 import figures
from mathdnn.hw4.inputs import Inputs, Progress
from mathdnn.hw4.page import Block, Figure, Formula, Heading, Table, Text
from mathdnn.nn.init import uniform_fan_in
from mathdnn.optim import SGD
from mathdnn.threads import single_threaded_blas
from mathdnn.training import BATCH_SIZE, EPOCHS, LR, SEED, Run, TrainingDiverged, fit

ArrayFn = Callable[[np.ndarray], np.ndarray]
#: An activation by its name in ``ACTIVATIONS``, or as a pair ``(σ, σ′)`` of array functions.
ActivationArg = str | tuple[ArrayFn, ArrayFn]


def _registered(fn: str, name: str) -> ActivationFunction:
    if name not in ACTIVATIONS:
        raise ValueError(f"{fn}: unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def resolve_activation(fn: str, activation: ActivationArg) -> tuple[ArrayFn, ArrayFn]:
    """``(sigma, sigma_prime)`` for an activation given by name or as that pair."""
    if isinstance(activation, str):
        registered = _registered(fn, activation)
        return registered.value, registered.slope
    if (
        isinstance(activation, tuple)
        and len(activation) == 2
        and all(callable(f) for f in activation)
    ):
        return activation
    raise ValueError(
        f"{fn}: activation must be a name ({', '.join(ACTIVATIONS)}) or a pair "
        f"(sigma, sigma_prime) of callables, got {activation!r}"
    )


def _float(a: Any) -> np.ndarray:
    a = np.asarray(a)
    return a if a.dtype.kind == "f" else a.astype(np.float64)


def _check_network(
    fn: str, As: Sequence[Any], bs: Sequence[Any], x: Any, scalar_output: bool = True
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """The arrays of a network whose shapes chain; ``x`` is ``(n_0,)`` or a batch ``(N, n_0)``."""
    As, bs, x = [_float(A) for A in As], [_float(b) for b in bs], _float(x)
    if len(As) == 0 or len(As) != len(bs):
        raise ValueError(
            f"{fn}: As and bs must be lists of the same length L >= 1, got {len(As)} and {len(bs)}"
        )
    if x.ndim not in (1, 2):
        raise ValueError(f"{fn}: x must have shape (n_0,) or (N, n_0), got {x.shape}")
    n_prev = x.shape[-1]
    for ell, (A, b) in enumerate(zip(As, bs, strict=True), start=1):
        if A.ndim != 2 or A.shape[1] != n_prev:
            raise ValueError(
                f"{fn}: shapes do not chain: A_{ell} must have shape (n_{ell}, {n_prev}) "
                f"to follow {'x' if ell == 1 else f'A_{ell - 1}'}, got {A.shape}"
            )
        if b.shape != (A.shape[0],):
            raise ValueError(
                f"{fn}: b_{ell} must have shape ({A.shape[0]},) to match A_{ell} of shape "
                f"{A.shape}, got {b.shape}"
            )
        n_prev = A.shape[0]
    if scalar_output and n_prev != 1:
        raise ValueError(
            f"{fn}: the output must be a scalar, n_L = 1, got n_L = {n_prev} "
            f"(A_{len(As)} of shape {As[-1].shape}); use mlp_backprop with grad_output for "
            "several outputs"
        )
    return As, bs, x


def _forward(
    As: list[np.ndarray], bs: list[np.ndarray], x: np.ndarray, sigma: ArrayFn
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(ys, zs)``: ``y_0 … y_L`` and the pre-activations ``z_1 … z_L`` (``zs[ℓ−1] = z_ℓ``).

    A batch is a stack of rows, ``z_ℓ = y_{ℓ−1} A_ℓᵀ + b_ℓ``, which is ``A_ℓ y_{ℓ−1} + b_ℓ`` for
    each row.
    """
    ys, zs = [x], []
    for ell, (A, b) in enumerate(zip(As, bs, strict=True), start=1):
        z = ys[-1] @ A.T + b
        zs.append(z)
        ys.append(z if ell == len(As) else sigma(z))
    return ys, zs


@single_threaded_blas()
def forward(As: Sequence[Any], bs: Sequence[Any], x: Any, activation: ActivationArg) -> list[Any]:
    """The list ``y_0 … y_L``.

    ``y_0 = x``, ``y_ℓ = σ(A_ℓ y_{ℓ−1} + b_ℓ)`` for ℓ = 1..L−1, ``y_L = A_L y_{L−1} + b_L``.

    ``x`` may be one input ``(n_0,)`` or a batch ``(N, n_0)`` (then each ``y_ℓ`` is ``(N, n_ℓ)``).
    Any ``n_L`` is accepted here; the Jacobian functions need ``n_L = 1``.
    """
    sigma, _ = resolve_activation("forward", activation)
    As, bs, x = _check_network("forward", As, bs, x, scalar_output=False)
    return _forward(As, bs, x, sigma)[0]


def _single_input(fn: str, x: np.ndarray) -> None:
    if x.ndim != 1:
        raise ValueError(f"{fn}: x must be one input of shape (n_0,), got {x.shape}")


@single_threaded_blas()
def layer_jacobians(
    As: Sequence[Any], bs: Sequence[Any], x: Any, activation: ActivationArg
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Part (a): for each layer ℓ = 1..L the explicit pair ``(∂y_ℓ/∂b_ℓ, ∂y_ℓ/∂y_{ℓ−1})``.

    ``∂y_ℓ/∂b_ℓ = diag(σ'(z_ℓ))`` (``n_ℓ × n_ℓ``) and ``∂y_ℓ/∂y_{ℓ−1} = diag(σ'(z_ℓ)) A_ℓ``
    (``n_ℓ × n_{ℓ−1}``) for ℓ < L; for ℓ = L the identity ``1`` (1 × 1) and ``A_L``.
    """
    return _layer_jacobians(*_single_network("layer_jacobians", As, bs, x, activation))


def _single_network(
    fn: str, As: Sequence[Any], bs: Sequence[Any], x: Any, activation: ActivationArg
) -> tuple[list[np.ndarray], list[np.ndarray], ArrayFn]:
    """``(As, zs, sigma_prime)`` of a checked scalar-output network at one input ``x``."""
    sigma, sigma_prime = resolve_activation(fn, activation)
    As, bs, x = _check_network(fn, As, bs, x)
    _single_input(fn, x)
    _, zs = _forward(As, bs, x, sigma)
    return As, zs, sigma_prime


def _layer_jacobians(
    As: list[np.ndarray], zs: list[np.ndarray], sigma_prime: ArrayFn
) -> list[tuple[np.ndarray, np.ndarray]]:
    pairs = []
    for ell, (A, z) in enumerate(zip(As, zs, strict=True), start=1):
        D = np.eye(len(z), dtype=z.dtype) if ell == len(As) else np.diag(sigma_prime(z))
        pairs.append((D, D @ A))  # the product exactly as written, D a full matrix
    return pairs


def _output_jacobians(pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """``∂y_L/∂y_ℓ`` for ℓ = 0..L by ``∂y_L/∂y_{ℓ−1} = (∂y_L/∂y_ℓ)(∂y_ℓ/∂y_{ℓ−1})``."""
    J = [np.eye(1, dtype=pairs[-1][1].dtype)]
    for _, dy_dyprev in reversed(pairs):
        J.append(J[-1] @ dy_dyprev)
    return J[::-1]


@single_threaded_blas()
def output_jacobians(
    As: Sequence[Any], bs: Sequence[Any], x: Any, activation: ActivationArg
) -> list[np.ndarray]:
    """``∂y_L/∂y_ℓ`` for ℓ = 0..L (index ℓ), each a ``1 × n_ℓ`` matrix.

    The chain rule as a product of part (a)'s matrices:
    ``∂y_L/∂y_ℓ = (∂y_L/∂y_{L−1})(∂y_{L−1}/∂y_{L−2})…(∂y_{ℓ+1}/∂y_ℓ)``; ``∂y_L/∂y_L = 1`` and
    ``∂y_L/∂y_0 = ∂y_L/∂x``.
    """
    pairs = _layer_jacobians(*_single_network("output_jacobians", As, bs, x, activation))
    return _output_jacobians(pairs)


def _gradients_jacobian(
    As: list[np.ndarray], ys: list[np.ndarray], zs: list[np.ndarray], sigma_prime: ArrayFn
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Part (b) with every matrix materialised, for one input."""
    pairs = _layer_jacobians(As, zs, sigma_prime)
    J = _output_jacobians(pairs)
    grads_A, grads_b = [], []
    for ell, (dy_db, _) in enumerate(pairs, start=1):
        col = dy_db @ J[ell].T  # diag(σ'(z_ℓ)) (∂y_L/∂y_ℓ)ᵀ, an n_ℓ × 1 column
        grads_b.append(col[:, 0])
        grads_A.append(col @ ys[ell - 1][None, :])  # ... y_{ℓ−1}ᵀ
    return grads_A, grads_b


def _backprop(
    As: list[np.ndarray],
    ys: list[np.ndarray],
    zs: list[np.ndarray],
    sigma_prime: ArrayFn,
    grad_output: np.ndarray,
    per_example: bool,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Row vectors (a batch of rows ``(N, n)``) times each Jacobian, from the output down.

    ``delta_ℓ = v ⊙ σ'(z_ℓ)`` is ``∂/∂b_ℓ`` (``v diag(σ'(z_ℓ))``), ``∂/∂A_ℓ = delta_ℓᵀ y_{ℓ−1}ᵀ``
    and ``v ← delta_ℓ A_ℓ`` is the cotangent of ``y_{ℓ−1}``.
    """
    L = len(As)
    grads_A: list[np.ndarray] = [np.empty(0)] * L
    grads_b: list[np.ndarray] = [np.empty(0)] * L
    v = grad_output
    for ell in range(L, 0, -1):
        delta = v if ell == L else v * sigma_prime(zs[ell - 1])
        y_prev = ys[ell - 1]
        if per_example:
            grads_A[ell - 1] = delta[:, :, None] * y_prev[:, None, :]
            grads_b[ell - 1] = delta
        else:
            grads_A[ell - 1] = delta.T @ y_prev  # Σ over the batch of the outer products
            grads_b[ell - 1] = delta.sum(axis=0)
        if ell > 1:
            v = delta @ As[ell - 1]
    return grads_A, grads_b


METHODS = ("backprop", "jacobian")
REDUCTIONS = ("sum", "none")


@single_threaded_blas()
def mlp_gradients(
    As: Sequence[Any],
    bs: Sequence[Any],
    x: Any,
    sigma: ActivationArg | ArrayFn,
    sigma_prime: ArrayFn | None = None,
    method: str = "backprop",
    reduction: str = "sum",
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Part (b): ``(grads_A, grads_b)``, ``grads_A[ℓ−1] = ∂y_L/∂A_ℓ``, ``grads_b[ℓ−1] = ∂y_L/∂b_ℓ``.

    ``sigma`` is an activation's name in ``ACTIVATIONS`` (or the pair ``(σ, σ')``), or ``σ`` as a
    function of arrays with ``sigma_prime`` its derivative ``σ'``.

    ``∂y_L/∂A_ℓ = diag(σ'(z_ℓ)) (∂y_L/∂y_ℓ)ᵀ y_{ℓ−1}ᵀ`` (shape of ``A_ℓ``),
    ``∂y_L/∂b_ℓ = diag(σ'(z_ℓ)) (∂y_L/∂y_ℓ)ᵀ``, and ``y_{L−1}ᵀ``, ``1`` for ℓ = L.

    ``method="jacobian"`` materialises ``diag(σ'(z_ℓ))``, the layer Jacobians and their products
    ``∂y_L/∂y_ℓ`` exactly as written; ``method="backprop"`` carries the row ``∂y_L/∂y_ℓ`` down
    and applies each Jacobian as ``(v ⊙ σ'(z_ℓ)) A_ℓ``, never building an ``n × n`` matrix.

    A batch ``x`` of shape ``(N, n_0)`` gives the gradients of ``Σ_n y_L(x_n)`` for
    ``reduction="sum"``, or per-example gradients with a leading axis ``N`` for
    ``reduction="none"``.
    """
    fn = "mlp_gradients"
    sigma, sigma_prime = resolve_activation(
        fn, sigma if sigma_prime is None else (sigma, sigma_prime)
    )
    As, bs, x = _check_network(fn, As, bs, x)
    if method not in METHODS:
        raise ValueError(f"{fn}: method must be one of {METHODS}, got {method!r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    X = x[None, :] if x.ndim == 1 else x
    if method == "backprop":
        ys, zs = _forward(As, bs, X, sigma)
        per_example = reduction == "none" and x.ndim == 2
        return _backprop(As, ys, zs, sigma_prime, np.ones_like(ys[-1]), per_example)
    per_row = []
    for row in X:
        ys, zs = _forward(As, bs, row, sigma)
        per_row.append(_gradients_jacobian(As, ys, zs, sigma_prime))
    if x.ndim == 1:
        return per_row[0]
    combine = np.stack if reduction == "none" else lambda gs: np.sum(gs, axis=0)
    L = len(As)
    return (
        [combine([g[0][i] for g in per_row]) for i in range(L)],
        [combine([g[1][i] for g in per_row]) for i in range(L)],
    )


@single_threaded_blas()
def mlp_backprop(
    As: Sequence[Any],
    bs: Sequence[Any],
    x: Any,
    activation: ActivationArg,
    grad_output: Any = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Backpropagation for any ``n_L``, started from the output cotangent ``g = ∂loss/∂y_L``.

    ``grad_output`` has the shape of ``y_L``: ``(n_L,)`` for one input, ``(N, n_L)`` for a batch;
    ``None`` means ``g = 1`` and needs ``n_L = 1`` (then this is ``mlp_gradients``). Returns
    ``(grads_A, grads_b)`` = ``(∂loss/∂A_ℓ, ∂loss/∂b_ℓ)`` for ℓ = 1..L, summed over the batch::

        delta_L = g,   delta_ℓ = (delta_{ℓ+1} A_{ℓ+1}) ⊙ σ'(z_ℓ),
        ∂loss/∂b_ℓ = Σ_n delta_ℓ,   ∂loss/∂A_ℓ = Σ_n delta_ℓᵀ y_{ℓ−1}ᵀ

    For softmax cross-entropy averaged over N examples, ``g = (softmax(y_L) − onehot) / N``
    (see :func:`softmax_cross_entropy`). The forward pass is recomputed here.
    """
    fn = "mlp_backprop"
    sigma, sigma_prime = resolve_activation(fn, activation)
    As, bs, x = _check_network(fn, As, bs, x, scalar_output=grad_output is None)
    X = x[None, :] if x.ndim == 1 else x
    ys, zs = _forward(As, bs, X, sigma)
    g = np.ones_like(ys[-1]) if grad_output is None else _float(grad_output)
    expected = ys[-1].shape[1:] if x.ndim == 1 else ys[-1].shape
    if g.shape != expected:
        raise ValueError(f"{fn}: grad_output must have the shape of y_L, {expected}, got {g.shape}")
    return _backprop(As, ys, zs, sigma_prime, g.reshape(ys[-1].shape), per_example=False)


def softmax_cross_entropy(logits: Any, labels: Any) -> tuple[float, np.ndarray]:
    """``(loss, grad_output)`` for ``loss = −(1/N) Σ_n log softmax(y_L^{(n)})[labels_n]``.

    ``grad_output = ∂loss/∂y_L = (softmax(y_L) − onehot(labels)) / N``, the cotangent that
    :func:`mlp_backprop` starts from. ``logits``: ``(N, C)``; ``labels``: ``(N,)`` ints in [0, C).
    """
    fn = "softmax_cross_entropy"
    logits, labels = _float(logits), np.asarray(labels)
    if logits.ndim != 2 or labels.shape != logits.shape[:1] or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{fn}: expected logits (N, C) and integer labels (N,), got shapes {logits.shape} "
            f"and {labels.shape} (dtype {labels.dtype})"
        )
    n = len(labels)
    log_p = numerics.log_softmax(logits, 1)
    grad = numerics.softmax_minus_onehot(log_p, labels)
    return float(-log_p[np.arange(n), labels].mean()), grad / np.asarray(n, dtype=logits.dtype)


def finite_difference_gradients(
    As: Sequence[Any],
    bs: Sequence[Any],
    x: Any,
    activation: ActivationArg,
    eps: float = 1e-6,
    max_entries: int | None = None,
    seed: int = 0,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``∂y_L/∂A_ℓ``, ``∂y_L/∂b_ℓ`` by central differences.

    Each entry ``θ_i`` of each parameter: ``(y_L(θ + εe_i) − y_L(θ − εe_i)) / 2ε``.

    Computed in float64 for one input ``x``. With ``max_entries`` only that many randomly chosen
    entries of each parameter are differenced (seeded by ``seed``); the others are NaN.
    """
    fn = "finite_difference_gradients"
    sigma, _ = resolve_activation(fn, activation)
    As, bs, x = _check_network(fn, As, bs, x)
    _single_input(fn, x)
    params = [a.astype(np.float64) for a in As] + [b.astype(np.float64) for b in bs]
    x = x.astype(np.float64)
    L = len(As)
    rng = np.random.default_rng(seed)

    def y_L() -> float:
        return float(_forward(params[:L], params[L:], x, sigma)[0][-1][0])

    grads = []
    for p in params:
        indices = None
        if max_entries is not None and p.size > max_entries:
            indices = rng.choice(p.size, size=max_entries, replace=False)
        grads.append(central_differences(y_L, p, indices, eps))
    return grads[:L], grads[L:]


@dataclass(frozen=True)
class GradientCost:
    """What one call of ``mlp_gradients`` cost: the best ``seconds`` of a few runs, the ``peak``
    bytes allocated during one run (tracemalloc), and the ``working`` bytes, the peak minus the
    bytes of the gradients returned (which both methods must hold)."""

    seconds: float
    peak: int
    working: int


def gradient_cost(
    n: int, method: str, depth: int = 4, repeats: int = 5, activation: ActivationArg = "tanh"
) -> GradientCost:
    """The cost of ``mlp_gradients(method=method)`` for an MLP ``n-n-…-n-1`` (``depth`` layers,
    float64) at one input: O(n³) time and O(n²) working memory per layer for ``"jacobian"``,
    O(n²) time and O(n) working memory for ``"backprop"``."""
    fn = "gradient_cost"
    if method not in METHODS:
        raise ValueError(f"{fn}: method must be one of {METHODS}, got {method!r}")
    for name, value in (("n", n), ("depth", depth), ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{fn}: {name} must be a positive int, got {value!r}")
    As, bs = init_mlp((n,) * depth + (1,), seed=0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal(n)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        mlp_gradients(As, bs, x, activation, method=method)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    try:
        grads_A, grads_b = mlp_gradients(As, bs, x, activation, method=method)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    returned = sum(g.nbytes for g in grads_A + grads_b)
    return GradientCost(best, peak, peak - returned)


# -------------------------------------------------------- in use: an MNIST classifier, two ways
# The network above with n_L = 10 logits and softmax cross-entropy on top,
# loss = −(1/N) Σ_n log softmax(y_L^{(n)})[label_n], trained by the same minibatch SGD twice:
# by mlp_backprop started from g = ∂loss/∂y_L = (softmax(y_L) − onehot)/N (no autodiff anywhere),
# and by the engine's autodiff on the same network built from Tensors. Both start from the same
# initialisation (A_ℓ, b_ℓ ~ U(±1/√n_{ℓ−1}), as torch.nn.Linear) and see the same batches (one
# seeded shuffle per epoch), so their parameters agree after every step up to rounding.


def _tensor_activation(fn: str, activation: str) -> Callable[[Tensor], Tensor]:
    """The primitive of the activation named ``activation`` (the autodiff path needs a name)."""
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(
            f"{fn}: activation must be one of {', '.join(ACTIVATIONS)} (the autodiff path needs a "
            f"name), got {activation!r}"
        )
    return ACTIVATIONS[activation].op


def tensor_mlp(As: Sequence[Tensor], bs: Sequence[Tensor], x: Tensor, activation: str) -> Tensor:
    """``y_L`` built from the engine's primitives: ``linear`` then the activation, L times."""
    sigma = _tensor_activation("tensor_mlp", activation)
    y = x
    for ell, (A, b) in enumerate(zip(As, bs, strict=True), start=1):
        y = F.linear(y, A, b)
        if ell < len(As):
            y = sigma(y)
    return y


def autodiff_gradients(
    As: Sequence[Any], bs: Sequence[Any], x: Any, activation: str
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``∂(Σ y_L)/∂A_ℓ``, ``∂(Σ y_L)/∂b_ℓ`` by the engine's reverse mode, in float64.

    For one input with ``n_L = 1`` these are ``mlp_gradients``' quantities.
    """
    A_t = [Tensor(np.asarray(A, dtype=np.float64), requires_grad=True) for A in As]
    b_t = [Tensor(np.asarray(b, dtype=np.float64), requires_grad=True) for b in bs]
    tensor_mlp(A_t, b_t, Tensor(np.asarray(x, dtype=np.float64)), activation).sum().backward()
    return [A.grad for A in A_t], [b.grad for b in b_t]


def init_mlp(
    layers: Sequence[int], seed: int = 0, dtype: Any = np.float32
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``A_ℓ, b_ℓ ~ U(−1/√n_{ℓ−1}, 1/√n_{ℓ−1})`` for ``layers = (n_0, …, n_L)``."""
    rng = np.random.default_rng(seed)
    As, bs = [], []
    for n_prev, n in itertools.pairwise(layers):
        As.append(uniform_fan_in(rng, (n, n_prev), n_prev, dtype))
        bs.append(uniform_fan_in(rng, n, n_prev, dtype))
    return As, bs


def mlp_module(
    As: Sequence[np.ndarray], bs: Sequence[np.ndarray], activation: str
) -> nn.Sequential:
    """The MLP as a network of ``mathdnn.nn`` layers, ``Linear`` then σ, L times (no σ after
    the last), whose parameters are copies of ``As``, ``bs``: the same function as
    ``tensor_mlp``, for the engine's autodiff and ``mathdnn.training``."""
    sigma = _tensor_activation("mlp_module", activation)
    layers: list[nn.Module] = []
    for ell, (A, b) in enumerate(zip(As, bs, strict=True), start=1):
        linear = nn.Linear(A.shape[1], A.shape[0], dtype=A.dtype)
        linear.weight = Tensor(np.array(A), requires_grad=True)
        linear.bias = Tensor(np.array(b), requires_grad=True)
        layers.append(linear)
        if ell < len(As):
            layers.append(nn.Elementwise(sigma, ACTIVATIONS[activation].monotone, activation))
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class MLPComparison:
    """Both training runs, step by step.

    ``losses_backprop[k]``, ``losses_autodiff[k]``: minibatch loss at step k (before the update);
    ``max_param_diff[k]``: ``max_ℓ max |θ_backprop − θ_autodiff|`` over all parameters after step k.
    """

    layers: tuple[int, ...]
    activation: str
    losses_backprop: np.ndarray
    losses_autodiff: np.ndarray
    max_param_diff: np.ndarray
    test_accuracy_backprop: float
    test_accuracy_autodiff: float


def _accuracy(
    As: list[np.ndarray], bs: list[np.ndarray], X: np.ndarray, labels: np.ndarray, activation: str
) -> float:
    return float(np.mean(forward(As, bs, X, activation)[-1].argmax(axis=1) == labels))


def compare_training_bytes(
    hidden: Sequence[int],
    n_train: int,
    n_test: int,
    batch_size: int = 64,
    epochs: int = 1,
    dtype: Any = np.float32,
    n_0: int = 784,
) -> int:
    """The memory :func:`compare_training` holds at its peak, from its arguments alone, so that a
    caller can refuse widths too large before anything is allocated.

    With ``P`` parameters, the largest matrix ``A_max``, widths ``n_1 … n_L`` (``n_L = 10``) and
    ``s`` bytes per number: the data flattened to ``s``-byte rows (and its float32 scaling, for a
    moment); ``A_max`` drawn in float64 before the cast; the parameters and the gradients of both
    paths, ``4 P`` numbers, and three temporaries of ``A_max`` (an update, the relative
    difference); the training set's order, once per epoch (int64); the activations of a
    minibatch for both paths (five arrays of ``n_ℓ`` per example), or those of the test set when
    the accuracy is measured. Checked against tracemalloc's peak in the tests.
    """
    s = np.dtype(dtype).itemsize
    widths = (*hidden, 10)
    shapes = list(zip(widths, (n_0, *hidden), strict=True))
    parameters = sum(n * (n_prev + 1) for n, n_prev in shapes)
    largest = max(n * n_prev for n, n_prev in shapes)
    data = s * (n_train + n_test) * n_0 + 4 * max(n_train, n_test) * n_0
    weights = s * (4 * parameters + 3 * largest) + 8 * largest
    activations = s * sum(widths) * max(5 * batch_size, n_test) + s * batch_size * n_0
    return data + weights + 8 * epochs * n_train + activations


def compare_training(
    hidden: Sequence[int] = (64,),
    activation: str = "relu",
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 0.1,
    seed: int = 0,
    dtype: Any = np.float32,
    tolerance: float | None = None,
    data: MNIST | None = None,
    progress: Callable[[], object] | None = None,
) -> MLPComparison:
    """Train the 784-hidden-10 classifier by backprop and by autodiff, in lockstep.

    The autodiff network (``mlp_module``) is trained by ``mathdnn.training.fit`` with minibatch
    SGD on the cross-entropy; after each of its steps, the same minibatch takes one step of the
    same SGD on the backprop copy, ``θ ← θ − lr · mlp_backprop(…)``, and the two are compared.
    Both start from ``init_mlp(layers, seed)``; the batches' order is drawn from ``seed + 1``.

    Raises ``AssertionError`` if the parameters of the two paths ever differ by more than
    ``tolerance`` (default 1e-5 for float32, 1e-10 for float64) times ``max(1, |parameter|)``:
    the two sum their products in different orders, whose rounding grows with the parameters.
    ``data`` defaults to ``load_mnist()`` (the bundled subset); ``progress()`` is called after
    each step.
    """
    fn = "compare_training"
    _tensor_activation(fn, activation)
    epochs = EPOCHS.validate(epochs, f"{fn}: epochs")
    batch_size = BATCH_SIZE.validate(batch_size, f"{fn}: batch_size")
    lr = LR.validate(lr, f"{fn}: lr")
    seed = SEED.validate(seed, f"{fn}: seed")
    if any(not isinstance(n, int) or n < 1 for n in hidden):
        raise ValueError(f"{fn}: hidden must be positive ints, got {tuple(hidden)!r}")
    dtype = np.dtype(dtype)
    if tolerance is None:
        tolerance = 1e-5 if dtype == np.float32 else 1e-10
    data = load_mnist() if data is None else data
    if len(data.train_labels) == 0 or len(data.test_labels) == 0:
        raise ValueError(
            f"{fn}: the data from {data.source} has {len(data.train_labels)} training and "
            f"{len(data.test_labels)} test images; both sets must be non-empty"
        )
    X_train = flatten_scale(data.train_images).astype(dtype)
    X_test = flatten_scale(data.test_images).astype(dtype)
    layers = (X_train.shape[1], *hidden, 10)

    As, bs = init_mlp(layers, seed, dtype)  # the backprop path's, updated in place
    model = mlp_module(As, bs, activation)
    linears = [m for m in model.children() if isinstance(m, nn.Linear)]
    loader = DataLoader(X_train, data.train_labels, batch_size, shuffle=True, generator=seed + 1)
    run = Run(model, F.cross_entropy, SGD(model.parameters(), lr=lr), loader)
    losses, diffs = [], []

    def backprop_step(_: float, X: np.ndarray, labels: np.ndarray) -> None:
        # A step that diverges overflows somewhere; it is reported by the check below.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            logits = forward(As, bs, X, activation)[-1]
            loss, grad_output = softmax_cross_entropy(logits, labels)
            grads_A, grads_b = mlp_backprop(As, bs, X, activation, grad_output)
            for p, g in zip(As + bs, grads_A + grads_b, strict=True):
                p -= dtype.type(lr) * g
        losses.append(loss)
        if not (math.isfinite(loss) and all(np.isfinite(p).all() for p in As + bs)):
            raise TrainingDiverged(
                f"at step {len(losses)} backprop's loss ({loss:g}) or parameters are not finite"
            )
        autodiff = [m.weight.data for m in linears] + [m.bias.data for m in linears]
        pairs = zip(As + bs, autodiff, strict=True)
        diff = max(float(np.max(np.abs(p - q) / np.maximum(1, np.abs(q)))) for p, q in pairs)
        diffs.append(diff)
        if not diff <= tolerance:
            raise AssertionError(
                f"{fn}: backprop and autodiff parameters differ by {diff:.3e} > {tolerance:.1e} "
                f"after step {len(diffs) - 1}"
            )
        if progress is not None:
            progress()

    try:
        fit(run, epochs, on_batch=backprop_step)
    except TrainingDiverged as err:
        raise TrainingDiverged(f"{fn}: {err}: lr={lr:g} is too large") from None
    autodiff_As = [m.weight.data for m in linears]
    autodiff_bs = [m.bias.data for m in linears]
    return MLPComparison(
        layers=layers,
        activation=activation,
        losses_backprop=np.array(losses),
        losses_autodiff=np.array(run.history.step_loss),
        max_param_diff=np.array(diffs),
        test_accuracy_backprop=_accuracy(As, bs, X_test, data.test_labels, activation),
        test_accuracy_autodiff=_accuracy(
            autodiff_As, autodiff_bs, X_test, data.test_labels, activation
        ),
    )


# --------------------------------------------------------------------------------- the figure
def layer_jacobians_png(
    As: list[np.ndarray], bs: list[np.ndarray], x: np.ndarray, activation: ActivationArg
) -> bytes:
    """Problem 6's matrices for one input ``x`` as heat maps, one column per layer ℓ: part (a)'s
    ``∂y_ℓ/∂b_ℓ = diag σ'(z_ℓ)`` and ``∂y_ℓ/∂y_{ℓ−1} = diag σ'(z_ℓ) A_ℓ``, and their product
    ``∂y_L/∂y_{ℓ−1}``, the row backprop carries. One colour scale for all, every entry written
    in its cell (meant for a small MLP)."""
    pairs = layer_jacobians(As, bs, x, activation)
    J = output_jacobians(As, bs, x, activation)
    L = len(pairs)
    rows = [
        [(f"∂y_{ell}/∂b_{ell}", db) for ell, (db, _) in enumerate(pairs, start=1)],
        [(f"∂y_{ell}/∂y_{ell - 1}", dy) for ell, (_, dy) in enumerate(pairs, start=1)],
        [(f"∂y_{L}/∂y_{ell - 1}", J[ell - 1]) for ell in range(1, L + 1)],
    ]
    limit = max(float(np.abs(m).max()) for row in rows for _, m in row) or 1.0
    # Every cell the same size: each panel spans the largest matrix of its row and column, and
    # draws its own in the top left corner.
    heights = [max(m.shape[0] for _, m in row) for row in rows]
    widths = [max(row[c][1].shape[1] for row in rows) for c in range(L)]
    cell = min(0.4, (figures.PAGE_PX / figures.DPI - 1.6) / sum(widths))
    fig = PlotFigure(
        figsize=(cell * sum(widths) + 1.6, cell * sum(heights) + 2.2), layout="constrained"
    )
    axes = np.asarray(
        fig.subplots(
            3, L, squeeze=False, gridspec_kw={"width_ratios": widths, "height_ratios": heights}
        )
    )
    shown = None
    for r, row in enumerate(rows):
        for c, (title, m) in enumerate(row):
            ax = axes[r, c]
            shown = ax.imshow(m, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.add_patch(
                Rectangle((-0.5, -0.5), m.shape[1], m.shape[0], fill=False, lw=0.8, clip_on=False)
            )
            ax.set_xlim(-0.5, widths[c] - 0.5)
            ax.set_ylim(heights[r] - 0.5, -0.5)
            ax.set_axis_off()
            ax.set_title(
                f"{title}  ({m.shape[0]}×{m.shape[1]})", fontsize=figures.SMALL, loc="left"
            )
            for (i, j), v in np.ndenumerate(m):
                light = abs(v) > 0.6 * limit
                ax.text(
                    j,
                    i,
                    f"{v:.2f}".replace("-", "−"),
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if light else "black",
                )
    bar = fig.colorbar(shown, ax=axes, shrink=0.6)
    bar.set_label("entry", fontsize=figures.SMALL)
    bar.ax.tick_params(labelsize=figures.SMALL)
    layers = "-".join(str(n) for n in (As[0].shape[1], *(A.shape[0] for A in As)))
    name = activation if isinstance(activation, str) else "σ"
    fig.suptitle(
        f"MLP {layers}, σ = {name}, one input. Rows: (a) ∂y_ℓ/∂b_ℓ = diag σ'(z_ℓ);\n"
        f"(a) ∂y_ℓ/∂y_ℓ−1 = diag σ'(z_ℓ) A_ℓ; (b) their product ∂y_L/∂y_ℓ−1",
        fontsize=figures.TEXT,
    )
    return figures.figure_png(fig)


# ------------------------------------------------------------------------------ the experiment
@dataclass(frozen=True)
class Measures:
    """What Problem 6 measures at a scale: the widths ``n`` of the MLP ``n-n-n-n-1`` whose
    gradients are timed, the runs of each timing, and the epochs of the MNIST classifier."""

    widths: tuple[int, ...]
    repeats: int
    mlp_epochs: int


MEASURES = {
    "full": Measures((32, 64, 128, 256, 512, 1024), 5, 1),
    "quick": Measures((32, 64, 128, 256), 2, 1),
}
#: The MLP drawn as heat maps, and the MNIST classifier's hidden layer and activation.
HEATMAP_LAYERS, HEATMAP_ACTIVATION = (8, 6, 4, 1), "tanh"
MLP_HIDDEN, MLP_ACTIVATION = (64,), "relu"


@dataclass(frozen=True)
class Backprop:
    """Problem 6 in the report: the heat maps' MLP, the cost of both methods at each width, and
    the MNIST classifier trained by backprop and by autodiff in lockstep (its seconds too)."""

    costs: dict[int, dict[str, GradientCost]]
    mlp: MLPComparison
    mlp_epochs: int
    mlp_seconds: float

    def numbers(self) -> dict[str, Any]:
        mlp = self.mlp
        return {
            "heatmap_mlp": {"layers": list(HEATMAP_LAYERS), "activation": HEATMAP_ACTIVATION},
            "costs": {
                "depth": 4,
                "activation": "tanh",
                "dtype": "float64",
                "rows": [
                    {"n": n, **{method: asdict(cost) for method, cost in costs.items()}}
                    for n, costs in self.costs.items()
                ],
            },
            "mnist_mlp": {
                "layers": list(mlp.layers),
                "activation": mlp.activation,
                "epochs": self.mlp_epochs,
                "steps": len(mlp.max_param_diff),
                "max_param_difference": float(mlp.max_param_diff.max()),
                "final_loss_backprop": float(mlp.losses_backprop[-1]),
                "final_loss_autodiff": float(mlp.losses_autodiff[-1]),
                "test_accuracy_backprop": mlp.test_accuracy_backprop,
                "test_accuracy_autodiff": mlp.test_accuracy_autodiff,
                "seconds": self.mlp_seconds,
            },
        }

    def figures(self) -> dict[str, bytes]:
        As, bs = init_mlp(HEATMAP_LAYERS, seed=0, dtype=np.float64)
        x = np.random.default_rng(1).standard_normal(HEATMAP_LAYERS[0])
        return {"p6_jacobians.png": layer_jacobians_png(As, bs, x, HEATMAP_ACTIVATION)}

    def page(self) -> list[Block]:
        mlp = self.numbers()["mnist_mlp"]
        rows = tuple(
            (
                str(n),
                _duration(c["jacobian"].seconds),
                _duration(c["backprop"].seconds),
                f"{c['jacobian'].seconds / c['backprop'].seconds:.3g}×",
                _size(c["jacobian"].working),
                _size(c["backprop"].working),
            )
            for n, c in self.costs.items()
        )
        difference = mlp["max_param_difference"]
        layers = "-".join(map(str, HEATMAP_LAYERS))
        return [
            Heading("Construction"),
            Formula(
                (
                    r"\text{(a)}\quad \frac{\partial y_\ell}{\partial b_\ell}"
                    r" = \operatorname{diag} \sigma'(z_\ell), \quad"
                    r" \frac{\partial y_\ell}{\partial y_{\ell-1}}"
                    r" = \operatorname{diag} \sigma'(z_\ell)\, A_\ell, \quad"
                    r" z_\ell = A_\ell y_{\ell-1} + b_\ell \quad (\ell \lt L);",
                    r"\frac{\partial y_L}{\partial b_L} = 1, \quad"
                    r" \frac{\partial y_L}{\partial y_{L-1}} = A_L",
                    r"\text{(b)}\quad \frac{\partial y_L}{\partial y_\ell}"
                    r" = \frac{\partial y_L}{\partial y_{L-1}}"
                    r" \frac{\partial y_{L-1}}{\partial y_{L-2}} \cdots"
                    r" \frac{\partial y_{\ell+1}}{\partial y_\ell}"
                    r" \quad (\text{a } 1 \times n_\ell \text{ row})",
                    r"\frac{\partial y_L}{\partial b_\ell} = \operatorname{diag} \sigma'(z_\ell)"
                    r" \left(\frac{\partial y_L}{\partial y_\ell}\right)^{\!\top}, \quad"
                    r" \frac{\partial y_L}{\partial A_\ell} = \operatorname{diag} \sigma'(z_\ell)"
                    r" \left(\frac{\partial y_L}{\partial y_\ell}\right)^{\!\top} y_{\ell-1}^\top,"
                    r" \quad \frac{\partial y_L}{\partial A_L} = y_{L-1}^\top",
                    r"\text{backprop: } v \leftarrow 1; \text{ for } \ell = L, \dots, 1:\;"
                    r" \delta = v \odot \sigma'(z_\ell) \;(\delta = v \text{ at } \ell = L),\;"
                    r" \frac{\partial y_L}{\partial b_\ell} = \delta,\;"
                    r" \frac{\partial y_L}{\partial A_\ell} = \delta^\top y_{\ell-1}^\top,\;"
                    r" v \leftarrow \delta A_\ell",
                )
            ),
            Text(
                "Code: ``mathdnn.hw4.p6_jacobians.mlp_gradients(As, bs, x, σ, σ′, "
                'method="jacobian" | "backprop")``.'
            ),
            Figure(
                "p6_jacobians.png",
                f"Every matrix of (a) and the products of (b) for an MLP {layers} with σ = "
                f"{HEATMAP_ACTIVATION} at one random input, entries written in their cells. The "
                "last row is what backprop carries from layer to layer.",
                "Heat maps of the layer Jacobians",
            ),
            Heading("Explicit Jacobians against backprop, measured in this run"),
            Table(
                "All gradients of an MLP n-n-n-n-1 (L = 4), σ = tanh, float64, one input: best "
                "time of a few runs; working memory = peak allocation minus the gradients "
                "returned",
                (
                    "width n",
                    "explicit time",
                    "backprop time",
                    "ratio",
                    "explicit working memory",
                    "backprop working memory",
                ),
                rows,
            ),
            Text(
                "The explicit products take $O(n^3)$ time and $O(n^2)$ memory per layer, backprop "
                "$O(n^2)$ time and $O(n)$ working memory."
            ),
            Heading("In use: an MNIST classifier trained by backprop alone"),
            Text(
                f"The MLP {'-'.join(map(str, mlp['layers']))} (σ = {mlp['activation']}, softmax "
                "cross-entropy) trained by SGD twice from the same start on the same batches: "
                "once with the backprop above, once with the engine's autodiff. After "
                f"{mlp['steps']} steps the largest parameter difference was "
                f"{f'{difference:.2e}'.replace('-', '−') if difference else '0'} (relative); "
                f"test accuracy {100 * mlp['test_accuracy_backprop']:.1f} % by backprop, "
                f"{100 * mlp['test_accuracy_autodiff']:.1f} % by autodiff "
                f"({mlp['seconds']:.1f} s)."
            ),
        ]


def _duration(seconds: float) -> str:
    return f"{1e3 * seconds:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def _size(n: float) -> str:
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def run(inputs: Inputs, progress: Progress) -> Backprop:
    """Problem 6 in the report: ``gradient_cost`` of both methods at each width of the scale, and
    ``compare_training`` on ``inputs.mnist``."""
    scale = MEASURES[inputs.scale]
    costs = {}
    for n in scale.widths:
        progress.note(f"timing the gradients of an MLP of width {n}")
        costs[n] = {
            method: gradient_cost(n, method, repeats=scale.repeats)
            for method in ("jacobian", "backprop")
        }
    progress.note(f"training 784-{'-'.join(map(str, MLP_HIDDEN))}-10 by backprop and by autodiff")
    # The lockstep's tolerance is the report's to show, not to stop on: the comparison is a
    # measurement here (the checks of Problem 6 hold the two to their tolerance).
    began = time.perf_counter()
    mlp = compare_training(
        hidden=MLP_HIDDEN,
        activation=MLP_ACTIVATION,
        epochs=scale.mlp_epochs,
        data=inputs.mnist,
        tolerance=math.inf,
    )
    return Backprop(costs, mlp, scale.mlp_epochs, time.perf_counter() - began)


# ----------------------------------------------------------------------------- the commands
#: ``mathdnn jacobians``: finite differences on at most this many random entries per parameter;
#: --show prints matrices up to this size in full; the tolerances of the formulas against each
#: other and against autodiff (float64), and against central differences with ε = 1e-6.
FD_MAX_ENTRIES = 200
SHOW_MAX_ENTRIES = 400
TOL_EXACT = 1e-10
TOL_FD = 1e-6
JACOBIANS_MAX_MEMORY_GIB = 1.0


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


def jacobians_bytes(layers: tuple[int, ...]) -> int:
    """The float64 memory ``mathdnn jacobians`` holds at its peak, from the widths alone.

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


def _activation(args: argparse.Namespace) -> str:
    if args.activation not in ACTIVATIONS:
        raise CommandError(
            f"unknown --activation {args.activation!r}; valid: {', '.join(ACTIVATIONS)}"
        )
    return args.activation


def _jacobians_arguments(parser: argparse.ArgumentParser) -> None:
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
        JACOBIANS_MAX_MEMORY_GIB,
        "--layers whose explicit Jacobians (n_ℓ × n_ℓ matrices in float64, held twice, plus the "
        "parameters and six gradients of their shape)",
    )
    parser.add_argument(
        "--show",
        action="store_true",
        help=f"print the Jacobians and gradients with at most {SHOW_MAX_ENTRIES} entries in full",
    )


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.nanmax(np.abs(a - b)))


def _show(name: str, matrix: np.ndarray) -> None:
    if matrix.size <= SHOW_MAX_ENTRIES:
        with np.printoptions(precision=4, suppress=True, linewidth=100):
            print(f"{name} =\n{matrix}")
    else:
        print(f"{name}: {matrix.shape}, {matrix.size} entries (not shown)")


def _run_jacobians(args: argparse.Namespace) -> int:
    layers = parse_layers(args.layers)
    activation = _activation(args)
    seed_flag("--seed", args.seed)
    check_memory(
        jacobians_bytes(layers),
        args.max_memory,
        f"--layers {','.join(map(str, layers))}",
        "use narrower layers (the explicit n_ℓ × n_ℓ Jacobians take most of it)",
    )
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


def _mlp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hidden", default="64", help="hidden widths, comma-separated (64)")
    parser.add_argument("--activation", default="relu", help="σ (default relu)")
    for setting, default in ((EPOCHS, 1), (BATCH_SIZE, 64), (LR, 0.1), (SEED, 0)):
        setting.add_argument(parser, default=default)
    parser.add_argument("--float64", action="store_true", help="train in float64 (else float32)")
    add_mnist_dir(parser)
    add_max_memory(
        parser,
        DEFAULT_MAX_MEMORY_GIB,
        "--hidden widths whose training (both paths' parameters and gradients, the data as "
        "floats, the activations of a batch and of the test set)",
    )


def _run_mlp(args: argparse.Namespace) -> int:
    try:
        hidden = tuple(int(h) for h in args.hidden.split(","))
    except ValueError:
        raise CommandError(f"--hidden must be comma-separated ints, got {args.hidden!r}") from None
    if min(hidden) < 1:
        raise CommandError(f"--hidden widths must be positive, got {args.hidden!r}")
    activation = _activation(args)
    for setting in (EPOCHS, BATCH_SIZE, LR, SEED):
        setting.validate(getattr(args, setting.name), setting.flag)
    data = mnist_data(args)
    dtype = np.float64 if args.float64 else np.float32
    need = compare_training_bytes(
        hidden, len(data.train_labels), len(data.test_labels), args.batch_size, args.epochs, dtype
    )
    check_memory(need, args.max_memory, f"--hidden {args.hidden}", "use narrower layers")
    steps = args.epochs * -(-len(data.train_labels) // args.batch_size)
    bar = tqdm(
        total=steps, desc="SGD steps", unit="step", leave=False, disable=not sys.stderr.isatty()
    )
    try:
        with bar:
            result = compare_training(
                hidden=hidden,
                activation=activation,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                seed=args.seed,
                dtype=dtype,
                data=data,
                progress=bar.update,
            )
    except TrainingDiverged as err:
        raise CommandError(f"training diverged: {err}; use a smaller --lr") from None
    except AssertionError as err:
        print(f"FAIL: {err}")
        return 1
    print(f"MLP {'-'.join(map(str, result.layers))}, σ = {result.activation}, {data!r}")
    print(f"{'path':<10} {'final loss':>10} {'test accuracy':>14}")
    for path, losses, acc in (
        ("backprop", result.losses_backprop, result.test_accuracy_backprop),
        ("autodiff", result.losses_autodiff, result.test_accuracy_autodiff),
    ):
        print(f"{path:<10} {losses[-1]:>10.4f} {acc:>14.3f}")
    print(
        f"{len(result.max_param_diff)} steps in {np.dtype(dtype).name}; max |θ_backprop − "
        f"θ_autodiff| over all steps: {result.max_param_diff.max():.2e}"
    )
    return 0


COMMANDS = (
    Command(
        "jacobians",
        help="Problem 6: MLP gradients from the layer Jacobians vs backprop, autodiff, FD",
        description="Build a random MLP y_L = A_L σ(… σ(A_1 x + b_1) …) + b_L with a scalar "
        "output, print its layer Jacobians' shapes and a table of max |difference| between the "
        "explicit Jacobian products, backprop, the engine's autodiff and finite differences for "
        "every ∂y_L/∂A_ℓ and ∂y_L/∂b_ℓ.",
        arguments=_jacobians_arguments,
        run=_run_jacobians,
    ),
    Command(
        "mlp",
        help="Problem 6: MNIST MLP trained by backprop (no autodiff) vs the engine's autodiff",
        description="Train a 784-hidden-10 MLP with softmax cross-entropy on MNIST (the bundled "
        "subset, or the full set from --mnist-dir or $MATHDNN_MNIST_DIR) twice in lockstep: "
        "gradients from mathdnn.hw4.p6_jacobians.mlp_backprop, and from the engine's autodiff. "
        "Prints both test accuracies and the max step-wise parameter difference.",
        arguments=_mlp_arguments,
        run=_run_mlp,
    ),
)


# ---------------------------------------------------------------------------------- the checks
Gradients = tuple[list[np.ndarray], list[np.ndarray]]


def checks(
    rng: np.random.Generator,
    *,
    mlp_gradients: Callable[..., Gradients] = mlp_gradients,
) -> list[Check]:
    """Problem 6's rows of ``mathdnn verify``: on a small MLP and one input, for every activation
    of the registry, ``mlp_gradients(As, bs, x, σ, σ')`` against the explicit Jacobian products
    (this module's ``method="jacobian"``), the engine's autodiff and finite differences; with
    tanh against ``torch.autograd``; and ``mlp_backprop`` started from ``(softmax − onehot)/N``
    against the autodiff of ``cross_entropy``. ``mlp_gradients`` is the construction under test
    (default: this module's backprop); it returns ``(grads_A, grads_b)``."""
    As, bs = init_mlp((6, 5, 4, 1), seed=int(rng.integers(2**31)), dtype=np.float64)
    x = rng.standard_normal(6)

    def construction(name: str) -> Gradients:
        activation = ACTIVATIONS[name]
        return mlp_gradients(As, bs, x, activation.value, activation.slope)

    references = {
        "explicit Jacobian products": (
            lambda name: _mlp_gradients(As, bs, x, name, method="jacobian"),
            ROUNDING,
        ),
        "engine autodiff": (lambda name: autodiff_gradients(As, bs, x, name), ROUNDING),
        "finite differences": (lambda name: finite_difference_gradients(As, bs, x, name), FD),
    }
    rows = []
    for against, (gradients, tolerance) in references.items():
        error = max(_gradients_differ(construction(name), gradients(name)) for name in ACTIVATIONS)
        title = f"backprop ∂y_L/∂A_ℓ, ∂y_L/∂b_ℓ, all {len(ACTIVATIONS)} activations"
        rows.append(Check("6", title, against, error, tolerance))
    # The classifier: n_L = 3 logits, softmax cross-entropy, a batch of 5.
    As_c, bs_c = init_mlp((6, 4, 3), seed=int(rng.integers(2**31)), dtype=np.float64)
    X, labels = rng.standard_normal((5, 6)), rng.integers(0, 3, 5)
    logits = forward(As_c, bs_c, X, "tanh")[-1]
    _, grad_output = softmax_cross_entropy(logits, labels)
    ours = mlp_backprop(As_c, bs_c, X, "tanh", grad_output)
    A_t = [Tensor(A, requires_grad=True) for A in As_c]
    b_t = [Tensor(b, requires_grad=True) for b in bs_c]
    F.cross_entropy(tensor_mlp(A_t, b_t, Tensor(X), "tanh"), labels).backward()
    error = _gradients_differ(ours, ([A.grad for A in A_t], [b.grad for b in b_t]))
    rows.append(
        Check(
            "6",
            "mlp_backprop from (softmax − onehot)/N",
            "autodiff of cross_entropy",
            error,
            ROUNDING,
        )
    )

    def compute(torch: ModuleType) -> list[float]:
        A_t = [torch.tensor(A, requires_grad=True) for A in As]
        b_t = [torch.tensor(b, requires_grad=True) for b in bs]
        y = torch.tensor(x)
        for ell, (A, b) in enumerate(zip(A_t, b_t, strict=True), start=1):
            y = A @ y + b if ell == len(A_t) else torch.tanh(A @ y + b)
        theirs = [g.numpy() for g in torch.autograd.grad(y.sum(), A_t + b_t)]
        L = len(A_t)
        return [_gradients_differ(construction("tanh"), (theirs[:L], theirs[L:]))]

    return rows + pytorch_checks("6", ["backprop, tanh (torch.autograd)"], ROUNDING, compute)


# This module's own gradients, the reference of the checks whatever construction they test.
_mlp_gradients = mlp_gradients


def _gradients_differ(ours: Gradients, theirs: Gradients) -> float:
    """``max |a − b|`` over two ``(grads_A, grads_b)``."""
    return max(
        max_abs_difference(a, b)
        for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1], strict=True)
    )


# ------------------------------------------------------------------------------- the grading
# mathdnn grade: a student's mlp_gradients(As, bs, x, sigma, sigma_prime) against this module's,
# on small networks with a scalar output shrunk to the smallest that fails. The child process
# hands the student's function the same σ and σ′ (ACTIVATIONS' value and slope, by name).
_GRADED_ACTIVATIONS = ("tanh", "sigmoid", "softplus")
_IDENTITY = (
    "∂y_L/∂A_ℓ = diag(σ′(z_ℓ)) (∂y_L/∂y_ℓ)ᵀ y_{ℓ−1}ᵀ and ∂y_L/∂b_ℓ = diag(σ′(z_ℓ)) (∂y_L/∂y_ℓ)ᵀ "
    "for ℓ < L, ∂y_L/∂A_L = y_{L−1}ᵀ, ∂y_L/∂b_L = 1, where z_ℓ = A_ℓ y_{ℓ−1} + b_ℓ and "
    "∂y_L/∂y_ℓ = A_L diag(σ′(z_{L−1})) A_{L−1} ⋯ diag(σ′(z_{ℓ+1})) A_{ℓ+1}"
)


def _network(rng: np.random.Generator, k: int) -> Case:
    L = int(rng.integers(1, 4))
    widths = [*(int(n) for n in rng.integers(1, 4, L)), 1]
    return {
        "As": [example_array(rng, (widths[l + 1], widths[l]), k) for l in range(L)],
        "bs": [example_array(rng, (widths[l + 1],), k) for l in range(L)],
        "x": example_array(rng, (widths[0],), k),
        "activation": _GRADED_ACTIVATIONS[k % len(_GRADED_ACTIVATIONS)],
    }


def _resized(A: np.ndarray, columns: int) -> np.ndarray:
    """``A`` with ``columns`` columns: cut, or padded with zeros."""
    out = np.zeros((A.shape[0], columns))
    n = min(columns, A.shape[1])
    out[:, :n] = A[:, :n]
    return out


def _shrink(case: Case) -> Iterator[Case]:
    """Networks with a hidden layer less, a unit less, or simpler entries."""
    As, bs, x = case["As"], case["bs"], case["x"]
    L = len(As)
    for l in range(L - 1):  # drop hidden layer l + 1: A_{l+2} now reads y_l
        new_As = [*As[:l], _resized(As[l + 1], As[l].shape[1]), *As[l + 2 :]]
        yield replaced(case, As=new_As, bs=[*bs[:l], *bs[l + 1 :]])
    for l in range(L):  # one unit fewer in y_l (l = 0: the input x)
        n = As[l].shape[1]
        if n > 1:
            new_As, new_bs = list(As), list(bs)
            new_As[l] = As[l][:, : n - 1]
            if l == 0:
                yield replaced(case, As=new_As, x=x[: n - 1])
            else:
                new_As[l - 1], new_bs[l - 1] = As[l - 1][: n - 1], bs[l - 1][: n - 1]
                yield replaced(case, As=new_As, bs=new_bs)
    for name in ("As", "bs"):
        for l, a in enumerate(case[name]):
            for simpler in simpler_values(a):
                yield replaced(case, **{name: [*case[name][:l], simpler, *case[name][l + 1 :]]})
    for simpler in simpler_values(x):
        yield replaced(case, x=simpler)


def _describe(case: Case) -> tuple[str, tuple[str, ...]]:
    return (
        "mlp_gradients(As, bs, x, sigma, sigma_prime)",
        (
            show("As", case["As"]),
            show("bs", case["bs"]),
            show("x", case["x"]),
            f"sigma = {case['activation']}, sigma_prime = its derivative",
        ),
    )


def _explain(case: Case, which: str, l: int, index: tuple[int, ...]) -> str:
    """What ``dA[l][index]`` or ``db[l][index]`` is: the derivative it stands for, then its
    formula with the network's numbers."""
    As, bs, x = case["As"], case["bs"], case["x"]
    activation = resolve_activation("grade_mlp_gradients", case["activation"])
    ys = forward(As, bs, x, activation)
    L, layer = len(As), l + 1
    symbol = f"∂y_L/∂{'A' if which == 'dA' else 'b'}_{layer}{index_text(index)}"
    if layer == L:
        return f"{symbol} = 1" if which == "db" else f"{symbol} = y_{L - 1}[{index[1]}]"
    i = index[0]
    slope = activation[1](As[l] @ ys[l] + bs[l])[i]
    back = output_jacobians(As, bs, x, activation)[layer][0, i]
    formula = f"σ′(z_{layer})[{i}]·(∂y_L/∂y_{layer})[{i}]"
    numbers = f"{fmt(slope)}·{fmt(back)}"
    if which == "dA":
        formula += f"·y_{layer - 1}[{index[1]}]"
        numbers += f"·{fmt(ys[l][index[1]])}"
    return f"{symbol} = {formula} = {numbers}"


def grade_mlp_gradients(student: Student, search: Search) -> Counterexample | None:
    """The smallest network on which the student's ``(dA, db)`` is not ``mlp_gradients``'s."""

    def holds(case: Case) -> Mismatch | None:
        As, bs, x, name = case["As"], case["bs"], case["x"], case["activation"]
        answer = student(As, bs, x, ActivationRef(name, "value"), ActivationRef(name, "slope"))
        L = len(As)
        dA, db = array_list(answer, 2, "(dA, db)")
        dA, db = array_list(dA, L, "dA, one per layer"), array_list(db, L, "db, one per layer")
        expected = mlp_gradients(As, bs, x, name)
        for which, got, want, params in (("dA", dA, expected[0], As), ("db", db, expected[1], bs)):
            for l in range(L):
                mine = float_array(got[l], params[l].shape, f"{which}[{l}]")
                index = mismatch(mine, want[l], mine.dtype)
                if index is not None:
                    return Mismatch(
                        f"your {which}[{l}]{index_text(index)} = {fmt(mine[index])}",
                        f"{fmt(want[l][index])} = {_explain(case, which, l, index)}",
                        _IDENTITY,
                    )
        return None

    def cases() -> Iterator[Case]:
        for k in itertools.count():
            yield _network(search.rng, k)

    return search.find(cases(), holds, _describe, _shrink)


EXERCISE = Exercise(
    "6",
    "backprop from the layer Jacobians",
    (
        Task(
            "mlp_gradients",
            "(\n    As: list[np.ndarray],\n    bs: list[np.ndarray],\n    x: np.ndarray,\n"
            "    sigma: Callable[[np.ndarray], np.ndarray],\n"
            "    sigma_prime: Callable[[np.ndarray], np.ndarray],\n"
            ") -> tuple[list[np.ndarray], list[np.ndarray]]",
            """\
Problem 6: backpropagation for an MLP, from the layer Jacobians.

The network: y_0 = x, y_ℓ = σ(A_ℓ y_{ℓ−1} + b_ℓ) for ℓ = 1..L−1, y_L = A_L y_{L−1} + b_L,
with a scalar output (n_L = 1). As and bs are lists of L float arrays: As[ℓ−1] = A_ℓ of
shape (n_ℓ, n_{ℓ−1}) and bs[ℓ−1] = b_ℓ of shape (n_ℓ,); x has shape (n_0,). sigma and
sigma_prime are σ and its derivative σ′, functions of an array, elementwise.

Return (dA, db): two lists of L arrays, dA[ℓ−1] = ∂y_L/∂A_ℓ (the shape of A_ℓ) and
db[ℓ−1] = ∂y_L/∂b_ℓ (the shape of b_ℓ), computed from the layer Jacobians
∂y_ℓ/∂y_{ℓ−1} = diag(σ′(A_ℓ y_{ℓ−1} + b_ℓ)) A_ℓ and ∂y_ℓ/∂b_ℓ = diag(σ′(A_ℓ y_{ℓ−1} + b_ℓ))
by the chain rule.
""",
            grade_mlp_gradients,
        ),
    ),
)
