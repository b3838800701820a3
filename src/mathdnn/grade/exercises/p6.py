"""Problem 6 graded: a student's ``mlp_gradients(As, bs, x, sigma, sigma_prime)`` against the
problem's own ``mlp_gradients`` (backprop from the layer Jacobians), on small networks with a
scalar output."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from mathdnn.grade.exercise import (
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
from mathdnn.grade.protocol import ActivationRef
from mathdnn.hw4.p6_jacobians import forward, mlp_gradients, output_jacobians, resolve_activation

# The activations the networks use, by their names in mathdnn's registry (the child process
# gives the student's function the same σ and σ′).
ACTIVATION_NAMES = ("tanh", "sigmoid", "softplus")
IDENTITY = (
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
        "activation": ACTIVATION_NAMES[k % len(ACTIVATION_NAMES)],
    }


def _resized(A: np.ndarray, columns: int) -> np.ndarray:
    """``A`` with ``columns`` columns: cut, or padded with zeros."""
    out = np.zeros((A.shape[0], columns))
    n = min(columns, A.shape[1])
    out[:, :n] = A[:, :n]
    return out


def _shrink(case: Case) -> Iterator[Case]:
    As, bs, x = case["As"], case["bs"], case["x"]
    L = len(As)
    for l in range(L - 1):  # drop hidden layer l + 1: A_{l+2} now reads y_l
        n_in = As[l].shape[1]
        new_As = [*As[:l], _resized(As[l + 1], n_in), *As[l + 2 :]]
        yield replaced(case, As=new_As, bs=[*bs[:l], *bs[l + 1 :]])
    for l in range(L):  # one unit fewer in y_l (l = 0: the input x)
        n = As[l].shape[1]
        if n > 1:
            new_As = list(As)
            new_As[l] = As[l][:, : n - 1]
            new_bs = list(bs)
            if l == 0:
                yield replaced(case, As=new_As, x=x[: n - 1])
            else:
                new_As[l - 1] = As[l - 1][: n - 1]
                new_bs[l - 1] = bs[l - 1][: n - 1]
                yield replaced(case, As=new_As, bs=new_bs)
    for name in ("As", "bs"):
        for l, a in enumerate(case[name]):
            for simpler in simpler_values(a):
                yield replaced(case, **{name: [*case[name][:l], simpler, *case[name][l + 1 :]]})
    for simpler in simpler_values(x):
        yield replaced(case, x=simpler)


def _describe(case: Case) -> tuple[str, tuple[str, ...]]:
    name = case["activation"]
    return (
        "mlp_gradients(As, bs, x, sigma, sigma_prime)",
        (
            show("As", case["As"]),
            show("bs", case["bs"]),
            show("x", case["x"]),
            f"sigma = {name}, sigma_prime = its derivative",
        ),
    )


def _explain(case: Case, which: str, l: int, index: tuple[int, ...]) -> str:
    """What ``dA[l][index]`` or ``db[l][index]`` is: the derivative it stands for, then its
    formula with the network's numbers."""
    As, bs, x = case["As"], case["bs"], case["x"]
    activation = resolve_activation("grade", case["activation"])
    ys = forward(As, bs, x, activation)
    L, layer = len(As), l + 1
    param = f"A_{layer}" if which == "dA" else f"b_{layer}"
    symbol = f"∂y_L/∂{param}{index_text(index)}"
    if layer == L:
        if which == "db":
            return f"{symbol} = 1"
        j = index[1]
        return f"{symbol} = y_{L - 1}[{j}]"
    i = index[0]
    slope = activation[1](As[l] @ ys[l] + bs[l])[i]
    back = output_jacobians(As, bs, x, activation)[layer][0, i]
    formula = f"σ′(z_{layer})[{i}]·(∂y_L/∂y_{layer})[{i}]"
    numbers = f"{fmt(slope)}·{fmt(back)}"
    if which == "dA":
        j = index[1]
        formula += f"·y_{layer - 1}[{j}]"
        numbers += f"·{fmt(ys[l][j])}"
    return f"{symbol} = {formula} = {numbers}"


def check_mlp_gradients(student: Student, search: Search) -> Counterexample | None:
    def holds(case: Case) -> Mismatch | None:
        As, bs, x, name = case["As"], case["bs"], case["x"], case["activation"]
        answer = student(As, bs, x, ActivationRef(name, "value"), ActivationRef(name, "slope"))
        L = len(As)
        dA, db = array_list(answer, 2, "(dA, db)")
        dA, db = array_list(dA, L, "dA, one per layer"), array_list(db, L, "db, one per layer")
        expected = mlp_gradients(As, bs, x, resolve_activation("grade", name))
        for which, got, want, params in (("dA", dA, expected[0], As), ("db", db, expected[1], bs)):
            for l in range(L):
                mine = float_array(got[l], params[l].shape, f"{which}[{l}]")
                index = mismatch(mine, want[l], mine.dtype)
                if index is not None:
                    name_l = f"{which}[{l}]{index_text(index)}"
                    return Mismatch(
                        f"your {name_l} = {fmt(mine[index])}",
                        f"{fmt(want[l][index])} = {_explain(case, which, l, index)}",
                        IDENTITY,
                    )
        return None

    def cases() -> Iterator[Case]:
        for k in itertools.count():
            yield _network(search.rng, k)

    return search.find(cases(), holds, _describe, _shrink)


STATEMENT = """\
Problem 6: backpropagation for an MLP, from the layer Jacobians.

The network: y_0 = x, y_ℓ = σ(A_ℓ y_{ℓ−1} + b_ℓ) for ℓ = 1..L−1, y_L = A_L y_{L−1} + b_L, with
a scalar output (n_L = 1). As and bs are lists of L float arrays: As[ℓ−1] = A_ℓ of shape
(n_ℓ, n_{ℓ−1}) and bs[ℓ−1] = b_ℓ of shape (n_ℓ,); x has shape (n_0,). sigma and sigma_prime
are σ and its derivative σ′, functions of an array, elementwise.

Return (dA, db): two lists of L arrays, dA[ℓ−1] = ∂y_L/∂A_ℓ (the shape of A_ℓ) and
db[ℓ−1] = ∂y_L/∂b_ℓ (the shape of b_ℓ), computed from the layer Jacobians
∂y_ℓ/∂y_{ℓ−1} = diag(σ′(A_ℓ y_{ℓ−1} + b_ℓ)) A_ℓ and ∂y_ℓ/∂b_ℓ = diag(σ′(A_ℓ y_{ℓ−1} + b_ℓ))
by the chain rule.
"""

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
            STATEMENT,
            check_mlp_gradients,
        ),
    ),
)
