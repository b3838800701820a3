"""Plain, obviously-correct loop versions of conv2d and the pools: the oracle for the fast kernels.

Each function is the formula of ``hw4.md`` written as loops over output pixels, on NumPy arrays,
with no autodiff. Every ``*_vjp`` is the same loop run backwards: each output pixel hands its
cotangent to the inputs it was computed from. Slow on purpose; use only on small inputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from mathdnn.windows import input_rows, output_size, window


def _pad(x: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    top, bottom, left, right = pads
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))


def _window(i: int, j: int, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int]):
    """The rows ``s·i + d·a`` and columns ``s·j + d·b`` of output pixel (i, j)'s window."""
    return window(i, k[0], s[0], d[0]), window(j, k[1], s[1], d[1])


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: tuple[int, int] = (1, 1),
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> np.ndarray:
    """``Y[n, l, i, j] = Σ_{c,a,b} W[l, c, a, b] · X'[n, g·C_g + c, s·i + d·a, s·j + d·b]``
    ``+ bias[l]``."""
    xp = _pad(x, pads)
    n, _c_in, hp, wp = xp.shape
    c_out, c_group, kh, kw = weight.shape
    ho, wo = (
        output_size("reference conv2d", n, 0, k, st, d, "kernel")
        for n, k, st, d in zip((hp, wp), (kh, kw), stride, dilation, strict=True)
    )
    per_group = c_out // groups
    y = np.zeros((n, c_out, ho, wo), dtype=np.result_type(x, weight))
    for l in range(c_out):
        channels = slice((l // per_group) * c_group, (l // per_group + 1) * c_group)
        for i in range(ho):
            for j in range(wo):
                rows, cols = _window(i, j, (kh, kw), stride, dilation)
                y[:, l, i, j] = (xp[:, channels, rows, cols] * weight[l]).sum(axis=(1, 2, 3))
        if bias is not None:
            y[:, l] += bias[l]
    return y


def conv2d_vjp(
    x: np.ndarray,
    weight: np.ndarray,
    g: np.ndarray,
    stride: tuple[int, int] = (1, 1),
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilation: tuple[int, int] = (1, 1),
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(∂L/∂X, ∂L/∂W, ∂L/∂bias)`` given ``g = ∂L/∂Y``: the loops of ``conv2d`` run backwards."""
    xp = _pad(x, pads)
    grad_xp = np.zeros_like(xp)
    grad_w = np.zeros_like(weight)
    c_out, c_group, kh, kw = weight.shape
    per_group = c_out // groups
    for l in range(c_out):
        channels = slice((l // per_group) * c_group, (l // per_group + 1) * c_group)
        for i in range(g.shape[2]):
            for j in range(g.shape[3]):
                rows, cols = _window(i, j, (kh, kw), stride, dilation)
                gl = g[:, l, i, j][:, None, None, None]
                grad_xp[:, channels, rows, cols] += gl * weight[l]
                grad_w[l] += (gl * xp[:, channels, rows, cols]).sum(axis=0)
    top, _, left, _ = pads
    grad_x = grad_xp[:, :, top : top + x.shape[2], left : left + x.shape[3]]
    return grad_x, grad_w, g.sum(axis=(0, 2, 3))


def _pool_taps(i: int, size: int, k: int, s: int, p: int, d: int) -> list[int]:
    """The input rows (or columns) ``s·i + d·a − p``, ``a < k``, of window ``i`` that lie in the
    input: PyTorch's loops skip the padding, and ``ceil_mode``'s reach past it."""
    return [int(r) for r in input_rows(i + 1, k, s, p, d)[i] if 0 <= r < size]


def _pool_size(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    ceil_mode: bool,
) -> tuple[int, int]:
    return tuple(
        output_size("reference pool", n, 2 * p, k, s, d, "window", ceil_mode)
        for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation, strict=True)
    )


def max_pool2d(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    ceil_mode: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """``Y[n, c, i, j] = max`` of the window's pixels, scanned in row-major order with
    ``v > max or isnan(v)``; and PyTorch's indices, the flat position ``h·W + w`` of that pixel
    (of the window's first pixel when all its pixels are −∞)."""
    n, c, h, w = x.shape
    ho, wo = _pool_size(x, kernel, stride, padding, dilation, ceil_mode)
    y = np.full((n, c, ho, wo), -np.inf, dtype=x.dtype)
    where = np.zeros((n, c, ho, wo), dtype=np.int64)
    for i in range(ho):
        for j in range(wo):
            rows = _pool_taps(i, h, kernel[0], stride[0], padding[0], dilation[0])
            cols = _pool_taps(j, w, kernel[1], stride[1], padding[1], dilation[1])
            where[:, :, i, j] = rows[0] * w + cols[0]
            for r in rows:
                for q in cols:
                    v = x[:, :, r, q]
                    better = (v > y[:, :, i, j]) | np.isnan(v)
                    y[:, :, i, j] = np.where(better, v, y[:, :, i, j])
                    where[:, :, i, j] = np.where(better, r * w + q, where[:, :, i, j])
    return y, where


def max_pool2d_vjp(
    x: np.ndarray,
    g: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    ceil_mode: bool = False,
) -> np.ndarray:
    """``∂L/∂X``: each window's cotangent goes to the pixel of its maximum."""
    _, where = max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)
    n, c, h, w = x.shape
    grad = np.zeros((n, c, h * w), dtype=x.dtype)
    for nn in range(n):
        for cc in range(c):
            np.add.at(grad[nn, cc], where[nn, cc].reshape(-1), g[nn, cc].reshape(-1))
    return grad.reshape(n, c, h, w)


def _avg_windows(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
) -> Iterator[tuple[int, int, slice, slice, float]]:
    """Each window of ``avg_pool2d`` as PyTorch's loop finds it: ``(i, j, rows, cols, divisor)``,
    ``rows``, ``cols`` its part of the input, ``divisor`` its places in the padded input
    (``count_include_pad``), its pixels, or ``divisor_override``."""
    h, w = x.shape[2:]
    ho, wo = _pool_size(x, kernel, stride, padding, (1, 1), ceil_mode)
    for i in range(ho):
        for j in range(wo):
            top, left = stride[0] * i - padding[0], stride[1] * j - padding[1]
            bottom = min(top + kernel[0], h + padding[0])
            right = min(left + kernel[1], w + padding[1])
            places = (bottom - top) * (right - left)
            rows = slice(max(top, 0), min(bottom, h))
            cols = slice(max(left, 0), min(right, w))
            pixels = (rows.stop - rows.start) * (cols.stop - cols.start)
            if divisor_override is not None:
                divisor = divisor_override
            else:
                divisor = places if count_include_pad else pixels
            yield i, j, rows, cols, float(divisor)


def avg_pool2d(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """``Y[n, c, i, j] = (1/|window|) Σ`` of the window's pixels."""
    ho, wo = _pool_size(x, kernel, stride, padding, (1, 1), ceil_mode)
    y = np.zeros((*x.shape[:2], ho, wo), dtype=x.dtype)
    for i, j, rows, cols, divisor in _avg_windows(
        x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
    ):
        y[:, :, i, j] = x[:, :, rows, cols].sum(axis=(2, 3)) / divisor
    return y


def avg_pool2d_vjp(
    x: np.ndarray,
    g: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """``∂L/∂X``: each window hands ``∂L/∂Y / |window|`` to every pixel it averaged."""
    grad = np.zeros_like(x)
    for i, j, rows, cols, divisor in _avg_windows(
        x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
    ):
        grad[:, :, rows, cols] += (g[:, :, i, j] / divisor)[:, :, None, None]
    return grad


def _adaptive_windows(x: np.ndarray, output_size: tuple[int, int]) -> Iterator[tuple]:
    """``(i, j, rows, cols)``: rows ``⌊i·H/Ho⌋ ≤ h < ⌈(i+1)·H/Ho⌉``, columns likewise."""
    (h, w), (ho, wo) = x.shape[2:], output_size
    for i in range(ho):
        for j in range(wo):
            rows = slice(math.floor(i * h / ho), math.ceil((i + 1) * h / ho))
            cols = slice(math.floor(j * w / wo), math.ceil((j + 1) * w / wo))
            yield i, j, rows, cols


def adaptive_avg_pool2d(x: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """``Y[n, c, i, j]`` = the mean of the window ``(i, j)`` of adaptive pooling."""
    y = np.zeros((*x.shape[:2], *output_size), dtype=x.dtype)
    for i, j, rows, cols in _adaptive_windows(x, output_size):
        y[:, :, i, j] = x[:, :, rows, cols].mean(axis=(2, 3))
    return y


def adaptive_avg_pool2d_vjp(
    x: np.ndarray, g: np.ndarray, output_size: tuple[int, int]
) -> np.ndarray:
    """``∂L/∂X``: each window hands ``∂L/∂Y`` divided by its number of pixels to each of them."""
    grad = np.zeros_like(x)
    for i, j, rows, cols in _adaptive_windows(x, output_size):
        pixels = (rows.stop - rows.start) * (cols.stop - cols.start)
        grad[:, :, rows, cols] += (g[:, :, i, j] / pixels)[:, :, None, None]
    return grad
