"""Problem 6 in use: the MNIST MLP trained by hand-written backprop equals the autodiff path step
for step, and learns; the estimate of its memory bounds what it allocates."""

import tracemalloc

import numpy as np
import pytest

from mathdnn.data import MNIST, load_mnist
from mathdnn.hw4.p6_jacobians import (
    autodiff_gradients,
    compare_training,
    compare_training_bytes,
    init_mlp,
    mlp_gradients,
)
from mathdnn.training import TrainingDiverged


def test_backprop_equals_autodiff_step_for_step_float32():
    result = compare_training(hidden=(32,), activation="relu", epochs=1, seed=0)
    steps = len(result.max_param_diff)
    assert steps == 63  # 4,000 bundled training images in batches of 64
    assert result.max_param_diff.max() <= 1e-5
    np.testing.assert_allclose(result.losses_backprop, result.losses_autodiff, rtol=1e-5)
    assert result.losses_backprop[-1] < result.losses_backprop[0]
    assert result.test_accuracy_backprop > 0.6  # chance is 0.1
    assert abs(result.test_accuracy_backprop - result.test_accuracy_autodiff) <= 0.002


def test_backprop_equals_autodiff_step_for_step_float64():
    result = compare_training(hidden=(16, 8), activation="tanh", dtype=np.float64, seed=1)
    assert result.max_param_diff.max() <= 1e-10
    assert result.test_accuracy_backprop == result.test_accuracy_autodiff > 0.5


def test_autodiff_gradients_match_mlp_gradients():
    As, bs = init_mlp((5, 4, 1), seed=2, dtype=np.float64)
    x = np.linspace(-1, 1, 5)
    mine_A, mine_b = mlp_gradients(As, bs, x, "sigmoid")
    engine_A, engine_b = autodiff_gradients(As, bs, x, "sigmoid")
    for mine, engine in zip(mine_A + mine_b, engine_A + engine_b, strict=True):
        np.testing.assert_allclose(mine, engine, rtol=1e-12, atol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"compare_training: activation must be one of .*'gelu'"):
        compare_training(activation="gelu")
    with pytest.raises(ValueError, match=r"compare_training: batch_size must be .* got 0"):
        compare_training(batch_size=0)
    for lr in (float("nan"), float("inf"), -0.1, 0):
        with pytest.raises(ValueError, match=r"compare_training: lr must be a positive finite"):
            compare_training(lr=lr)
    with pytest.raises(TypeError, match=r"compare_training: lr must be a number, got '0.1'"):
        compare_training(lr="0.1")


def test_divergence_is_reported_as_divergence_not_as_a_difference():
    divergence = r"compare_training: .* (minibatch|step) \d+.*: lr=1e\+30 is too large"
    with pytest.raises(TrainingDiverged, match=divergence):
        compare_training(hidden=(8,), lr=1e30)


@pytest.mark.parametrize(
    ("hidden", "n_train", "n_test", "batch_size", "epochs", "dtype"),
    [
        ((64,), 4000, 1000, 64, 1, np.float32),
        ((10000,), 128, 64, 64, 1, np.float32),  # the parameters dominate
        ((1500, 1500), 128, 1000, 128, 1, np.float64),  # and the test set's activations
        ((100,), 4000, 1000, 4000, 3, np.float32),  # the data and a large batch
    ],
)
def test_compare_training_bytes_bounds_the_measured_peak(
    hidden, n_train, n_test, batch_size, epochs, dtype
):
    """The estimate `mathdnn mlp` refuses widths with, against tracemalloc's peak (NumPy's
    arrays are traced): never below it, and within 1.5 times it."""
    m = load_mnist()
    data = MNIST(m.train_images[:n_train], m.train_labels[:n_train], m.test_images[:n_test],
                 m.test_labels[:n_test], "the bundled subset's first images")  # fmt: skip
    compare_training(hidden=(4,), data=data, batch_size=n_train)  # first-call imports, untraced
    tracemalloc.start()
    try:
        compare_training(hidden, "relu", epochs, batch_size, 0.01, dtype=dtype, data=data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = compare_training_bytes(hidden, n_train, n_test, batch_size, epochs, dtype)
    assert peak <= estimate <= 1.5 * peak
