"""conv2d's fast paths against its formula path and the loop reference: the banded kernel, the
chunked runner (one image per chunk, a few, the whole batch), the rule that picks them, and the
switch that turns them off."""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest
from conftest import randn
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mathdnn
import mathdnn.functional as F
from mathdnn import kernels
from mathdnn.functional import reference
from mathdnn.functional.conv import conv2d_formula
from mathdnn.kernels.chunks import CHUNKS_MULTIPLE, batch_chunks, conv2d_chunked
from mathdnn.kernels.conv_banded import conv2d_banded
from mathdnn.kernels.conv_rows import conv2d_rows
from mathdnn.kernels.conv_unfold import conv2d_unfold
from mathdnn.windows import ConvGeometry


@st.composite
def geometries(draw, stride_one: bool = False, one_group: bool = False):
    """A conv2d call: shapes, stride, padding, dilation, groups; batch 0 included."""
    groups = 1 if one_group else draw(st.integers(1, 3))
    c_g, o_g = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pads = (draw(st.integers(0, 3)),) * 2 + (draw(st.integers(0, 3)),) * 2
    stride = (1, 1) if stride_one else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    extent = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    assume(h + pads[0] + pads[1] >= extent[0] and w + pads[2] + pads[3] >= extent[1])
    out = (
        (h + pads[0] + pads[1] - extent[0]) // stride[0] + 1,
        (w + pads[2] + pads[3] - extent[1]) // stride[1] + 1,
    )
    n = draw(st.integers(0, 6))
    geo = ConvGeometry((kh, kw), stride, pads, (dh, dw), groups, out)
    return (n, groups * c_g, h, w), (groups * o_g, c_g, kh, kw), geo


def run_kernel(kernel, x, w, b, geo, g):
    y, vjp = kernel(x, w, b, geo, (True, True))
    return (y, *vjp(g))


def loop_reference(x, w, b, geo, g):
    args = (geo.stride, geo.pads, geo.dilation, geo.groups)
    return (reference.conv2d(x, w, b, *args), *reference.conv2d_vjp(x, w, g, *args))


def assert_all_close(ours, theirs, what):
    for name, a, e in zip(("y", "∂x", "∂W", "∂bias"), ours, theirs, strict=True):
        assert a.shape == e.shape, f"{what} {name}: shape {a.shape} != {e.shape}"
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-10, err_msg=f"{what} {name}")


@given(case=geometries(), seed=st.integers(0, 2**16))
@settings(max_examples=120)
def test_formula_path_matches_the_loop_reference(case, seed):
    x_shape, w_shape, geo = case
    x, w, b = randn(seed, x_shape), randn(seed + 1, w_shape), randn(seed + 2, (w_shape[0],))
    g = randn(seed + 3, (x_shape[0], w_shape[0], *geo.out))
    assert_all_close(
        run_kernel(conv2d_formula, x, w, b, geo, g), loop_reference(x, w, b, geo, g), "formula"
    )


@given(case=geometries(stride_one=True), seed=st.integers(0, 2**16))
@settings(max_examples=120)
def test_banded_kernel_matches_the_formula(case, seed):
    x_shape, w_shape, geo = case
    x, w, b = randn(seed, x_shape), randn(seed + 1, w_shape), randn(seed + 2, (w_shape[0],))
    g = randn(seed + 3, (x_shape[0], w_shape[0], *geo.out))
    assert_all_close(
        run_kernel(conv2d_banded, x, w, b, geo, g),
        run_kernel(conv2d_formula, x, w, b, geo, g),
        "banded",
    )


@given(case=geometries(stride_one=True, one_group=True), seed=st.integers(0, 2**16))
@settings(max_examples=120)
def test_rows_kernel_matches_the_formula(case, seed):
    x_shape, w_shape, geo = case
    x, w, b = randn(seed, x_shape), randn(seed + 1, w_shape), randn(seed + 2, (w_shape[0],))
    g = randn(seed + 3, (x_shape[0], w_shape[0], *geo.out))
    assert_all_close(
        run_kernel(conv2d_rows, x, w, b, geo, g),
        run_kernel(conv2d_formula, x, w, b, geo, g),
        "rows",
    )


@given(case=geometries(), seed=st.integers(0, 2**16))
@settings(max_examples=120)
def test_unfold_kernel_is_the_formula_bit_for_bit(case, seed):
    """The same products in the same order, only the arrays from the workspace: the same bits,
    NaN and ±∞ included (any geometry, though the rule sends it stride 1, groups 1 alone)."""
    x_shape, w_shape, geo = case
    x, w, b = randn(seed, x_shape), randn(seed + 1, w_shape), randn(seed + 2, (w_shape[0],))
    g = randn(seed + 3, (x_shape[0], w_shape[0], *geo.out))
    if x.size:
        x.flat[seed % x.size] = (np.nan, np.inf, -np.inf, 1.0)[seed % 4]
    ours = run_kernel(conv2d_unfold, x, w, b, geo, g)
    for name, a, e in zip(
        ("y", "∂x", "∂W", "∂bias"), ours, run_kernel(conv2d_formula, x, w, b, geo, g), strict=True
    ):
        assert a.shape == e.shape and a.tobytes() == e.tobytes(), name


@given(
    case=geometries(),
    seed=st.integers(0, 2**16),
    chunk_bytes=st.sampled_from([1, 500, 1 << 30]),
    inner=st.sampled_from([conv2d_formula, conv2d_banded, conv2d_rows, conv2d_unfold]),
    threads=st.sampled_from([1, 2, 3]),
)
@settings(max_examples=100)
def test_chunked_kernels_match_the_formula(case, seed, chunk_bytes, inner, threads):
    """Any kernel run on chunks (one image each, a few, all), on 1-3 threads, is the same map."""
    x_shape, w_shape, geo = case
    assume(inner is conv2d_formula or geo.stride == (1, 1))
    assume(inner is not conv2d_rows or geo.groups == 1)
    x, w, b = randn(seed, x_shape), randn(seed + 1, w_shape), randn(seed + 2, (w_shape[0],))
    g = randn(seed + 3, (x_shape[0], w_shape[0], *geo.out))
    kernel = conv2d_chunked(inner, chunk_bytes, 0)
    previous = mathdnn.get_num_threads()
    mathdnn.set_num_threads(threads)
    try:
        ours = run_kernel(kernel, x, w, b, geo, g)
    finally:
        mathdnn.set_num_threads(previous)
    assert_all_close(ours, run_kernel(conv2d_formula, x, w, b, geo, g), "chunked")


def test_kernels_read_non_contiguous_input():
    x = randn(0, (3, 9, 8, 2)).transpose(3, 0, 1, 2)  # (2, 3, 9, 8), not contiguous
    w, b, g = randn(1, (4, 3, 3, 2)), randn(2, (4,)), randn(3, (2, 4, 9, 9))
    geo = ConvGeometry((3, 2), (1, 1), (1, 1, 1, 1), (1, 1), 1, (9, 9))
    expected = loop_reference(x, w, b, geo, g)
    kernels = (
        conv2d_formula,
        conv2d_banded,
        conv2d_rows,
        conv2d_unfold,
        conv2d_chunked(conv2d_rows, 1, 0),
    )
    for kernel in kernels:
        assert_all_close(run_kernel(kernel, x, w, b, geo, g), expected, kernel.__name__)


# The benchmark's layers (smaller batches) and the path the rule gives each.
LAYERS = {
    "LeNet C1": ((5, 1, 28, 28), (6, 1, 5, 5), {"padding": 2}, conv2d_unfold),
    "LeNet C3": ((5, 6, 14, 14), (16, 6, 5, 5), {}, conv2d_rows),
    "depthwise 3x3": ((3, 8, 16, 16), (8, 1, 3, 3), {"padding": 1, "groups": 8}, conv2d_banded),
    "ResNet 3x3": ((2, 32, 12, 12), (32, 32, 3, 3), {"padding": 1}, conv2d_rows),
    "finite differences": ((1, 1, 64, 64), (2, 1, 3, 3), {"padding": 1}, conv2d_unfold),
    "1x1, RGB to grey": ((2, 3, 16, 20), (1, 3, 1, 1), {}, conv2d_formula),
    "strided": ((3, 4, 11, 9), (6, 2, 3, 3), {"stride": 2, "groups": 2}, conv2d_formula),
}


@pytest.mark.parametrize("name", LAYERS)
def test_the_rule_picks_the_kernel_and_the_switch_turns_it_off(name):
    x_shape, w_shape, kwargs, expected = LAYERS[name]
    x, w, b = randn(0, x_shape), randn(1, w_shape), randn(2, (w_shape[0],))
    results = {}
    for mode in kernels.MODES:
        with kernels.use(mode):
            xt, wt, bt = (mathdnn.tensor(a, requires_grad=True) for a in (x, w, b))
            y = F.conv2d(xt, wt, bt, **kwargs)
            y.backward(randn(3, y.shape))
            results[mode] = (y.data, xt.grad, wt.grad, bt.grad)
    assert_all_close(results["fast"], results["reference"], name)
    groups = kwargs.get("groups", 1)
    stride = (kwargs.get("stride", 1),) * 2
    p = kwargs.get("padding", 0)
    out = tuple(
        (s + 2 * p - k) // st + 1 for s, k, st in zip(x_shape[2:], w_shape[2:], stride, strict=True)
    )
    geo = ConvGeometry(w_shape[2:], stride, (p,) * 4, (1, 1), groups, out)
    assert inspect.unwrap(kernels.conv2d_kernel(conv2d_formula, x, w, geo)) is expected


@pytest.mark.parametrize("fast", [conv2d_rows, conv2d_banded])
@pytest.mark.parametrize("where", ["x", "weight", "g"])
def test_non_finite_values_send_a_fast_kernel_to_the_formula(fast, where):
    """With NaN or ±∞ anywhere, the shifts' garbage or the band's zeros would spread it: the
    kernel gives exactly the formula's values, NaN and ±∞ in the same places."""
    geo = ConvGeometry((5, 5), (1, 1), (2, 2, 2, 2), (1, 1), 1, (14, 14))
    x, w, b = randn(0, (2, 6, 14, 14)), randn(1, (16, 6, 5, 5)), randn(2, (16,))
    g = randn(3, (2, 16, 14, 14))
    kernel = kernels.finite_only(fast, conv2d_formula)
    for bad in (np.nan, np.inf, -np.inf):
        arrays = {"x": x.copy(), "weight": w.copy(), "g": g.copy()}
        arrays[where].reshape(-1)[7] = bad
        args = (arrays["x"], arrays["weight"], b, geo, arrays["g"])
        with np.errstate(invalid="ignore", over="ignore"):  # as conv2d runs its kernels
            ours, theirs = run_kernel(kernel, *args), run_kernel(conv2d_formula, *args)
        if where == "g":  # the forward pass ran the fast kernel: equal up to rounding
            np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12)
            ours, theirs = ours[1:], theirs[1:]
        for a, e in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("chunk_bytes", [1, 2500, 1 << 21])
def test_batch_chunks_partition_the_batch_evenly_whatever_the_threads(chunk_bytes):
    previous = mathdnn.get_num_threads()
    partitions = []
    try:
        for threads in (1, 2, 3):
            mathdnn.set_num_threads(threads)
            partitions.append(batch_chunks(7, 1000, chunk_bytes, parallel_min_bytes=0))
        small = batch_chunks(8, 100, chunk_bytes, parallel_min_bytes=801)
    finally:
        mathdnn.set_num_threads(previous)
    chunks = partitions[0]
    assert partitions == [chunks] * 3  # the same runs for any number of threads
    assert chunks[0].start == 0 and chunks[-1].stop == 7
    assert all(a.stop == b.start for a, b in itertools.pairwise(chunks))
    lengths = [c.stop - c.start for c in chunks]
    assert max(lengths) - min(lengths) <= 1
    assert len(chunks) == 7 or len(chunks) % CHUNKS_MULTIPLE == 0
    assert max(lengths) * 1000 <= max(chunk_bytes, 1000) + 1000
    if chunk_bytes == 1 << 21:
        assert len(chunks) == CHUNKS_MULTIPLE
    assert small == [slice(0, 8)]  # under parallel_min_bytes in all: one chunk


def test_batch_chunks_of_an_empty_or_single_batch():
    assert batch_chunks(0, 1000, 1, 0) == [slice(0, 0)]
    assert batch_chunks(1, 1000, 1, 0) == [slice(0, 1)]
