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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure as PlotFigure

import mathdnn.functional as F
from mathdnn.check import EXACT, Check, max_abs_difference
from mathdnn.engine import Tensor, no_grad
from mathdnn.functional import reference
from mathdnn.functional._checks import float_tensor
from mathdnn.hw4 import figures
from mathdnn.hw4.inputs import Inputs, Progress
from mathdnn.hw4.p3_grayscale import grey_image, luma_formula
from mathdnn.hw4.page import Block, Figure, Formula, Heading, Text, matrix, plain
from mathdnn.hw4.photo import sample_photo


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
