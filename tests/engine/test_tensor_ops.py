"""Autograd semantics of the Tensor: gradients accumulate, graphs are freed, copies and views."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import mathdnn


def test_reflected_ops_with_numpy_arrays_give_tensors():
    x = mathdnn.tensor(np.ones(3), requires_grad=True)
    y = np.arange(3.0) - x
    assert isinstance(y, mathdnn.Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, -np.ones(3))


def test_max_ties_split_gradient_equally():
    x = mathdnn.tensor(np.array([1.0, 3.0, 3.0, 3.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [0, 1 / 3, 1 / 3, 1 / 3], rtol=1e-15)


def test_repeated_index_gradient_accumulates():
    x = mathdnn.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    x[[0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad, [[2, 2], [1, 1], [0, 0]])


def test_accumulated_grad_keeps_leaf_dtype():
    x = mathdnn.tensor(np.ones(3, np.float32), requires_grad=True)
    for _ in range(2):
        (x * np.ones(3, np.float64)).sum().backward()
        assert x.grad.dtype == np.float32


def test_leaf_grads_never_share_memory_with_each_other_or_the_seed():
    """Leaf .grad arrays are taken from the VJPs without a copy only when nothing else sees them."""
    a = mathdnn.tensor(np.ones((2, 3)), requires_grad=True)
    b = mathdnn.tensor(np.ones((2, 3)), requires_grad=True)
    seed = np.full((2, 3), 2.0)
    (a + b).backward(seed)  # add's VJP hands the same array to both parents
    assert not np.shares_memory(a.grad, b.grad)
    assert not np.shares_memory(a.grad, seed) and not np.shares_memory(b.grad, seed)
    a.grad[0, 0] = 100.0
    np.testing.assert_array_equal(b.grad, seed)
    np.testing.assert_array_equal(seed, np.full((2, 3), 2.0))
    c = mathdnn.tensor(np.ones(6), requires_grad=True)
    c.reshape(2, 3).backward(seed)  # the cotangent is a view of the seed
    assert not np.shares_memory(c.grad, seed)
    np.testing.assert_array_equal(c.grad, np.full(6, 2.0))


def test_tensor_copies_its_data_and_from_numpy_shares_it():
    array = np.zeros(3, np.float32)
    copied, shared = mathdnn.tensor(array), mathdnn.from_numpy(array)
    array[0] = 1.0
    assert copied.data[0] == 0.0 and shared.data[0] == 1.0
    assert shared.dtype == np.float32 and shared.is_leaf and not shared.requires_grad
    x = mathdnn.from_numpy(np.ones(3)).requires_grad_()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])
    with pytest.raises(TypeError, match=r"from_numpy: expected a numpy.ndarray, got list"):
        mathdnn.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match=r"from_numpy: .*dtype.*<U1"):
        mathdnn.from_numpy(np.array(["a"]))


def test_retain_graph_allows_second_backward():
    x = mathdnn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x.sin() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-15)


def test_second_backward_without_retain_graph_raises():
    x = mathdnn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward.*second time.*retain_graph"):
        y.backward()


def test_no_grad_records_nothing():
    x = mathdnn.tensor(np.ones(3), requires_grad=True)
    with mathdnn.no_grad():
        assert not mathdnn.is_grad_enabled()
        y = (x * 2).exp().sum()
    assert mathdnn.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    assert x.grad is None


def test_detach_cuts_the_graph_and_shares_memory():
    x = mathdnn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    d = (x * 3).detach()
    assert not d.requires_grad
    y = (x * d).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad, [3.0, 6.0])  # d is a constant, not 3x
    x2 = x.detach()
    assert np.shares_memory(x2.data, x.data)


def test_tensor_copies_and_explicit_dtype():
    a = np.zeros(3)
    t = mathdnn.tensor(a)
    a[0] = 5
    assert t.data[0] == 0
    assert mathdnn.tensor([1, 2], dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="requires_grad"):
        mathdnn.tensor([1, 2], requires_grad=True)


def test_asarray():
    t = mathdnn.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    a = np.asarray(t)
    assert isinstance(a, np.ndarray) and a.shape == (2, 3) and a.dtype == np.float64
    np.testing.assert_array_equal(a, np.arange(6.0).reshape(2, 3))
    assert np.asarray(t, dtype=np.float32).dtype == np.float32


def test_deep_chain_does_not_recurse():
    depth = 5000
    assert depth > sys.getrecursionlimit() // 2
    x = mathdnn.tensor(np.array([0.5]), requires_grad=True)
    y = x
    for _ in range(depth):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001**depth], rtol=1e-10)


# PyTorch's values (torch 2.13): d|x|/dx is sgn(x), 0 at NaN; d√x/dx = 1/(2√x), −∞ at −0 and NaN
# at −∞ (C's pow would give +∞ and 0).
EDGES = np.array([np.nan, -0.0, 0.0, -np.inf, np.inf, 4.0, -1.0])
ABS_VJP = np.array([0.0, 0.0, 0.0, -1.0, 1.0, 1.0, -1.0])
SQRT_VJP = np.array([np.nan, -np.inf, np.inf, np.nan, 0.0, 0.25, np.nan])


@pytest.mark.parametrize(
    ("f", "expected"), [(lambda t: t.abs(), ABS_VJP), (lambda t: t**0.5, SQRT_VJP)]
)
def test_vjps_at_the_edges_are_pytorchs(f, expected):
    x = mathdnn.tensor(EDGES, requires_grad=True)
    with np.errstate(invalid="ignore"):
        f(x).backward(np.ones(len(EDGES)))
    np.testing.assert_array_equal(x.grad, expected)
    signed = ~np.isnan(expected)  # a NaN's sign means nothing
    np.testing.assert_array_equal(np.signbit(x.grad[signed]), np.signbit(expected[signed]))


def test_pow_minus_a_half_is_one_over_the_root():
    x = mathdnn.tensor([-0.0, -np.inf, 4.0])
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal((x**-0.5).data, [-np.inf, np.nan, 0.5])


@pytest.mark.parametrize(
    "build",
    [
        lambda t: t * 0.5,
        lambda t: t + t,
        lambda t: 2.0 - t,
        lambda t: t / 3.0,
        lambda t: t**2,
        lambda t: t.exp(),
        lambda t: t.log(),
        lambda t: (t * t).sum(),
        lambda t: t.reshape(1, 1).sum(),
    ],
)
def test_zero_dim_tensors_hold_arrays(build):
    # NumPy turns arithmetic on 0-d arrays into scalars; the tensor and its gradient stay
    # arrays, so np.asarray(tensor) and .grad behave as for any other shape.
    x = mathdnn.tensor(np.asarray(2.0), requires_grad=True)
    y = build(x)
    assert type(y.data) is np.ndarray and y.shape == ()
    assert np.asarray(y).shape == ()
    y.backward()
    y2 = build(x)
    y2.backward()  # the second pass accumulates into the existing .grad
    assert type(x.grad) is np.ndarray and x.grad.shape == ()
