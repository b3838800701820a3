"""conv2d's five kernels — stride 1 (rows, banded, per-row banded), depthwise (banded matrix
products), and strided/grouped (whole-batch unfold) — against the loop reference and PyTorch, with
chunks of every size: one image per chunk, a few, and the whole batch."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest
import torch.nn.functional as TF
from conftest import compare_with_torch, randn
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mfdnn
import mfdnn.functional as F
from mfdnn.functional import conv, reference


@contextmanager
def chunk_bytes(value: int) -> Iterator[None]:
    """Run with ``conv.CHUNK_BYTES = value`` (``1``: one image per chunk), and with the chunks of
    any batch, however small, spread over the threads; then restore both."""
    with (
        mock.patch.object(conv, "CHUNK_BYTES", value),
        mock.patch.object(conv, "PARALLEL_MIN_BYTES", 0),
    ):
        yield


@st.composite
def kernel_cases(draw):
    route = draw(
        st.sampled_from(
            ["stride 1 rows", "stride 1 banded", "stride 1 per_row", "depthwise", "strided"]
        )
    )
    c = draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    assume(h + 2 * ph >= dilation[0] * (kh - 1) + 1 and w + 2 * pw >= dilation[1] * (kw - 1) + 1)
    if route == "depthwise":
        w_shape, groups, stride = (c, 1, kh, kw), c, (1, 1)
    else:
        w_shape, groups = (draw(st.integers(1, 4)), c, kh, kw), 1
        stride = (1, 1) if route.startswith("stride 1") else (draw(st.integers(2, 3)), 1)
    return dict(
        x_shape=(draw(st.integers(1, 5)), c, h, w),
        w_shape=w_shape,
        stride=stride,
        pads=(ph, ph, pw, pw),
        dilation=dilation,
        groups=groups,
        chunk_bytes=draw(st.sampled_from([1, 2000, 1 << 21])),
        stride1=route.removeprefix("stride 1 ") if route.startswith("stride 1") else "rows",
        band_min_columns=draw(st.sampled_from([1, 8, 64])),  # 1, 8: several column blocks
        per_row_min_width=draw(st.sampled_from([1, 2, 4])),  # 1, 2: several column blocks
    )


@contextmanager
def stride1_kernel(route: str) -> Iterator[None]:
    """Route stride-1, groups-1 convolutions to ``"rows"`` (``_conv_stride1``), ``"banded"``
    (``_conv_banded``) or ``"per_row"`` (``_conv_banded_per_row``)."""
    with mock.patch.object(conv, "_stride1_kernel", lambda *args: route):
        yield


@given(case=kernel_cases(), seed=st.integers(0, 2**16))
@settings(max_examples=150)
def test_conv2d_kernels_match_the_loop_reference(case, seed):
    with (
        chunk_bytes(case["chunk_bytes"]),
        stride1_kernel(case["stride1"]),
        mock.patch.object(conv, "BANDED_MIN_COLUMNS", case["band_min_columns"]),
        mock.patch.object(conv, "PER_ROW_MIN_WIDTH", case["per_row_min_width"]),
    ):
        check_against_reference(case, seed)


def check_against_reference(case: dict, seed: int) -> None:
    x, w = randn(seed, case["x_shape"], np.float64), randn(seed + 1, case["w_shape"], np.float64)
    b = randn(seed + 2, (case["w_shape"][0],), np.float64)
    args = (case["stride"], case["pads"], case["dilation"], case["groups"])
    xt, wt, bt = (mfdnn.tensor(a, requires_grad=True) for a in (x, w, b))
    padding = (case["pads"][0], case["pads"][2])
    y = F.conv2d(xt, wt, bt, case["stride"], padding, case["dilation"], case["groups"])
    np.testing.assert_allclose(y.data, reference.conv2d(x, w, b, *args), atol=1e-12, rtol=0)
    g = randn(seed + 3, y.shape, np.float64)
    y.backward(g)
    for ours, theirs in zip(
        (xt.grad, wt.grad, bt.grad), reference.conv2d_vjp(x, w, g, *args), strict=True
    ):
        np.testing.assert_allclose(ours, theirs, atol=1e-12, rtol=0)


@pytest.mark.parametrize("size", [1, 5000, 1 << 21])
@pytest.mark.parametrize(
    ("w_shape", "kwargs"),
    [
        ((5, 3, 3, 3), {"padding": 1}),
        ((3, 1, 3, 3), {"padding": "same", "groups": 3, "dilation": 2}),
        ((4, 3, 2, 3), {"stride": 2, "padding": (1, 0)}),
    ],
    ids=["stride 1", "depthwise", "strided"],
)
@pytest.mark.parametrize("grad", [[True, True], [True, False], [False, True]])
@pytest.mark.parametrize("route", ["banded", "per_row", "rows"])
def test_conv2d_kernels_match_torch_float32(size, w_shape, kwargs, grad, route):
    x, w = randn(0, (6, 3, 11, 9)), randn(1, w_shape)
    with chunk_bytes(size), stride1_kernel(route):
        compare_with_torch(
            lambda *t: F.conv2d(*t, **kwargs),
            lambda *t: TF.conv2d(*t, **kwargs),
            [x, w],
            grad=grad,
        )


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("size", [1, 2500, 1 << 21])
def test_chunks_partition_the_batch_evenly_among_the_workers(size, threads):
    previous = mfdnn.get_num_threads()
    mfdnn.set_num_threads(threads)
    try:
        with chunk_bytes(size):
            chunks = conv._chunks(7, 1000)
    finally:
        mfdnn.set_num_threads(previous)
    assert chunks[0].start == 0 and chunks[-1].stop == 7
    assert all(a.stop == b.start for a, b in itertools.pairwise(chunks))
    lengths = [c.stop - c.start for c in chunks]
    assert max(lengths) - min(lengths) <= 1
    assert len(chunks) == 7 or len(chunks) % threads == 0
    assert max(lengths) * 1000 <= max(size, 1000) + 1000
    if size == 1 << 21:
        assert len(chunks) == threads


@pytest.mark.parametrize("route", ["banded", "per_row"])
def test_banded_vjp_reuses_the_forward_rows_only_while_they_are_intact(route, monkeypatch):
    """The VJP takes the rows its forward pass left in scratch; after another call of the same
    shapes has overwritten them, it lays them out again. The gradients are right either way."""
    hits = []
    holding = conv.scratch_holding

    def spy(*args):
        kept = holding(*args)
        hits.append(kept is not None)
        return kept

    monkeypatch.setattr(conv, "scratch_holding", spy)
    x1, x2 = randn(0, (3, 6, 9, 12), np.float64), randn(1, (3, 6, 9, 12), np.float64)
    w, b = randn(2, (4, 6, 5, 5), np.float64), randn(3, (4,), np.float64)
    args = ((1, 1), (1, 1, 1, 1), (1, 1), 1)
    g = randn(4, (3, 4, 7, 10), np.float64)
    with stride1_kernel(route):
        for overwrite in (False, True):
            xt, wt, bt = (mfdnn.tensor(a, requires_grad=True) for a in (x1, w, b))
            y = F.conv2d(xt, wt, bt, padding=1)
            if overwrite:  # same shapes, other input: the same scratch buffer, other rows
                F.conv2d(mfdnn.tensor(x2), mfdnn.tensor(w), padding=1)
            y.backward(g)
            for ours, theirs in zip(
                (xt.grad, wt.grad, bt.grad), reference.conv2d_vjp(x1, w, g, *args), strict=True
            ):
                np.testing.assert_allclose(ours, theirs, atol=1e-12, rtol=0)
    assert hits == [True, False]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_small_batches_run_as_one_chunk(threads):
    """Under PARALLEL_MIN_BYTES in all, one chunk: the calling thread alone, BLAS on every core."""
    previous = mfdnn.get_num_threads()
    mfdnn.set_num_threads(threads)
    try:
        below = conv._chunks(8, (conv.PARALLEL_MIN_BYTES - 1) // 8)
        at = conv._chunks(8, -(-conv.PARALLEL_MIN_BYTES // 8))
    finally:
        mfdnn.set_num_threads(previous)
    assert below == [slice(0, 8)]
    assert len(at) == threads


@pytest.mark.parametrize(
    ("wo", "c_out", "span", "width"),
    [(10, 16, 4, 5), (10, 64, 4, 1), (28, 6, 4, 11), (7, 2, 2, 7)],
    ids=["LeNet C3: two blocks", "wide product: one column", "LeNet C1", "narrow: one block"],
)
def test_band_block_width_balances_waste_and_product_width(wo, c_out, span, width):
    """Blocks of wb columns multiply blocks·wb·(wb + span) times; products need 64 columns."""
    assert conv._band_block_width(wo, c_out, span, 64) == width


@pytest.mark.parametrize("max_width", [1, 64], ids=["too wide: unfold", "banded"])
def test_depthwise_takes_the_banded_kernel_up_to_its_width(monkeypatch, max_width):
    monkeypatch.setattr(conv, "BANDED_MAX_WIDTH", max_width)
    calls = []
    banded = conv._depthwise_stride1

    def spy(*args):
        calls.append(args)
        return banded(*args)

    monkeypatch.setattr(conv, "_depthwise_stride1", spy)
    case = dict(
        x_shape=(3, 4, 6, 13),
        w_shape=(4, 1, 3, 2),
        stride=(1, 1),
        pads=(1, 1, 2, 2),
        dilation=(1, 2),
        groups=4,
    )
    check_against_reference(case, seed=5)
    assert len(calls) == (1 if max_width == 64 else 0)


@pytest.mark.parametrize("route", ["banded", "per_row", "rows"])
@pytest.mark.parametrize("padding", [0, 1], ids=["unpadded: read in place", "padded"])
def test_stride1_kernel_reads_non_contiguous_input(padding, route):
    """Without padding the kernel unfolds ``x`` itself, which must first be made contiguous."""
    x = randn(0, (3, 9, 8, 2), np.float64).transpose(3, 0, 1, 2)  # (2, 3, 9, 8), not contiguous
    w, b = randn(1, (4, 3, 3, 2), np.float64), randn(2, (4,), np.float64)
    xt, wt, bt = (mfdnn.tensor(a, requires_grad=True) for a in (x, w, b))
    assert not xt.data.flags.c_contiguous
    with stride1_kernel(route):
        y = F.conv2d(xt, wt, bt, padding=padding)
    args = ((1, 1), (padding,) * 4, (1, 1), 1)
    np.testing.assert_allclose(y.data, reference.conv2d(x, w, b, *args), atol=1e-12, rtol=0)
    g = randn(3, y.shape, np.float64)
    y.backward(g)
    for ours, theirs in zip(
        (xt.grad, wt.grad, bt.grad), reference.conv2d_vjp(x, w, g, *args), strict=True
    ):
        np.testing.assert_allclose(ours, theirs, atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("run", [1, 5, 10, 16, 32])
def test_copy_runs_is_a_plain_copy(dtype, run):
    """The transposing copy that moves short runs as single items copies exactly, in any layout."""
    src = randn(0, (3, 7, 4, run), dtype).transpose(1, 0, 2, 3)
    dst = np.zeros((7, 3, 4, run + 2), dtype)[..., 1 : run + 1]  # runs inside longer rows
    conv._copy_runs(dst, src)
    np.testing.assert_array_equal(dst, src)


@pytest.mark.parametrize(
    ("c", "c_out", "wo", "kernel", "dilation", "route"),
    [
        (1, 6, 28, (5, 5), (1, 1), "banded"),  # LeNet C1: shallow
        (1, 2, 512, (3, 3), (1, 1), "banded"),  # the finite-difference filter
        (3, 16, 224, (7, 7), (1, 1), "banded"),  # C*kh = 21: too shallow for per-row
        (6, 16, 10, (5, 5), (1, 1), "per_row"),  # LeNet C3: per-row wastes 1.8x
        (8, 8, 12, (5, 5), (1, 1), "per_row"),  # C*kh = 40
        (6, 16, 10, (5, 5), (2, 2), "rows"),  # dilated: both banded kernels waste > 3x
        (8, 16, 16, (3, 3), (4, 4), "rows"),  # dilated: C*kh = 24, banded wastes 5.3x
        (16, 32, 8, (3, 3), (1, 1), "rows"),  # C*kh = 48
        (32, 32, 32, (3, 3), (1, 1), "rows"),  # the ResNet layer
    ],
)
def test_stride1_kernel_choice_follows_the_measured_table(c, c_out, wo, kernel, dilation, route):
    assert conv._stride1_kernel(c, c_out, wo, kernel, dilation) == route
