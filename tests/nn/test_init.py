"""``mathdnn.nn.init.uniform_fan_in``: PyTorch's default bound, and the one draw that the layers,
Problem 5's model and Problem 6's MLP make."""

from __future__ import annotations

import numpy as np

from mathdnn import nn
from mathdnn.hw4.p5_losses import Model
from mathdnn.hw4.p6_jacobians import init_mlp
from mathdnn.nn.init import uniform_fan_in


def test_bound_dtype_and_fill():
    w = uniform_fan_in(np.random.default_rng(0), (64, 36), 36, np.float64)
    assert w.dtype == np.float64 and w.shape == (64, 36)
    assert np.abs(w).max() <= 1 / 6 and np.abs(w).max() > 0.95 / 6


def test_layers_and_homework_models_draw_it():
    linear = nn.Linear(5, 3, rng=1)
    rng = np.random.default_rng(1)
    np.testing.assert_array_equal(linear.weight.data, uniform_fan_in(rng, (3, 5), 5))
    np.testing.assert_array_equal(linear.bias.data, uniform_fan_in(rng, 3, 5))
    conv = nn.Conv2d(4, 6, 3, groups=2, rng=2)
    np.testing.assert_array_equal(
        conv.weight.data, uniform_fan_in(np.random.default_rng(2), (6, 2, 3, 3), 18)
    )
    model = Model.init(7, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(model.a.data, uniform_fan_in(rng, 7, 7))
    np.testing.assert_array_equal(model.b.data, uniform_fan_in(rng, (), 7))
    As, bs = init_mlp((4, 3, 2), seed=4)
    rng = np.random.default_rng(4)
    for A, b, (n_prev, n) in zip(As, bs, [(4, 3), (3, 2)], strict=True):
        np.testing.assert_array_equal(A, uniform_fan_in(rng, (n, n_prev), n_prev))
        np.testing.assert_array_equal(b, uniform_fan_in(rng, n, n_prev))
