"""Problem 4: the commuting identity on drawn pools and values, its counterexamples, the
rewrite pool_before_activation, and the model and timer that measure its saving."""

import io

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image

import mathdnn.functional as F
from mathdnn import nn
from mathdnn.engine import Tensor
from mathdnn.functional.activation import ACTIVATIONS as REGISTRY
from mathdnn.hw4.p4_maxpool_commutes import (
    FUNCTIONS,
    NON_MONOTONE_EXAMPLES,
    RewriteTiming,
    _saving_label,
    activation_evaluations,
    check_commutes,
    counterexamples_png,
    forward_backward_seconds,
    maxpool_counterexample,
    pool_before_activation,
    rewrite_png,
    rewrite_timing,
    small_cnn,
)

# ------------------------------------------------------------------------------------- Problem 4
# The registry's activations flagged non-decreasing, as Tensor operations.
MONOTONE = {name: a.op for name, a in REGISTRY.items() if a.monotone}
ACTIVATIONS = {
    **MONOTONE,
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
        result = check_commutes(ACTIVATIONS[name], x, kernel, stride, padding, dilation)
    except ValueError as err:  # a dilated window that sees only padding is rejected
        assume("cover only padding" not in str(err))
        raise
    assert result.holds, (name, result.counterexample)
    assert result.max_error == 0.0 and result.counterexample is None


@pytest.mark.parametrize("name", sorted(MONOTONE))
def test_monotone_activations_hold_on_the_stress_inputs(name):
    for config in [(2, None, 0, 1), (3, 1, 1, 1), ((2, 3), (1, 2), (1, 0), (2, 1))]:
        assert check_commutes(MONOTONE[name], None, *config, rng=1).holds


@pytest.mark.parametrize("name", sorted(NON_MONOTONE_EXAMPLES.values()))
def test_non_monotone_functions_fail_with_a_counterexample(name):
    sigma = FUNCTIONS[name]
    result = check_commutes(sigma, rng=0)
    assert not result.holds and result.max_error > 0
    ce = result.counterexample
    assert ce is not None and ce.window.shape == (2, 2)
    assert ce.sigma_of_pool != ce.pool_of_sigma
    # The 1×2 pair fails on its own.
    pair = check_commutes(sigma, ce.pair[None, None], (1, 2))
    assert not pair.holds
    assert "σ(ρ(X))" in str(ce)


def test_minimal_one_by_two_counterexample_for_x_squared():
    result = check_commutes(lambda x: x * x, np.array([[[[1.0, -2.0]]]]), (1, 2))
    assert not result.holds and result.max_error == 3.0
    assert result.counterexample.sigma_of_pool == 1.0 and result.counterexample.pool_of_sigma == 4.0


def test_check_commutes_reports_padding_as_minus_infinity():
    x = np.array([[[[1.0, -2.0], [0.5, 3.0]]]])
    result = check_commutes(lambda x: -x, x, 3, 1, 1)
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
    rewritten = pool_before_activation(model)
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
    rewritten = pool_before_activation(model)
    assert [type(m) for m in rewritten] == [type(m) for m in model]


def test_rewrite_of_nested_sequential_and_declared_monotone():
    inner = nn.Sequential(nn.Elementwise(lambda x: x.exp(), monotone=True), nn.MaxPool2d(2))
    model = nn.Sequential(nn.Conv2d(1, 2, 3, rng=0), inner)
    rewritten = pool_before_activation(model)
    assert [type(m).__name__ for m in rewritten[1]] == ["MaxPool2d", "Elementwise"]
    assert len(inner) == 2 and isinstance(inner[1], nn.MaxPool2d)  # the original is untouched


def test_rewrite_rejects_non_sequential():
    with pytest.raises(TypeError, match="pool_before_activation: model must be a Sequential"):
        pool_before_activation(nn.ReLU())


@pytest.mark.parametrize("activation", [nn.ReLU, nn.Tanh])
def test_the_timed_cnn_and_its_rewrite_compute_the_same(activation):
    model = small_cnn(activation, np.random.default_rng(0))
    x = np.random.default_rng(1).random((3, 1, 28, 28), dtype=np.float32)
    rewritten = pool_before_activation(model)
    assert [type(m) for m in rewritten][:3] == [nn.Conv2d, nn.MaxPool2d, activation]
    np.testing.assert_array_equal(model(Tensor(x)).data, rewritten(Tensor(x)).data)
    assert model(Tensor(x)).shape == (3, 10)


def test_the_timer_runs_both_models_in_interleaved_pairs():
    model = small_cnn(nn.ReLU, np.random.default_rng(0))
    x = np.random.default_rng(1).random((2, 1, 28, 28), dtype=np.float32)
    assert forward_backward_seconds(model, x) > 0
    timing = rewrite_timing(model, x, repeats=3)
    assert len(timing.before) == len(timing.after) == 3
    assert all(np.isfinite(t) and t > 0 for t in timing.before + timing.after)
    assert timing.best_before == min(timing.before) and 0 <= timing.faster <= 3
    assert all(p.grad is not None for p in model.parameters())  # the backward pass ran


def test_the_saving_is_told_only_when_the_pairs_agree_on_its_sign():
    """A sign test over the pairs: 9 of 9 faster is decisive (p = 0.004), 6 of 9 is not."""
    faster = RewriteTiming(before=(2.0,) * 9, after=(1.0,) * 9)
    assert faster.saving == 0.5 and faster.faster == 9 and faster.decisive
    assert faster.p_value == pytest.approx(2 / 2**9)
    noisy = RewriteTiming(before=(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2, 2, 2), after=(0.9,) * 9)
    assert noisy.faster == 9 and noisy.decisive
    mixed = RewriteTiming(before=(1.0,) * 9, after=(0.9,) * 6 + (1.1,) * 3)
    assert mixed.faster == 6 and not mixed.decisive
    assert RewriteTiming(before=(1.0,) * 3, after=(1.0,) * 3).p_value == 1.0


def test_the_rewrite_evaluates_sigma_on_k_squared_times_fewer_elements():
    model = small_cnn(nn.Tanh, np.random.default_rng(0))
    x = np.zeros((1, 1, 28, 28), dtype=np.float32)
    before = activation_evaluations(model, x)
    after = activation_evaluations(pool_before_activation(model), x)
    assert before == 16 * 28 * 28 + 32 * 14 * 14 and before == 4 * after
    assert activation_evaluations(model, np.zeros((3, 1, 28, 28), np.float32)) == 3 * before


# ------------------------------------------------------------------------------- the figures
def _image(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_counterexamples_two_panels_to_a_row():
    windows = {}
    for symbol, name in NON_MONOTONE_EXAMPLES.items():
        x = maxpool_counterexample(name)
        windows[symbol] = (FUNCTIONS[name], (float(x[0, 0, 0, 0]), float(x[0, 0, 0, 1])))
    windows["tanh"] = (FUNCTIONS["tanh"], windows["x²"][1])
    four = _image(counterexamples_png(windows))
    three = _image(counterexamples_png(dict(list(windows.items())[:3])))
    one = _image(counterexamples_png({"tanh": windows["tanh"]}))
    assert four.size == three.size  # 2 × 2 panels, the fourth left empty
    assert one.width < four.width and one.height < four.height


def test_a_window_of_equal_values_still_draws():
    _image(counterexamples_png({"relu": (FUNCTIONS["relu"], (1.0, 1.0))}))


def test_the_rewrite_figure_has_a_row_per_activation_and_labels_only_a_clear_saving():
    clear = RewriteTiming(before=(0.010,) * 9, after=(0.008,) * 9)
    noise = RewriteTiming(before=(0.010, 0.012) * 4 + (0.01,), after=(0.011, 0.011) * 4 + (0.01,))
    assert _saving_label(clear) == "saves 20%" and _saving_label(noise) == "no clear difference"
    two = _image(rewrite_png((100, 25), {"ReLU": clear, "Tanh": noise}))
    four = _image(rewrite_png((100, 25), {n: clear for n in ("a", "b", "c", "d")}))
    assert four.height > two.height and four.width == two.width
