"""Losses, with their VJPs.

As in PyTorch, an empty batch has mean loss NaN and sum 0, and NaN/±inf inputs propagate by
IEEE arithmetic (``inf − inf = NaN``), without NumPy warnings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mathdnn.engine import Tensor
from mathdnn.engine.tensor import as_numbers
from mathdnn.functional import numerics
from mathdnn.functional._checks import check_ndim, float_tensor

REDUCTIONS = ("mean", "sum", "none")


def _reduce(fn: str, per_item: np.ndarray, reduction: str) -> tuple[np.ndarray, float]:
    """The reduced loss and the factor its VJP applies to each item's gradient."""
    with np.errstate(invalid="ignore", over="ignore"):  # the mean of no items is 0/0 = NaN
        if reduction == "mean":
            return np.asarray(per_item.sum() / per_item.size), 1.0 / max(per_item.size, 1)
        if reduction == "sum":
            return np.asarray(per_item.sum()), 1.0
    if reduction == "none":
        return per_item, 1.0
    raise ValueError(f"{fn}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def cross_entropy(logits: Tensor, labels: Any, reduction: str = "mean") -> Tensor:
    """``−log softmax(logits)[n, labels[n]]``, averaged over the batch by default.

    ``logits``: ``(N, C)``; ``labels``: ``(N,)`` integers in ``[0, C)``. As
    ``torch.nn.functional.cross_entropy`` with class indices. VJP:
    ``∂L/∂logits = (softmax(logits) − onehot(labels)) · g`` (divided by N for the mean).
    """
    fn = "cross_entropy"
    logits = float_tensor(fn, "logits", logits)
    check_ndim(fn, "logits", logits, (2,), "(N, C)")
    y = as_numbers(fn, "labels", labels)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{fn}: labels must be integer class indices, got dtype {y.dtype}")
    n, c = logits.shape
    if y.shape != (n,):
        raise ValueError(
            f"{fn}: labels must have shape ({n},) to match logits {logits.shape}, got {y.shape}"
        )
    if n and (y.min() < 0 or y.max() >= c):
        raise ValueError(
            f"{fn}: labels must lie in [0, {c}), got values from {y.min()} to {y.max()}"
        )
    log_p = numerics.log_softmax(logits.data, 1)
    rows = np.arange(n)
    value, scale = _reduce(fn, -log_p[rows, y], reduction)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        grad = numerics.softmax_minus_onehot(log_p, y)
        per_row = g[:, None] if reduction == "none" else g
        return (grad * (per_row * scale),)

    return Tensor._make(value.astype(logits.dtype), (logits,), vjp, fn)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """``mean((input − target)²)`` (``torch.nn.functional.mse_loss``).

    VJP: ``∂L/∂input = 2 (input − target) · g / n`` and the negative of it for ``target``.
    """
    fn = "mse_loss"
    input = float_tensor(fn, "input", input)
    target = float_tensor(fn, "target", target)
    if input.shape != target.shape:
        raise ValueError(
            f"{fn}: input of shape {input.shape} and target of shape {target.shape} differ"
        )
    with np.errstate(invalid="ignore", over="ignore"):  # inf − inf = NaN, as in PyTorch
        diff = input.data - target.data
        squares = diff * diff
    value, scale = _reduce(fn, squares, reduction)

    def vjp(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grad = 2 * diff * (g * scale)
        return grad, -grad

    return Tensor._make(value, (input, target), vjp, fn)
