"""conv2d with stride 1 on narrow images with few channels: banded matrix products, one per
kernel row.

Along an output row, the sum over the kernel columns ``b`` is a product with a banded (Toeplitz)
matrix; the sum over the input channels ``c`` makes it deeper. With the padded input laid out as
rows, row ``p`` outermost, for each group ``g`` (``C_g`` input and ``O_g`` output channels)::

    P[g][(p, n), (c, q)] = X'[n, g·C_g + c, p, q]
    T_a[g][(c, q), (l, j)] = W[g·O_g + l, c, a, b]   where q = j + d·b, zero off the band
    Y[n, g·O_g + l, i, j] = Σ_a Σ_{c,q} P[g][(i + d·a, n), (c, q)] · T_a[g][(c, q), (l, j)] + bias

Kernel row ``a`` reads the rows of ``P`` moved down by ``d·a``: since ``p`` is outermost, that is
one contiguous slice, so each term is one matrix product on ``P`` in place, and nothing is
unfolded. The band multiplies ``Wp/kw`` times the useful amount, which is the price of running
the whole sum in BLAS: worth it on narrow images with few channels per group (LeNet's layers,
depthwise layers), where the formula's products are small and its unfold and fold dominate. The VJP
is that of the products::

    ∂L/∂T_a = P_aᵀ · ∂L/∂Y, whose diagonal b sums to ∂L/∂W[..., a, b];
    ∂L/∂P_a = ∂L/∂Y · T_aᵀ, added onto the rows of ∂L/∂P moved down by d·a.

The band's zeros times a NaN or ±∞ would spread it beyond the windows that read it: a non-finite
input, weight or cotangent sends the call to the formula (``kernels.finite_only``).
"""

from __future__ import annotations

import numpy as np

from mathdnn.engine.tensor import VJP
from mathdnn.kernels import workspace
from mathdnn.windows import ConvGeometry


def conv2d_banded(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    geo: ConvGeometry,
    need: tuple[bool, bool],
) -> tuple[np.ndarray, VJP]:
    """The banded form of ``conv2d_formula`` (stride 1, any dilation and groups)."""
    n, c, h, w = x.shape
    c_out = weight.shape[0]
    groups, (kh, kw), (dh, dw), (ho, wo) = geo.groups, geo.kernel, geo.dilation, geo.out
    top, _, left, _ = geo.pads
    c_g, o_g = c // groups, c_out // groups
    xp = workspace.padded(x, geo.pads)
    hp, wp = xp.shape[2:]
    rows = xp.reshape(n, groups, c_g, hp, wp).transpose(1, 3, 0, 2, 4)  # P, (G, Hp, N, C_g, Wp)
    rows = workspace.copy(rows).reshape(groups, hp * n, c_g * wp)

    w_taps = weight.reshape(groups, o_g, c_g, kh, kw).transpose(0, 3, 2, 1, 4)  # (G, a, c, l, b)
    j = np.arange(wo)
    band = workspace.zeros((groups, kh, c_g, wp, o_g, wo), x.dtype)  # T_a[g][(c, q), (l, j)]
    for b in range(kw):
        band[:, :, :, j + dw * b, :, j] = w_taps[..., b]
    t = band.reshape(groups, kh, c_g * wp, o_g * wo)

    def moved_down(p_rows: np.ndarray, a: int) -> np.ndarray:
        """The rows ``(i + d·a, n)`` of ``p_rows`` for every ``i < Ho``: a contiguous view."""
        return p_rows[:, dh * a * n : (dh * a + ho) * n]

    y_rows = workspace.empty((groups, ho * n, o_g * wo), x.dtype)  # (G, (i, n), (l, j))
    np.matmul(moved_down(rows, 0), t[:, 0], out=y_rows)
    term = workspace.empty(y_rows.shape, x.dtype)  # one buffer for every kernel row's product
    for a in range(1, kh):
        y_rows += np.matmul(moved_down(rows, a), t[:, a], out=term)
    y = workspace.empty((n, c_out, ho, wo), x.dtype)
    y_parts = y_rows.reshape(groups, ho, n, o_g, wo).transpose(2, 0, 3, 1, 4)
    np.copyto(y.reshape(n, groups, o_g, ho, wo), y_parts)
    if bias is not None:
        y += bias.reshape(-1, 1, 1)

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        need_x, need_w = need
        g_rows = g.reshape(n, groups, o_g, ho, wo).transpose(1, 3, 0, 2, 4)
        g_rows = workspace.copy(g_rows).reshape(groups, ho * n, o_g * wo)  # ∂L/∂Y as rows
        grad_x = grad_w = None
        if need_w:
            grad_band = workspace.empty(t.shape, x.dtype)
            for a in range(kh):
                np.matmul(moved_down(rows, a).swapaxes(-1, -2), g_rows, out=grad_band[:, a])
            grad_band = grad_band.reshape(band.shape)
            taps = [grad_band[:, :, :, j + dw * b, :, j].sum(axis=0) for b in range(kw)]
            grad_w = np.stack(taps, axis=-1).transpose(0, 3, 2, 1, 4).reshape(weight.shape)
        if need_x:
            grad_rows = workspace.zeros(rows.shape, x.dtype)
            term = workspace.empty(moved_down(rows, 0).shape, x.dtype)
            for a in range(kh):
                moved_down(grad_rows, a)[...] += np.matmul(
                    g_rows, t[:, a].swapaxes(-1, -2), out=term
                )
            grad_xp = grad_rows.reshape(groups, hp, n, c_g, wp).transpose(2, 0, 3, 1, 4)
            grad_x = grad_xp.reshape(n, c, hp, wp)[:, :, top : top + h, left : left + w]
        grad_bias = None if bias is None else g.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_bias

    return y, vjp
