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

Five kernels compute this. Stride 1 with ``groups = 1`` takes one of three, by a rule measured
on a table of layers (``_stride1_kernel``): the rows kernel unfolds only the kernel rows, a chunk
of images at a time, and stacks the kernel columns as rows of the weight matrix
(``_conv_stride1``); for few channels, the banded kernel runs each output row as one banded
matrix product (``_conv_banded``); for a few more, the per-row banded kernel runs each kernel row
as a banded matrix product, unfolding nothing (``_conv_banded_per_row``). Depthwise stride 1
(``groups = C_in = C_out``, output at most ``BANDED_MAX_WIDTH`` wide) runs each kernel row as a
banded matrix product per channel (``_depthwise_stride1``); everything else unfolds the whole
batch (``_conv_unfold``). The chunked kernels spread their chunks over one worker thread per core
(``mfdnn.set_num_threads``). The loop-by-loop formula ``mfdnn.functional.reference.conv2d`` is
the oracle all five are tested against.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from mfdnn.engine import Tensor
from mfdnn.functional._checks import check_ndim, float_tensor, output_size, pair, positive_int
from mfdnn.functional._parallel import (
    empty_output,
    get_num_threads,
    parallel_map,
    scratch,
    scratch_holding,
)

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
    pads = conv_padding(fn, padding, (kh, kw), dilation, stride)
    output_size(fn, h, pads[0] + pads[1], kh, stride[0], dilation[0], "kernel height")
    output_size(fn, w, pads[2] + pads[3], kw, stride[1], dilation[1], "kernel width")
    parents: tuple[Tensor, ...] = (x, weight)
    if bias is not None:
        bias = float_tensor(fn, "bias", bias)
        if bias.shape != (c_out,):
            raise ValueError(f"{fn}: bias must have shape ({c_out},), got {bias.shape}")
        parents += (bias,)

    kernel = (kh, kw)
    dtype = np.result_type(x.dtype, weight.dtype)
    xd, wd = x.data.astype(dtype, copy=False), weight.data.astype(dtype, copy=False)
    bd = None if bias is None else bias.data.astype(dtype, copy=False)
    if stride == (1, 1) and groups == 1:
        wo = _Shifts.of(x.shape, kernel, dilation, pads).wo
        stride1 = {"rows": _conv_stride1, "banded": _conv_banded, "per_row": _conv_banded_per_row}
        route = _stride1_kernel(c_in, c_out, wo, kernel, dilation)
        out, backward = stride1[route](xd, wd, bd, kernel, dilation, pads)
    elif (
        stride == (1, 1)
        and groups == c_in == c_out
        and _Shifts.of(x.shape, kernel, dilation, pads).wo <= BANDED_MAX_WIDTH
    ):
        out, backward = _depthwise_stride1(xd, wd, bd, kernel, dilation, pads)
    else:
        out, backward = _conv_unfold(xd, wd, bd, kernel, stride, dilation, pads, groups)

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        grads = backward(g, x.requires_grad, weight.requires_grad)
        return grads if bias is not None else grads[:2]

    return Tensor._make(out, parents, vjp, "conv2d")


# backward(∂L/∂Y, need_x, need_w) -> (∂L/∂X, ∂L/∂W, ∂L/∂bias); each None when not needed.
Backward = Callable[[np.ndarray, bool, bool], tuple[np.ndarray | None, ...]]


def _copy_runs(dst: np.ndarray, src: np.ndarray) -> None:
    """``dst[...] = src``, moving each short run along the last axis (contiguous in both, at most
    64 bytes) as one item: a transposing copy with runs of 5-10 floats goes 1.5-2× as fast that
    way (measured here; runs of 32 floats go 15 % slower, so they are copied as they are)."""
    run = src.shape[-1]
    item = dst.itemsize
    if run > 1 and run * item <= 64 and dst.strides[-1] == src.strides[-1] == item == src.itemsize:
        whole = np.dtype((np.void, run * item))
        np.copyto(dst.view(whole), src.view(whole))
    else:
        np.copyto(dst, src)


def _write_output(out: np.ndarray, y: np.ndarray, bias: np.ndarray | None) -> None:
    """``out[n, l, i, j] = y[n, l, i, j] + bias[l]``: the kernels' last copy, then the bias added in
    place (faster than one add that reads ``y`` across its layout)."""
    _copy_runs(out, y)
    if bias is not None:
        np.add(out, bias.reshape(1, -1, 1, 1), out=out)


def _conv_unfold(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pads: Pads,
    groups: int,
) -> tuple[np.ndarray, Backward]:
    """Any stride and groups: unfold the whole batch once, one matrix product per group."""
    c_out = weight.shape[0]
    n = x.shape[0]
    h, w = x.shape[2:]
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    ho = (h + pads[0] + pads[1] - dh * (kh - 1) - 1) // sh + 1
    wo = (w + pads[2] + pads[3] - dw * (kw - 1) - 1) // sw + 1
    cols, (hg, wg) = unfold(x, kernel, stride, dilation, pads)
    w_groups = weight.reshape(groups, c_out // groups, -1)
    cols_groups = cols.reshape(groups, -1, cols.shape[1])
    y = np.matmul(w_groups, cols_groups).reshape(c_out, n, hg, wg)
    out = empty_output((n, c_out, ho, wo), x.dtype)
    _write_output(out, y[:, :, :ho, :wo].transpose(1, 0, 2, 3), bias)

    def backward(g: np.ndarray, need_x: bool, need_w: bool):  # type: ignore[no-untyped-def]
        grad_x = grad_weight = grad_bias = None
        # ∂L/∂Y channel-major, (groups, Og, N·Hg·Wg), zero at the grid's garbage positions.
        g_grid = np.zeros((c_out, n, hg, wg), dtype=x.dtype)
        g_grid[:, :, :ho, :wo] = g.transpose(1, 0, 2, 3)
        g_groups = g_grid.reshape(groups, c_out // groups, -1)
        if need_w:
            grad_weight = np.matmul(g_groups, cols_groups.transpose(0, 2, 1))
            grad_weight = grad_weight.reshape(weight.shape)
        if need_x:
            w_t = w_groups.transpose(0, 2, 1)
            # With one output channel per group the product is an outer product,
            # which broadcasting does several times faster than NumPy's matmul.
            grad_cols = w_t * g_groups if c_out == groups else np.matmul(w_t, g_groups)
            grad_x = fold(grad_cols.reshape(cols.shape), x.shape, kernel, stride, dilation, pads)
        if bias is not None:
            grad_bias = g_groups.reshape(c_out, -1).sum(axis=1)
        return grad_x, grad_weight, grad_bias

    return out, backward


# The stride-1 kernels below work on chunks of images (the unfolded columns of one chunk are at
# most about this many bytes), each in reused scratch buffers: whole-batch buffers of tens of MB
# cost more in page faults than the arithmetic. Larger chunks make larger matrix products, which
# OpenBLAS runs faster: on the benchmark's layers here, 8 MB chunks beat 2 MB ones by 10-30 %
# (ResNet 3x3 42 -> 38 ms, depthwise 16 -> 14 ms, two threads).
CHUNK_BYTES = 1 << 23


def _padded_planes(x: np.ndarray, pads: Pads) -> np.ndarray:
    """``X'`` as flat planes: ``(N·C·Hp·Wp,)``, zero-padded.

    The pixel ``X'[n, c, p, q]`` sits at ``((n·C + c)·Hp + p)·Wp + q``, so moving a window down by
    ``a`` rows moves it by ``a·Wp``. Without padding this is ``x`` itself (made contiguous);
    otherwise it is this thread's scratch buffer ``"planes"``.
    """
    if not any(pads):
        return np.ascontiguousarray(x).reshape(-1)
    n, c, h, w = x.shape
    top, bottom, left, right = pads
    hp, wp = h + top + bottom, w + left + right
    flat = scratch("planes", (n * c * hp * wp,), x.dtype)
    flat.fill(0)
    flat.reshape(n, c, hp, wp)[:, :, top : top + h, left : left + w] = x
    return flat


class _Shifts(NamedTuple):
    """Stride-1 geometry: the padded and the output sizes."""

    hp: int
    wp: int
    ho: int
    wo: int

    @classmethod
    def of(
        cls,
        x_shape: tuple[int, ...],
        kernel: tuple[int, int],
        dilation: tuple[int, int],
        pads: Pads,
    ) -> _Shifts:
        (kh, kw), (dh, dw) = kernel, dilation
        hp, wp = x_shape[2] + pads[0] + pads[1], x_shape[3] + pads[2] + pads[3]
        return cls(hp, wp, hp - dh * (kh - 1), wp - dw * (kw - 1))


# Below this many bytes of chunks in all, a kernel runs as one chunk on the calling thread (with
# BLAS using every core in its products): waking a pool thread costs 0.1-0.3 ms per call on this
# VM. Measured here (forward + backward, ms, one thread -> two), by the kernel's bytes in all:
#   LeNet C3 (31 KB per image): 8 images 0.25 MB 0.51 -> 0.78;  32: 1 MB 1.34 -> 1.61;
#     48: 1.5 MB 1.82 -> 1.85;  64: 2 MB 2.30 -> 2.20;  128: 4 MB 4.08 -> 3.24
#   LeNet C1 (56 KB per image): 32 images 1.8 MB 1.44 -> 1.64;  48: 2.7 MB 2.55 -> 2.08
#   ResNet 3x3 (0.8 MB per image): 2 images 1.7 MB 1.46 -> 1.65;  4: 3.3 MB 2.67 -> 2.46
#   depthwise 3x3 (0.4 MB per image): 2 images 0.8 MB 0.95 -> 1.32;  4: 1.7 MB 1.97 -> 1.89
PARALLEL_MIN_BYTES = 1 << 21


def _chunks(n: int, per_image_bytes: int) -> list[slice]:
    """The images ``0..n-1`` in nearly equal runs of at most about ``CHUNK_BYTES``, as many runs as
    a multiple of the worker threads (so that each worker gets the same amount of work); one run
    if they are less than ``PARALLEL_MIN_BYTES`` in all."""
    total = n * max(per_image_bytes, 1)
    workers = get_num_threads() if total >= PARALLEL_MIN_BYTES else 1
    rounds = -(-total // (workers * CHUNK_BYTES))
    parts = min(n, workers * max(rounds, 1))
    bounds = [i * n // parts for i in range(parts + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def _zero_padded(
    name: str, shape: tuple[int, ...], data: np.ndarray, dtype: np.dtype
) -> np.ndarray:
    """Scratch ``name`` of ``shape``, zero but for ``data`` in its leading corner."""
    buffer = scratch(name, shape, dtype)
    buffer.fill(0)
    buffer[tuple(slice(0, d) for d in data.shape)] = data
    return buffer


def _sum_over_chunks(
    chunk_vjp: Callable[[slice], tuple[np.ndarray | None, np.ndarray | None]], chunks: list[slice]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Run ``chunk_vjp`` on every chunk (on the worker threads); sum each of the two parts it
    returns (its share of a weight gradient and of ``∂L/∂bias``) over the chunks."""
    weight_parts, bias_parts = zip(*parallel_map(chunk_vjp, chunks), strict=True)
    return tuple(  # type: ignore[return-value]
        None if parts[0] is None else functools.reduce(np.add, parts)
        for parts in (weight_parts, bias_parts)
    )


def _conv_stride1(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    kernel: tuple[int, int],
    dilation: tuple[int, int],
    pads: Pads,
) -> tuple[np.ndarray, Backward]:
    """groups = 1, stride 1: unfold the kernel rows only; the kernel columns are stacked weights.

    The columns hold whole padded rows, one per input channel and kernel row,
    ``cols[(c, a), (n, i, q)] = X'[n, c, i + d·a, q]`` for ``i < Ho`` and every ``q < Wp``, and the
    weight is stacked by kernel column, ``W_b[(b, l), (c, a)] = W[l, c, a, b]``. One matrix
    product ``Z = W_b · cols`` holds the sums over ``(c, a)`` of every kernel column ``b``; along a
    row, kernel column ``b`` is the flat shift by ``d·b``::

        Y[l, (n, i, j)] = Σ_b Z[(b, l), (n, i, j + d·b)] + bias[l]      (j < Wo)

    The columns are ``kh`` copies of the input rather than ``kh·kw`` (full unfolding), and the
    product has ``kw·C_out`` rows and ``C·kh`` columns, shapes OpenBLAS runs faster than
    ``C_out × C·kh·kw``. Positions ``j ≥ Wo`` of the grid are garbage, cropped away or given a
    zero cotangent. The VJP is that of the shifts and the product::

        ∂L/∂Z[(b, l), q] = ∂L/∂Y[l, q − d·b]  (zero unless q − d·b is an output position),
        ∂L/∂W_b = ∂L/∂Z · colsᵀ,   ∂L/∂cols = W_bᵀ · ∂L/∂Z,   ∂L/∂bias[l] = Σ_q ∂L/∂Y[l, q],

    and the fold adds row ``(c, a)`` of ``∂L/∂cols`` onto ``X'`` moved down by ``d·a`` rows.
    Chunks of images are spread over the worker threads (``_parallel.parallel_map``); each sums
    its own part of ``∂L/∂W`` and ``∂L/∂bias``.
    """
    n, c, h, w = x.shape
    c_out = weight.shape[0]
    (kh, kw), (dh, dw) = kernel, dilation
    top, _, left, _ = pads
    hp, wp, ho, wo = _Shifts.of(x.shape, kernel, dilation, pads)
    m = ho * wp  # grid positions per image
    k = c * kh
    item = x.itemsize
    plane = hp * wp
    tail = dw * (kw - 1)  # the last positions of a chunk's grid, all garbage, that no shift reaches
    w_stacked = np.ascontiguousarray(weight.transpose(3, 0, 1, 2)).reshape(kw * c_out, k)
    chunks = _chunks(n, (k + kw * c_out) * m * item)

    def columns(s: slice) -> np.ndarray:
        """``cols[(c, a), (n, i, q)] = X'[n, c, i + d·a, q]`` for the images ``s``."""
        flat = _padded_planes(x[s], pads)
        nb = s.stop - s.start
        view = as_strided(
            flat, (c, kh, nb, m), (plane * item, dh * wp * item, c * plane * item, item)
        )
        cols = scratch("cols", view.shape, x.dtype)
        np.copyto(cols, view)
        return cols.reshape(k, nb * m)

    out = empty_output((n, c_out, ho, wo), x.dtype)

    def forward(s: slice) -> None:
        cols = columns(s)
        size = cols.shape[1]
        z = np.matmul(w_stacked, cols, out=scratch("z", (kw * c_out, size), x.dtype))
        y = scratch("y", (c_out, size), x.dtype)
        if kw == 1:
            np.copyto(y, z)
        else:
            span = size - tail
            np.add(z[:c_out, :span], z[c_out : 2 * c_out, dw : dw + span], out=y[:, :span])
            for b in range(2, kw):
                y[:, :span] += z[b * c_out : (b + 1) * c_out, dw * b : dw * b + span]
        grid = y.reshape(c_out, -1, ho, wp)[:, :, :, :wo]
        _write_output(out[s], grid.transpose(1, 0, 2, 3), bias)

    parallel_map(forward, chunks)

    def backward(g: np.ndarray, need_x: bool, need_w: bool):  # type: ignore[no-untyped-def]
        grad_x = empty_output(x.shape, x.dtype) if need_x else None

        def chunk_vjp(s: slice) -> tuple[np.ndarray | None, np.ndarray | None]:
            g_s = g[s]
            nb = g_s.shape[0]
            size = nb * m
            g_grid = _zero_padded(
                "g_grid", (c_out, nb, ho, wp), g_s.transpose(1, 0, 2, 3), x.dtype
            ).reshape(c_out, size)
            grad_z = scratch("grad_z", (kw, c_out, size), x.dtype)
            grad_z[0] = g_grid
            for b in range(1, kw):
                grad_z[b, :, : dw * b] = 0
                grad_z[b, :, dw * b :] = g_grid[:, : size - dw * b]
            grad_z = grad_z.reshape(kw * c_out, size)
            grad_w_t = columns(s) @ grad_z.T if need_w else None  # (c, a) × (b, l)
            if grad_x is not None:
                grad_cols = np.matmul(
                    w_stacked.T, grad_z, out=scratch("grad_cols", (k, size), x.dtype)
                ).reshape(c, kh, nb, ho, wp)
                planes = scratch("fold", (nb, c, hp, wp), x.dtype)
                planes.fill(0)
                for a in range(kh):
                    planes[:, :, dh * a : dh * a + ho] += grad_cols[:, a].transpose(1, 0, 2, 3)
                grad_x[s] = planes[:, :, top : top + h, left : left + w]
            grad_b = g_grid.sum(axis=1) if bias is not None else None
            return grad_w_t, grad_b

        grad_w_t, grad_bias = _sum_over_chunks(chunk_vjp, chunks)
        grad_weight = None
        if grad_w_t is not None:
            grad_weight = np.ascontiguousarray(
                grad_w_t.reshape(c, kh, kw, c_out).transpose(3, 0, 1, 2)
            )
        return grad_x, grad_weight, grad_bias

    return out, backward


# Which stride-1, groups-1 kernel. The rows kernel's three products have depth C·kh (or output
# height C·kh), which OpenBLAS runs slowly when small. The banded kernel's products are deep
# (C·kh·wq) and wide (C_out·wb), at the price of wq/kw times the useful multiplications (its
# "waste") and of unfolding the kernel rows. The per-row banded kernel unfolds nothing and wastes
# less (narrower blocks), but its products have depth C·wq only. Measured here on 2026-11-24
# (forward + backward, two threads, ms: rows / banded / per-row), by C·kh:
#    3  finite differences, 1 -> 2, 512x512 3x3: 5.7 / 5.5 / 11.5;  1 -> 8, 16 x 128x128 3x3:
#       14.6 / 9.9 / 20.3
#    5  LeNet C1, 1 -> 6 channels 28x28 5x5 pad 2 (banded waste 6.4): 8.1 / 4.2 / 6.1
#    9  3 -> 16, 32x32 3x3: 8.9 / 6.0 / 7.4;  3 -> 32, 64x64 3x3: 57 / 58 / 69;  3 -> 16, 64x64
#       3x3, dilation 2 (waste 4): 18.0 / 14.8 / 17.7;  the same, dilation 8 (waste 8): 20.9 /
#       20.5 / 25.5
#   20  4 -> 8, 32x32 5x5, dilation 4 (waste 6.4): 5.1 / 6.5 / 6.8
#   21  3 -> 16, 8 x 224x224 7x7 pad 3 (waste 2; per-row 1.4): 94 / 78 / 109
#   24  8 -> 16, 16x16 3x3, dilation 4 (waste 5.3; per-row 4): 3.7 / 4.7 / 4.6
#   30  LeNet C3, 6 -> 16, 14x14 5x5 (waste 2.8; per-row 1.8): 3.9 / 3.7 / 3.5;  6 -> 16, 28x28
#       5x5 pad 2 (waste 2.4; per-row 1.6): 11.3 / 13.6 / 10.7
#   40  8 -> 8, 12x12 5x5 pad 2 (waste 3.2; per-row 1.6): 2.5 / 2.7 / 2.3
#   48  16 -> 32, 8x8 3x3: 2.4 / 2.5 / 2.4;  16 -> 16, 32x32 3x3: 12.8 / 19.1 / 17.9
#   96+ 32 -> 32 at 16x16: 8.8 / 12.7 / 11.3;  64 -> 64 at 7x7: 6.0 / 8.5 / 8.9
# So: the banded kernel when C·kh ≤ 10; when 30 ≤ C·kh ≤ 40, the per-row kernel if it wastes at
# most 2×; otherwise, when C·kh ≤ 40, the banded kernel if it wastes at most 3.2×; else rows.
BANDED_SHALLOW_DEPTH = 10  # C·kh
BANDED_MAX_DEPTH = 40
BANDED_MAX_WASTE = 3.2
PER_ROW_MIN_DEPTH = 30
PER_ROW_MAX_WASTE = 2.0


def _stride1_kernel(
    c: int, c_out: int, wo: int, kernel: tuple[int, int], dilation: tuple[int, int]
) -> str:
    """Which stride-1, groups-1 kernel is fastest, by the measured rule above: ``"rows"``
    (``_conv_stride1``), ``"banded"`` (``_conv_banded``) or ``"per_row"``
    (``_conv_banded_per_row``)."""
    (kh, kw), span = kernel, dilation[1] * (kernel[1] - 1)
    depth = c * kh
    if depth <= BANDED_SHALLOW_DEPTH:
        return "banded"
    if depth > BANDED_MAX_DEPTH:
        return "rows"
    if depth >= PER_ROW_MIN_DEPTH:
        wb = _band_block_width(wo, c_out, span, c_out * PER_ROW_MIN_WIDTH)
        if (wb + span) / kw <= PER_ROW_MAX_WASTE:
            return "per_row"
    waste = (_band_block_width(wo, c_out, span, BANDED_MIN_COLUMNS) + span) / kw
    return "banded" if waste <= BANDED_MAX_WASTE else "rows"


@functools.lru_cache(maxsize=256)
def _band_block_width(wo: int, c_out: int, span: int, min_columns: int) -> int:
    """The output columns per block of ``_conv_banded``: fewest multiplications (blocks ×
    width × (width + span)), keeping at least ``min_columns`` columns in the product.

    Cached: the kernel rule and the kernel both ask, and a wide layer has hundreds of widths."""
    widths = [wb for wb in range(1, wo + 1) if c_out * wb >= min_columns or wb == wo]
    return min(widths, key=lambda wb: (-(-wo // wb) * wb * (wb + span), -wb))


# A block's product has C_out·wb columns. Narrower blocks multiply less but copy more, in shorter
# runs; measured here, 128 columns was best or within 3 % of best on LeNet C1 (wb = 28 of 28),
# LeNet C3 (10 of 10), 3 -> 16 channels 32x32 3x3 (8 of 32) and 8 -> 8 channels 12x12 5x5 (12).
BANDED_MIN_COLUMNS = 128


class _ColumnBlocks(NamedTuple):
    """The blocks of output columns of the two banded kernels, and the input columns they read.

    Block ``β`` holds the output columns ``β·wb ... β·wb + wb − 1`` and reads the ``wq`` padded
    input columns from ``β·wb`` on. ``inside[β]`` is ``(q, columns)``: the ``q`` of the block that
    fall inside ``x`` (not in its padding), and the columns of ``x`` they are.
    """

    wb: int
    wq: int
    dw: int  # the dilation along the rows
    count: int
    inside: list[tuple[slice, slice]]

    @classmethod
    @functools.lru_cache(maxsize=256)
    def of(cls, w: int, wo: int, left: int, kw: int, dw: int, wb: int) -> _ColumnBlocks:
        """The blocks of an input ``w`` wide after ``left`` padding columns (cached; read-only)."""
        wq = wb + dw * (kw - 1)
        count = -(-wo // wb)
        inside = []
        for beta in range(count):
            first = max(0, left - beta * wb)  # the first q inside x
            last = max(first, min(wq, left + w - beta * wb))  # first = last: none inside x
            start = beta * wb - left
            inside.append((slice(first, last), slice(start + first, start + last)))
        return cls(wb, wq, dw, count, inside)

    def lay_out(self, dst: np.ndarray, x_rows: np.ndarray, zeroed: bool = False) -> None:
        """``dst[β, ..., q] = X'[..., β·wb + q]`` for the rows of ``x`` (``x_rows``, its columns
        last): each block's input columns, zero where they fall in the padding (already zero if
        ``zeroed``: one fill of a whole buffer beats the narrow strided ones)."""
        for beta, (q, columns) in enumerate(self.inside):
            if not zeroed:
                dst[beta, ..., : q.start] = 0
                dst[beta, ..., q.stop :] = 0
            _copy_runs(dst[beta, ..., q], x_rows[..., columns])

    def add_back(self, dst: np.ndarray, src: np.ndarray) -> None:
        """The adjoint of ``lay_out``: ``dst`` (the rows of ``∂L/∂X``) = the sum of each block
        ``src[β]`` over the columns of ``x`` it read."""
        dst[...] = 0
        for beta, (q, columns) in enumerate(self.inside):
            dst[..., columns] += src[beta, ..., q]

    def copy_out(self, out: np.ndarray, y: np.ndarray) -> None:
        """``out[..., β·wb + j] = y[β, ..., j]`` for every output column ``< Wo``
        (``out.shape[-1]``); the columns of the last block past it are dropped."""
        for beta in range(self.count):
            width = min(self.wb, out.shape[-1] - beta * self.wb)
            _copy_runs(out[..., beta * self.wb : beta * self.wb + width], y[beta, ..., :width])

    def gather(self, dst: np.ndarray, g: np.ndarray) -> None:
        """The adjoint of ``copy_out``: ``dst[β, ..., j] = g[..., β·wb + j]``, zero past ``Wo``."""
        for beta in range(self.count):
            width = min(self.wb, g.shape[-1] - beta * self.wb)
            _copy_runs(dst[beta, ..., :width], g[..., beta * self.wb : beta * self.wb + width])
            dst[beta, ..., width:] = 0

    def band(self, weight: np.ndarray, out: np.ndarray) -> None:
        """Fill ``out`` (zeros, contiguous, ``(kh, C, wq, C_out, wb)``) with the band:
        ``out[a, c, q, l, j] = W[l, c, a, b]`` where ``q = j + d·b``."""
        c_out, c, kh, kw = weight.shape
        band_at, weight_at = _band_index(kh, c, c_out, kw, self.wq, self.wb, self.dw)
        out.reshape(-1)[band_at] = np.ravel(weight)[weight_at]

    def weight_grad(self, grad_band: np.ndarray, kw: int) -> np.ndarray:
        """``∂L/∂W`` from ``∂L/∂band`` (contiguous, ``(kh, C, wq, C_out, wb)``): the sum of the band
        entries that hold each weight (its diagonal)."""
        kh, c, _, c_out, _ = grad_band.shape
        band_at, weight_at = _band_index(kh, c, c_out, kw, self.wq, self.wb, self.dw)
        sums = np.bincount(weight_at, weights=grad_band.reshape(-1)[band_at])
        return sums.astype(grad_band.dtype).reshape(c_out, c, kh, kw)


@functools.lru_cache(maxsize=256)
def _band_index(
    kh: int, c: int, c_out: int, kw: int, wq: int, wb: int, dw: int
) -> tuple[np.ndarray, np.ndarray]:
    """For the band ``(kh, C, wq, C_out, wb)`` of a weight ``(C_out, C, kh, kw)``: the flat index
    of each band entry ``(a, c, q, l, j)`` with ``q = j + d·b``, and the flat index of the weight
    ``W[l, c, a, b]`` it holds (cached; read-only)."""
    a, ch, l, j, b = np.meshgrid(*map(np.arange, (kh, c, c_out, wb, kw)), indexing="ij")
    band_at = (((a * c + ch) * wq + j + dw * b) * c_out + l) * wb + j
    weight_at = ((l * c + ch) * kh + a) * kw + b
    return band_at.ravel(), weight_at.ravel()


def _conv_banded(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    kernel: tuple[int, int],
    dilation: tuple[int, int],
    pads: Pads,
) -> tuple[np.ndarray, Backward]:
    """groups = 1, stride 1, narrow images: banded matrix products over blocks of output columns.

    Along a row, the sum over the kernel columns is a product with a banded matrix (as in
    ``_depthwise_stride1``); here the band also sums over the input channels and kernel rows.
    The output columns are cut into ``B`` blocks of ``wb``; block ``β`` reads the
    ``wq = wb + d·(kw−1)`` padded input columns from ``β·wb`` on, and each output row ``(n, i)``
    reads the ``kh`` input rows below it::

        R[(β, n, i), (a, c, q)] = X'[n, c, i + d·a, β·wb + q]                        (q < wq)
        Y[n, l, i, β·wb + j] = Σ_{a,c,q} R[(β, n, i), (a, c, q)] · T[(a, c, q), (l, j)] + bias[l]
        T[(a, c, q), (l, j)] = W[l, c, a, b]  where q = j + d·b  (zero off the band)

    The same ``T`` serves every block, so all blocks are one matrix product. It does ``wq / kw``
    times the useful multiplications; narrower blocks waste less but copy more input, and
    ``_band_block_width`` picks ``wb``. The VJP is that of the product: ``∂L/∂T = Rᵀ · ∂L/∂Y``,
    whose diagonal ``b`` sums to ``∂L/∂W[:, :, :, b]``; ``∂L/∂R = ∂L/∂Y · Tᵀ``, each kernel row
    ``a`` of which is added back onto the input rows ``d·a`` further down, and each block onto its
    input columns. Output columns past ``Wo`` in the last block are garbage, cropped or given a zero
    cotangent. ``R`` lives in the thread's scratch (a fresh buffer per call costs more, in page
    faults, than the copies): the VJP reads it there if no other call has used the buffer since,
    and lays it out again otherwise. The bias rides in the product, as a column of ones in ``R``
    and a last row of ``T`` holding ``bias[l]`` at ``(l, j)``; that row of ``∂L/∂T`` sums to
    ``∂L/∂bias``.
    """
    n, c, h, w = x.shape
    c_out = weight.shape[0]
    (kh, kw), (dh, dw) = kernel, dilation
    top, _, left, _ = pads
    hp, _, ho, wo = _Shifts.of(x.shape, kernel, dilation, pads)
    wb = _band_block_width(wo, c_out, dw * (kw - 1), BANDED_MIN_COLUMNS)
    column_blocks = _ColumnBlocks.of(w, wo, left, kw, dw, wb)
    blocks, wq = column_blocks.count, column_blocks.wq
    k = kh * c * wq
    depth = k + (bias is not None)  # R's columns: the band's, and the ones for the bias
    item = x.itemsize
    band = np.zeros((depth, c_out * wb), dtype=x.dtype)  # T
    column_blocks.band(weight, band[:k].reshape(kh, c, wq, c_out, wb))
    if bias is not None:
        band[k] = np.repeat(bias, wb)
    chunks = _chunks(n, blocks * (depth + 2 * c_out * wb) * ho * item)

    call = object()  # tags this call's rows in the scratch buffer

    def band_rows(s: slice, again: bool = False) -> np.ndarray:
        """``R`` for the images ``s``: this thread's scratch ``"rows"``. ``again``: the VJP's
        request, which takes the forward pass's rows if nothing has overwritten them."""
        nb = s.stop - s.start
        shape_r = (blocks * nb * ho, depth)
        kept = scratch_holding("rows", shape_r, x.dtype, (call, s.start)) if again else None
        if kept is not None:
            return kept
        # X' block by block, by rows: (β, n, p, c, q).
        padded = scratch("row_blocks", (blocks, nb, hp, c, wq), x.dtype)
        padded.fill(0)
        column_blocks.lay_out(padded[:, :, top : top + h], x[s].transpose(0, 2, 1, 3), zeroed=True)
        r = scratch("rows", shape_r, x.dtype, tag=(call, s.start))
        r[:, k:] = 1
        s_beta, s_n, s_row = padded.strides[:3]
        shape = (blocks, nb, ho, kh, c * wq)
        np.copyto(
            r[:, :k].reshape(shape),
            as_strided(padded, shape, (s_beta, s_n, s_row, dh * s_row, item)),
        )
        return r

    def forward(s: slice) -> None:
        nb = s.stop - s.start
        r = band_rows(s)
        y = np.matmul(r, band, out=scratch("y", (r.shape[0], c_out * wb), x.dtype))
        column_blocks.copy_out(
            out[s], y.reshape(blocks, nb, ho, c_out, wb).transpose(0, 1, 3, 2, 4)
        )

    out = empty_output((n, c_out, ho, wo), x.dtype)
    parallel_map(forward, chunks)

    def backward(g: np.ndarray, need_x: bool, need_w: bool):  # type: ignore[no-untyped-def]
        grad_x = empty_output(x.shape, x.dtype) if need_x else None

        def chunk_vjp(s: slice) -> tuple[np.ndarray | None, np.ndarray | None]:
            nb = s.stop - s.start
            g_rows = scratch("g_rows", (blocks, nb, ho, c_out, wb), x.dtype)  # ∂L/∂Y by rows
            column_blocks.gather(g_rows.transpose(0, 1, 3, 2, 4), g[s])
            g_rows = g_rows.reshape(-1, c_out * wb)
            grad_band = band_rows(s, again=True).T @ g_rows if need_w else None
            grad_b = None
            if not need_w and bias is not None:  # else in the last row of grad_band
                grad_b = g_rows.sum(axis=0).reshape(c_out, wb).sum(axis=1)
            if grad_x is not None:
                grad_r = scratch("grad_rows", (len(g_rows), k), x.dtype)
                np.matmul(g_rows, band[:k].T, out=grad_r)
                grad_r = grad_r.reshape(blocks, nb, ho, kh, c * wq)
                planes = scratch("fold", (blocks, nb, hp, c * wq), x.dtype)
                planes.fill(0)
                for a in range(kh):
                    planes[:, :, dh * a : dh * a + ho] += grad_r[:, :, :, a]
                planes = planes.reshape(blocks, nb, hp, c, wq)[:, :, top : top + h]
                column_blocks.add_back(grad_x[s].transpose(0, 2, 1, 3), planes)
            return grad_band, grad_b

        grad_band, grad_bias = _sum_over_chunks(chunk_vjp, chunks)
        grad_weight = None
        if grad_band is not None:
            if bias is not None:
                grad_bias = grad_band[k].reshape(c_out, wb).sum(axis=1)
            grad_weight = column_blocks.weight_grad(grad_band[:k].reshape(kh, c, wq, c_out, wb), kw)
        return grad_x, grad_weight, grad_bias

    return out, backward


# The per-row banded kernel's blocks are at least this many output columns wide: narrower ones
# multiply less, but its input and output copies then move runs of only a few floats.
PER_ROW_MIN_WIDTH = 4


def _conv_banded_per_row(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    kernel: tuple[int, int],
    dilation: tuple[int, int],
    pads: Pads,
) -> tuple[np.ndarray, Backward]:
    """groups = 1, stride 1, some channels (C·kh of 30-40): each kernel row is a banded product.

    Along a row, the sum over the kernel columns and the input channels is a product with a
    banded matrix (as in ``_depthwise_stride1``). The output columns are cut into ``B`` blocks of
    ``wb``; block ``β`` reads the ``wq = wb + d·(kw−1)`` padded input columns from ``β·wb`` on.
    The input is laid out once as rows, ``Q[(p, β, n), (c, q)] = X'[n, c, p, β·wb + q]``, and
    kernel row ``a`` is one matrix product with the rows of ``Q`` moved down by ``d·a`` (a flat
    shift, since the row ``p`` is outermost)::

        Y[n, l, i, β·wb + j] = Σ_{a,c,q} Q[(i + d·a, β, n), (c, q)] · T_a[(c, q), (l, j)] + bias[l]
        T_a[(c, q), (l, j)] = W[l, c, a, b]  where q = j + d·b  (zero off the band)

    It does ``wq / kw`` times the useful multiplications; narrower blocks waste less but make
    narrower products and copy more, and ``_band_block_width`` picks ``wb``. Nothing is unfolded:
    ``Q`` holds each input pixel ``wq / wb`` times. The VJP is that of the products::

        ∂L/∂T_a = Q_a ᵀ · ∂L/∂Y,  whose diagonal ``b`` sums to ``∂L/∂W[:, :, a, b]``;
        ∂L/∂Q[(i + d·a, β, n), :] += ∂L/∂Y[(i, β, n), :] · T_aᵀ,

    and each block of ``∂L/∂Q`` is added back onto its input columns. Output columns past ``Wo``
    in the last block are garbage, cropped or given a zero cotangent. The VJP reads ``Q`` where
    the forward pass laid it out, in the thread's scratch, if no other call has used it since.
    """
    n, c, h, w = x.shape
    c_out = weight.shape[0]
    (kh, kw), (dh, dw) = kernel, dilation
    top, _, left, _ = pads
    hp, _, ho, wo = _Shifts.of(x.shape, kernel, dilation, pads)
    wb = _band_block_width(wo, c_out, dw * (kw - 1), c_out * PER_ROW_MIN_WIDTH)
    column_blocks = _ColumnBlocks.of(w, wo, left, kw, dw, wb)
    blocks, wq = column_blocks.count, column_blocks.wq
    width_in, width_out = c * wq, c_out * wb  # the products' depth and width
    band = np.zeros((kh, c, wq, c_out, wb), dtype=x.dtype)  # T_a
    column_blocks.band(weight, band)
    band = band.reshape(kh, width_in, width_out)
    bias_row = None if bias is None else np.repeat(bias, wb)  # bias[l] at (l, j)
    per_image = blocks * (2 * hp * width_in + 3 * ho * width_out) * x.itemsize
    chunks = _chunks(n, per_image)

    call = object()  # tags this call's planes in the scratch buffer

    def row_planes(s: slice, again: bool = False) -> np.ndarray:
        """``Q`` for the images ``s``, ``(Hp·B·nb, C·wq)``: this thread's scratch. ``again``: the
        VJP's request, which takes the forward pass's planes if nothing has overwritten them."""
        nb = s.stop - s.start
        shape = (hp, blocks, nb, c, wq)
        kept = scratch_holding("band_planes", shape, x.dtype, (call, s.start)) if again else None
        if kept is not None:
            return kept.reshape(-1, width_in)
        planes = scratch("band_planes", shape, x.dtype, tag=(call, s.start))
        planes[:top] = 0
        planes[top + h :] = 0
        column_blocks.lay_out(
            planes[top : top + h].transpose(1, 0, 2, 3, 4), x[s].transpose(2, 0, 1, 3)
        )
        return planes.reshape(-1, width_in)

    def moved_down(planes: np.ndarray, a: int, nb: int) -> np.ndarray:
        """The rows of ``planes`` for output rows ``i`` of kernel row ``a``: ``p = i + d·a``."""
        start = dh * a * blocks * nb
        return planes[start : start + ho * blocks * nb]

    out = empty_output((n, c_out, ho, wo), x.dtype)

    def forward(s: slice) -> None:
        nb = s.stop - s.start
        planes = row_planes(s)
        rows = ho * blocks * nb
        y = np.matmul(planes[:rows], band[0], out=scratch("y", (rows, width_out), x.dtype))
        term = scratch("term", (rows, width_out), x.dtype)
        for a in range(1, kh):
            y += np.matmul(moved_down(planes, a, nb), band[a], out=term)
        if bias_row is not None:
            y += bias_row
        column_blocks.copy_out(
            out[s], y.reshape(ho, blocks, nb, c_out, wb).transpose(1, 2, 3, 0, 4)
        )

    parallel_map(forward, chunks)

    def backward(g: np.ndarray, need_x: bool, need_w: bool):  # type: ignore[no-untyped-def]
        grad_x = empty_output(x.shape, x.dtype) if need_x else None

        def chunk_vjp(s: slice) -> tuple[np.ndarray | None, np.ndarray | None]:
            nb = s.stop - s.start
            rows = ho * blocks * nb
            g_rows = scratch("g_rows", (ho, blocks, nb, c_out, wb), x.dtype)  # ∂L/∂Y by rows
            column_blocks.gather(g_rows.transpose(1, 2, 3, 0, 4), g[s])
            g_rows = g_rows.reshape(rows, width_out)
            grad_band = None
            if need_w:
                planes = row_planes(s, again=True)
                grad_band = np.stack([moved_down(planes, a, nb).T @ g_rows for a in range(kh)])
            grad_b = None if bias is None else g_rows.sum(axis=0).reshape(c_out, wb).sum(axis=1)
            if grad_x is not None:
                grad_planes = scratch("grad_planes", (hp * blocks * nb, width_in), x.dtype)
                np.matmul(g_rows, band[0].T, out=grad_planes[:rows])
                grad_planes[rows:] = 0
                term = scratch("grad_term", (rows, width_in), x.dtype)
                for a in range(1, kh):
                    moved_down(grad_planes, a, nb)[...] += np.matmul(g_rows, band[a].T, out=term)
                grad_planes = grad_planes.reshape(hp, blocks, nb, c, wq)[top : top + h]
                column_blocks.add_back(
                    grad_x[s].transpose(2, 0, 1, 3), grad_planes.transpose(1, 0, 2, 3, 4)
                )
            return grad_band, grad_b

        grad_band, grad_bias = _sum_over_chunks(chunk_vjp, chunks)
        grad_weight = None
        if grad_band is not None:
            grad_weight = column_blocks.weight_grad(grad_band.reshape(kh, c, wq, c_out, wb), kw)
        return grad_x, grad_weight, grad_bias

    return out, backward


# Depthwise stride-1 layers at most this wide (output columns) run as banded matrix products;
# wider ones do (W + pads)/kw times the useful work that way, and take the unfold kernel instead.
BANDED_MAX_WIDTH = 64


def _depthwise_stride1(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    kernel: tuple[int, int],
    dilation: tuple[int, int],
    pads: Pads,
) -> tuple[np.ndarray, Backward]:
    """groups = C_in = C_out, stride 1: each kernel row is a banded (Toeplitz) matrix product.

    Each channel is filtered by its own ``kh × kw`` kernel,
    ``Y[n, c, i, j] = Σ_{a,b} W[c, 0, a, b] · X'[n, c, i + d·a, j + d·b]`` (``d`` the dilation).
    Along a row, the sum over ``b`` is a product with the banded ``W × Wo`` matrix
    ``T_a[c, q, j] = W[c, 0, a, b]`` where ``q = j + d·b − left`` (zero elsewhere, including where
    ``q`` falls in the left or right padding). With the input
    padded by zero rows only, ``Q[c, (n, p), q] = X'[n, c, p, left + q]``, kernel row ``a`` is
    one matrix product per channel, applied to the rows of ``Q`` moved down by ``d·a``::

        Y[n, c, i, j] = Σ_a Σ_q Q[c, (n, i + d·a), q] · T_a[c, q, j]

    Moving down by ``d·a`` rows is a flat shift of ``Q``, so each product reads ``Q`` in place, and
    the copies in and out move whole planes. It does ``W / kw`` times the useful multiplications,
    in exchange for running them in BLAS (a shift-and-accumulate makes a pass of multiply and a
    pass of add per kernel tap). The VJP is that of the matrix products; rows ``i ≥ Ho`` are
    garbage, cropped or given a zero cotangent so that they pass on zero::

        ∂L/∂T_a = Σ_{rows} Q[c, row + d·a, :]ᵀ ∂L/∂Y[c, row, :],   ∂L/∂W[c, 0, a, b] = the sum
        of ∂L/∂T_a over the diagonal of b;   ∂L/∂Q[c, row + d·a, :] += ∂L/∂Y[c, row, :] · T_aᵀ
    """
    n, c, h, w = x.shape
    (kh, kw), (dh, dw) = kernel, dilation
    top, _, left, _ = pads
    hp, _, ho, wo = _Shifts.of(x.shape, kernel, dilation, pads)
    tail = dh * (kh - 1) * w
    diagonals = [_band_diagonal(w, wo, dw * b - left) for b in range(kw)]
    band = np.zeros((kh, c, w, wo), dtype=x.dtype)  # T_a[c, q, j]
    for b, (q, j) in enumerate(diagonals):
        band[:, :, q, j] = weight[:, 0, :, b].T[:, :, None]
    chunks = _chunks(n, 3 * c * hp * max(w, wo) * x.itemsize)  # Q and two products' outputs

    def row_planes(s: slice) -> tuple[np.ndarray, int]:
        """``Q`` for the images ``s``, ``(C, rows·W + tail)`` in scratch, and its rows."""
        nb = s.stop - s.start
        rows = nb * hp
        q = scratch("row_planes", (c, rows * w + tail), x.dtype)
        planes = q[:, : rows * w].reshape(c, nb, hp, w)
        planes[:, :, :top] = 0
        planes[:, :, top : top + h] = x[s].transpose(1, 0, 2, 3)
        planes[:, :, top + h :] = 0
        q[:, rows * w :] = 0
        return q, rows

    def moved_down(q: np.ndarray, a: int, rows: int) -> np.ndarray:
        """The rows of ``Q`` from ``d·a`` on, as ``(C, rows, W)``: a view."""
        start = dh * a * w
        return q[:, start : start + rows * w].reshape(c, rows, w)

    out = np.empty((n, c, ho, wo), dtype=x.dtype)

    def forward(s: slice) -> None:
        q, rows = row_planes(s)
        y = scratch("y", (c, rows, wo), x.dtype)
        term = scratch("term", (c, rows, wo), x.dtype)
        np.matmul(moved_down(q, 0, rows), band[0], out=y)
        for a in range(1, kh):
            y += np.matmul(moved_down(q, a, rows), band[a], out=term)
        _write_output(out[s], y.reshape(c, -1, hp, wo)[:, :, :ho].transpose(1, 0, 2, 3), bias)

    parallel_map(forward, chunks)

    def backward(g: np.ndarray, need_x: bool, need_w: bool):  # type: ignore[no-untyped-def]
        grad_x = empty_output(x.shape, x.dtype) if need_x else None

        def chunk_vjp(s: slice) -> tuple[np.ndarray | None, np.ndarray | None]:
            nb = s.stop - s.start
            rows = nb * hp
            g_rows = _zero_padded("g_rows", (c, nb, hp, wo), g[s].transpose(1, 0, 2, 3), x.dtype)
            g_rows = g_rows.reshape(c, rows, wo)
            grad_band = None
            if need_w:
                q, _ = row_planes(s)
                grad_band = np.stack(
                    [
                        np.matmul(moved_down(q, a, rows).transpose(0, 2, 1), g_rows)
                        for a in range(kh)
                    ]
                )
            if grad_x is not None:
                grad_q = scratch("grad_q", (c, rows * w + tail), x.dtype)
                grad_q.fill(0)
                term = scratch("grad_term", (c, rows, w), x.dtype)
                for a in range(kh):
                    moved_down(grad_q, a, rows)[...] += np.matmul(
                        g_rows, band[a].transpose(0, 2, 1), out=term
                    )
                planes = grad_q[:, : rows * w].reshape(c, nb, hp, w)
                grad_x[s] = planes[:, :, top : top + h].transpose(1, 0, 2, 3)
            grad_b = g_rows.sum(axis=(1, 2)) if bias is not None else None
            return grad_band, grad_b

        grad_band, grad_bias = _sum_over_chunks(chunk_vjp, chunks)
        grad_weight = None
        if grad_band is not None:
            grad_weight = np.stack(
                [grad_band[:, :, q, j].sum(axis=-1) for q, j in diagonals], axis=-1
            )  # (kh, C, kw)
            grad_weight = grad_weight.transpose(1, 0, 2).reshape(weight.shape)
        return grad_x, grad_weight, grad_bias

    return out, backward


def _band_diagonal(w: int, wo: int, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """The index pairs ``(q, j)`` with ``q = j + shift``, ``0 ≤ q < W`` and ``0 ≤ j < Wo``."""
    j = np.arange(max(0, -shift), min(wo, w - shift))
    return j + shift, j
