"""``ACTIVATIONS``: for every activation the array value is the primitive's forward, the slope is
its VJP, the monotone flag is true, and ``mathdnn.nn``'s activation layers read it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import dtypes, randn, seeds
from hypothesis import given

from mathdnn import nn
from mathdnn.engine import Tensor
from mathdnn.functional.activation import ACTIVATIONS


@pytest.mark.parametrize("name", ACTIVATIONS)
@given(dtype=dtypes, seed=seeds)
def test_value_and_slope_are_the_primitive_and_its_vjp(name, dtype, seed):
    activation = ACTIVATIONS[name]
    x = randn(seed, (3, 7), dtype) * dtype(3)
    t = Tensor(x, requires_grad=True)
    y = activation.op(t)
    y.sum().backward()
    tol = {
        "rtol": 1e-6 if dtype == np.float32 else 1e-14,
        "atol": 1e-7 if dtype == np.float32 else 0,
    }
    np.testing.assert_allclose(activation.value(x), y.data, **tol)
    np.testing.assert_allclose(activation.slope(x), t.grad, **tol)
    assert activation.value(x).dtype == activation.slope(x).dtype == dtype


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_monotone_flags_hold(name):
    x = np.linspace(-10, 10, 2001)
    activation = ACTIVATIONS[name]
    assert activation.name == name
    assert activation.monotone == bool(np.all(np.diff(activation.value(x)) >= 0))


def test_the_layers_read_the_registry():
    layers = {
        "relu": nn.ReLU,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "softplus": nn.Softplus,
        "leaky_relu": nn.LeakyReLU,
        "hardtanh": nn.Hardtanh,
        "step": nn.Step,
    }
    assert set(layers) == set(ACTIVATIONS)
    x = Tensor(np.linspace(-3, 3, 13))
    for name, layer in layers.items():
        assert layer.activation is ACTIVATIONS[name]
        assert layer().monotone == ACTIVATIONS[name].monotone
        np.testing.assert_array_equal(layer()(x).data, ACTIVATIONS[name].op(x).data)
