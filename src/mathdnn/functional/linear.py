"""The affine map ``y = x Wᵀ + b`` and its VJP: one primitive, as ``torch.nn.functional.linear``."""

from __future__ import annotations

import math

import numpy as np

from mathdnn.engine import Tensor
from mathdnn.functional._checks import check_ndim, float_tensor
from mathdnn.kernels.threads import single_threaded_blas


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
    w = weight.data
    w_rows = w.reshape(math.prod(w.shape[:-1]), w.shape[-1])  # W as (out_features, in_features)
    rows = math.prod(x.shape[:-1])  # the rows of x and of y
    work = x.data.size * len(w_rows)  # multiply-adds
    # inf·0 and inf − inf give NaN, as in PyTorch, without NumPy's warnings.
    with single_threaded_blas(work), np.errstate(invalid="ignore", over="ignore"):
        y = x.data @ w.T
        if bias is not None:
            y = y + bias.data

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        g_rows = g.reshape(rows, len(w_rows))  # ∂L/∂y, one row per row of x
        x_rows = x.data.reshape(rows, w.shape[-1])
        grad_x = grad_w = grad_b = None
        with single_threaded_blas(work), np.errstate(invalid="ignore", over="ignore"):
            if x.requires_grad:
                grad_x = (g_rows @ w_rows).reshape(x.shape)
            if weight.requires_grad:
                grad_w = (g_rows.T @ x_rows).reshape(w.shape)
            if bias is not None and bias.requires_grad:
                grad_b = g_rows.sum(axis=0).reshape(bias.shape)
        return (grad_x, grad_w, grad_b)[: len(parents)]

    return Tensor._make(y, parents, vjp, fn)
