"""max_pool2d, avg_pool2d and adaptive_avg_pool2d, forward, indices and backward, against PyTorch
(both kernel paths; ``test_pooling_vs_loops`` checks the formula path against the loops).

Hypothesis draws every option, float32 and float64, batch 0 and unbatched inputs, ties, and NaN
and ±∞ at random places of the input and of the cotangent; the NaN/±∞ pattern of the outputs and
gradients must be PyTorch's exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import dtypes, seeds
from hypothesis import given, settings
from hypothesis import strategies as st

import mathdnn
import mathdnn.functional as F
import mathdnn.kernels as kernels

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from test_pooling_vs_loops import adaptive_cases, assert_same, make_array, pool_cases  # noqa: E402

modes = st.sampled_from(kernels.MODES)


# ---------------------------------------------------------------------------- against PyTorch
@given(
    case=pool_cases(dilated=True),
    dtype=dtypes,
    seed=seeds,
    ties=st.booleans(),
    nonfinite=st.booleans(),
    mode=modes,
)
@settings(max_examples=300)
def test_max_pool2d_matches_pytorch(case, dtype, seed, ties, nonfinite, mode):
    shape, kw = case
    x = make_array(seed, shape, dtype, ties, nonfinite)
    ours, theirs = mathdnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with kernels.use(mode):
        y, indices = F.max_pool2d(ours, **kw, return_indices=True)
        np.testing.assert_array_equal(F.max_pool2d(ours, **kw).data, y.data)
    y_ref, indices_ref = TF.max_pool2d(theirs, **kw, return_indices=True)
    assert_same(y.data, y_ref.detach().numpy(), dtype, "forward")
    assert indices.dtype == np.int64 and not indices.requires_grad
    np.testing.assert_array_equal(indices.data, indices_ref.numpy())
    g = make_array(seed + 1, y_ref.shape, dtype, nonfinite=nonfinite)
    y.backward(g)
    y_ref.backward(torch.from_numpy(g))
    assert_same(ours.grad, theirs.grad.numpy(), dtype, "gradient")
    np.testing.assert_array_equal(ours.grad == 0, theirs.grad.numpy() == 0, "gradient placement")


@given(
    case=pool_cases(dilated=False),
    count_include_pad=st.booleans(),
    divisor_override=st.one_of(st.none(), st.integers(-3, 6).filter(bool)),
    dtype=dtypes,
    seed=seeds,
    nonfinite=st.booleans(),
    mode=modes,
)
@settings(max_examples=300)
def test_avg_pool2d_matches_pytorch(
    case, count_include_pad, divisor_override, dtype, seed, nonfinite, mode
):
    shape, kw = case
    kw = dict(kw, count_include_pad=count_include_pad, divisor_override=divisor_override)
    x = make_array(seed, shape, dtype, nonfinite=nonfinite)
    ours, theirs = mathdnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with kernels.use(mode):
        y = F.avg_pool2d(ours, **kw)
    y_ref = TF.avg_pool2d(theirs, **kw)
    assert_same(y.data, y_ref.detach().numpy(), dtype, "forward")
    g = make_array(seed + 1, y_ref.shape, dtype, nonfinite=nonfinite)
    y.backward(g)
    y_ref.backward(torch.from_numpy(g))
    assert_same(ours.grad, theirs.grad.numpy(), dtype, "gradient")


@given(case=adaptive_cases(), dtype=dtypes, seed=seeds, nonfinite=st.booleans())
@settings(max_examples=200)
def test_adaptive_avg_pool2d_matches_pytorch(case, dtype, seed, nonfinite):
    shape, output_size = case
    x = make_array(seed, shape, dtype, nonfinite=nonfinite)
    ours, theirs = mathdnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = F.adaptive_avg_pool2d(ours, output_size)
    y_ref = TF.adaptive_avg_pool2d(theirs, output_size)
    assert_same(y.data, y_ref.detach().numpy(), dtype, "forward")
    g = make_array(seed + 1, y_ref.shape, dtype, nonfinite=nonfinite)
    y.backward(g)
    if 0 in y_ref.shape[-3:]:  # PyTorch's backward refuses an empty C, Ho or Wo
        np.testing.assert_array_equal(ours.grad, np.zeros(shape, dtype))
        return
    y_ref.backward(torch.from_numpy(g))
    assert_same(ours.grad, theirs.grad.numpy(), dtype, "gradient")


@pytest.mark.parametrize("mode", kernels.MODES)
def test_max_pool2d_all_ties_overlapping_and_windows_of_minus_infinity(mode):
    """Zeros everywhere: the gradient goes to each window's first pixel; −∞ everywhere: to its
    first pixel of the input, not to the −∞ padding around it."""
    for fill in (0.0, -np.inf):
        x = np.full((1, 2, 6, 5), fill)
        ours, theirs = mathdnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        with kernels.use(mode):
            y, indices = F.max_pool2d(ours, 3, stride=1, padding=1, return_indices=True)
        y_ref, indices_ref = TF.max_pool2d(theirs, 3, stride=1, padding=1, return_indices=True)
        np.testing.assert_array_equal(indices.data, indices_ref.numpy())
        y.backward(np.ones(y.shape))
        y_ref.backward(torch.ones(y_ref.shape, dtype=torch.float64))
        np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())
