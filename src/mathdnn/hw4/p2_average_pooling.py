"""Problem 2: average pooling is a convolution.

The ``k×k`` average pool of ``X ∈ R^{C×m×n}``, ``Y[c, i, j] = (1/k²) Σ_{a<k, b<k}
X[c, k·i + a, k·j + b]``: is it a convolution?

Result: yes, with stride ``k``, no padding and the filter ``1/k²`` applied to each channel on its
own (``avg_pool_filter``): depthwise, ``(C, 1, k, k)`` with ``groups = C``, or dense,
``(C, C, k, k)`` with ``w[c, c'] = δ(c, c')/k²``. ``average_pool`` computes it; ``mathdnn pool``
draws it on a photo, and it agrees with ``avg_pool2d`` and with Pillow's ``Image.reduce(k)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import mathdnn.functional as F
from mathdnn.engine import Tensor
from mathdnn.functional._checks import float_tensor, positive_int


def avg_pool_filter(
    k: int, channels: int, dense: bool = False, dtype: Any = np.float64
) -> np.ndarray:
    """The filter that turns ``conv2d`` into the ``k×k`` average pool of Problem 2.

    Depthwise (default): ``w ∈ R^{C×1×k×k}``, ``w = 1/k²`` everywhere, used with
    ``conv2d(X, w, stride=k, groups=C)``. Dense (``dense=True``): ``w ∈ R^{C×C×k×k}`` with
    ``w[c, c', :, :] = δ(c, c')/k²``, used with ``conv2d(X, w, stride=k)``. Both give
    ``Y[c, i, j] = (1/k²) Σ_{a<k, b<k} X[c, k·i + a, k·j + b]``.
    """
    k = positive_int("avg_pool_filter", "k", k)
    channels = positive_int("avg_pool_filter", "channels", channels)
    if not dense:
        return np.full((channels, 1, k, k), 1.0 / k**2, dtype=dtype)
    w = np.zeros((channels, channels, k, k), dtype=dtype)
    w[np.arange(channels), np.arange(channels)] = 1.0 / k**2
    return w


def average_pool(x: Tensor | np.ndarray, k: int, dense: bool = False) -> Tensor:
    """The ``k×k`` average pool as one convolution with ``avg_pool_filter(k, C, dense)``.

    ``x``: ``(N, C, H, W)`` or ``(C, H, W)``; the output has ``⌊H/k⌋ × ⌊W/k⌋`` pixels (the last
    ``H mod k`` rows and ``W mod k`` columns fall outside every window, as in ``avg_pool2d``).
    """
    x = float_tensor("average_pool", "x", x)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"average_pool: x must have shape (N, C, H, W) or (C, H, W), got {x.shape}"
        )
    k = positive_int("average_pool", "k", k)
    if k > min(x.shape[-2:]):
        raise ValueError(
            f"average_pool: k={k} is larger than the image ({x.shape[-2]}×{x.shape[-1]} pixels)"
        )
    c = x.shape[-3]
    w = avg_pool_filter(k, c, dense, x.dtype)
    return F.conv2d(x, w, stride=k, groups=1 if dense else c)
