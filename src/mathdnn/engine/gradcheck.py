"""Finite differences: the reference every VJP is checked against."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mathdnn.engine.tensor import Tensor, no_grad


def numerical_vjp(
    f: Callable[..., Tensor], inputs: Sequence[np.ndarray], g: np.ndarray, eps: float = 1e-6
) -> list[np.ndarray]:
    """``∂⟨g, f(x)⟩/∂x_k`` for every input, by central differences in float64.

    ``(⟨g, f(x + ε e_i)⟩ − ⟨g, f(x − ε e_i)⟩) / 2ε`` for each entry ``i`` of each input; the error
    is O(ε²) plus rounding O(1e-16/ε).
    """
    arrays = [np.array(a, dtype=np.float64) for a in inputs]

    def value() -> float:
        with no_grad():
            return float(np.sum(g * f(*[Tensor(a) for a in arrays]).data))

    return [central_differences(value, a, eps=eps) for a in arrays]


def central_differences(
    value: Callable[[], float],
    array: np.ndarray,
    indices: Sequence[int] | np.ndarray | None = None,
    eps: float = 1e-6,
) -> np.ndarray:
    """``(v(θ + ε e_i) − v(θ − ε e_i)) / 2ε`` for the flat entries ``i`` of ``array``.

    ``value()`` must read ``array``, which is perturbed in place and restored. Entries not in
    ``indices`` (default: all) are NaN.
    """
    grad = np.full(array.shape, np.nan)
    flat, out = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size) if indices is None else indices:
        saved = flat[i]
        flat[i] = saved + eps
        plus = value()
        flat[i] = saved - eps
        minus = value()
        flat[i] = saved
        out[i] = (plus - minus) / (2 * eps)
    return grad


def autodiff_vjp(
    f: Callable[..., Tensor], inputs: Sequence[np.ndarray], g: np.ndarray
) -> list[np.ndarray]:
    """The same quantity by the engine's reverse mode: ``backward(g)`` on ``f(x)``."""
    tensors = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in inputs]
    f(*tensors).backward(g)
    return [t.grad if t.grad is not None else np.zeros_like(t.data) for t in tensors]


def gradcheck_error(
    f: Callable[..., Tensor], inputs: Sequence[np.ndarray], seed: int = 0, eps: float = 1e-6
) -> float:
    """Largest |autodiff − finite difference| over all inputs, for a random cotangent."""
    with no_grad():
        shape = f(*[Tensor(np.array(a, dtype=np.float64)) for a in inputs]).shape
    g = np.random.default_rng(seed).standard_normal(shape)
    exact = autodiff_vjp(f, inputs, g)
    approx = numerical_vjp(f, inputs, g, eps)
    return max(
        float(np.max(np.abs(e - a), initial=0.0)) for e, a in zip(exact, approx, strict=True)
    )
