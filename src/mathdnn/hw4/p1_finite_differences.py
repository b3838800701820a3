"""Problem 1: finite differences as one 3×3 convolution (edge detection).

For a grey image ``X ∈ R^{m×n}``, let ``Y[0, i, j] = X[i+1, j] − X[i, j]`` (the vertical
difference) and ``Y[1, i, j] = X[i, j+1] − X[i, j]`` (the horizontal one), pixels beyond the border
being 0. Is ``Y`` one convolution?

Answer: Yes, ``Y = conv2d(X, w, padding=1)`` with the ``(2, 1, 3, 3)`` filter
``finite_difference_filter()``. The zero padding supplies the missing ``X[m, :]`` and ``X[:, n]``,
so the last row of ``Y[0]`` is ``−X[m−1, j]``. The gradient magnitude ``√(Y0² + Y1²)`` is an edge
map.

``finite_differences`` computes ``Y``, ``gradient_magnitude`` the edge map; ``mathdnn edges`` draws
both on a photograph.
"""

from __future__ import annotations

import argparse
import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure as PlotFigure

import mathdnn.functional as F
from mathdnn.check import EXACT, Check, max_abs_difference
from mathdnn.command import Command
from mathdnn.command.images import (
    add_image_arguments,
    figure_bytes,
    load,
    output_png,
    read_header,
    write_figure,
)
from mathdnn.engine import Tensor, no_grad
from mathdnn.exercise import (
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
from mathdnn.functional import reference
from mathdnn.functional._checks import float_tensor
from mathdnn.hw4 import figures
from mathdnn.hw4.inputs import Inputs, Progress
from mathdnn.hw4.p3_grayscale import grey_image, luma_formula
from mathdnn.hw4.page import Block, Figure, Formula, Heading, Text, matrix, plain
from mathdnn.hw4.photo import sample_photo
from mathdnn.images import ImageHeader


def finite_difference_filter(dtype: Any = np.float64) -> np.ndarray:
    """The ``(2, 1, 3, 3)`` filter ``w`` of Problem 1 (0-based indices, as ``conv2d``)::

        w[0, 0] = [[0, 0, 0], [0, -1, 0], [0, 1, 0]]    # Y0[i, j] = X[i+1, j] − X[i, j]
        w[1, 0] = [[0, 0, 0], [0, -1, 1], [0, 0, 0]]    # Y1[i, j] = X[i, j+1] − X[i, j]

    Use it with ``conv2d(X, w, padding=1)``: the zero padding makes the out-of-range
    ``X[m, :]`` and ``X[:, n]`` equal 0, so the last row of ``Y0`` is ``−X[m−1, j]``.
    """
    w = np.zeros((2, 1, 3, 3), dtype=dtype)
    w[0, 0, 1, 1], w[0, 0, 2, 1] = -1, 1
    w[1, 0, 1, 1], w[1, 0, 1, 2] = -1, 1
    return w


def finite_differences(x: Tensor | np.ndarray) -> Tensor:
    """``Y = conv2d(X, w, padding=1)`` with ``w = finite_difference_filter()``.

    ``x``: ``(N, 1, H, W)`` or ``(1, H, W)``; ``Y``: ``(N, 2, H, W)`` (or ``(2, H, W)``), channel 0
    the vertical derivative ``∂/∂i``, channel 1 the horizontal one ``∂/∂j``.
    """
    x = float_tensor("finite_differences", "x", x)
    if x.ndim not in (3, 4) or x.shape[-3] != 1:
        raise ValueError(
            f"finite_differences: x must have shape (N, 1, H, W) or (1, H, W), got {x.shape}"
        )
    return F.conv2d(x, finite_difference_filter(x.dtype), padding=1)


def gradient_magnitude(y: Tensor | np.ndarray) -> Tensor:
    """The edge map ``√(Y0² + Y1²)`` of the two derivative maps ``Y = finite_differences(X)``."""
    y = float_tensor("gradient_magnitude", "y", y)
    if y.ndim not in (3, 4) or y.shape[-3] != 2:
        raise ValueError(
            f"gradient_magnitude: y must have shape (N, 2, H, W) or (2, H, W), got {y.shape}"
        )
    return (y * y).sum(dim=-3) ** 0.5


def difference_formula(x: np.ndarray) -> np.ndarray:
    """Problem 1's definition on arrays ``(..., H, W)``: ``Y0 = X[i+1, j] − X[i, j]``,
    ``Y1 = X[i, j+1] − X[i, j]``, a zero row / column appended, stacked before the last two
    axes. The formula the convolution is checked against."""
    return np.stack([np.diff(x, axis=-2, append=0.0), np.diff(x, axis=-1, append=0.0)], axis=-3)


# --------------------------------------------------------------------------------- the figure
def edges_figure(image: np.ndarray, name: str) -> PlotFigure:
    """Problem 1 on ``image`` (``(H, W)`` or ``(H, W, 3)`` in [0, 1], greyscaled first): the grey
    image, ``∂/∂i``, ``∂/∂j`` and the gradient magnitude."""
    grey = grey_image(image)
    with no_grad():
        y = finite_differences(grey[None, None])
        magnitude = gradient_magnitude(y).data[0]
    d_i, d_j = y.data[0]
    h, w = grey.shape
    limit = max(float(np.percentile(np.abs(y.data), figures.PERCENTILE)), 1e-12)
    figure, axes = figures.image_grid(2, 2, 0.87 * h / w)  # the colourbars take width, not height
    figures.show(axes[0], grey, f"{name} ({w}×{h}), greyscale")
    for ax, d, title in (
        (axes[1], d_i, "∂/∂i: X[i+1, j] − X[i, j]"),
        (axes[2], d_j, "∂/∂j: X[i, j+1] − X[i, j]"),
    ):
        shown = figures.show(ax, d, title, cmap="RdBu_r", vmin=-limit, vmax=limit)
        figure.colorbar(shown, ax=ax, shrink=0.8)
    top = max(float(np.percentile(magnitude, figures.PERCENTILE)), 1e-12)
    shown = figures.show(
        axes[3], magnitude, "gradient magnitude √(Y0² + Y1²)", cmap="magma", vmin=0, vmax=top
    )
    figure.colorbar(shown, ax=axes[3], shrink=0.8)
    figure.suptitle("Problem 1: finite differences as one 3×3 convolution (padding 1)")
    return figure


# ------------------------------------------------------------------------------ the experiment
@dataclass(frozen=True)
class EdgeMaps:
    """Problem 1 in the report: the filter, and the photograph its edge maps are drawn on."""

    image: np.ndarray
    name: str

    def numbers(self) -> dict[str, Any]:
        return {"filter": finite_difference_filter().tolist(), "padding": 1}

    def figures(self) -> dict[str, bytes]:
        return {"p1_edges.png": figures.figure_png(edges_figure(self.image, self.name))}

    def page(self) -> list[Block]:
        w = finite_difference_filter()
        h, width = self.image.shape[:2]
        return [
            Heading("Construction"),
            Formula((rf"w[0, 0] = {matrix(w[0, 0])} \qquad w[1, 0] = {matrix(w[1, 0])}",)),
            Formula(
                (
                    r"Y[l, i, j] = \sum_{a, b} w[l, 0, a, b]\, X'[i + a, j + b]"
                    r" \qquad (X' \text{: } X \text{ padded by } 1)",
                    r"Y[0, i, j] = -X[i, j] + X[i+1, j], \qquad Y[1, i, j] = -X[i, j] + X[i, j+1]",
                )
            ),
            Text("Code: ``mathdnn.hw4.p1_finite_differences.finite_differences(X)``."),
            Figure(
                "p1_edges.png",
                f"{plain(self.name)} ({width}×{h}) in grey, the two output channels of the one "
                "convolution (red: brighter below / to the right, blue: darker; colour range "
                "clipped at the 99.5th percentile) and the gradient magnitude.",
                "The photograph in grey, its vertical and horizontal differences, its edge map",
                narrow=True,
            ),
        ]


def run(inputs: Inputs, progress: Progress) -> EdgeMaps:
    """Problem 1 in the report: its filter, and its edge maps of the photograph."""
    return EdgeMaps(inputs.image, inputs.image_name)


# --------------------------------------------------------------------------------- the command
def image_bytes(header: ImageHeader) -> int:
    """The memory ``edges_figure`` of the image ``header`` describes needs beyond the program's
    start-up (``mathdnn edges``, ``mathdnn hw4 --image``): 112 bytes per pixel of a grey image,
    136 of a colour one (``figure_bytes``)."""
    return figure_bytes(header, (112, 136))


def _run_edges(args: argparse.Namespace) -> int:
    out = output_png(args.output)
    path, header = read_header(args)
    figure = edges_figure(load(args, path, header, image_bytes(header)), path.name)
    write_figure(out, figure)
    return 0


COMMANDS = (
    Command(
        "edges",
        help="Problem 1: image derivatives and edge map by one 3×3 convolution",
        description="Convolve the (greyscale) image with the (2, 1, 3, 3) finite-difference "
        "filter of Problem 1, padding 1: Y0 = X[i+1, j] − X[i, j], Y1 = X[i, j+1] − X[i, j]. "
        "Writes the input, both derivative maps and the gradient magnitude √(Y0² + Y1²).",
        arguments=functools.partial(add_image_arguments, default_output="edges.png"),
        run=_run_edges,
    ),
)


# ---------------------------------------------------------------------------------- the checks
FilterConstruction = Callable[[], Any]


def checks(
    rng: np.random.Generator,
    *,
    finite_difference_filter: FilterConstruction = finite_difference_filter,
) -> list[Check]:
    """Problem 1's rows of ``mathdnn verify``: ``conv2d(X, w, padding=1)`` with
    ``w = finite_difference_filter()`` against the definition (``difference_formula``) on the grey
    photograph and on random images, and the engine's convolution with that ``w`` against the loop
    oracle. ``finite_difference_filter`` is the construction under test (default: this module's);
    it must return a ``(2, 1, 3, 3)`` array."""
    w = np.asarray(finite_difference_filter(), dtype=np.float64)
    _, rgb = sample_photo()
    grey = luma_formula(rgb)
    with no_grad():
        photo_error = max_abs_difference(
            F.conv2d(grey, w, padding=1).data, difference_formula(grey[:, 0])
        )
        errors, loop_errors = [], []
        for _ in range(3):
            x = rng.standard_normal((2, 1, *rng.integers(1, 12, 2)))
            y = F.conv2d(x, w, padding=1).data
            errors.append(max_abs_difference(y, difference_formula(x[:, 0])))
            loop = reference.conv2d(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)
            loop_errors.append(max_abs_difference(y, loop))
    return [
        Check("1", "conv2d(X, w, padding=1) = differences, photo", "formula", photo_error, EXACT),
        Check("1", "conv2d(X, w, padding=1) = differences, random", "formula", max(errors), EXACT),
        Check("1", "conv2d(X, w, padding=1), random", "loop oracle", max(loop_errors), EXACT),
    ]


# ------------------------------------------------------------------------------- the grading
# mathdnn grade: a student's finite_difference_filter(), used as Y = conv2d(X, w, padding=1),
# against the definition difference_formula, on images shrunk to the smallest that fails.
_IDENTITY = (
    "Y[0, i, j] = X[i+1, j] − X[i, j] and Y[1, i, j] = X[i, j+1] − X[i, j], pixels beyond the "
    "border being 0"
)


def _pixel(X: np.ndarray, i: int, j: int) -> str:
    return fmt(X[i, j]) if i < X.shape[0] and j < X.shape[1] else "0"


def _explain(X: np.ndarray, index: tuple[int, ...]) -> str:
    """``Y[l, i, j]``'s formula with ``X``'s values, saying which pixel lies beyond the border."""
    l, i, j = index
    i2, j2 = (i + 1, j) if l == 0 else (i, j + 1)
    text = f"X[{i2}, {j2}] − X[{i}, {j}] = {_pixel(X, i2, j2)} − {_pixel(X, i, j)}"
    if i2 >= X.shape[0] or j2 >= X.shape[1]:
        text += f" (X[{i2}, {j2}] is beyond the border: 0)"
    return text


def grade_finite_difference_filter(student: Student, search: Search) -> Counterexample | None:
    """The smallest image ``X`` on which the student's filter, used as
    ``conv2d(X, w, padding=1)``, is not Problem 1's ``Y`` (``None`` if the search finds none)."""
    w = float_array(student(), (2, 1, 3, 3), "the filter w")

    def cases() -> Iterator[Case]:
        for k in itertools.count():
            yield {"X": example_array(search.rng, search.rng.integers(1, 7, 2), k)}

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
            _IDENTITY,
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


EXERCISE = Exercise(
    "1",
    "finite differences as a 3×3 convolution",
    (
        Task(
            "finite_difference_filter",
            "() -> np.ndarray",
            """\
Problem 1: finite differences as one 3×3 convolution.

For an image X of m×n pixels define Y of shape (2, m, n):

    Y[0, i, j] = X[i+1, j] − X[i, j]     (the vertical derivative)
    Y[1, i, j] = X[i, j+1] − X[i, j]     (the horizontal derivative)

where the pixels beyond the border (X[m, :] and X[:, n]) are 0. Return the filter w, a float
array of shape (2, 1, 3, 3) (output channels, input channels, 3, 3), such that
conv2d(X, w, padding=1) = Y.
""",
            grade_finite_difference_filter,
            examples=200,
        ),
    ),
)
