"""conv2d as the formula computes it, its large arrays from the kernels' workspace.

The formula (``functional/conv.py``) unfolds the padded input into columns and multiplies::

    cols[n, g][(c, a, b), (i, j)] = X'[n, g·C_g + c, s·i + d·a, s·j + d·b]
    Y[n, g] = W_g · cols[n, g] + bias
    ∂L/∂W_g = Σ_n ∂L/∂Y[n, g] · cols[n, g]ᵀ,   ∂L/∂cols[n, g] = W_gᵀ · ∂L/∂Y[n, g],

and ``∂L/∂X`` adds each column entry back onto the pixel it was read from. So does this kernel,
the same products in the same order (the same bits); only where the large arrays live differs.
The formula allocates ``X'``, ``cols``, ``Y``, ``∂L/∂cols`` and ``∂L/∂X'`` afresh at every call,
as it reads. Here they come from the workspace (``workspace.py``), so a training step maps no
fresh pages for them, whatever the process allocated before.

Where the rule sends a layer here (stride 1, groups 1, few input channels: LeNet's C1, Problem 1's
finite differences): its columns are too shallow for the kernel rows (``conv_rows``), and the
formula's fresh arrays fault page by page in a fresh process (``benchmarks/bench_fresh_layer.py``
measures the two; the figures are in ``benchmarks/README.md``).
"""

from __future__ import annotations

import numpy as np

from mathdnn.engine.tensor import VJP
from mathdnn.kernels import workspace
from mathdnn.windows import ConvGeometry, add_taps, taps


def conv2d_unfold(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    geo: ConvGeometry,
    need: tuple[bool, bool],
) -> tuple[np.ndarray, VJP]:
    """``conv2d_formula``, with ``X'``, ``cols``, ``Y`` and the input gradient's arrays from the
    workspace."""
    n, c, h, w = x.shape
    c_out = weight.shape[0]
    groups, (kh, kw), (ho, wo) = geo.groups, geo.kernel, geo.out
    top, bottom, left, right = geo.pads
    depth = c // groups * kh * kw
    cols = workspace.copy(taps(workspace.padded(x, geo.pads), geo))
    cols = cols.reshape(n, groups, depth, ho * wo)
    w_groups = weight.reshape(groups, c_out // groups, depth)  # W_g as rows
    y = workspace.empty((n, groups, c_out // groups, ho * wo), np.result_type(w_groups, cols))
    np.matmul(w_groups, cols, out=y)
    y = y.reshape(n, c_out, ho, wo)
    if bias is not None:
        y += bias.reshape(-1, 1, 1)

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        g_groups = g.reshape(n, groups, c_out // groups, ho * wo)  # ∂L/∂Y[n, g]
        need_x, need_w = need
        grad_w = grad_x = None
        if need_w:
            grad_w = (g_groups @ cols.swapaxes(-1, -2)).sum(axis=0).reshape(weight.shape)
        if need_x:
            grad_cols = workspace.empty(cols.shape, np.result_type(w_groups, g_groups))
            np.matmul(w_groups.swapaxes(-1, -2), g_groups, out=grad_cols)
            shape = (n, c, h + top + bottom, w + left + right)
            grad_padded = workspace.zeros(shape, grad_cols.dtype)
            add_taps(grad_padded, grad_cols.reshape(n, c, kh, kw, ho, wo), geo)
            grad_x = grad_padded[:, :, top : top + h, left : left + w]
        grad_bias = None if bias is None else g.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_bias

    return y, vjp
