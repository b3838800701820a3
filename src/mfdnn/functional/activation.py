"""Elementwise activations and the softmax family, each a forward with its VJP beside it.

The exponentials are written so they never overflow: ``e = exp(−|x|) ∈ (0, 1]`` is the only
exponential taken, which keeps ``sigmoid``, ``logsigmoid``, ``softplus`` finite with finite
gradients for inputs as large as ±1e6 in float32 and float64.

NaN and ±inf inputs give PyTorch's values and gradients (NaN in, NaN out; ``sigmoid(±inf)`` is
1 or 0; a softmax row holding NaN or +inf, or only −inf, is all NaN), without NumPy warnings.
"""

from __future__ import annotations

import numpy as np

from mfdnn.engine import Tensor
from mfdnn.engine.tensor import real_number
from mfdnn.functional._checks import float_tensor


def _elementwise(name: str, x: Tensor, value: np.ndarray, derivative: np.ndarray) -> Tensor:
    """An elementwise primitive ``y = σ(x)``; VJP: ``g · σ'(x)`` with ``σ'(x)`` given.

    ``x`` is the caller's already checked float tensor.
    """
    return Tensor._make(value.astype(x.dtype, copy=False), (x,), lambda g: (g * derivative,), name)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^{−x})`` computed from ``e = exp(−|x|)`` on both sides of 0."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def relu(x: Tensor) -> Tensor:
    """``max(x, 0)``; VJP: ``g · [x > 0]`` (0 at the kink, as PyTorch).

    PyTorch zeroes the gradient where ``x ≤ 0``, so at ``x = NaN`` it passes ``g``; so does this.
    """
    x = float_tensor("relu", "x", x)
    return _elementwise("relu", x, np.maximum(x.data, 0), ~(x.data <= 0))


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` if ``x > 0`` else ``negative_slope · x``; VJP: ``g · (1 or negative_slope)``."""
    x = float_tensor("leaky_relu", "x", x)
    negative_slope = real_number("leaky_relu", "negative_slope", negative_slope)
    slope = np.where(x.data > 0, 1.0, negative_slope).astype(x.dtype)
    with np.errstate(invalid="ignore"):  # −inf · 0 = NaN for negative_slope = 0, as PyTorch
        value = x.data * slope
    return _elementwise("leaky_relu", x, value, slope)


def sigmoid(x: Tensor) -> Tensor:
    """``σ(x) = 1 / (1 + e^{−x})``; VJP: ``g · σ(x)(1 − σ(x))``."""
    x = float_tensor("sigmoid", "x", x)
    s = _sigmoid(x.data).astype(x.dtype)
    return _elementwise("sigmoid", x, s, s * (1 - s))


def tanh(x: Tensor) -> Tensor:
    """``tanh(x)``; VJP: ``g · (1 − tanh²x)``."""
    x = float_tensor("tanh", "x", x)
    t = np.tanh(x.data)
    return _elementwise("tanh", x, t, 1 - t * t)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``(1/β) log(1 + e^{βx})``, and ``x`` where ``βx > threshold`` (as PyTorch).

    Computed as ``max(βx, 0) + log1p(exp(−|βx|))``. VJP: ``g · σ(βx)`` (``g`` past the threshold).
    ``beta`` must be finite and non-zero, ``threshold`` finite.
    """
    x = float_tensor("softplus", "x", x)
    beta = real_number("softplus", "beta", beta)
    threshold = real_number("softplus", "threshold", threshold)
    if beta == 0:
        raise ValueError("softplus: beta must be non-zero (the formula divides by it), got 0")
    bx = beta * x.data
    linear = bx > threshold
    smooth = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
    return _elementwise(
        "softplus", x, np.where(linear, x.data, smooth), np.where(linear, 1.0, _sigmoid(bx))
    )


def logsigmoid(x: Tensor) -> Tensor:
    """``log σ(x) = min(x, 0) − log1p(e^{−|x|})``; VJP: ``g · σ(−x)``."""
    x = float_tensor("logsigmoid", "x", x)
    value = np.minimum(x.data, 0) - np.log1p(np.exp(-np.abs(x.data)))
    return _elementwise("logsigmoid", x, value, _sigmoid(-x.data))


def step(x: Tensor) -> Tensor:
    """The Heaviside step ``[x > 0]``; VJP: 0 (its derivative almost everywhere)."""
    x = float_tensor("step", "x", x)
    return _elementwise("step", x, (x.data > 0).astype(x.dtype), np.zeros((), dtype=x.dtype))


def clamp(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """``min(max(x, min), max)``; VJP: ``g`` inside ``[min, max]``, else 0.

    ``min`` and ``max`` are numbers (±inf allowed, NaN not) or None; with ``min > max`` every
    entry becomes ``max``, as in PyTorch.
    """
    return float_tensor("clamp", "x", x).clamp(min, max)


def _check_dim(fn: str, x: Tensor, dim: int) -> int:
    if not isinstance(dim, int | np.integer) or not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise ValueError(f"{fn}: dim {dim!r} is out of range for x of shape {x.shape}")
    return int(dim)


def _shifted(x: np.ndarray, dim: int) -> np.ndarray:
    """``x − max x`` along ``dim``, so every exponential is at most 1.

    A row holding +inf, NaN, or only −inf gives NaN (inf − inf), which the softmax family then
    returns for the whole row, as PyTorch does; an empty ``dim`` gives an empty result.
    """
    with np.errstate(invalid="ignore"):
        return x - np.max(x, axis=dim, keepdims=True, initial=-np.inf)


def log_softmax_array(x: np.ndarray, dim: int) -> np.ndarray:
    """``x_k − m − log Σ_j e^{x_j − m}`` along ``dim`` with ``m = max x`` (no gradient)."""
    shifted = _shifted(x, dim)
    with np.errstate(divide="ignore"):  # log 0 = −inf over an empty dim; nothing uses it
        return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


def softmax(x: Tensor, dim: int) -> Tensor:
    """``y_k = e^{x_k} / Σ_j e^{x_j}`` along ``dim``; VJP: ``y ⊙ (g − Σ_k g_k y_k)``."""
    x = float_tensor("softmax", "x", x)
    dim = _check_dim("softmax", x, dim)
    e = np.exp(_shifted(x.data, dim))
    y = e / e.sum(axis=dim, keepdims=True)  # the sum is at least e⁰ = 1, or NaN

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        return (y * (g - (g * y).sum(axis=dim, keepdims=True)),)

    return Tensor._make(y, (x,), vjp, "softmax")


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """``y_k = x_k − m − log Σ_j e^{x_j − m}``, ``m = max x``; VJP: ``g − softmax(x) · Σ_k g_k``."""
    x = float_tensor("log_softmax", "x", x)
    dim = _check_dim("log_softmax", x, dim)
    y = log_softmax_array(x.data, dim)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        return (g - np.exp(y) * g.sum(axis=dim, keepdims=True),)

    return Tensor._make(y, (x,), vjp, "log_softmax")
