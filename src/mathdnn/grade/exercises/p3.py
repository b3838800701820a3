"""Problem 3 graded: a student's ``grayscale_filter()``, used as ``conv2d(X, w)``, against the
luma formula ``luma_formula``."""

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
from mathdnn.hw4.p3_grayscale import GRAYSCALE_WEIGHTS, luma_formula

IDENTITY = "Y[i, j] = 0.299·X[0, i, j] + 0.587·X[1, i, j] + 0.114·X[2, i, j] (ITU-R BT.601 luma)"


def _explain(X: np.ndarray, i: int, j: int) -> str:
    terms = " + ".join(f"{w}·{fmt(X[c, i, j])}" for c, w in enumerate(GRAYSCALE_WEIGHTS))
    names = " + ".join(f"{w}·X[{c}, {i}, {j}]" for c, w in enumerate(GRAYSCALE_WEIGHTS))
    return f"{names} = {terms}"


def check_grayscale_filter(student: Student, search: Search) -> Counterexample | None:
    w = float_array(student(), (1, 3, 1, 1), "the filter w")

    def cases() -> Iterator[Case]:
        for k in itertools.count():
            yield {"X": example_array(search.rng, (3, *search.rng.integers(1, 5, 2)), k)}

    def holds(case: Case) -> Mismatch | None:
        X = case["X"]
        with no_grad():
            Y = F.conv2d(Tensor(X[None]), w.astype(np.float64)).data[0, 0]
        expected = luma_formula(X[None])[0, 0]
        index = mismatch(Y, expected, w.dtype)
        if index is None:
            return None
        return Mismatch(
            f"your Y{index_text(index)} = {fmt(Y[index])}",
            f"{fmt(expected[index])} = {_explain(X, *index)}",
            IDENTITY,
        )

    return search.find(
        cases(),
        holds,
        lambda case: ("grayscale_filter(), used as Y = conv2d(X, w)", (show("X", case["X"]),)),
        lambda case: shrink_arrays(case, {"X": (3, 1, 1)}),
    )


STATEMENT = """\
Problem 3: RGB to greyscale as a 1×1 convolution.

The luma of an RGB image X (channels R, G, B = X[0], X[1], X[2]) is

    Y[i, j] = 0.299·X[0, i, j] + 0.587·X[1, i, j] + 0.114·X[2, i, j]

Return the filter w, a float array of shape (1, 3, 1, 1), such that conv2d(X, w) = Y.
"""

EXERCISE = Exercise(
    "3",
    "RGB to grey as a 1×1 convolution",
    (Task("grayscale_filter", "() -> np.ndarray", STATEMENT, check_grayscale_filter, 200),),
)
