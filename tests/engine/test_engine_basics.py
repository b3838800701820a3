"""Smoke tests of the tensor engine: dtypes, accumulation, graph freeing, errors."""

import numpy as np
import pytest

import mathdnn


def test_default_dtypes():
    assert mathdnn.tensor([1.0, 2.0]).dtype == np.float32
    assert mathdnn.tensor(np.zeros(3)).dtype == np.float64
    assert mathdnn.tensor(np.zeros(3, np.float32)).dtype == np.float32
    assert mathdnn.tensor([1, 2]).dtype == np.int64


def test_gradients_accumulate_and_graph_is_freed():
    x = mathdnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_backward_non_scalar_needs_grad():
    x = mathdnn.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"Tensor.backward.*scalar.*\(2,\)"):
        (x * 2).backward()


def test_requires_grad_needs_float():
    with pytest.raises(TypeError, match="floating"):
        mathdnn.tensor([1, 2], requires_grad=True)
