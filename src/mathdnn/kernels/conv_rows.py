"""conv2d with stride 1 and many channels: unfold the kernel rows only; the kernel columns are
shifts of one matrix product.

The formula unfolds every tap ``(a, b)`` of the window: ``kh·kw`` copies of the input. Here only
the kernel rows ``a`` are unfolded, over whole padded rows ``q < Wp``, and the weight is stacked
by kernel column, ``W_b[(b, l), (c, a)] = W[l, c, a, b]``::

    cols[(c, a), (n, i, q)] = X'[n, c, i + d·a, q]              (kh copies of the input)
    Z = W_b · cols,   Z[(b, l), (n, i, q)] = Σ_{c,a} W[l, c, a, b] · X'[n, c, i + d·a, q]
    Y[n, l, i, j] = Σ_b Z[(b, l), (n, i, j + d·b)] + bias[l]     (j < Wo)

Along a row, kernel column ``b`` is the flat shift of ``Z``'s rows by ``d·b``; the positions
``j ≥ Wo`` of each row are garbage, cropped (their cotangent is zero, so they send nothing back,
as long as nothing is infinite: a NaN or ±∞ in the input, the weight or the cotangent sends the
call to the formula, which puts it where PyTorch does). One product with ``kw·C_out`` rows and depth
``C·kh`` replaces the formula's ``C_out`` rows and depth ``C·kh·kw``, over ``Wp/Wo`` times the
columns; and the fold adds back ``kh`` row blocks instead of ``kh·kw`` windows. The VJP::

    ∂L/∂Z[(b, l), q] = ∂L/∂Y[l, q − d·b]     (zero unless q − d·b is an output position)
    ∂L/∂W_b = ∂L/∂Z · colsᵀ,   ∂L/∂cols = W_bᵀ · ∂L/∂Z,   ∂L/∂bias[l] = Σ ∂L/∂Y[:, l]

and row ``(c, a)`` of ``∂L/∂cols`` is added onto ``X'`` moved down by ``d·a``. Groups = 1 only.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mathdnn.engine.tensor import VJP
from mathdnn.kernels import workspace
from mathdnn.windows import ConvGeometry


def conv2d_rows(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    geo: ConvGeometry,
    need: tuple[bool, bool],
) -> tuple[np.ndarray, VJP]:
    """The kernel-rows form of ``conv2d_formula`` (stride 1, groups 1, any dilation)."""
    n, c, h, w = x.shape
    c_out = weight.shape[0]
    (kh, kw), (dh, dw), (ho, wo) = geo.kernel, geo.dilation, geo.out
    top, _, left, _ = geo.pads
    xp = workspace.padded(x, geo.pads)
    hp, wp = xp.shape[2:]
    size = n * ho * wp  # the columns: every (n, i, q)
    span = dw * (kw - 1)  # how far the last kernel column reads past a position
    # cols[(c, a), (n, i, q)] = X'[n, c, i + d·a, q]
    windows = sliding_window_view(xp, dh * (kh - 1) + 1, axis=2)[..., ::dh]  # (N, C, Ho, Wp, kh)
    cols = workspace.copy(windows.transpose(1, 4, 0, 2, 3)).reshape(c * kh, size)
    w_stacked = np.ascontiguousarray(weight.transpose(3, 0, 1, 2)).reshape(kw * c_out, c * kh)
    z = np.matmul(w_stacked, cols, out=workspace.empty((kw * c_out, size), x.dtype))
    z = z.reshape(kw, c_out, size)
    valid = max(size - span, 0)  # the columns every shift reaches
    y_grid = workspace.empty((c_out, size), x.dtype)
    y_grid[:, valid:] = 0
    np.copyto(y_grid[:, :valid], z[0, :, :valid])
    for b in range(1, kw):
        y_grid[:, :valid] += z[b, :, dw * b : dw * b + valid]
    y = workspace.empty((n, c_out, ho, wo), x.dtype)
    y_valid = y_grid.reshape(c_out, n, ho, wp)[..., :wo].transpose(1, 0, 2, 3)
    if bias is None:
        np.copyto(y, y_valid)
    else:
        np.add(y_valid, bias.reshape(-1, 1, 1), out=y)

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        need_x, need_w = need
        g_grid = workspace.empty((c_out, n, ho, wp), x.dtype)  # ∂L/∂Y, zero at the garbage
        g_grid[..., wo:] = 0
        np.copyto(g_grid[..., :wo], g.transpose(1, 0, 2, 3))
        g_grid = g_grid.reshape(c_out, size)
        grad_z = workspace.empty((kw, c_out, size), x.dtype)
        for b in range(kw):
            grad_z[b, :, : dw * b] = 0
            grad_z[b, :, dw * b :] = g_grid[:, : size - dw * b]
        grad_z = grad_z.reshape(kw * c_out, size)
        grad_x = grad_w = None
        if need_w:
            grad_w_stacked = grad_z @ cols.T  # (b, l) × (c, a)
            grad_w = grad_w_stacked.reshape(kw, c_out, c, kh).transpose(1, 2, 3, 0)
            grad_w = np.ascontiguousarray(grad_w)
        if need_x:
            grad_cols = workspace.empty((c * kh, size), x.dtype)
            grad_cols = np.matmul(w_stacked.T, grad_z, out=grad_cols).reshape(c, kh, n, ho, wp)
            grad_xp = workspace.zeros((c, n, hp, wp), x.dtype)
            for a in range(kh):
                grad_xp[:, :, dh * a : dh * a + ho] += grad_cols[:, a]
            grad_x = grad_xp[:, :, top : top + h, left : left + w].transpose(1, 0, 2, 3)
        grad_bias = None if bias is None else g.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_bias

    return y, vjp
