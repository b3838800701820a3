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

Three kernels compute this: stride 1 with ``groups = 1`` unfolds a cache-sized chunk of images at a
time (``_conv_stride1``); depthwise stride 1 (``groups = C_in = C_out``, output at most
``BANDED_MAX_WIDTH`` wide) runs each kernel row as a banded matrix product (``_depthwise_stride1``);
everything else unfolds the whole batch (``_conv_unfold``). The two chunked kernels spread their
chunks over one worker thread per core (``mfdnn.set_num_threads``). The loop-by-loop formula
``mfdnn.functional.reference.conv2d`` is the oracle all three are tested against.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from mfdnn.engine import Tensor
from mfdnn.functional._checks import check_ndim, float_tensor, output_size, pair, positive_int
from mfdnn.functional._parallel import get_num_threads, parallel_map, scratch

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
    if stride == (1, 1) and groups == 1:
        out, backward = _conv_stride1(xd, wd, kernel, dilation, pads)
    elif (
        stride == (1, 1)
        and groups == c_in == c_out
        and _Shifts.of(x.shape, kernel, dilation, pads).wo <= BANDED_MAX_WIDTH
    ):
        out, backward = _depthwise_stride1(xd, wd, kernel, dilation, pads)
    else:
        out, backward = _conv_unfold(xd, wd, kernel, stride, dilation, pads, groups)
    if bias is not None:
        out += bias.data.astype(dtype, copy=False).reshape(1, c_out, 1, 1)

    def vjp(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        grad_x, grad_weight = backward(g, x.requires_grad, weight.requires_grad)
        grads: tuple[np.ndarray | None, ...] = (grad_x, grad_weight)
        if bias is not None:
            grads += (g.sum(axis=(0, 2, 3)),)
        return grads

    return Tensor._make(out, parents, vjp, "conv2d")


Backward = Callable[[np.ndarray, bool, bool], tuple[np.ndarray | None, np.ndarray | None]]


def _conv_unfold(
    x: np.ndarray,
    weight: np.ndarray,
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
    out = np.ascontiguousarray(y[:, :, :ho, :wo].transpose(1, 0, 2, 3))

    def backward(g: np.ndarray, need_x: bool, need_w: bool):  # type: ignore[no-untyped-def]
        grad_x = grad_weight = None
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
        return grad_x, grad_weight

    return out, backward


# The stride-1 kernels below work on chunks of images (the unfolded columns of one chunk are at
# most about this many bytes), each in reused scratch buffers: whole-batch buffers of tens of MB
# cost more in page faults than the arithmetic. Larger chunks make larger matrix products, which
# OpenBLAS runs faster: on the benchmark's layers here, 8 MB chunks beat 2 MB ones by 10-30 %
# (ResNet 3x3 42 -> 38 ms, depthwise 16 -> 14 ms, two threads).
CHUNK_BYTES = 1 << 23


def _padded_planes(x: np.ndarray, pads: Pads, tail: int) -> np.ndarray:
    """``X'`` as flat planes: ``(N·C·Hp·Wp + tail,)``, zero-padded, ``tail`` zeros at the end.

    The pixel ``X'[n, c, p, q]`` sits at ``((n·C + c)·Hp + p)·Wp + q``, so moving a window by
    ``(a, b)`` moves it by ``a·Wp + b``. The result is this thread's scratch buffer ``"planes"``.
    """
    n, c, h, w = x.shape
    top, bottom, left, right = pads
    hp, wp = h + top + bottom, w + left + right
    flat = scratch("planes", (n * c * hp * wp + tail,), x.dtype)
    flat.fill(0)
    flat[: n * c * hp * wp].reshape(n, c, hp, wp)[:, :, top : top + h, left : left + w] = x
    return flat


class _Shifts(NamedTuple):
    """Stride-1 geometry on flattened padded planes: the sizes, and the flat shift of each window
    offset ``(a, b)`` (row-major), ``d·a·Wp + d·b``."""

    hp: int
    wp: int
    ho: int
    wo: int
    offsets: list[int]

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
        offsets = [dh * a * wp + dw * b for a in range(kh) for b in range(kw)]
        return cls(hp, wp, hp - dh * (kh - 1), wp - dw * (kw - 1), offsets)


def _add_shifted(
    blocks: Iterable[np.ndarray], offsets: list[int], size: int, dtype: np.dtype
) -> np.ndarray:
    """``Σ_t`` (1-D block ``t`` moved forward by ``offsets[t]``), its first ``size`` entries.

    The adjoint of reading flat planes at those shifts: one contiguous add per offset. What
    crosses the end of a plane must come from a garbage position, and so be zero. The result is
    this thread's scratch buffer ``"fold"``.
    """
    acc = scratch("fold", (size + offsets[-1],), dtype)
    acc.fill(0)
    for block, offset in zip(blocks, offsets, strict=True):
        acc[offset : offset + size] += block
    return acc[:size]


def _chunks(n: int, per_image_bytes: int) -> list[slice]:
    """The images ``0..n-1`` in nearly equal runs of at most about ``CHUNK_BYTES``, as many runs as
    a multiple of the worker threads (so that each worker gets the same amount of work)."""
    workers = get_num_threads()
    rounds = -(-n * max(per_image_bytes, 1) // (workers * CHUNK_BYTES))
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


def _conv_stride1(
    x: np.ndarray,
    weight: np.ndarray,
    kernel: tuple[int, int],
    dilation: tuple[int, int],
    pads: Pads,
) -> tuple[np.ndarray, Backward]:
    """groups = 1, stride 1: unfold a chunk of images at a time, one matrix product per chunk.

    The columns of a chunk run over the grid ``(n, i, j)`` with ``i < Ho`` and ``j < Wp`` (whole
    padded rows; ``j ≥ Wo`` is garbage, cropped away or given a zero cotangent). On this grid the
    window offset ``(a, b)`` is the flat shift ``d·a·Wp + d·b`` of a padded plane, so the columns of
    ``(c, a, b)`` for one image are one contiguous run of ``X'``.

    VJP per chunk: ``∂L/∂W += cols · (∂L/∂Y)ᵀ`` (columns recomputed, not stored) and
    ``∂L/∂cols = Wᵀ · ∂L/∂Y``, folded back onto the pixels. The fold adds, for each offset
    ``(a, b)``, the rows of that offset onto ``X'`` shifted by ``d·a·Wp + d·b``. It lays the chunk
    out channel-major on the grid of whole padded planes, so that each of these adds is one
    contiguous 1-D add over the chunk: an entry that crosses a plane's end comes from a garbage
    position and is zero.

    The chunks are spread over the worker threads (``_parallel.parallel_map``); each sums its own
    part of ``∂L/∂W``.
    """
    n, c, h, w = x.shape
    c_out = weight.shape[0]
    (kh, kw), (dh, dw) = kernel, dilation
    top, _, left, _ = pads
    hp, wp, ho, wo, offsets = _Shifts.of(x.shape, kernel, dilation, pads)
    m = ho * wp  # grid positions per image
    k = c * kh * kw
    item = x.itemsize
    plane = hp * wp
    w_rows = weight.reshape(c_out, k)  # rows (c, a, b)
    chunks = _chunks(n, k * m * item)

    def columns(s: slice) -> np.ndarray:
        """``cols[(c, a, b), (n, i, j)] = X'[n, c, i + d·a, j + d·b]`` for the images ``s``.

        A garbage position may read the start of the next plane; the tail covers the last one.
        """
        flat = _padded_planes(x[s], pads, dw * (kw - 1))
        nb = s.stop - s.start
        view = as_strided(
            flat,
            (c, kh, kw, nb, m),
            (plane * item, dh * wp * item, dw * item, c * plane * item, item),
        )
        cols = scratch("cols", view.shape, x.dtype)
        np.copyto(cols, view)
        return cols.reshape(k, nb * m)

    out = np.empty((n, c_out, ho, wo), dtype=x.dtype)

    def forward(s: slice) -> None:
        cols = columns(s)
        y = np.matmul(w_rows, cols, out=scratch("y", (c_out, cols.shape[1]), x.dtype))
        out[s] = y.reshape(c_out, -1, ho, wp)[:, :, :, :wo].transpose(1, 0, 2, 3)

    parallel_map(forward, chunks)

    def backward(g: np.ndarray, need_x: bool, need_w: bool):  # type: ignore[no-untyped-def]
        grad_x = np.empty(x.shape, dtype=x.dtype) if need_x else None
        # Fold: rows (a, b, c) so that each offset's rows are one block; planes of Hp·Wp.
        w_abc_t = weight.transpose(2, 3, 1, 0).reshape(k, c_out)

        def chunk_vjp(s: slice) -> np.ndarray | None:
            g_s = g[s]
            nb = g_s.shape[0]
            grad_w_t = None
            if need_w:
                # ∂L/∂Y as rows (n, i, j) × l on the columns' grid: the faster product layout.
                g_rows = _zero_padded(
                    "g_rows", (nb, ho, wp, c_out), g_s.transpose(0, 2, 3, 1), x.dtype
                )
                grad_w_t = columns(s) @ g_rows.reshape(-1, c_out)
            if grad_x is not None:
                g_planes = _zero_padded(
                    "g_planes", (c_out, nb, hp, wp), g_s.transpose(1, 0, 2, 3), x.dtype
                )
                size = c * nb * plane
                grad_cols = np.matmul(  # (a·kw + b, c, n, p)
                    w_abc_t,
                    g_planes.reshape(c_out, -1),
                    out=scratch("grad_cols", (k, nb * plane), x.dtype),
                )
                acc = _add_shifted(grad_cols.reshape(kh * kw, size), offsets, size, x.dtype)
                acc = acc.reshape(c, nb, hp, wp)
                grad_x[s] = acc[:, :, top : top + h, left : left + w].transpose(1, 0, 2, 3)
            return grad_w_t

        parts = parallel_map(chunk_vjp, chunks)
        grad_weight = None
        if need_w:
            grad_weight = functools.reduce(np.add, parts).T.reshape(weight.shape)
        return grad_x, grad_weight

    return out, backward


# Depthwise stride-1 layers at most this wide (output columns) run as banded matrix products;
# wider ones do (W + pads)/kw times the useful work that way, and take the unfold kernel instead.
BANDED_MAX_WIDTH = 64


def _depthwise_stride1(
    x: np.ndarray,
    weight: np.ndarray,
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
    hp, _, ho, wo, _ = _Shifts.of(x.shape, kernel, dilation, pads)
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
        out[s] = y.reshape(c, -1, hp, wo)[:, :, :ho].transpose(1, 0, 2, 3)

    parallel_map(forward, chunks)

    def backward(g: np.ndarray, need_x: bool, need_w: bool):  # type: ignore[no-untyped-def]
        grad_x = np.empty(x.shape, dtype=x.dtype) if need_x else None

        def chunk_vjp(s: slice) -> np.ndarray | None:
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
            return grad_band

        parts = parallel_map(chunk_vjp, chunks)
        grad_weight = None
        if need_w:
            grad_band = functools.reduce(np.add, parts)
            grad_weight = np.stack(
                [grad_band[:, :, q, j].sum(axis=-1) for q, j in diagonals], axis=-1
            )  # (kh, C, kw)
            grad_weight = grad_weight.transpose(1, 0, 2).reshape(weight.shape)
        return grad_x, grad_weight

    return out, backward


def _band_diagonal(w: int, wo: int, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """The index pairs ``(q, j)`` with ``q = j + shift``, ``0 ≤ q < W`` and ``0 ≤ j < Wo``."""
    j = np.arange(max(0, -shift), min(wo, w - shift))
    return j + shift, j
