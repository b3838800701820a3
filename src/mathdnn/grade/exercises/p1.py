"""Problem 1 graded: a student's ``finite_difference_filter()``, used as
``Y = conv2d(X, w, padding=1)``, against the definition ``difference_formula``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

import mathdnn.functional as F
from mathdnn.engine import Tensor, no_grad
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
    index_text,
    mismatch,
    show,
    shrink_arrays,
)
from mathdnn.hw4.p1_finite_differences import difference_formula

IDENTITY = (
    "Y[0, i, j] = X[i+1, j] − X[i, j] and Y[1, i, j] = X[i, j+1] − X[i, j], pixels beyond the "
    "border being 0"
)


def _pixel(X: np.ndarray, i: int, j: int) -> str:
    inside = i < X.shape[0] and j < X.shape[1]
    return fmt(X[i, j]) if inside else "0"


def _explain(X: np.ndarray, index: tuple[int, ...]) -> str:
    """``Y[l, i, j]``'s formula with ``X``'s values, saying which pixel lies beyond the border."""
    l, i, j = index
    i2, j2 = (i + 1, j) if l == 0 else (i, j + 1)
    text = f"X[{i2}, {j2}] − X[{i}, {j}] = {_pixel(X, i2, j2)} − {_pixel(X, i, j)}"
    if i2 >= X.shape[0] or j2 >= X.shape[1]:
        text += f" (X[{i2}, {j2}] is beyond the border: 0)"
    return text


def check_finite_difference_filter(student: Student, search: Search) -> Counterexample | None:
    w = float_array(student(), (2, 1, 3, 3), "the filter w")

    def cases() -> Iterator[Case]:
        for k in itertools.count():
            shape = search.rng.integers(1, 7, 2)
            yield {"X": example_array(search.rng, shape, k)}

    def holds(case: Case) -> Mismatch | None:
        X = case["X"]
        with no_grad():
            Y = F.conv2d(Tensor(X[None, None]), w.astype(np.float64), padding=1).data[0]
        expected = difference_formula(X)
        index = mismatch(Y, expected, w.dtype)
        if index is None:
            return None
        return Mismatch(
            f"your Y{index_text(index)} = {fmt(Y[index])}",
            f"{fmt(expected[index])} = {_explain(X, index)}",
            IDENTITY,
        )

    return search.find(
        cases(),
        holds,
        lambda case: (
            "finite_difference_filter(), used as Y = conv2d(X, w, padding=1)",
            (show("X", case["X"]),),
        ),
        lambda case: shrink_arrays(case, {"X": (1, 1)}),
    )


STATEMENT = """\
Problem 1: finite differences as one 3×3 convolution.

For an image X of m×n pixels define Y of shape (2, m, n):

    Y[0, i, j] = X[i+1, j] − X[i, j]     (the vertical derivative)
    Y[1, i, j] = X[i, j+1] − X[i, j]     (the horizontal derivative)

where the pixels beyond the border (X[m, :] and X[:, n]) are 0. Return the filter w, a float
array of shape (2, 1, 3, 3) (output channels, input channels, 3, 3), such that
conv2d(X, w, padding=1) = Y (conv2d as in torch.nn.functional: cross-correlation, 0-based).
"""

EXERCISE = Exercise(
    "1",
    "finite differences as a 3×3 convolution",
    (
        Task(
            "finite_difference_filter",
            "() -> np.ndarray",
            STATEMENT,
            check_finite_difference_filter,
            examples=200,
        ),
    ),
)
