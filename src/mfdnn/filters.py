"""The homework's constructions: classic image operations written as one convolution each,
and Problem 4, max pooling commuting with non-decreasing activations.

- Problem 1: ``finite_difference_filter()``, ``w ∈ R^{2×1×3×3}``; with ``conv2d(X, w, padding=1)``
  ``Y[:, 0, i, j] = X[i+1, j] − X[i, j]`` and ``Y[:, 1, i, j] = X[i, j+1] − X[i, j]``, zero beyond
  the border.
- Problem 2: ``avg_pool_filter(k, C)``, the ``1/k²`` filter that makes ``conv2d(X, w, stride=k,
  groups=C)`` the ``k×k`` average pool.
- Problem 3: ``grayscale_filter()``, the ``1×1`` filter of the BT.601 luma
  ``Y = 0.299 R + 0.587 G + 0.114 B``.
- Problem 4: ``check_commutes(σ, …)`` tests ``σ(ρ(X)) = ρ(σ(X))`` for a max pool ``ρ`` on hard
  inputs (ties, ±∞, plateaus) and returns a counterexample when it fails;
  ``pool_before_activation(model)`` rewrites ``activation → MaxPool2d`` into
  ``MaxPool2d → activation`` wherever the activation is non-decreasing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import mfdnn.functional as F
from mfdnn.engine import Tensor, no_grad
from mfdnn.functional._checks import float_tensor, pair, positive_int
from mfdnn.nn import Activation, MaxPool2d, Module, Sequential

# ITU-R BT.601 luma weights of (R, G, B), the ones Pillow's convert("L") uses.
GRAYSCALE_WEIGHTS = (0.299, 0.587, 0.114)


# ----------------------------------------------------------------------------------- Problem 1
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


# ----------------------------------------------------------------------------------- Problem 2
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


# ----------------------------------------------------------------------------------- Problem 3
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


# ----------------------------------------------------------------------------------- Problem 4
Elementwise = Callable[[Tensor], Tensor]

# Non-decreasing σ: R → R, for which σ(ρ(X)) = ρ(σ(X)) for every max pool ρ.
MONOTONE_ACTIVATIONS: dict[str, Elementwise] = {
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "softplus": F.softplus,
    "clamp(-1, 1)": lambda x: F.clamp(x, -1.0, 1.0),
    "step": F.step,
}

# Functions that are not monotone on R, for which the identity fails.
NON_MONOTONE_EXAMPLES: dict[str, Elementwise] = {
    "x²": lambda x: x * x,
    "sin": lambda x: x.sin(),
    "−x": lambda x: -x,
}


@dataclass(frozen=True)
class Counterexample:
    """One max-pool window where ``σ(ρ(X)) ≠ ρ(σ(X))``.

    ``position``: the output index ``(n, c, i, j)``; ``window``: the ``kh×kw`` input values the
    pool reads there (``−∞`` for padding); ``pair``: a ``1×2`` window ``[m, e]`` that fails on its
    own, ``m`` the window's maximum and ``e`` the element whose ``σ(e)`` is largest.
    """

    position: tuple[int, ...]
    window: np.ndarray
    sigma_of_pool: float
    pool_of_sigma: float
    pair: np.ndarray

    def __str__(self) -> str:
        m, e = self.pair[0]
        return (
            f"window [{m:.4g}, {e:.4g}]: σ(ρ(X)) = σ({m:.4g}) = {self.sigma_of_pool:.4g} but "
            f"ρ(σ(X)) = σ({e:.4g}) = {self.pool_of_sigma:.4g}"
        )


@dataclass(frozen=True)
class CommuteResult:
    """The outcome of ``check_commutes``: ``holds`` iff ``max_error ≤ atol`` everywhere."""

    holds: bool
    max_error: float
    counterexample: Counterexample | None


def stress_inputs(rng: np.random.Generator, shape: tuple[int, int, int] = (2, 8, 9)) -> np.ndarray:
    """A batch ``(6, C, H, W)`` of hard inputs for Problem 4, one kind per sample.

    Gaussian noise; small integers (many ties); ±∞ sprinkled in; plateaus (constant 3×3 blocks,
    some at ±∞); values and their negatives side by side (where x² and |x| tie); a wide range.
    """
    c, h, w = shape
    noise = rng.standard_normal(shape)
    ties = rng.integers(-2, 3, shape).astype(np.float64)
    infinite = rng.standard_normal(shape)
    infinite[rng.random(shape) < 0.15] = np.inf
    infinite[rng.random(shape) < 0.15] = -np.inf
    blocks = rng.choice([-np.inf, -1.5, 0.0, 0.25, 2.0, np.inf], (c, -(-h // 3), -(-w // 3)))
    plateau = np.kron(blocks, np.ones((3, 3)))[:, :h, :w]
    mirrored = rng.standard_normal(shape)
    mirrored[..., 1::2] = -mirrored[..., ::2][..., : w // 2]
    wide = rng.uniform(-10.0, 10.0, shape)
    return np.stack([noise, ties, infinite, plateau, mirrored, wide])


def _differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a − b|``, with 0 where the two are equal (also equal infinities, or both NaN) and ∞
    where only one is NaN."""
    with np.errstate(invalid="ignore"):
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        return np.where(same, 0.0, np.nan_to_num(np.abs(a - b), nan=np.inf, posinf=np.inf))


def check_commutes(
    sigma: Elementwise,
    x: Tensor | np.ndarray | None = None,
    kernel_size: int | tuple[int, int] = 2,
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    atol: float = 0.0,
    rng: np.random.Generator | int | None = None,
) -> CommuteResult:
    """Test ``σ(ρ(X)) = ρ(σ(X))`` for ``ρ = max_pool2d(·, kernel_size, stride, padding, dilation)``.

    ``sigma`` maps a Tensor to a Tensor elementwise; ``x`` is ``(N, C, H, W)``, by default
    ``stress_inputs(rng)``. For non-decreasing ``σ`` the identity is exact in floating point (both
    sides are ``σ`` of the same maximum), so ``atol`` defaults to 0. When it fails, the result
    carries the window with the largest error.
    """
    if not callable(sigma):
        raise TypeError(f"check_commutes: sigma must be callable, got {type(sigma).__name__}")
    if x is None:
        x = stress_inputs(np.random.default_rng(rng))
    x = float_tensor("check_commutes", "x", x)
    if x.ndim != 4:
        raise ValueError(f"check_commutes: x must have shape (N, C, H, W), got {x.shape}")
    pool_args = (kernel_size, stride, padding, dilation)
    with no_grad(), np.errstate(all="ignore"):
        sigma_of_pool = sigma(F.max_pool2d(x, *pool_args)).data
        pool_of_sigma = F.max_pool2d(sigma(x), *pool_args).data
    errors = _differences(sigma_of_pool, pool_of_sigma)
    max_error = float(np.max(errors, initial=0.0))
    if max_error <= atol:
        return CommuteResult(True, max_error, None)
    # Show the worst window with a finite error if there is one: it reads better than ∞ − ∞.
    finite_errors = np.where(np.isfinite(errors), errors, -1.0)
    worst = np.argmax(finite_errors if finite_errors.max() > atol else errors)
    position = tuple(int(p) for p in np.unravel_index(int(worst), errors.shape))
    window, real = _window(x.data, position, *pool_args)
    values = window[real]
    with no_grad(), np.errstate(all="ignore"):
        sigma_values = sigma(Tensor(values)).data
    largest_sigma = values[int(np.argmax(np.where(np.isnan(sigma_values), np.inf, sigma_values)))]
    return CommuteResult(
        False,
        max_error,
        Counterexample(
            position,
            window,
            float(sigma_of_pool[position]),
            float(pool_of_sigma[position]),
            np.array([[values.max(), largest_sigma]], dtype=x.dtype),
        ),
    )


def _window(
    x: np.ndarray,
    position: tuple[int, ...],
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``kh×kw`` values ``X'[n, c, s·i + d·a, s·j + d·b]`` that output ``position`` reads
    (``−∞`` for padding), and the mask of those that are real pixels, not padding."""
    fn = "check_commutes"
    kh, kw = pair(fn, "kernel_size", kernel_size, minimum=1)
    sh, sw = (kh, kw) if stride is None else pair(fn, "stride", stride, minimum=1)
    ph, pw = pair(fn, "padding", padding, minimum=0)
    dh, dw = pair(fn, "dilation", dilation, minimum=1)
    n, c, i, j = position
    rows = slice(sh * i, sh * i + dh * (kh - 1) + 1, dh)
    cols = slice(sw * j, sw * j + dw * (kw - 1) + 1, dw)
    padding_width = ((ph, ph), (pw, pw))
    padded = np.pad(x[n, c], padding_width, constant_values=-np.inf)
    real = np.pad(np.ones(x.shape[2:], dtype=bool), padding_width, constant_values=False)
    return padded[rows, cols], real[rows, cols]


def pool_before_activation(model: Sequential) -> Sequential:
    """Rewrite ``σ → MaxPool2d`` into ``MaxPool2d → σ`` wherever ``σ`` is non-decreasing.

    By Problem 4, ``ρ(σ(X)) = σ(ρ(X))``, and the right side evaluates ``σ`` (and its VJP) on
    ``k²`` times fewer elements. A max pool moves in front of a whole run of non-decreasing
    activations (their composition is non-decreasing); an activation with ``monotone = False``
    stays where it is. Nested ``Sequential`` models are rewritten too. The new model holds the
    same layer objects, so it shares the parameter tensors of ``model``.
    """
    if not isinstance(model, Sequential):
        raise TypeError(
            f"pool_before_activation: model must be a Sequential, got {type(model).__name__}"
        )
    layers: list[Module] = []
    for layer in model:
        if isinstance(layer, Sequential):
            layer = pool_before_activation(layer)
        position = len(layers)
        if isinstance(layer, MaxPool2d):
            while (
                position > 0
                and isinstance(layers[position - 1], Activation)
                and layers[position - 1].monotone
            ):
                position -= 1
        layers.insert(position, layer)
    return Sequential(*layers)
