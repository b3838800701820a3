"""Problems 1–4: the filters against the explicit formulas, Pillow, and the commuting identity."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image

import mfdnn.functional as F
from mfdnn import filters, nn
from mfdnn.engine import Tensor
from mfdnn.images import default_photo_path, image_to_array, to_batch


@pytest.fixture(scope="module")
def photo():
    with Image.open(default_photo_path()) as image:
        return image.convert("RGB")


def test_finite_difference_filter_is_the_one_of_problem_1():
    w = filters.finite_difference_filter()
    assert w.shape == (2, 1, 3, 3)
    np.testing.assert_array_equal(w[0, 0], [[0, 0, 0], [0, -1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(w[1, 0], [[0, 0, 0], [0, -1, 1], [0, 0, 0]])


@pytest.mark.parametrize("seed", range(10))
def test_finite_differences_equal_np_diff_with_a_zero_appended(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 20, 2)
    x = rng.standard_normal((3, 1, h, w))
    y = F.conv2d(x, filters.finite_difference_filter(), padding=1).data
    np.testing.assert_allclose(y[:, 0], np.diff(x[:, 0], axis=1, append=0.0), atol=1e-14)
    np.testing.assert_allclose(y[:, 1], np.diff(x[:, 0], axis=2, append=0.0), atol=1e-14)
    np.testing.assert_array_equal(filters.finite_differences(x).data, y)
    magnitude = filters.gradient_magnitude(y).data
    np.testing.assert_allclose(magnitude, np.hypot(y[:, 0], y[:, 1]), atol=1e-14)


def test_finite_differences_border_is_minus_x():
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    y = filters.finite_differences(x).data
    np.testing.assert_array_equal(y[0, 0, -1], -x[0, 0, -1])
    np.testing.assert_array_equal(y[0, 1, :, -1], -x[0, 0, :, -1])


@pytest.mark.parametrize("k, channels, shape", [(2, 3, (8, 6)), (3, 1, (9, 10)), (1, 2, (3, 3))])
def test_average_pool_conv_equals_avg_pool2d(k, channels, shape):
    x = np.random.default_rng(k).standard_normal((2, channels, *shape))
    expected = F.avg_pool2d(Tensor(x), k).data
    w = filters.avg_pool_filter(k, channels)
    assert w.shape == (channels, 1, k, k)
    np.testing.assert_allclose(F.conv2d(x, w, stride=k, groups=channels).data, expected, atol=1e-14)
    dense = filters.avg_pool_filter(k, channels, dense=True)
    assert dense.shape == (channels, channels, k, k)
    np.testing.assert_allclose(F.conv2d(x, dense, stride=k).data, expected, atol=1e-14)
    np.testing.assert_allclose(filters.average_pool(x, k).data, expected, atol=1e-14)


@pytest.mark.parametrize("k", [2, 4, 8])
def test_average_pool_matches_pillow_reduce_on_the_photo(photo, k):
    h, w = photo.height // k * k, photo.width // k * k
    cropped = photo.crop((0, 0, w, h))
    ours = 255 * filters.average_pool(to_batch(image_to_array(cropped)), k).data
    theirs = np.asarray(cropped.reduce(k), dtype=np.float64).transpose(2, 0, 1)[None]
    assert np.max(np.abs(ours - theirs)) <= 0.5 + 1e-9


def test_grayscale_filter_and_formula():
    w = filters.grayscale_filter()
    assert w.shape == (1, 3, 1, 1)
    x = np.random.default_rng(0).random((2, 3, 5, 4))
    expected = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    np.testing.assert_allclose(F.conv2d(x, w).data[:, 0], expected, atol=1e-15)
    np.testing.assert_allclose(filters.grayscale(x).data[:, 0], expected, atol=1e-15)


def test_grayscale_matches_pillow_convert_l_within_one_level(photo):
    ours = 255 * filters.grayscale(to_batch(image_to_array(photo))).data[0, 0]
    theirs = np.asarray(photo.convert("L"), dtype=np.float64)
    assert np.max(np.abs(ours - theirs)) <= 1.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: filters.avg_pool_filter(0, 3), "avg_pool_filter: k must be positive"),
        (lambda: filters.average_pool(np.zeros((1, 1, 4, 4)), 5), "average_pool: k=5 is larger"),
        (lambda: filters.grayscale(np.zeros((1, 2, 4, 4))), "grayscale: x must have shape"),
        (lambda: filters.finite_differences(np.zeros((1, 3, 4, 4))), "finite_differences: x"),
    ],
)
def test_bad_arguments_name_the_function(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------------------------------------------------- Problem 4
ACTIVATIONS = {
    **filters.MONOTONE_ACTIVATIONS,
    "leaky_relu(0.2)": lambda x: F.leaky_relu(x, 0.2),
    "softplus(β=3)": lambda x: F.softplus(x, beta=3.0),
    "clamp(min=0.5)": lambda x: F.clamp(x, min=0.5),
    "x³": lambda x: x * x * x,
    "exp": lambda x: x.exp(),
}
values = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 30.0, -30.0]),
    st.floats(-50, 50, allow_nan=False),
)


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph = draw(st.integers(0, kh // 2))  # PyTorch's limit: at most half the kernel
    pw = draw(st.integers(0, kw // 2))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 7))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 7))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    flat = draw(st.lists(values, min_size=n * c * h * w, max_size=n * c * h * w))
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    x = np.array(flat, dtype=np.float64).reshape(n, c, h, w)
    return x, (kh, kw), stride, (ph, pw), (dh, dw)


@settings(max_examples=60, deadline=None)
@given(case=pool_cases(), name=st.sampled_from(sorted(ACTIVATIONS)))
def test_max_pool_commutes_with_monotone_activations(case, name):
    x, kernel, stride, padding, dilation = case
    try:
        result = filters.check_commutes(ACTIVATIONS[name], x, kernel, stride, padding, dilation)
    except ValueError as err:  # a dilated window that sees only padding is rejected
        assume("cover only padding" not in str(err))
        raise
    assert result.holds, (name, result.counterexample)
    assert result.max_error == 0.0 and result.counterexample is None


@pytest.mark.parametrize("name", sorted(filters.MONOTONE_ACTIVATIONS))
def test_monotone_activations_hold_on_the_stress_inputs(name):
    for config in [(2, None, 0, 1), (3, 1, 1, 1), ((2, 3), (1, 2), (1, 0), (2, 1))]:
        assert filters.check_commutes(
            filters.MONOTONE_ACTIVATIONS[name], None, *config, rng=1
        ).holds


@pytest.mark.parametrize("name", sorted(filters.NON_MONOTONE_EXAMPLES))
def test_non_monotone_functions_fail_with_a_counterexample(name):
    sigma = filters.NON_MONOTONE_EXAMPLES[name]
    result = filters.check_commutes(sigma, rng=0)
    assert not result.holds and result.max_error > 0
    ce = result.counterexample
    assert ce is not None and ce.window.shape == (2, 2)
    assert ce.sigma_of_pool != ce.pool_of_sigma
    # The 1×2 pair fails on its own.
    pair = filters.check_commutes(sigma, ce.pair[None, None], (1, 2))
    assert not pair.holds
    assert "σ(ρ(X))" in str(ce)


def test_minimal_one_by_two_counterexample_for_x_squared():
    result = filters.check_commutes(lambda x: x * x, np.array([[[[1.0, -2.0]]]]), (1, 2))
    assert not result.holds and result.max_error == 3.0
    assert result.counterexample.sigma_of_pool == 1.0 and result.counterexample.pool_of_sigma == 4.0


def test_check_commutes_reports_padding_as_minus_infinity():
    x = np.array([[[[1.0, -2.0], [0.5, 3.0]]]])
    result = filters.check_commutes(lambda x: -x, x, 3, 1, 1)
    window = result.counterexample.window
    assert window.shape == (3, 3) and np.isneginf(window).sum() == 5
    np.testing.assert_array_equal(result.counterexample.pair, [[3.0, -2.0]])


def _cnn(activation, rng):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=rng, dtype=np.float64),
        activation,
        nn.MaxPool2d(2),
        nn.Conv2d(4, 5, 3, rng=rng, dtype=np.float64),
        nn.ReLU(),
        nn.Sigmoid(),
        nn.MaxPool2d(3, 2, 1),
        nn.Flatten(),
        nn.Linear(5 * 2 * 2, 3, rng=rng, dtype=np.float64),
    )


def _run(model, x):
    model.zero_grad()
    y = model(Tensor(x))
    (y * y).sum().backward()
    return y.data, [p.grad for p in model.parameters()]


@pytest.mark.parametrize(
    "activation",
    [
        nn.ReLU(),
        nn.LeakyReLU(0.1),
        nn.Sigmoid(),
        nn.Tanh(),
        nn.Softplus(),
        nn.Hardtanh(),
        nn.Step(),
    ],
    ids=lambda a: type(a).__name__,
)
def test_rewrite_keeps_outputs_and_gradients(activation):
    rng = np.random.default_rng(0)
    model = _cnn(activation, rng)
    rewritten = filters.pool_before_activation(model)
    kinds = [type(m).__name__ for m in rewritten]
    assert kinds[1:4] == ["MaxPool2d", type(activation).__name__, "Conv2d"]
    assert kinds[4:7] == ["MaxPool2d", "ReLU", "Sigmoid"]
    assert all(a is b for a, b in zip(model.parameters(), rewritten.parameters(), strict=True))
    x = rng.standard_normal((3, 1, 10, 10))
    y, grads = _run(model, x)
    y2, grads2 = _run(rewritten, x)
    np.testing.assert_array_equal(y2, y)
    for g, g2 in zip(grads, grads2, strict=True):
        np.testing.assert_allclose(g2, g, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "layer",
    [nn.Elementwise(lambda x: x * x), nn.LeakyReLU(-0.5), nn.Elementwise(lambda x: x.sin())],
    ids=["square", "negative-slope", "sin"],
)
def test_rewrite_leaves_non_monotone_activations_in_place(layer):
    model = nn.Sequential(nn.Conv2d(1, 2, 3, rng=0), layer, nn.MaxPool2d(2))
    rewritten = filters.pool_before_activation(model)
    assert [type(m) for m in rewritten] == [type(m) for m in model]


def test_rewrite_of_nested_sequential_and_declared_monotone():
    inner = nn.Sequential(nn.Elementwise(lambda x: x.exp(), monotone=True), nn.MaxPool2d(2))
    model = nn.Sequential(nn.Conv2d(1, 2, 3, rng=0), inner)
    rewritten = filters.pool_before_activation(model)
    assert [type(m).__name__ for m in rewritten[1]] == ["MaxPool2d", "Elementwise"]
    assert len(inner) == 2 and isinstance(inner[1], nn.MaxPool2d)  # the original is untouched


def test_rewrite_rejects_non_sequential():
    with pytest.raises(TypeError, match="pool_before_activation: model must be a Sequential"):
        filters.pool_before_activation(nn.ReLU())
