"""2-D convolution (cross-correlation) and its VJP, written as the formula.

With the zero-padded input ``X'``, stride ``s``, dilation ``d`` and ``G`` groups (0-based)::

    Y[n, l, i, j] = Σ_{c,a,b} W[l, c, a, b] · X'[n, g·C_g + c, s·i + d·a, s·j + d·b] + bias[l]

where ``g = l // (C_out/G)`` is the group of output channel ``l`` and ``C_g = C_in/G``. Unfolding
("im2col") gathers the window of every output pixel into a column of a matrix,

    cols[n, g][(c, a, b), (i, j)] = X'[n, g·C_g + c, s·i + d·a, s·j + d·b],

so that the convolution is one matrix product per group, ``Y[n, g] = W_g · cols[n, g] + bias``,
``W_g`` holding the filters of group ``g`` as rows of length ``C_g·kh·kw``. Its VJP is the two
transposed products and the fold::

    ∂L/∂W_g = Σ_n ∂L/∂Y[n, g] · cols[n, g]ᵀ,      ∂L/∂cols[n, g] = W_gᵀ · ∂L/∂Y[n, g],
    ∂L/∂X = fold(∂L/∂cols),                       ∂L/∂bias[l] = Σ_{n,i,j} ∂L/∂Y[n, l, i, j],

``fold`` being the adjoint of ``unfold``: it adds every column entry back onto the pixel it was
read from. This module is that formula. ``mathdnn.kernels`` holds the fast paths, which compute the
same thing another way, and the rule that picks one (``mathdnn.kernels.use("reference")`` turns them
off); ``mathdnn.functional.reference`` is the same formula again as plain loops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mathdnn import switch
from mathdnn.engine import Tensor, is_grad_enabled
from mathdnn.engine.tensor import VJP
from mathdnn.functional._checks import check_ndim, float_tensor, positive_int
from mathdnn.windows import ConvGeometry, Pads, add_taps, output_size, pad, pair, taps


def unfold(x: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """``cols[n, g][(c, a, b), (i, j)] = X'[n, g·C_g + c, s·i + d·a, s·j + d·b]``, shape
    ``(N, G, C_g·kh·kw, Ho·Wo)``: the window taps of ``X'`` (a view), copied into columns."""
    n, c = x.shape[:2]
    (kh, kw), (ho, wo) = geo.kernel, geo.out
    return taps(pad(x, geo.pads), geo).reshape(n, geo.groups, c // geo.groups * kh * kw, ho * wo)


def fold(grad_cols: np.ndarray, x_shape: tuple[int, ...], geo: ConvGeometry) -> np.ndarray:
    """The adjoint of ``unfold``: ``∂L/∂X[n, c, p, q]`` is the sum of the entries of
    ``∂L/∂cols`` that were read from ``X'[n, c, p, q]``, a padding pixel's share dropped."""
    n, c, h, w = x_shape
    (kh, kw), (ho, wo), (top, bottom, left, right) = geo.kernel, geo.out, geo.pads
    grad_padded = np.zeros((n, c, h + top + bottom, w + left + right), dtype=grad_cols.dtype)
    add_taps(grad_padded, grad_cols.reshape(n, c, kh, kw, ho, wo), geo)
    return grad_padded[:, :, top : top + h, left : left + w]


def conv2d_formula(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    geo: ConvGeometry,
    need: tuple[bool, bool],
) -> tuple[np.ndarray, VJP]:
    """``Y = W · unfold(X) + bias`` and its VJP, on arrays; see the module docstring.

    The contract of every conv2d kernel, fast or not (``mathdnn.switch``): ``(Y, vjp)``, ``vjp(g)``
    giving ``(∂L/∂X, ∂L/∂W, ∂L/∂bias)``; ``need`` says whether ``∂L/∂X`` and ``∂L/∂W`` are needed
    (else None).
    """
    n, c_out = x.shape[0], weight.shape[0]
    groups, (ho, wo) = geo.groups, geo.out
    cols = unfold(x, geo)  # (N, G, C_g·kh·kw, Ho·Wo)
    w_groups = weight.reshape(groups, c_out // groups, cols.shape[2])  # W_g as rows
    y = (w_groups @ cols).reshape(n, c_out, ho, wo)
    if bias is not None:
        y += bias.reshape(-1, 1, 1)

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        g_groups = g.reshape(n, groups, c_out // groups, ho * wo)  # ∂L/∂Y[n, g]
        need_x, need_w = need
        grad_w = grad_x = None
        if need_w:
            grad_w = (g_groups @ cols.swapaxes(-1, -2)).sum(axis=0).reshape(weight.shape)
        if need_x:
            grad_x = fold(w_groups.swapaxes(-1, -2) @ g_groups, x.shape, geo)
        grad_bias = None if bias is None else g.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_bias

    return y, vjp


def conv_padding(
    fn: str, padding: Any, kernel: tuple[int, int], stride: tuple[int, int], dilation: Any
) -> Pads:
    """``padding`` (an int, a pair, ``"valid"`` or ``"same"``) as (top, bottom, left, right)."""
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


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``; formula and VJP: see the module.

    ``x``: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``; ``weight``: ``(C_out, C_in/groups,
    kh, kw)``; ``bias``: ``(C_out,)``. ``padding`` is an int, a pair, ``"valid"`` or ``"same"``.
    Output ``(N, C_out, Ho, Wo)`` with ``Ho = ⌊(H + 2p − d·(kh−1) − 1)/s⌋ + 1``.
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
    _, c_in, h, w = x.shape
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
    pads = conv_padding(fn, padding, (kh, kw), stride, dilation)
    out = (
        output_size(fn, h, pads[0] + pads[1], kh, stride[0], dilation[0], "kernel height"),
        output_size(fn, w, pads[2] + pads[3], kw, stride[1], dilation[1], "kernel width"),
    )
    geo = ConvGeometry((kh, kw), stride, pads, dilation, groups, out)
    parents: tuple[Tensor, ...] = (x, weight)
    if bias is not None:
        bias = float_tensor(fn, "bias", bias)
        if bias.shape != (c_out,):
            raise ValueError(f"{fn}: bias must have shape ({c_out},), got {bias.shape}")
        parents += (bias,)

    dtype = np.result_type(x.dtype, weight.dtype)
    xd, wd = x.data.astype(dtype, copy=False), weight.data.astype(dtype, copy=False)
    bd = None if bias is None else bias.data.astype(dtype, copy=False)
    kernel = switch.kernel(fn, conv2d_formula, xd, wd, geo)
    grad = is_grad_enabled()  # without gradients (no_grad), nothing need be kept for the VJP
    need = (grad and x.requires_grad, grad and weight.requires_grad)
    # NaN and ±∞ propagate as the formula says, without NumPy's warnings (as PyTorch).
    with np.errstate(invalid="ignore", over="ignore"):
        y, backward = kernel(xd, wd, bd, geo, need)

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        with np.errstate(invalid="ignore", over="ignore"):
            grads = backward(g)
        return grads if bias is not None else grads[:2]

    return Tensor._make(y, parents, vjp, fn)
