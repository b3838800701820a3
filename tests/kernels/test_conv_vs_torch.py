"""conv2d on both paths against PyTorch: float32 on the benchmark's layers, empty batches, and NaN
and ±∞ at random places, which must come out exactly where PyTorch puts them."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import assert_close, randn  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mathdnn  # noqa: E402
import mathdnn.functional as F  # noqa: E402
from mathdnn import kernels  # noqa: E402

TF = torch.nn.functional

LAYERS = [
    ((8, 1, 28, 28), (6, 1, 5, 5), {"padding": 2}),  # LeNet C1: banded
    ((8, 6, 14, 14), (16, 6, 5, 5), {}),  # LeNet C3: banded
    ((3, 8, 16, 16), (8, 1, 3, 3), {"padding": 1, "groups": 8}),  # depthwise: banded
    ((2, 32, 12, 12), (32, 32, 3, 3), {"padding": 1}),  # ResNet 3x3: formula in chunks
    ((1, 1, 64, 64), (2, 1, 3, 3), {"padding": 1}),  # finite differences: formula
    ((3, 4, 11, 9), (6, 2, 3, 3), {"stride": 2, "groups": 2, "dilation": (1, 2)}),
    ((2, 3, 10, 9), (4, 3, 3, 2), {"padding": "same", "dilation": 2}),
]


def both_paths(x, w, b, kwargs, g, mode):
    """(y, ∂x, ∂W, ∂bias) from mathdnn on ``mode`` and from PyTorch, for the cotangent ``g``."""
    with kernels.use(mode):
        xt, wt, bt = (mathdnn.tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv2d(xt, wt, bt, **kwargs)
        y.backward(g)
    ours = (y.data, xt.grad, wt.grad, bt.grad)
    xs, ws, bs = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ref = TF.conv2d(xs, ws, bs, **kwargs)
    ref.backward(torch.tensor(g))
    theirs = tuple(t.detach().numpy() for t in (ref, xs.grad, ws.grad, bs.grad))
    return ours, theirs


@pytest.mark.parametrize("mode", kernels.MODES)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: str(layer[0]))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_both_paths_match_torch(layer, mode, dtype):
    x_shape, w_shape, kwargs = layer
    x, w, b = randn(0, x_shape, dtype), randn(1, w_shape, dtype), randn(2, (w_shape[0],), dtype)
    y_shape = TF.conv2d(torch.tensor(x), torch.tensor(w), **kwargs).shape
    ours, theirs = both_paths(x, w, b, kwargs, randn(3, tuple(y_shape), dtype), mode)
    for name, a, e in zip(("y", "∂x", "∂W", "∂bias"), ours, theirs, strict=True):
        assert a.dtype == dtype, name
        assert_close(a, e, dtype, f"{mode} {name}")


@pytest.mark.parametrize("mode", kernels.MODES)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: str(layer[0]))
def test_empty_batch(layer, mode):
    x_shape, w_shape, kwargs = layer
    x = np.zeros((0, *x_shape[1:]), np.float32)
    w, b = randn(1, w_shape, np.float32), randn(2, (w_shape[0],), np.float32)
    y_shape = tuple(TF.conv2d(torch.tensor(x), torch.tensor(w), **kwargs).shape)
    ours, theirs = both_paths(x, w, b, kwargs, np.zeros(y_shape, np.float32), mode)
    for a, e in zip(ours, theirs, strict=True):
        assert a.shape == e.shape
        np.testing.assert_array_equal(a, e)


def sprinkle(rng: np.random.Generator, a: np.ndarray, count: int) -> np.ndarray:
    """``a`` with NaN, +∞ or −∞ at ``count`` random places."""
    a = a.copy()
    flat = a.reshape(-1)
    places = rng.choice(flat.size, size=min(count, flat.size), replace=False)
    flat[places] = rng.choice([np.nan, np.inf, -np.inf], size=len(places))
    return a


def assert_same_non_finite(ours, theirs, what):
    for name, a, e in zip(("y", "∂x", "∂W", "∂bias"), ours, theirs, strict=True):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(e), f"{what}: NaN in {name}")
        np.testing.assert_array_equal(np.isposinf(a), np.isposinf(e), f"{what}: +∞ in {name}")
        np.testing.assert_array_equal(np.isneginf(a), np.isneginf(e), f"{what}: −∞ in {name}")


@given(
    layer=st.sampled_from(LAYERS),
    where=st.sampled_from(["x", "g", "w"]),
    count=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    mode=st.sampled_from(kernels.MODES),
)
@settings(max_examples=60)
def test_non_finite_values_land_where_torch_puts_them(layer, where, count, seed, mode):
    """NaN/±∞ in the input, the cotangent or the weight: the same non-finite pattern as PyTorch,
    forward and backward, on both paths (float64: PyTorch's float32 convolution skips the padding
    taps, so a non-finite weight meets no padding zero there, unlike in the formula)."""
    x_shape, w_shape, kwargs = layer
    rng = np.random.default_rng(seed)
    x, w, b = randn(seed, x_shape), randn(seed + 1, w_shape), randn(seed + 2, (w_shape[0],))
    g = randn(seed + 3, tuple(TF.conv2d(torch.tensor(x), torch.tensor(w), **kwargs).shape))
    if where == "x":
        x = sprinkle(rng, x, count)
    elif where == "g":
        g = sprinkle(rng, g, count)
    else:
        w = sprinkle(rng, w, count)
    ours, theirs = both_paths(x, w, b, kwargs, g, mode)
    assert_same_non_finite(ours, theirs, f"{mode}, non-finite {where}")
    for name, a, e in zip(("y", "∂x", "∂W", "∂bias"), ours, theirs, strict=True):
        finite = np.isfinite(e)
        assert_close(a[finite], e[finite], np.float64, f"{mode} {name} (finite entries)")
