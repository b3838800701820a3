"""Elementwise activations and the softmax family, each a forward with its VJP beside it; and
``ACTIVATIONS``, the registry of the activations ``σ: R → R`` by name.

The exponentials are those of ``mathdnn.functional.numerics``, which never overflow: they keep
``sigmoid``, ``logsigmoid``, ``softplus`` finite with finite gradients for inputs as large as ±1e6
in float32 and float64.

NaN and ±inf inputs give PyTorch's values and gradients (NaN in, NaN out; ``sigmoid(±inf)`` is
1 or 0; a softmax row holding NaN or +inf, or only −inf, is all NaN), without NumPy warnings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mathdnn import switch
from mathdnn.engine import Tensor
from mathdnn.engine.tensor import VJP, real_number
from mathdnn.functional import numerics
from mathdnn.functional._checks import float_tensor

LEAKY_SLOPE = 0.01  # torch.nn.functional.leaky_relu's default negative_slope


def _elementwise(name: str, x: Tensor, value: np.ndarray, derivative: np.ndarray) -> Tensor:
    """An elementwise primitive ``y = σ(x)``; VJP: ``g · σ'(x)`` with ``σ'(x)`` given.

    ``x`` is the caller's already checked float tensor.
    """
    return Tensor._make(value.astype(x.dtype, copy=False), (x,), lambda g: (g * derivative,), name)


def relu(x: Tensor) -> Tensor:
    """``max(x, 0)``; VJP: ``g · [x > 0]`` (0 at the kink, as PyTorch).

    PyTorch zeroes the gradient where ``x ≤ 0``, so at ``x = NaN`` it passes ``g``; so does this.
    """
    x = float_tensor("relu", "x", x)
    return _elementwise("relu", x, _relu(x.data), _relu_slope(x.data))


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def _relu_slope(x: np.ndarray) -> np.ndarray:
    return (~(x <= 0)).astype(x.dtype)  # 1 where x > 0, and where x is NaN (as PyTorch)


def leaky_relu(x: Tensor, negative_slope: float = LEAKY_SLOPE) -> Tensor:
    """``x`` if ``x > 0`` else ``negative_slope · x``; VJP: ``g · (1 or negative_slope)``."""
    x = float_tensor("leaky_relu", "x", x)
    # As PyTorch, an infinite slope is a slope too (−∞ for x < 0, NaN at 0).
    negative_slope = real_number("leaky_relu", "negative_slope", negative_slope, allow_inf=True)
    slope = _leaky_relu_slope(x.data, negative_slope)
    return _elementwise("leaky_relu", x, _leaky_relu(x.data, negative_slope, slope), slope)


def _leaky_relu_slope(x: np.ndarray, negative_slope: float = LEAKY_SLOPE) -> np.ndarray:
    return np.where(x > 0, 1.0, negative_slope).astype(x.dtype)


def _leaky_relu(
    x: np.ndarray, negative_slope: float = LEAKY_SLOPE, slope: np.ndarray | None = None
) -> np.ndarray:
    """``x · slope``, the slope computed unless given."""
    slope = _leaky_relu_slope(x, negative_slope) if slope is None else slope
    with np.errstate(invalid="ignore"):  # −inf · 0 = NaN for negative_slope = 0, as PyTorch
        return x * slope


def sigmoid(x: Tensor) -> Tensor:
    """``σ(x) = 1 / (1 + e^{−x})``; VJP: ``g · σ(x)(1 − σ(x))``."""
    x = float_tensor("sigmoid", "x", x)
    s = numerics.sigmoid(x.data).astype(x.dtype)
    return _elementwise("sigmoid", x, s, s * (1 - s))


def _sigmoid_slope(x: np.ndarray) -> np.ndarray:
    s = numerics.sigmoid(x)
    return s * (1 - s)


def tanh(x: Tensor) -> Tensor:
    """``tanh(x)``; VJP: ``g · (1 − tanh²x)``."""
    x = float_tensor("tanh", "x", x)
    t, vjp = switch.kernel("tanh", tanh_formula, x.data)(x.data)
    return Tensor._make(t, (x,), vjp, "tanh")


def tanh_formula(x: np.ndarray) -> tuple[np.ndarray, VJP]:
    """``tanh`` on arrays, the contract of its kernels (``mathdnn.switch``): ``(t, vjp)`` with
    ``t = tanh x`` and ``vjp(g) = (g · (1 − t²),)``."""
    t = np.tanh(x)
    slope = 1 - t * t
    return t, lambda g: (g * slope,)


def _tanh_slope(x: np.ndarray) -> np.ndarray:
    t = np.tanh(x)
    return 1 - t * t


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
    smooth = numerics.softplus(bx) / beta
    return _elementwise(
        "softplus", x, np.where(linear, x.data, smooth), np.where(linear, 1.0, numerics.sigmoid(bx))
    )


def logsigmoid(x: Tensor) -> Tensor:
    """``log σ(x) = −softplus(−x)``; VJP: ``g · σ(−x)``."""
    x = float_tensor("logsigmoid", "x", x)
    return _elementwise("logsigmoid", x, -numerics.softplus(-x.data), numerics.sigmoid(-x.data))


def step(x: Tensor) -> Tensor:
    """The Heaviside step ``[x > 0]``; VJP: 0 (its derivative almost everywhere)."""
    x = float_tensor("step", "x", x)
    return _elementwise("step", x, _step(x.data), np.zeros((), dtype=x.dtype))


def _step(x: np.ndarray) -> np.ndarray:
    return (x > 0).astype(x.dtype)


def clamp(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """``min(max(x, min), max)``; VJP: ``g`` inside ``[min, max]``, else 0.

    ``min`` and ``max`` are numbers (±inf allowed, NaN not) or None; with ``min > max`` every
    entry becomes ``max``, as in PyTorch.
    """
    return float_tensor("clamp", "x", x).clamp(min, max)


def _check_dim(fn: str, x: Tensor, dim: int) -> int:
    if not isinstance(dim, int | np.integer) or isinstance(dim, bool | np.bool_):
        raise TypeError(f"{fn}: dim must be an int, got {dim!r}")  # as PyTorch, True too
    if not -max(x.ndim, 1) <= dim < max(x.ndim, 1):
        raise ValueError(f"{fn}: dim {dim!r} is out of range for x of shape {x.shape}")
    return int(dim)


def softmax(x: Tensor, dim: int) -> Tensor:
    """``y_k = e^{x_k} / Σ_j e^{x_j}`` along ``dim``; VJP: ``y ⊙ (g − Σ_k g_k y_k)``."""
    x = float_tensor("softmax", "x", x)
    dim = _check_dim("softmax", x, dim)
    e = np.exp(numerics.shifted(x.data, dim))
    y = e / e.sum(axis=dim, keepdims=True)  # the sum is at least e⁰ = 1, or NaN

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        return (y * (g - (g * y).sum(axis=dim, keepdims=True)),)

    return Tensor._make(y, (x,), vjp, "softmax")


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """``y_k = x_k − m − log Σ_j e^{x_j − m}``, ``m = max x``; VJP: ``g − softmax(x) · Σ_k g_k``."""
    x = float_tensor("log_softmax", "x", x)
    dim = _check_dim("log_softmax", x, dim)
    y = numerics.log_softmax(x.data, dim)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        return (g - np.exp(y) * g.sum(axis=dim, keepdims=True),)

    return Tensor._make(y, (x,), vjp, "log_softmax")


# ------------------------------------------------------------------------------ the registry
ArrayFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ActivationFunction:
    """An activation ``σ: R → R`` (with its default arguments), in the four forms the code needs:
    ``value`` ``σ(x)`` and ``slope`` ``σ′(x)`` elementwise on NumPy arrays (Problem 6's MLP),
    ``monotone``, whether ``σ`` is non-decreasing (Problem 4: then it commutes with max pooling),
    and ``op``, the primitive on Tensors (its VJP is ``g · σ′(x)``)."""

    name: str
    value: ArrayFn
    slope: ArrayFn
    monotone: bool
    op: Callable[[Tensor], Tensor]


def _hardtanh(x: Tensor) -> Tensor:
    return clamp(x, -1.0, 1.0)


def _hardtanh_value(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -1.0, 1.0)


def _hardtanh_slope(x: np.ndarray) -> np.ndarray:
    return ((x >= -1) & (x <= 1)).astype(x.dtype)  # clamp's VJP: 1 on the closed interval


#: The activations by name: Problems 4 and 6 and the activation layers of ``mathdnn.nn`` read them
#: here. ``hardtanh`` is ``clamp(x, −1, 1)``; ``step`` is the Heaviside step, slope 0. The array
#: form of softplus is ``log(1 + e^x)`` everywhere: past the primitive's threshold (x > 20, where
#: the primitive returns x) the two differ by less than e^{−20}.
ACTIVATIONS: dict[str, ActivationFunction] = {
    a.name: a
    for a in (
        ActivationFunction("sigmoid", numerics.sigmoid, _sigmoid_slope, True, sigmoid),
        ActivationFunction("tanh", np.tanh, _tanh_slope, True, tanh),
        ActivationFunction("relu", _relu, _relu_slope, True, relu),
        ActivationFunction("softplus", numerics.softplus, numerics.sigmoid, True, softplus),
        ActivationFunction("leaky_relu", _leaky_relu, _leaky_relu_slope, True, leaky_relu),
        ActivationFunction("hardtanh", _hardtanh_value, _hardtanh_slope, True, _hardtanh),
        ActivationFunction("step", _step, np.zeros_like, True, step),
    )
}
