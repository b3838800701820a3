"""Problem 5: the score ``z = aᵀx + b`` and the two objectives for a label ``y ∈ {−1, +1}``.

The model ``f_{a,b}(x) = (σ(−z), σ(z))`` is compared with the one-hot ``P(y)``, ``P(−1) = (1, 0)``,
``P(+1) = (0, 1)``, in two ways:

- KL (logistic regression): ``D_KL(P(y) ‖ f(x)) = log(1 + exp(−y z))``;
- sum of squares: ``‖P(y) − f(x)‖² = ℓ(z, y) = 2 σ(−y z)²``.

Both are primitives: one forward and its VJP side by side, averaged over the batch, written with
the only exponential ``exp(−|·|) ∈ (0, 1]`` so they stay finite, with finite gradients, for
``|z|`` up to 1e6 in float32 and float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mfdnn.engine import Tensor, as_tensor
from mfdnn.functional._checks import float_tensor

__all__ = [
    "logistic_loss",
    "predict",
    "sum_of_squares_long_form",
    "sum_of_squares_loss",
]


def _margin(fn: str, z: Any, y: Any) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """Check the arguments; return ``z`` as a tensor, ``y`` in its dtype and ``u = −y z``."""
    z = float_tensor(fn, "z", z)
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    if y.shape != z.shape:
        raise ValueError(f"{fn}: y must have the shape of z {z.shape}, got {y.shape}")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: y must hold the numbers -1 or +1, got dtype {y.dtype}")
    bad = np.abs(y) != 1
    if bad.any():
        raise ValueError(f"{fn}: y must hold labels -1 or +1, got {np.unique(y[bad])[:5].tolist()}")
    y = y.astype(z.dtype, copy=False)
    return z, y, -y * z.data


def _sigmoid_pair(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(σ(u), σ(−u))`` from the one exponential ``e = exp(−|u|) ∈ (0, 1]``.

    ``σ(u) = 1/(1 + e)`` for ``u ≥ 0`` and ``e/(1 + e)`` for ``u < 0``; ``σ(−u)`` swaps the two.
    """
    e = np.exp(-np.abs(u))
    d = 1 + e
    positive = u >= 0
    return np.where(positive, 1, e) / d, np.where(positive, e, 1) / d


def logistic_loss(z: Any, y: Any) -> Tensor:
    """``L = (1/N) Σ_i log(1 + exp(−y_i z_i))``, the KL objective ``(1/N) Σ D_KL(P(y_i) ‖ f(x_i))``.

    With ``u = −y z``: ``log(1 + e^u) = max(u, 0) + log1p(e^{−|u|})`` (softplus).
    VJP: ``∂L/∂z_i = g · (−y_i σ(−y_i z_i)) / N``.
    """
    z, y, u = _margin("logistic_loss", z, y)
    n = max(u.size, 1)
    e = np.exp(-np.abs(u))
    value = np.asarray((np.maximum(u, 0) + np.log1p(e)).sum() / n, dtype=z.dtype)
    s = np.where(u >= 0, 1, e) / (1 + e)  # σ(u) from the same e, as in _sigmoid_pair

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        return ((g / n) * -y * s,)

    return Tensor._make(value, (z,), vjp, "logistic_loss")


def sum_of_squares_loss(z: Any, y: Any) -> Tensor:
    """``L = (1/N) Σ_i ℓ(z_i, y_i)``, ``ℓ(z, y) = ‖P(y) − f(x)‖² = 2 σ(−y z)²`` (Problem 5).

    ``ℓ`` is bounded by 2: a confidently wrong score costs at most 2. With ``s = σ(−y z)`` and
    ``σ' = σ(1 − σ)``: VJP ``∂L/∂z_i = g · (−4 y_i s_i² (1 − s_i)) / N``, ``1 − s_i = σ(y_i z_i)``.
    """
    z, y, u = _margin("sum_of_squares_loss", z, y)
    n = max(u.size, 1)
    s, one_minus_s = _sigmoid_pair(u)
    s2 = s * s
    value = np.asarray(2 * s2.sum() / n, dtype=z.dtype)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        return ((g / n) * -4 * y * s2 * one_minus_s,)

    return Tensor._make(value, (z,), vjp, "sum_of_squares_loss")


def sum_of_squares_long_form(z: Any, y: Any) -> np.ndarray:
    """``ℓ(z, y) = ½(1−y)[(1−σ(−z))² + σ(z)²] + ½(1+y)[σ(−z)² + (1−σ(z))²]`` per item (NumPy).

    The formula of ``hw4.md`` before simplifying with ``σ(−z) = 1 − σ(z)``; it equals
    ``2 σ(−y z)²`` for ``y = ±1``. A plain reference for the tests, no gradient.
    """
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    s_pos, s_neg = _sigmoid_pair(z)
    wrong_if_neg = (1 - s_neg) ** 2 + s_pos**2
    wrong_if_pos = s_neg**2 + (1 - s_pos) ** 2
    return 0.5 * (1 - y) * wrong_if_neg + 0.5 * (1 + y) * wrong_if_pos


def predict(z: Any) -> np.ndarray:
    """The label ``f`` favours: ``+1`` where ``σ(z) ≥ σ(−z)``, i.e. ``z ≥ 0``, else ``−1``."""
    z = as_tensor(z).data
    return np.where(z >= 0, 1.0, -1.0).astype(np.float32)
