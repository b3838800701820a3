"""Problem 1: finite differences as one convolution, against the formula; and the errors of
Problems 1–3's functions."""

import numpy as np
import pytest

import mathdnn.functional as F
from mathdnn.hw4.p1_finite_differences import (
    finite_difference_filter,
    finite_differences,
    gradient_magnitude,
)
from mathdnn.hw4.p2_average_pooling import average_pool, avg_pool_filter
from mathdnn.hw4.p3_grayscale import grayscale


def test_finite_difference_filter_is_the_one_of_problem_1():
    w = finite_difference_filter()
    assert w.shape == (2, 1, 3, 3)
    np.testing.assert_array_equal(w[0, 0], [[0, 0, 0], [0, -1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(w[1, 0], [[0, 0, 0], [0, -1, 1], [0, 0, 0]])


@pytest.mark.parametrize("seed", range(10))
def test_finite_differences_equal_np_diff_with_a_zero_appended(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 20, 2)
    x = rng.standard_normal((3, 1, h, w))
    y = F.conv2d(x, finite_difference_filter(), padding=1).data
    np.testing.assert_allclose(y[:, 0], np.diff(x[:, 0], axis=1, append=0.0), atol=1e-14)
    np.testing.assert_allclose(y[:, 1], np.diff(x[:, 0], axis=2, append=0.0), atol=1e-14)
    np.testing.assert_array_equal(finite_differences(x).data, y)
    magnitude = gradient_magnitude(y).data
    np.testing.assert_allclose(magnitude, np.hypot(y[:, 0], y[:, 1]), atol=1e-14)


def test_finite_differences_border_is_minus_x():
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    y = finite_differences(x).data
    np.testing.assert_array_equal(y[0, 0, -1], -x[0, 0, -1])
    np.testing.assert_array_equal(y[0, 1, :, -1], -x[0, 0, :, -1])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: avg_pool_filter(0, 3), "avg_pool_filter: k must be positive"),
        (lambda: average_pool(np.zeros((1, 1, 4, 4)), 5), "average_pool: k=5 is larger"),
        (lambda: grayscale(np.zeros((1, 2, 4, 4))), "grayscale: x must have shape"),
        (lambda: finite_differences(np.zeros((1, 3, 4, 4))), "finite_differences: x"),
    ],
)
def test_bad_arguments_name_the_function(call, message):
    with pytest.raises(ValueError, match=message):
        call()
