"""Problem 2 graded: a student's ``avg_pool_filter(k, channels)``, used as
``conv2d(X, w, stride=k, groups=channels)``, against ``avg_pool2d(X, k)``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

import mathdnn.functional as F
from mathdnn.engine import Tensor, no_grad
from mathdnn.grade.exercise import (
    Case,
    Counterexample,
    Exercise,
    Mismatch,
    Raised,
    Search,
    Student,
    Task,
    WrongAnswer,
    example_array,
    float_array,
    fmt,
    index_text,
    mismatch,
    replaced,
    show,
    simpler_values,
    smaller_ints,
    smaller_shapes,
)

IDENTITY = "Y[c, i, j] = (1/k²) Σ_{a<k, b<k} X[c, k·i + a, k·j + b] (avg_pool2d(X, k))"


def _explain(X: np.ndarray, k: int, index: tuple[int, ...]) -> str:
    c, i, j = index
    block = X[c, k * i : k * i + k, k * j : k * j + k]
    return (
        f"(1/{k * k})·(sum of X[{c}, {k * i}:{k * i + k}, {k * j}:{k * j + k}] = "
        f"{fmt(block.sum())})"
    )


def check_avg_pool_filter(student: Student, search: Search) -> Counterexample | None:
    answers: dict[tuple[int, int], Any] = {}

    def filter_for(k: int, channels: int) -> np.ndarray:
        """The student's filter for ``(k, channels)``, asked once."""
        if (k, channels) not in answers:
            try:
                answers[k, channels] = float_array(
                    student(k, channels), (channels, 1, k, k), "the filter w"
                )
            except (WrongAnswer, Raised) as err:
                answers[k, channels] = err
        answer = answers[k, channels]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def cases() -> Iterator[Case]:
        for n in itertools.count():
            k, channels = int(search.rng.integers(1, 5)), int(search.rng.integers(1, 4))
            shape = (channels, *search.rng.integers(k, 3 * k + 1, 2))
            yield {"k": k, "channels": channels, "X": example_array(search.rng, shape, n)}

    def holds(case: Case) -> Mismatch | None:
        k, X = case["k"], case["X"]
        w = filter_for(k, case["channels"])
        with no_grad():
            Y = F.conv2d(Tensor(X[None]), w.astype(np.float64), stride=k, groups=len(X)).data[0]
            expected = F.avg_pool2d(Tensor(X[None]), k).data[0]
        index = mismatch(Y, expected, w.dtype)
        if index is None:
            return None
        return Mismatch(
            f"your Y{index_text(index)} = {fmt(Y[index])}",
            f"{fmt(expected[index])} = {_explain(X, k, index)}",
            IDENTITY,
        )

    def describe(case: Case) -> tuple[str, tuple[str, ...]]:
        k, channels = case["k"], case["channels"]
        return (
            f"avg_pool_filter({k}, {channels}), used as Y = conv2d(X, w, stride={k}, "
            f"groups={channels})",
            (show("X", case["X"]),),
        )

    def shrink(case: Case) -> Iterator[Case]:
        k, channels, X = case["k"], case["channels"], case["X"]
        for smaller in smaller_ints(k, 1):
            yield replaced(case, k=smaller)
        for smaller in smaller_ints(channels, 1):
            yield replaced(case, channels=smaller, X=X[:smaller])
        for smaller in smaller_shapes(X, (channels, k, k)):
            yield replaced(case, X=smaller)
        for simpler in simpler_values(X):
            yield replaced(case, X=simpler)

    return search.find(cases(), holds, describe, shrink)


STATEMENT = """\
Problem 2: average pooling is a convolution.

The k×k average pool of X (C channels, H×W pixels, no padding, stride k):

    Y[c, i, j] = (1/k²) Σ_{a<k, b<k} X[c, k·i + a, k·j + b]

Return the filter w, a float array of shape (channels, 1, k, k), such that
conv2d(X, w, stride=k, groups=channels) = avg_pool2d(X, k) for every X with `channels`
channels (groups=channels: each output channel sees its own input channel only).
"""

EXERCISE = Exercise(
    "2",
    "average pooling as a convolution",
    (
        Task(
            "avg_pool_filter",
            "(k: int, channels: int) -> np.ndarray",
            STATEMENT,
            check_avg_pool_filter,
            examples=60,
        ),
    ),
)
