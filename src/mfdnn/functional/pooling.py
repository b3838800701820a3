"""2-D max and average pooling, and their VJPs.

A pool looks at the window of input pixels ``X'[n, c, s·i + d·a, s·j + d·b]`` (``a < kh``,
``b < kw``) for every output pixel ``(i, j)``. Both pools here loop over the ``kh·kw`` window
offsets ``(a, b)``, each a strided slice of the whole padded batch, so the work is vectorised over
``N·C·Ho·Wo``. ``mfdnn.functional.reference`` holds the per-window loops they are tested against.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from mfdnn.engine import Tensor
from mfdnn.functional._checks import check_ndim, float_tensor, output_size, pair


class PoolGeometry:
    """Kernel, stride, padding, dilation and the output size of one pooling call, validated."""

    def __init__(
        self, fn: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any
    ) -> None:
        check_ndim(fn, "x", x, (3, 4), "(N, C, H, W) or (C, H, W)")
        self.kernel = pair(fn, "kernel_size", kernel_size, minimum=1)
        self.stride = self.kernel if stride is None else pair(fn, "stride", stride, minimum=1)
        self.padding = pair(fn, "padding", padding, minimum=0)
        self.dilation = pair(fn, "dilation", dilation, minimum=1)
        for p, k in zip(self.padding, self.kernel, strict=True):
            if 2 * p > k:
                raise ValueError(
                    f"{fn}: padding {self.padding} must be at most half of kernel_size "
                    f"{self.kernel}"
                )
        h, w = x.shape[-2:]
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (
            self.kernel,
            self.stride,
            self.padding,
            self.dilation,
        )
        self.out = (
            output_size(fn, h, 2 * ph, kh, sh, dh, "pooling window height"),
            output_size(fn, w, 2 * pw, kw, sw, dw, "pooling window width"),
        )
        for size, p, k, s, d, n in zip(
            (h, w), self.padding, self.kernel, self.stride, self.dilation, self.out, strict=True
        ):
            # A window must read at least one real pixel: a dilated window can straddle the
            # input and see only padding (PyTorch's kernel writes out of bounds there).
            taps = s * np.arange(n)[:, None] + d * np.arange(k)[None, :]
            if not ((taps >= p) & (taps < p + size)).any(axis=1).all():
                raise ValueError(
                    f"{fn}: with kernel_size {self.kernel}, stride {self.stride}, padding "
                    f"{self.padding} and dilation {self.dilation}, some windows of the "
                    f"{h}x{w} input cover only padding"
                )

    def pad(self, x: np.ndarray, value: float) -> np.ndarray:
        (ph, pw) = self.padding
        if ph == pw == 0:
            return x
        return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)

    def windows(self) -> Iterator[tuple[int, tuple[slice, slice, slice, slice]]]:
        """For each window offset ``k = a·kw + b``: the slice of the padded input it reads."""
        (kh, kw), (sh, sw), (dh, dw), (ho, wo) = self.kernel, self.stride, self.dilation, self.out
        for a in range(kh):
            for b in range(kw):
                rows = slice(dh * a, dh * a + sh * (ho - 1) + 1, sh)
                cols = slice(dw * b, dw * b + sw * (wo - 1) + 1, sw)
                yield a * kw + b, (slice(None), slice(None), rows, cols)

    def tiles(self) -> bool:
        """Whether the windows tile the input: stride = kernel, no padding, no dilation."""
        return self.stride == self.kernel and self.padding == (0, 0) and self.dilation == (1, 1)

    def tile_view(self, x: np.ndarray) -> np.ndarray:
        """When the windows tile the input: ``x`` viewed as ``(N, C, Ho, kh, Wo, kw)``, so that
        ``[:, :, i, a, j, b]`` is pixel ``(a, b)`` of window ``(i, j)`` (edges beyond the last
        whole window are left out)."""
        (kh, kw), (ho, wo) = self.kernel, self.out
        return x[:, :, : ho * kh, : wo * kw].reshape(*x.shape[:2], ho, kh, wo, kw)

    def crop(self, padded: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        (ph, pw) = self.padding
        return padded[:, :, ph : ph + shape[2], pw : pw + shape[3]]


def _batched(fn: str, x: Any) -> tuple[Tensor, bool]:
    x = float_tensor(fn, "x", x)
    return (x.unsqueeze(0), True) if x.ndim == 3 else (x, False)


def max_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> Tensor:
    """``Y[n, c, i, j] = max_{a,b} X'[n, c, s·i + d·a, s·j + d·b]``, ``X'`` padded with −∞.

    As ``torch.nn.functional.max_pool2d``: ``stride`` defaults to ``kernel_size``; padding is at
    most half the window. VJP: ``∂L/∂X`` receives ``∂L/∂Y[n, c, i, j]`` at the position of the
    window's maximum — the first one in row-major order when several tie (a NaN counts as the
    maximum), exactly where PyTorch sends it — summed over overlapping windows.
    """
    fn = "max_pool2d"
    x, unbatched = _batched(fn, x)
    geo = PoolGeometry(fn, x, kernel_size, stride, padding, dilation)
    has_nan = bool(np.isnan(x.data).any())
    if geo.tiles() and not has_nan:
        out = _max_pool_tiles(x, geo)
        return out.squeeze(0) if unbatched else out
    padded = geo.pad(x.data, -np.inf)
    best = argbest = None
    for k, window in geo.windows():
        v = padded[window]
        if best is None:
            best, argbest = v.copy(), np.zeros(v.shape, dtype=np.int32)
            continue
        # Strictly greater keeps the first maximum; a NaN always takes over (as in PyTorch).
        better = (v > best) | np.isnan(v) if has_nan else v > best
        argbest = np.where(better, np.int32(k), argbest)
        best = np.maximum(best, v)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        grad = np.zeros(padded.shape, dtype=x.dtype)
        for k, window in geo.windows():
            grad[window] += np.where(argbest == k, g, 0)
        return (np.ascontiguousarray(geo.crop(grad, x.shape)),)

    out = Tensor._make(best, (x,), vjp, "max_pool2d")
    return out.squeeze(0) if unbatched else out


def _max_pool_tiles(x: Tensor, geo: PoolGeometry) -> Tensor:
    """max_pool2d when the windows tile the input (the common ``kernel_size = stride``), no NaN.

    The window offsets ``k = a·kw + b`` become the leading axis of one contiguous copy, so every
    comparison below runs over contiguous memory. As in the general loop, the gradient goes to the
    first maximum of each window in row-major order.
    """
    kh, kw = geo.kernel
    tiles = geo.tile_view(x.data).transpose(3, 5, 0, 1, 2, 4)  # (kh, kw, N, C, Ho, Wo)
    windows = np.ascontiguousarray(tiles).reshape(kh * kw, *tiles.shape[2:])
    best = windows.max(axis=0)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        grad = np.zeros(x.shape, dtype=x.dtype)
        grad_tiles = geo.tile_view(grad)
        open_ = np.ones(best.shape, dtype=bool)  # windows whose maximum is not yet placed
        for k in range(kh * kw):
            hit = windows[k] == best
            hit &= open_
            open_ &= ~hit
            np.multiply(g, hit, out=grad_tiles[:, :, :, k // kw, :, k % kw])
        return (grad,)

    return Tensor._make(best, (x,), vjp, "max_pool2d")


def avg_pool2d(
    x: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    count_include_pad: bool = True,
) -> Tensor:
    """``Y[n, c, i, j] = (1/|window|) Σ_{a,b} X'[n, c, s·i + a, s·j + b]``, ``X'`` zero-padded.

    As ``torch.nn.functional.avg_pool2d``: ``|window| = kh·kw`` counting padding, or only the real
    pixels with ``count_include_pad=False``. VJP: each input pixel receives
    ``∂L/∂Y[n, c, i, j] / |window|`` from every window that contains it.
    """
    fn = "avg_pool2d"
    x, unbatched = _batched(fn, x)
    geo = PoolGeometry(fn, x, kernel_size, stride, padding, 1)
    padded = geo.pad(x.data, 0.0)
    total = np.zeros(x.shape[:2] + geo.out, dtype=x.dtype)
    for _, window in geo.windows():
        total += padded[window]
    if count_include_pad or geo.padding == (0, 0):
        divisor: np.ndarray | float = float(geo.kernel[0] * geo.kernel[1])
    else:
        inside = geo.pad(np.ones((1, 1, *x.shape[2:]), dtype=x.dtype), 0.0)
        divisor = sum(inside[window] for _, window in geo.windows())

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        share = g / divisor
        if geo.tiles():  # every pixel in at most one window: a copy per offset, no adds
            grad = np.zeros(x.shape, dtype=x.dtype)
            tiles = geo.tile_view(grad)
            for a in range(geo.kernel[0]):
                for b in range(geo.kernel[1]):
                    tiles[:, :, :, a, :, b] = share
            return (grad,)
        grad = np.zeros(padded.shape, dtype=x.dtype)
        for _, window in geo.windows():
            grad[window] += share
        return (np.ascontiguousarray(geo.crop(grad, x.shape)),)

    out = Tensor._make(total / np.asarray(divisor, dtype=x.dtype), (x,), vjp, "avg_pool2d")
    return out.squeeze(0) if unbatched else out
