"""Problem 1: finite differences as one 3×3 convolution (edge detection).

For an image ``X ∈ R^{m×n}``, ``Y[0, i, j] = X[i+1, j] − X[i, j]`` (the vertical derivative) and
``Y[1, i, j] = X[i, j+1] − X[i, j]`` (the horizontal one), pixels beyond the border being 0. Is
``Y`` a convolution?

Result: yes, ``Y = conv2d(X, w, padding=1)`` with the ``(2, 1, 3, 3)`` filter
``finite_difference_filter()``; the zero padding supplies the missing ``X[m, :]`` and ``X[:, n]``.
``√(Y0² + Y1²)`` (``gradient_magnitude``) is the edge map; ``mathdnn edges`` draws both on a photo.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import mathdnn.functional as F
from mathdnn.engine import Tensor
from mathdnn.functional._checks import float_tensor


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
