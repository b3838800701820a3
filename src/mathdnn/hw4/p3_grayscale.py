"""Problem 3: RGB to greyscale is a 1×1 convolution.

Is the luma ``Y[i, j] = 0.299·X[0, i, j] + 0.587·X[1, i, j] + 0.114·X[2, i, j]`` (ITU-R BT.601) a
convolution?

Result: yes, with the ``1×1`` filter ``w[0, :, 0, 0] = (0.299, 0.587, 0.114)``
(``grayscale_filter``): a ``1×1`` convolution is the same linear map of the channels at every
pixel. ``grayscale`` computes it; ``mathdnn gray`` draws it on a photo, within one grey level of
Pillow's ``convert("L")``, which rounds the same weights to integers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import mathdnn.functional as F
from mathdnn.engine import Tensor
from mathdnn.functional._checks import float_tensor

# ITU-R BT.601 luma weights of (R, G, B), the ones Pillow's convert("L") uses.
GRAYSCALE_WEIGHTS = (0.299, 0.587, 0.114)


def grayscale_filter(dtype: Any = np.float64) -> np.ndarray:
    """The ``(1, 3, 1, 1)`` filter ``w[0, :, 0, 0] = (0.299, 0.587, 0.114)`` of Problem 3.

    ``conv2d(X, w)`` is ``Y[i, j] = 0.299·X[0, i, j] + 0.587·X[1, i, j] + 0.114·X[2, i, j]``: a
    ``1×1`` convolution is the same linear map of the channels at every pixel.
    """
    return np.array(GRAYSCALE_WEIGHTS, dtype=dtype).reshape(1, 3, 1, 1)


def grayscale(x: Tensor | np.ndarray) -> Tensor:
    """``conv2d(X, grayscale_filter())``: ``(N, 3, H, W) → (N, 1, H, W)`` (or unbatched)."""
    x = float_tensor("grayscale", "x", x)
    if x.ndim not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"grayscale: x must have shape (N, 3, H, W) or (3, H, W), got {x.shape}")
    return F.conv2d(x, grayscale_filter(x.dtype))


def luma_formula(x: np.ndarray) -> np.ndarray:
    """``0.299 R + 0.587 G + 0.114 B`` on arrays ``(N, 3, H, W) → (N, 1, H, W)``: Problem 3's
    definition, the formula the convolution is checked against."""
    return np.einsum("nchw,c->nhw", x, GRAYSCALE_WEIGHTS)[:, None]
