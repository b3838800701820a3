"""Problem 4 graded: a student's ``maxpool_counterexample(activation)``, which must be ``None``
for an activation that commutes with max pooling and otherwise an input on which it does not,
judged by the problem's own check ``check_commutes``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import mathdnn.functional as F
from mathdnn.engine import Tensor, no_grad
from mathdnn.functional.activation import ACTIVATIONS
from mathdnn.grade.exercise import (
    Case,
    Counterexample,
    Exercise,
    Mismatch,
    Search,
    Student,
    Task,
    WrongAnswer,
    describe,
    float_array,
    fmt,
    literal,
)
from mathdnn.hw4.p4_maxpool_commutes import check_commutes

ArrayFn = Callable[[np.ndarray], np.ndarray]

# The activations a student is asked about: σ as a NumPy function, and whether it is
# non-decreasing (then σ(maxpool(X)) = maxpool(σ(X)) for every X).
ACTIVATION_NAMES = ("relu", "sigmoid", "tanh", "softplus", "leaky_relu")
FUNCTIONS: dict[str, tuple[ArrayFn, bool]] = {
    **{name: (ACTIVATIONS[name].value, ACTIVATIONS[name].monotone) for name in ACTIVATION_NAMES},
    "square": (np.square, False),
    "sin": (np.sin, False),
    "neg": (np.negative, False),
    "abs": (np.abs, False),
    "exp": (np.exp, True),
}
IDENTITY = "σ(maxpool(X)) = maxpool(σ(X)) for every X exactly when σ is non-decreasing"


def _sigma(name: str) -> Callable[[Tensor], Tensor]:
    value = FUNCTIONS[name][0]
    return lambda x: Tensor(value(x.data))


def _not_monotone(name: str) -> str:
    """Two integers ``a < b`` with ``σ(a) > σ(b)``, the smallest there are: why ``σ`` is not
    non-decreasing."""
    value = FUNCTIONS[name][0]
    pairs = sorted(
        ((a, b) for a in range(-3, 4) for b in range(a + 1, 4)),
        key=lambda pair: (max(map(abs, pair)), pair),
    )
    for a, b in pairs:
        if value(float(a)) > value(float(b)):
            return (
                f"{name}({fmt(a)}) = {fmt(value(float(a)))} > {name}({fmt(b)}) = "
                f"{fmt(value(float(b)))} although {fmt(a)} < {fmt(b)}"
            )
    raise AssertionError(f"{name} is non-decreasing on the integers −3..3")


def _sigma_of_pool(name: str, X: np.ndarray) -> np.ndarray:
    """``σ(maxpool(X))`` (2×2, stride 2) of a ``(1, 1, H, W)`` input, as ``(H/2, W/2)``."""
    with no_grad(), np.errstate(all="ignore"):
        return _sigma(name)(F.max_pool2d(Tensor(X), 2)).data[0, 0]


def check_maxpool_counterexample(student: Student, search: Search) -> Counterexample | None:
    def holds(case: Case) -> Mismatch | None:
        name = case["activation"]
        monotone = FUNCTIONS[name][1]
        answer = student(name)
        if monotone:
            if answer is None:
                return None
            if isinstance(answer, np.ndarray) and answer.ndim == 4:
                both = _sigma_of_pool(name, answer.astype(np.float64))
                sides = f"; on your X both sides are {literal(both)}"
            else:
                sides = ""
            return Mismatch(
                f"your answer: {describe(answer)}",
                f"None: {name} is non-decreasing, so no X breaks the identity{sides}",
                IDENTITY,
            )
        if answer is None:
            return Mismatch(
                "your answer: None",
                f"an X with σ(maxpool(X)) ≠ maxpool(σ(X)), σ = {name}: {_not_monotone(name)}",
                IDENTITY,
            )
        X = float_array(answer, (1, 1, None, None), "an input X", accept_integers=True)
        if min(X.shape[2:]) < 2:
            raise WrongAnswer(
                Mismatch(
                    f"an input of shape {X.shape}: no 2×2 window fits in it",
                    "an input X of shape (1, 1, H, W) with H, W ≥ 2",
                )
            )
        X = X.astype(np.float64)
        if not check_commutes(_sigma(name), X, 2).holds:
            return None
        return Mismatch(
            f"on your X, σ(maxpool(X)) = maxpool(σ(X)) = {literal(_sigma_of_pool(name, X))}",
            f"an X with σ(maxpool(X)) ≠ maxpool(σ(X)), σ = {name} (maxpool: 2×2, stride 2)",
            IDENTITY,
        )

    def call(case: Case) -> tuple[str, tuple[str, ...]]:
        return f"maxpool_counterexample({case['activation']!r})", ()

    return search.find(({"activation": name} for name in FUNCTIONS), holds, call)


STATEMENT = """\
Problem 4: max pooling commutes with non-decreasing activations.

Let maxpool be the 2×2 max pool with stride 2 and σ an activation applied elementwise. For
`activation`, one of "relu", "sigmoid", "tanh", "softplus", "leaky_relu" (slope 0.01),
"square" (x²), "sin", "neg" (−x), "abs" (|x|), "exp":

- if σ(maxpool(X)) = maxpool(σ(X)) for every X, return None;
- otherwise return an input X, a float array of shape (1, 1, H, W) with H, W ≥ 2, on which
  σ(maxpool(X)) ≠ maxpool(σ(X)).
"""

EXERCISE = Exercise(
    "4",
    "max pooling and activations",
    (
        Task(
            "maxpool_counterexample",
            "(activation: str) -> np.ndarray | None",
            STATEMENT,
            check_maxpool_counterexample,
            examples=None,
        ),
    ),
)
