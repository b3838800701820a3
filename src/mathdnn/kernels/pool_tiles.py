"""Max and average pooling when the windows tile the input: fast paths of ``mathdnn.functional``.

The windows tile the input (``tiles``) when ``kernel_size = stride``, with no padding, no
dilation and no ``ceil_mode`` window reaching past the edge. Then window ``(i, j)`` is
``X[n, c, kh·i + a, kw·j + b]``, every pixel lies in at most one window (rows and columns past the
last whole window in none), and ``X`` viewed as ``(N, C, Ho, kh, Wo, kw)`` holds pixel ``(a, b)``
of window ``(i, j)`` at ``[:, :, i, a, j, b]``, without padding or copying. The formula path loops
over strided slices of ``X``, which NumPy reads several times slower than contiguous memory; these
kernels reorder the work so that most of it runs over contiguous memory (their gain, measured by
``benchmarks/bench_conv.py``, is in ``benchmarks/README.md``).

The contract is that of the formula path (``pooling.max_pool2d_formula``,
``pooling.avg_pool2d_formula``): the same arguments and results ``(Y, offset, vjp)`` and
``(Y, vjp)``, equal to rounding, with NaN and ±∞ in the same places.
"""

from __future__ import annotations

import numpy as np

from mathdnn.engine.tensor import VJP
from mathdnn.kernels import workspace
from mathdnn.windows import PoolGeometry


def tiles(geo: PoolGeometry) -> bool:
    """Whether the windows tile the input: stride = kernel, no padding, dilation or overhang."""
    no_padding = geo.padding == (0, 0) and geo.overhang == (0, 0)
    return geo.stride == geo.kernel and no_padding and geo.dilation == (1, 1)


def _tile_view(x: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    """``x`` viewed as ``(N, C, Ho, kh, Wo, kw)``: ``[:, :, i, a, j, b] = x[:, :, kh·i + a,
    kw·j + b]`` (splitting axes never copies, so writing to the view writes to ``x``)."""
    (kh, kw), (ho, wo) = geo.kernel, geo.out
    return x[:, :, : ho * kh, : wo * kw].reshape(*x.shape[:2], ho, kh, wo, kw)


def max_pool2d(x: np.ndarray, geo: PoolGeometry) -> tuple[np.ndarray, np.ndarray, VJP]:
    """``(Y, offset, vjp)`` with the window offsets ``k = a·kw + b`` as the leading axis of one
    contiguous copy, ``stack[k, n, c, i, j] = X[n, c, kh·i + a, kw·j + b]``.

    ``Y`` is the maximum over ``k`` (NaN where a window holds one); ``offset`` the first ``k``
    holding it, or the last holding a NaN: the formula path's scan ``v > max or isnan(v)``.
    """
    kh, kw = geo.kernel
    windows = _tile_view(x, geo).transpose(3, 5, 0, 1, 2, 4)  # (kh, kw, N, C, Ho, Wo)
    stack = workspace.copy(windows).reshape(kh * kw, *windows.shape[2:])
    y = np.max(stack, axis=0, out=workspace.empty(stack.shape[1:], x.dtype))
    # The first k holding the maximum = the number of k before it: count while none has.
    offset = workspace.zeros(y.shape, np.min_scalar_type(kh * kw - 1))
    open_ = workspace.empty(y.shape, bool)
    open_.fill(True)
    for k in range(kh * kw - 1):
        open_ &= stack[k] != y
        offset += open_
    if np.isnan(y).any():
        for k in range(kh * kw):  # the last write wins: the last NaN
            np.copyto(offset, k, where=np.isnan(stack[k]))

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        grad = workspace.zeros(x.shape, x.dtype)
        grad_tiles = _tile_view(grad, geo)
        finite = np.isfinite(g).all()
        at_k = workspace.empty(offset.shape, bool)
        for k in range(kh * kw):
            np.equal(offset, k, out=at_k)
            pixels = grad_tiles[:, :, :, k // kw, :, k % kw]
            if finite:  # g·[offset = k]: exact, and several times faster than np.where
                np.multiply(g, at_k, out=pixels)
            else:  # where 0·∞ would put a NaN
                pixels[...] = np.where(at_k, g, 0)
        return (grad,)

    return y, offset, vjp


def avg_pool2d(x: np.ndarray, geo: PoolGeometry, divisor: np.ndarray) -> tuple[np.ndarray, VJP]:
    """``(Y, vjp)``, separably: the sum over a window is the sum over its ``kw`` columns of the
    sums over its ``kh`` rows, and the rows of a window are whole image rows, added contiguously.

    VJP: each window's share ``∂L/∂Y / |window|`` is copied to its ``kh·kw`` pixels, one pixel
    ``(a, b)`` of every window at a time (the loops run along whole rows of ``∂L/∂Y``; NumPy runs
    loops whose innermost run is ``kw`` long several times slower).
    """
    n, c, _, w = x.shape
    (kh, kw), (ho, wo) = geo.kernel, geo.out
    rows = x[:, :, : ho * kh].reshape(n, c, ho, kh, w)  # [:, :, i, a] = row kh·i + a
    over_rows = workspace.copy(rows[:, :, :, 0])  # (N, C, Ho, W)
    with np.errstate(invalid="ignore", over="ignore"):  # ∞ − ∞ = NaN, as in PyTorch
        for a in range(1, kh):
            over_rows += rows[:, :, :, a]
        columns = over_rows[..., : wo * kw].reshape(n, c, ho, wo, kw)  # [..., j, b]: kw·j + b
        total = workspace.copy(columns[..., 0])
        for b in range(1, kw):
            total += columns[..., b]
        total /= divisor

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        share = np.divide(g, divisor, out=workspace.empty(g.shape, x.dtype))
        grad = workspace.empty(x.shape, x.dtype)
        if ho * kh < x.shape[2] or wo * kw < w:  # rows or columns past the last window
            grad.fill(0)
        grad_tiles = _tile_view(grad, geo)
        for a in range(kh):  # pixel (a, b) of every window at once, along whole rows of g
            for b in range(kw):
                grad_tiles[:, :, :, a, :, b] = share
        return (grad,)

    return total, vjp
