"""The affine map ``y = x Wᵀ + b`` and its VJP: one primitive, as ``torch.nn.functional.linear``."""

from __future__ import annotations

import math

import numpy as np

from mathdnn import switch
from mathdnn.engine import Tensor
from mathdnn.engine.tensor import VJP
from mathdnn.functional._checks import check_ndim, float_tensor


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y[..., o] = Σ_i x[..., i] · W[o, i] + b[o]``, that is ``y = x Wᵀ + b``.

    ``x``: ``(..., in_features)``; ``weight``: ``(out_features, in_features)``, or
    ``(in_features,)`` for a single output without its axis (``y = x · w + b``, ``b`` of shape
    ``()``), as PyTorch (whose own ``linear`` refuses that weight with a bias for 2-D ``x``);
    ``bias``: ``(out_features,)``. VJP, with ``g = ∂L/∂y`` and the leading
    axes of ``x`` and ``g`` taken as rows::

        ∂L/∂x = g W,    ∂L/∂W = gᵀ x,    ∂L/∂b = Σ_rows g
    """
    fn = "linear"
    x = float_tensor(fn, "x", x)
    weight = float_tensor(fn, "weight", weight)
    check_ndim(fn, "weight", weight, (1, 2), "(out_features, in_features) or (in_features,)")
    if x.ndim == 0 or x.shape[-1] != weight.shape[-1]:
        raise ValueError(
            f"{fn}: x of shape {x.shape} does not match weight of shape {weight.shape} "
            f"(needs x.shape[-1] == {weight.shape[-1]})"
        )
    parents: tuple[Tensor, ...] = (x, weight)
    if bias is not None:
        bias = float_tensor(fn, "bias", bias)
        if bias.shape != weight.shape[:-1]:
            raise ValueError(f"{fn}: bias must have shape {weight.shape[:-1]}, got {bias.shape}")
        parents += (bias,)
    need = tuple(p.requires_grad for p in parents)
    b = None if bias is None else bias.data
    kernel = switch.kernel(fn, linear_formula, x.data, weight.data)
    # inf·0 and inf − inf give NaN, as in PyTorch, without NumPy's warnings.
    with np.errstate(invalid="ignore", over="ignore"):
        y, backward = kernel(x.data, weight.data, b, need)

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        with np.errstate(invalid="ignore", over="ignore"):
            return backward(g)[: len(parents)]

    return Tensor._make(y, parents, vjp, fn)


def linear_formula(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, need: tuple[bool, ...]
) -> tuple[np.ndarray, VJP]:
    """``y = x Wᵀ + b`` and its VJP, on arrays: the kernel (``mathdnn.switch``) of ``linear``.
    ``need`` says which of ``x``, ``W`` (and ``b``) need a cotangent."""
    w_rows = weight.reshape(math.prod(weight.shape[:-1]), weight.shape[-1])  # (out, in)
    rows = math.prod(x.shape[:-1])  # the rows of x and of y
    y = x @ weight.T
    if bias is not None:
        y = y + bias

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        g_rows = g.reshape(rows, len(w_rows))  # ∂L/∂y, one row per row of x
        x_rows = x.reshape(rows, weight.shape[-1])
        grad_x = grad_w = grad_b = None
        if need[0]:
            grad_x = (g_rows @ w_rows).reshape(x.shape)
        if need[1]:
            grad_w = (g_rows.T @ x_rows).reshape(weight.shape)
        if bias is not None and need[2]:
            grad_b = g_rows.sum(axis=0).reshape(bias.shape)
        return grad_x, grad_w, grad_b

    return y, vjp
