"""The stable forms of ``σ``, softplus and log-softmax on NumPy arrays: the one place each is
written, for the primitives of ``mathdnn.functional``, Problem 5's losses and Problem 6's NumPy MLP.

Each takes only exponentials of non-positive numbers, so nothing overflows: ``σ`` and softplus
read ``e = exp(−|x|) ∈ (0, 1]``, log-softmax subtracts the row's maximum first. They stay finite
for inputs as large as ±1e6 in float32 and float64, and NaN stays NaN.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``σ(x) = 1/(1 + e^{−x})``: ``1/(1 + e)`` for ``x ≥ 0`` and ``e/(1 + e)`` for ``x < 0``,
    ``e = exp(−|x|)``."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + e^x) = max(x, 0) + log1p(e^{−|x|})``."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def shifted(x: np.ndarray, dim: int) -> np.ndarray:
    """``x − max x`` along ``dim``, so every exponential of it is at most 1.

    A row holding +inf, NaN, or only −inf gives NaN (inf − inf), which the softmax family then
    returns for the whole row, as PyTorch does; an empty ``dim`` gives an empty result.
    """
    with np.errstate(invalid="ignore"):
        return x - np.max(x, axis=dim, keepdims=True, initial=-np.inf)


def log_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    """``x_k − m − log Σ_j e^{x_j − m}`` along ``dim`` with ``m = max x``."""
    s = shifted(x, dim)
    with np.errstate(divide="ignore"):  # log 0 = −inf over an empty dim; nothing uses it
        return s - np.log(np.exp(s).sum(axis=dim, keepdims=True))


def softmax_minus_onehot(log_p: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``softmax(z) − onehot(labels)`` from ``log_p = log_softmax(z, 1)`` (``(N, C)``): the
    gradient of ``−log softmax(z)[n, labels_n]`` with respect to row ``z_n``."""
    grad = np.exp(log_p)
    grad[np.arange(len(labels)), labels] -= 1
    return grad
