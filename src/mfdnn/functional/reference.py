"""Plain, obviously-correct loop versions of conv2d and the pools: the oracle for the fast kernels.

Each function is the formula of ``hw4.md`` written as loops over output pixels, on NumPy arrays,
with no autodiff. Every ``*_vjp`` is the same loop run backwards: each output pixel hands its
cotangent to the inputs it was computed from. Slow on purpose; use only on small inputs.
"""

from __future__ import annotations

import numpy as np


def _pad(x: np.ndarray, pads: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    top, bottom, left, right = pads
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def _out(size: int, pad: int, k: int, s: int, d: int) -> int:
    return (size + pad - d * (k - 1) - 1) // s + 1


def _window(i: int, j: int, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int]):
    """The rows and columns ``s·i + d·a``, ``s·j + d·b`` of output pixel (i, j)'s window."""
    return (
        slice(s[0] * i, s[0] * i + d[0] * (k[0] - 1) + 1, d[0]),
        slice(s[1] * j, s[1] * j + d[1] * (k[1] - 1) + 1, d[1]),
    )


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
    ho, wo = _out(hp, 0, kh, stride[0], dilation[0]), _out(wp, 0, kw, stride[1], dilation[1])
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


def max_pool2d(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
) -> tuple[np.ndarray, np.ndarray]:
    """``Y[n, c, i, j] = max`` of the window; also the flat index (into the padded image) of the
    first maximal entry of each window, the place its gradient goes."""
    xp = _pad(x, (padding[0], padding[0], padding[1], padding[1]), -np.inf)
    n, c, hp, wp = xp.shape
    ho, wo = (
        _out(hp, 0, kernel[0], stride[0], dilation[0]),
        _out(wp, 0, kernel[1], stride[1], dilation[1]),
    )
    y = np.zeros((n, c, ho, wo), dtype=x.dtype)
    where = np.zeros((n, c, ho, wo), dtype=np.int64)
    rows_of, cols_of = np.indices((hp, wp))
    for i in range(ho):
        for j in range(wo):
            rows, cols = _window(i, j, kernel, stride, dilation)
            window = xp[:, :, rows, cols].reshape(n, c, -1)
            first = window.argmax(axis=2)
            y[:, :, i, j] = np.take_along_axis(window, first[..., None], axis=2)[..., 0]
            flat = (rows_of[rows, cols] * wp + cols_of[rows, cols]).reshape(-1)
            where[:, :, i, j] = flat[first]
    return y, where


def max_pool2d_vjp(
    x: np.ndarray,
    g: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
) -> np.ndarray:
    """``∂L/∂X``: each window's cotangent goes to its first maximal entry."""
    _, where = max_pool2d(x, kernel, stride, padding, dilation)
    n, c, h, w = x.shape
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    grad = np.zeros((n, c, hp * wp), dtype=x.dtype)
    for nn in range(n):
        for cc in range(c):
            np.add.at(grad[nn, cc], where[nn, cc].reshape(-1), g[nn, cc].reshape(-1))
    grad = grad.reshape(n, c, hp, wp)
    return grad[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + w]


def avg_pool2d(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
    count_include_pad: bool = True,
) -> np.ndarray:
    """``Y[n, c, i, j] = (1/|window|) Σ`` of the window (padding counted unless told otherwise)."""
    pads = (padding[0], padding[0], padding[1], padding[1])
    xp = _pad(x, pads)
    inside = _pad(np.ones((1, 1, *x.shape[2:])), pads)
    n, c, hp, wp = xp.shape
    ho, wo = _out(hp, 0, kernel[0], stride[0], 1), _out(wp, 0, kernel[1], stride[1], 1)
    y = np.zeros((n, c, ho, wo), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            rows, cols = _window(i, j, kernel, stride, (1, 1))
            count = kernel[0] * kernel[1] if count_include_pad else inside[0, 0, rows, cols].sum()
            y[:, :, i, j] = xp[:, :, rows, cols].sum(axis=(2, 3)) / count
    return y


def avg_pool2d_vjp(
    x: np.ndarray,
    g: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int] = (0, 0),
    count_include_pad: bool = True,
) -> np.ndarray:
    """``∂L/∂X``: each window shares its cotangent equally among the pixels it averaged."""
    pads = (padding[0], padding[0], padding[1], padding[1])
    inside = _pad(np.ones((1, 1, *x.shape[2:])), pads)
    n, c, h, w = x.shape
    grad = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]), dtype=x.dtype)
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            rows, cols = _window(i, j, kernel, stride, (1, 1))
            count = kernel[0] * kernel[1] if count_include_pad else inside[0, 0, rows, cols].sum()
            grad[:, :, rows, cols] += (g[:, :, i, j] / count)[:, :, None, None]
    return grad[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + w]
