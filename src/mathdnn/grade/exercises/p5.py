"""Problem 5 graded: a student's ``logistic_loss``, ``sum_of_squares_loss`` and
``sum_of_squares_grad`` against the problem's own losses and the VJP of ``sum_of_squares_loss``,
on the margin convention ``z = aᵀx + b``, ``y ∈ {−1, +1}``."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np

from mathdnn.engine import Tensor
from mathdnn.grade.exercise import (
    Case,
    Counterexample,
    Exercise,
    Mismatch,
    Search,
    Student,
    Task,
    example_array,
    float_array,
    fmt,
    mismatch,
    number,
    replaced,
    show,
    simpler_values,
    smaller_ints,
)
from mathdnn.hw4.p5_losses import logistic_loss, sum_of_squares_loss

LOGISTIC = "L(z, y) = (1/N) Σ_i log(1 + exp(−y_i z_i))"
SUM_OF_SQUARES = (
    "L(z, y) = (1/N) Σ_i ℓ(z_i, y_i), ℓ(z, y) = ‖P(y) − (σ(−z), σ(z))‖² = "
    "½(1−y)[(1−σ(−z))² + σ(z)²] + ½(1+y)[σ(−z)² + (1−σ(z))²] = 2σ(−yz)²"
)
GRADIENT = "∂L/∂z_i = −4 y_i σ(−y_i z_i)² σ(y_i z_i) / N, the derivative of " + SUM_OF_SQUARES


def _cases(search: Search) -> Iterator[Case]:
    for k in itertools.count():
        n = int(search.rng.integers(1, 7))
        z = example_array(search.rng, (n,), k) * (1 if k % 2 == 0 else 3)
        yield {"z": z, "y": search.rng.choice([-1.0, 1.0], n)}


def _shrink(case: Case) -> Iterator[Case]:
    z, y = case["z"], case["y"]
    for n in smaller_ints(len(z), 1):
        yield replaced(case, z=z[:n], y=y[:n])
    if len(z) > 1:
        yield replaced(case, z=z[1:], y=y[1:])
    for simpler in simpler_values(z):
        yield replaced(case, z=simpler)
    for i in np.flatnonzero(y < 0):
        yield replaced(case, y=np.where(np.arange(len(y)) == i, 1.0, y))


def _describe(name: str) -> Callable[[Case], tuple[str, tuple[str, ...]]]:
    return lambda case: (f"{name}(z, y)", (show("z", case["z"]), show("y", case["y"])))


def _terms(case: Case, term: Callable[[float, float], str]) -> str:
    z, y = case["z"], case["y"]
    return f"(1/{len(z)})·(" + " + ".join(term(zi, yi) for zi, yi in zip(z, y, strict=True)) + ")"


def _loss_check(
    name: str, reference: Callable[..., Tensor], identity: str, term: Callable[[float, float], str]
) -> Callable[[Student, Search], Counterexample | None]:
    def check(student: Student, search: Search) -> Counterexample | None:
        def holds(case: Case) -> Mismatch | None:
            got = number(student(case["z"], case["y"]), "the mean loss")
            expected = reference(case["z"], case["y"]).item()
            if mismatch(np.float64(got), np.float64(expected)) is None:
                return None
            return Mismatch(
                f"your {name}(z, y) = {fmt(got)}",
                f"{fmt(expected)} = {_terms(case, term)}",
                identity,
            )

        return search.find(_cases(search), holds, _describe(name), _shrink)

    return check


check_logistic_loss = _loss_check(
    "logistic_loss", logistic_loss, LOGISTIC, lambda z, y: f"log(1 + exp({fmt(-y * z)}))"
)
check_sum_of_squares_loss = _loss_check(
    "sum_of_squares_loss", sum_of_squares_loss, SUM_OF_SQUARES, lambda z, y: f"2σ({fmt(-y * z)})²"
)


def check_sum_of_squares_grad(student: Student, search: Search) -> Counterexample | None:
    def holds(case: Case) -> Mismatch | None:
        z, y = case["z"], case["y"]
        got = float_array(student(z, y), z.shape, "∂L/∂z")
        zt = Tensor(z, requires_grad=True)
        sum_of_squares_loss(zt, y).backward()
        expected = zt.grad
        index = mismatch(got, expected, got.dtype)
        if index is None:
            return None
        (i,) = index
        u = fmt(-y[i] * z[i])
        return Mismatch(
            f"your ∂L/∂z[{i}] = {fmt(got[i])}",
            f"{fmt(expected[i])} = −4·({fmt(y[i])})·σ({u})²·σ({fmt(y[i] * z[i])}) / {len(z)}",
            GRADIENT,
        )

    return search.find(_cases(search), holds, _describe("sum_of_squares_grad"), _shrink)


CONVENTION = """\
The model f(x) = (σ(−z), σ(z)), with the score z = aᵀx + b and σ the sigmoid, is compared
with P(y) for labels y ∈ {−1, +1}: P(−1) = (1, 0), P(+1) = (0, 1). z and y are float arrays
of shape (N,).
"""

EXERCISE = Exercise(
    "5",
    "KL and sum-of-squares losses",
    (
        Task(
            "logistic_loss",
            "(z: np.ndarray, y: np.ndarray) -> float",
            "Problem 5: the KL objective of logistic regression.\n\n"
            + CONVENTION
            + """
Return the KL objective, the mean logistic loss

    L(z, y) = (1/N) Σ_i D_KL(P(y_i) ‖ f(x_i)) = (1/N) Σ_i log(1 + exp(−y_i z_i)).
""",
            check_logistic_loss,
        ),
        Task(
            "sum_of_squares_loss",
            "(z: np.ndarray, y: np.ndarray) -> float",
            "Problem 5: the sum-of-squares objective.\n\n"
            + CONVENTION
            + """
Return the mean sum-of-squares loss

    L(z, y) = (1/N) Σ_i ‖P(y_i) − f(x_i)‖².
""",
            check_sum_of_squares_loss,
        ),
        Task(
            "sum_of_squares_grad",
            "(z: np.ndarray, y: np.ndarray) -> np.ndarray",
            "Problem 5: the gradient of the sum-of-squares objective.\n\n"
            + CONVENTION
            + """
Return ∂L/∂z, the gradient of the mean sum-of-squares loss L(z, y) with respect to the
scores, a float array of shape (N,).
""",
            check_sum_of_squares_grad,
        ),
    ),
)
