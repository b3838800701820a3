"""``mathdnn.functional.numerics``: the stable σ, softplus and log-softmax against their textbook
formulas where those are safe, finite and exact at the extremes."""

from __future__ import annotations

import numpy as np
from conftest import dtypes
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mathdnn.functional import numerics

moderate = arrays(np.float64, st.integers(0, 20), elements=st.floats(-30, 30))


@given(x=moderate)
def test_sigmoid_and_softplus_are_the_formulas(x):
    np.testing.assert_allclose(numerics.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(numerics.softplus(x), np.log1p(np.exp(x)), rtol=1e-13, atol=1e-300)


@given(dtype=dtypes)
def test_extremes_are_finite_and_exact(dtype):
    x = np.array([-1e6, -1e3, 0.0, 1e3, 1e6, np.inf, -np.inf, np.nan], dtype=dtype)
    s, sp = numerics.sigmoid(x), numerics.softplus(x)  # a NumPy warning fails the test
    np.testing.assert_array_equal(s, np.array([0, 0, 0.5, 1, 1, 1, 0, np.nan], dtype=dtype))
    np.testing.assert_array_equal(sp[:5], np.array([0, 0, np.log(2), 1e3, 1e6], dtype=dtype))
    assert s.dtype == sp.dtype == dtype


@given(
    x=arrays(
        np.float64, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=st.floats(-50, 50)
    )
)
def test_log_softmax_and_the_cross_entropy_gradient(x):
    log_p = numerics.log_softmax(x, 1)
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(log_p, np.log(p), rtol=1e-12, atol=1e-12)
    labels = np.arange(len(x)) % x.shape[1]
    onehot = np.eye(x.shape[1])[labels]
    np.testing.assert_allclose(numerics.softmax_minus_onehot(log_p, labels), p - onehot, atol=1e-14)


def test_log_softmax_of_huge_rows_and_of_rows_with_nan():
    x = np.array([[1e300, 0.0, -1e300], [np.nan, 0.0, 1.0], [-np.inf, -np.inf, -np.inf]])
    log_p = numerics.log_softmax(x, 1)
    np.testing.assert_array_equal(log_p[0], [0.0, -1e300, -2e300])
    assert np.isnan(log_p[1:]).all()
