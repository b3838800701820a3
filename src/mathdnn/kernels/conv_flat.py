"""conv2d with stride 1 and few input channels: every tap of the window is one flat shift of the
padded image, so the unfolded matrix is built from contiguous copies.

With stride 1, tap ``(a, b)`` of output pixel ``(i, j)`` reads ``X'[n, c, i + d·a, j + d·b]``.
Lay each padded plane out flat, ``X'_flat[n, c, p·Wp + q] = X'[n, c, p, q]``, and compute the
output on the grid of positions ``(i, q)``, ``q < Wp``: the ``Wo`` output columns and ``Wp − Wo``
garbage columns. Then tap ``(a, b)`` of position ``(i, q)`` reads
``X'_flat[n, c, i·Wp + q + s_ab]`` with ``s_ab = d·a·Wp + d·b``: over the whole grid, one run of the
flat plane moved by ``s_ab``. For each group ``g`` (``C_g`` input, ``O_g`` output channels)::

    cols[g][(c, a, b), (n, i, q)] = X'_flat[n, g·C_g + c, i·Wp + q + s_ab]    (one copy per tap)
    Y_grid[g] = W_g · cols[g],   W_g[l, (c, a, b)] = W[g·O_g + l, c, a, b]
    Y[n, g·O_g + l, i, j] = Y_grid[g][l, (n, i, j)] + bias      (j < Wo; the garbage cropped)

Each row ``(c, a, b)`` of ``cols`` is a contiguous copy of ``Ho·Wp`` values per image, where the
formula's unfold gathers ``Ho`` runs of ``Wo``; the product is ``Wp/Wo`` times larger. A garbage
column reads past its row (into the next row, or into ``d·(kw − 1)`` zeros after the plane); it
is cropped, and its cotangent is zero. The VJP is that of the product and the copies::

    ∂L/∂Y_grid = ∂L/∂Y at (i, j < Wo), 0 at the garbage,
    ∂L/∂W_g = ∂L/∂Y_grid[g] · cols[g]ᵀ,    ∂L/∂bias[l] = Σ_{n,i,j} ∂L/∂Y[n, l, i, j],
    ∂L/∂cols[g] = W_gᵀ · ∂L/∂Y_grid[g],    ∂L/∂X'_flat[n, c, ·] = Σ_{a,b} ∂L/∂cols[(c, a, b)]
                                                                  moved back by s_ab.

A garbage column times its zero cotangent would turn a NaN or ±∞ it read into NaN in ``∂L/∂W``:
``finite_only`` sends non-finite calls to the formula.
"""

from __future__ import annotations

import numpy as np

from mathdnn.engine.tensor import VJP
from mathdnn.kernels import workspace
from mathdnn.windows import ConvGeometry


def conv2d_flat(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    geo: ConvGeometry,
    need: tuple[bool, bool],
) -> tuple[np.ndarray, VJP]:
    """The flat-shift form of ``conv2d_formula`` (stride 1, any dilation and groups)."""
    n, c, h, w = x.shape
    c_out, c_g, kh, kw = weight.shape
    groups, (dh, dw), (ho, wo) = geo.groups, geo.dilation, geo.out
    top, bottom, left, right = geo.pads
    o_g, hp, wp = c_out // groups, h + top + bottom, w + left + right
    grid, tail = ho * wp, dw * (kw - 1)  # positions per image; zeros after each plane
    shifts = [dh * a * wp + dw * b for a in range(kh) for b in range(kw)]  # s_ab

    # X'_flat with its tail of zeros: (G, C_g, N, Hp·Wp + tail), channels outermost.
    flat = workspace.zeros((groups, c_g, n, hp * wp + tail), x.dtype)
    plane = flat[..., : hp * wp].reshape(groups, c_g, n, hp, wp)
    plane[..., top : top + h, left : left + w] = x.reshape(n, groups, c_g, h, w).transpose(
        1, 2, 0, 3, 4
    )
    cols = workspace.empty((groups, c_g, kh * kw, n, grid), x.dtype)
    for k, s in enumerate(shifts):
        cols[:, :, k] = flat[..., s : s + grid]
    cols = cols.reshape(groups, c_g * kh * kw, n * grid)
    w_groups = weight.reshape(groups, o_g, c_g * kh * kw)
    y_grid = np.matmul(w_groups, cols, out=workspace.empty((groups, o_g, n * grid), x.dtype))
    y = workspace.empty((n, c_out, ho, wo), x.dtype)
    y_valid = y_grid.reshape(c_out, n, ho, wp)[..., :wo].transpose(1, 0, 2, 3)
    if bias is None:
        np.copyto(y, y_valid)
    else:
        np.add(y_valid, bias.reshape(-1, 1, 1), out=y)

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        need_x, need_w = need
        g_grid = workspace.empty((c_out, n, ho, wp), x.dtype)  # ∂L/∂Y_grid
        g_grid[..., wo:] = 0
        np.copyto(g_grid[..., :wo], g.transpose(1, 0, 2, 3))
        g_grid = g_grid.reshape(groups, o_g, n * grid)
        grad_x = grad_w = None
        if need_w:
            grad_w = (g_grid @ cols.swapaxes(-1, -2)).reshape(weight.shape)
        if need_x:
            grad_cols = workspace.empty(cols.shape, x.dtype)
            np.matmul(w_groups.swapaxes(-1, -2), g_grid, out=grad_cols)
            grad_cols = grad_cols.reshape(groups, c_g, kh * kw, n, grid)
            grad_flat = workspace.zeros(flat.shape, x.dtype)
            for k, s in enumerate(shifts):
                grad_flat[..., s : s + grid] += grad_cols[:, :, k]
            grad_plane = grad_flat[..., : hp * wp].reshape(groups, c_g, n, hp, wp)
            grad_x = grad_plane[..., top : top + h, left : left + w].transpose(2, 0, 1, 3, 4)
            grad_x = workspace.copy(grad_x).reshape(n, c, h, w)
        grad_bias = None if bias is None else g.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_bias

    return y, vjp
