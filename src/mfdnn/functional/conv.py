"""2-D convolution (cross-correlation), fast: unfold + one matrix product, and its VJP.

With the zero-padded input ``X'``, stride ``s``, dilation ``d`` (all indices 0-based)::

    Y[n, l, i, j] = Σ_{c,a,b} W[l, c, a, b] · X'[n, g·C_g + c, s·i + d·a, s·j + d·b] + bias[l]

where ``g = l // (C_out / groups)`` is the group of output channel ``l``, ``C_g = C_in / groups``.
Unfolding ("im2col") gathers every window into a column,
``cols[(c, a, b), (n, i, j)] = X'[n, c, s·i + d·a, s·j + d·b]``, so the convolution is one matrix
product per group, ``Y = W · cols``. The VJP is the transpose of that product::

    ∂L/∂W = (∂L/∂Y) · colsᵀ,    ∂L/∂cols = Wᵀ · (∂L/∂Y),    ∂L/∂X = fold(∂L/∂cols),
    ∂L/∂bias[l] = Σ_{n,i,j} ∂L/∂Y[n, l, i, j]

``fold`` is the adjoint of ``unfold``: it adds every column entry back onto the pixel it came from.
``mfdnn.functional.reference.conv2d`` is the loop-by-loop formula this file is tested against.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from mfdnn.engine import Tensor
from mfdnn.functional._checks import check_ndim, float_tensor, output_size, pair, positive_int

Pads = tuple[int, int, int, int]  # (top, bottom, left, right)


def conv_padding(
    fn: str,
    padding: Any,
    kernel: tuple[int, int],
    dilation: tuple[int, int],
    stride: tuple[int, int],
) -> Pads:
    """Resolve ``padding`` (int, pair, ``"valid"``, ``"same"``) into (top, bottom, left, right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{fn}: padding='same' needs stride 1, got stride={stride}")
            # PyTorch's rule: the total d·(k−1) is split with the extra pixel at the bottom/right.
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        raise ValueError(
            f"{fn}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}"
        )
    ph, pw = pair(fn, "padding", padding, minimum=0)
    return (ph, ph, pw, pw)


def unfold(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pads: Pads,
) -> tuple[np.ndarray, tuple[int, int]]:
    """The columns ``cols[(c, a, b), (n, i, j)] = X'[n, c, s·i + d·a, s·j + d·b]``.

    Returns ``cols`` of shape ``(C·kh·kw, N·Hg·Wg)`` and the grid ``(Hg, Wg)`` its columns run over.
    For stride 1 the grid is the whole padded image ``(Hp, Wp)``: then every window offset
    ``(a, b)`` is a *contiguous* shift by ``d·a·Wp + d·b`` of the flattened image, which copies
    about twice as fast; the positions with ``i ≥ Ho`` or ``j ≥ Wo`` are garbage, cropped later.
    Otherwise the grid is the output ``(Ho, Wo)``.
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    top, bottom, left, right = pads
    hp, wp = h + top + bottom, w + left + right
    ho, wo = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
    item = x.itemsize
    if (sh, sw) == (1, 1):
        m = n * hp * wp
        tail = dh * (kh - 1) * wp + dw * (kw - 1)
        buf = np.zeros((c, m + tail), dtype=x.dtype)
        buf[:, :m].reshape(c, n, hp, wp)[:, :, top : top + h, left : left + w] = x.transpose(
            1, 0, 2, 3
        )
        view = as_strided(buf, (c, kh, kw, m), (buf.strides[0], dh * wp * item, dw * item, item))
        return np.ascontiguousarray(view).reshape(c * kh * kw, m), (hp, wp)
    xp = np.zeros((c, n, hp, wp), dtype=x.dtype)
    xp[:, :, top : top + h, left : left + w] = x.transpose(1, 0, 2, 3)
    s_c, s_n, s_h, s_w = xp.strides
    view = as_strided(
        xp, (c, kh, kw, n, ho, wo), (s_c, dh * s_h, dw * s_w, s_n, sh * s_h, sw * s_w)
    )
    return np.ascontiguousarray(view).reshape(c * kh * kw, n * ho * wo), (ho, wo)


def fold(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pads: Pads,
) -> np.ndarray:
    """The adjoint of ``unfold``: ``X[n, c, p, q]`` = the sum of the column entries read from it.

    ``cols`` is laid out on the grid ``unfold`` returned; entries at garbage grid positions must be
    zero (they are when ``cols = Wᵀ · ∂L/∂Y`` with ``∂L/∂Y`` zero-filled there).
    """
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    top, bottom, left, right = pads
    hp, wp = h + top + bottom, w + left + right
    if (sh, sw) == (1, 1):
        m = n * hp * wp
        tail = dh * (kh - 1) * wp + dw * (kw - 1)
        buf = np.zeros((c, m + tail), dtype=cols.dtype)
        shifted = cols.reshape(c, kh, kw, m)

        for a in range(kh):
            for b in range(kw):
                offset = dh * a * wp + dw * b
                buf[:, offset : offset + m] += shifted[:, a, b]
        padded = buf[:, :m].reshape(c, n, hp, wp)
    else:
        ho, wo = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
        padded = np.zeros((c, n, hp, wp), dtype=cols.dtype)
        windows = cols.reshape(c, kh, kw, n, ho, wo)
        for a in range(kh):
            for b in range(kw):
                rows = slice(dh * a, dh * a + sh * (ho - 1) + 1, sh)
                columns = slice(dw * b, dw * b + sw * (wo - 1) + 1, sw)
                padded[:, :, rows, columns] += windows[:, a, b]
    return np.ascontiguousarray(padded[:, :, top : top + h, left : left + w].transpose(1, 0, 2, 3))


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    ``x``: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``; ``weight``: ``(C_out, C_in/groups,
    kh, kw)``; ``bias``: ``(C_out,)``. ``padding`` is an int, a pair, ``"valid"`` or ``"same"``.
    Output ``(N, C_out, Ho, Wo)`` with ``Ho = ⌊(H + 2p − d·(kh−1) − 1)/s⌋ + 1``.
    Formula and VJP: see the module docstring.
    """
    fn = "conv2d"
    x = float_tensor(fn, "x", x)
    weight = float_tensor(fn, "weight", weight)
    check_ndim(fn, "x", x, (3, 4), "(N, C_in, H, W) or (C_in, H, W)")
    check_ndim(fn, "weight", weight, (4,), "(C_out, C_in/groups, kh, kw)")
    if x.ndim == 3:
        return conv2d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0)
    groups = positive_int(fn, "groups", groups)
    stride = pair(fn, "stride", stride, minimum=1)
    dilation = pair(fn, "dilation", dilation, minimum=1)
    n, c_in, h, w = x.shape
    c_out, c_group, kh, kw = weight.shape
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"{fn}: groups={groups} must divide both the input channels (x has {c_in}) and the "
            f"output channels (weight has {c_out})"
        )
    if c_group * groups != c_in:
        raise ValueError(
            f"{fn}: weight of shape {weight.shape} with groups={groups} expects "
            f"{c_group * groups} input channels, but x of shape {x.shape} has {c_in}"
        )
    if min(kh, kw) < 1:
        raise ValueError(
            f"{fn}: the kernel must be at least 1x1, got weight of shape {weight.shape}"
        )
    pads = conv_padding(fn, padding, (kh, kw), dilation, stride)
    ho = output_size(fn, h, pads[0] + pads[1], kh, stride[0], dilation[0], "kernel height")
    wo = output_size(fn, w, pads[2] + pads[3], kw, stride[1], dilation[1], "kernel width")
    parents: tuple[Tensor, ...] = (x, weight)
    if bias is not None:
        bias = float_tensor(fn, "bias", bias)
        if bias.shape != (c_out,):
            raise ValueError(f"{fn}: bias must have shape ({c_out},), got {bias.shape}")
        parents += (bias,)

    kernel = (kh, kw)
    dtype = np.result_type(x.dtype, weight.dtype)
    cols, (hg, wg) = unfold(x.data.astype(dtype, copy=False), kernel, stride, dilation, pads)
    w_groups = weight.data.astype(dtype, copy=False).reshape(groups, c_out // groups, -1)
    cols_groups = cols.reshape(groups, -1, cols.shape[1])
    y = np.matmul(w_groups, cols_groups).reshape(c_out, n, hg, wg)
    out = np.ascontiguousarray(y[:, :, :ho, :wo].transpose(1, 0, 2, 3))
    if bias is not None:
        out += bias.data.reshape(1, c_out, 1, 1)

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        grad_x = grad_weight = None
        if groups == 1:
            # ∂L/∂Y on the unfold grid as rows (n, i, j) × l, zero at the garbage positions:
            # this layout makes ∂L/∂W = cols · (∂L/∂Y)ᵀ the faster matrix product.
            g_rows = np.zeros((n, hg, wg, c_out), dtype=dtype)
            g_rows[:, :ho, :wo, :] = g.transpose(0, 2, 3, 1)
            g_rows = g_rows.reshape(-1, c_out)
            if weight.requires_grad:
                grad_weight = (cols @ g_rows).T.reshape(weight.shape)
            if x.requires_grad:
                grad_cols = w_groups[0].T @ g_rows.T
        else:
            # Grouped: ∂L/∂Y channel-major, (groups, Og, N·Hg·Wg), one product per group.
            g_grid = np.zeros((c_out, n, hg, wg), dtype=dtype)
            g_grid[:, :, :ho, :wo] = g.transpose(1, 0, 2, 3)
            g_groups = g_grid.reshape(groups, c_out // groups, -1)
            if weight.requires_grad:
                grad_weight = np.matmul(g_groups, cols_groups.transpose(0, 2, 1))
                grad_weight = grad_weight.reshape(weight.shape)
            if x.requires_grad:
                w_t = w_groups.transpose(0, 2, 1)
                # With one output channel per group (depthwise) the product is an outer product,
                # which broadcasting does several times faster than NumPy's matmul.
                grad_cols = w_t * g_groups if c_out == groups else np.matmul(w_t, g_groups)
        if x.requires_grad:
            grad_x = fold(grad_cols.reshape(cols.shape), x.shape, kernel, stride, dilation, pads)
        grads: tuple[np.ndarray | None, ...] = (grad_x, grad_weight)
        if bias is not None:
            grads += (g.sum(axis=(0, 2, 3)),)
        return grads

    return Tensor._make(out, parents, vjp, "conv2d")
