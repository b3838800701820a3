"""The small module system: parameters, Sequential, PyTorch's initialisation, layer outputs."""

import numpy as np
import pytest

import mathdnn.functional as F
from mathdnn import nn
from mathdnn.engine import Tensor


def test_conv2d_shapes_and_pytorch_default_init():
    conv = nn.Conv2d(4, 6, (3, 5), groups=2, rng=0)
    assert conv.weight.shape == (6, 2, 3, 5) and conv.bias.shape == (6,)
    assert conv.weight.dtype == np.float32 and conv.weight.requires_grad and conv.weight.is_leaf
    bound = 1 / np.sqrt(2 * 3 * 5)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    big = nn.Conv2d(16, 64, 3, rng=1)
    assert np.abs(big.weight.data).max() > 0.9 / np.sqrt(16 * 9)  # fills U(−b, b)
    assert nn.Conv2d(1, 2, 3, bias=False).bias is None


def test_seed_and_generator_give_reproducible_weights():
    a, b = nn.Conv2d(1, 2, 3, rng=7), nn.Conv2d(1, 2, 3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


def test_layers_call_the_primitives():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 3, 8, 8)))
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1, dtype=np.float64, rng=0)
    np.testing.assert_array_equal(conv(x).data, F.conv2d(x, conv.weight, conv.bias, 2, 1).data)
    np.testing.assert_array_equal(nn.MaxPool2d(3, 2, 1)(x).data, F.max_pool2d(x, 3, 2, 1).data)
    np.testing.assert_array_equal(nn.AvgPool2d(2)(x).data, F.avg_pool2d(x, 2).data)
    assert nn.Flatten()(x).shape == (2, 192)
    lin = nn.Linear(192, 5, rng=0, dtype=np.float64)
    assert lin(nn.Flatten()(x)).shape == (2, 5)
    for layer, f in [
        (nn.ReLU(), F.relu),
        (nn.LeakyReLU(0.2), lambda t: F.leaky_relu(t, 0.2)),
        (nn.Sigmoid(), F.sigmoid),
        (nn.Tanh(), F.tanh),
        (nn.Softplus(2.0), lambda t: F.softplus(t, 2.0)),
        (nn.Hardtanh(), lambda t: F.clamp(t, -1.0, 1.0)),
        (nn.Clamp(min=0.0), lambda t: F.clamp(t, 0.0)),
        (nn.Step(), F.step),
        (nn.Elementwise(lambda t: t * t), lambda t: t * t),
    ]:
        np.testing.assert_array_equal(layer(x).data, f(x).data)


def test_monotone_flags():
    for layer in [nn.ReLU(), nn.LeakyReLU(), nn.Sigmoid(), nn.Tanh(), nn.Softplus(), nn.Step()]:
        assert layer.monotone
    assert nn.Hardtanh().monotone and nn.Clamp(max=2.0).monotone
    assert nn.ReLU.monotone  # a class attribute
    assert not nn.LeakyReLU(-1.0).monotone
    assert not nn.Elementwise(lambda t: t.sin()).monotone
    assert nn.Elementwise(lambda t: t.exp(), monotone=True).monotone


def test_sequential_is_indexable_iterable_and_collects_parameters():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, rng=0), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3, rng=1)
    )
    assert len(model) == 4 and isinstance(model[1], nn.ReLU) and isinstance(model[-1], nn.Linear)
    assert [type(m) for m in model] == [nn.Conv2d, nn.ReLU, nn.Flatten, nn.Linear]
    assert isinstance(model[:2], nn.Sequential) and len(model[:2]) == 2
    assert [p.shape for p in model.parameters()] == [(2, 1, 3, 3), (2,), (3, 8), (3,)]
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias"]
    y = model(Tensor(np.ones((2, 1, 4, 4), np.float32)))
    y.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert "Conv2d(1, 2" in repr(model)
    with pytest.raises(IndexError, match="Sequential: index 9"):
        model[9]


def test_shared_parameters_are_listed_once():
    conv = nn.Conv2d(1, 1, 1, rng=0)
    assert len(list(nn.Sequential(conv, conv).parameters())) == 2


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "Conv2d: in_channels 3"),
        (lambda: nn.Conv2d(0, 4, 3), ValueError, "Conv2d: in_channels must be positive"),
        (lambda: nn.Conv2d(1, 4, 0), ValueError, "Conv2d: kernel_size must be positive"),
        (lambda: nn.Conv2d(1, 4, 3, stride=0), ValueError, "Conv2d: stride must be positive"),
        (lambda: nn.Conv2d(1, 4, 3, dilation=(1, 2, 3)), TypeError, "Conv2d: dilation must be an"),
        (lambda: nn.Conv2d(1, 4, 3, padding=-1), ValueError, "Conv2d: padding must be non-neg"),
        (lambda: nn.Conv2d(1, 4, 3, padding="full"), ValueError, "Conv2d: padding must be an int"),
        (
            lambda: nn.Conv2d(1, 4, 3, stride=2, padding="same"),
            ValueError,
            "Conv2d: padding='same' needs stride 1",
        ),
        (lambda: nn.Sequential(nn.ReLU(), 3), TypeError, "Sequential: argument 1"),
        (lambda: nn.Clamp(), ValueError, "Clamp: at least one"),
        (lambda: nn.Clamp(2.0, 1.0), ValueError, "Clamp: min must be at most max"),
        (lambda: nn.Elementwise(3), TypeError, "Elementwise: fn must be callable"),
        # issue 22: each error names the layer and the argument
        (lambda: nn.Conv2d(1, 4, 3, dtype=np.int32), TypeError, "Conv2d: dtype must be float32"),
        (lambda: nn.Conv2d(1, 4, 3, dtype=np.complex64), TypeError, "Conv2d: dtype must be f"),
        (lambda: nn.Linear(2, 3, dtype=np.longdouble), TypeError, "Linear: dtype must be float3"),
        (lambda: nn.Linear(2, 3, dtype="floaty"), TypeError, "Linear: dtype must be .* 'floaty'"),
        (lambda: nn.Conv2d(1, 4, 3, rng="seed"), TypeError, "Conv2d: rng must be a numpy Gen"),
        (lambda: nn.Linear(2, 3, rng=-1), TypeError, "Linear: rng must be a numpy Generator"),
        (lambda: nn.Softplus(beta="x"), TypeError, "Softplus: beta must be a real number"),
        (lambda: nn.Softplus(threshold=None), TypeError, "Softplus: threshold must be a real"),
        (lambda: nn.LeakyReLU("x"), TypeError, "LeakyReLU: negative_slope must be a real"),
        (lambda: nn.LeakyReLU(float("nan")), ValueError, "LeakyReLU: negative_slope must be a"),
    ],
)
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_pool_layers_call_their_function_with_every_argument():
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 9, 8)))
    y, indices = nn.MaxPool2d(3, 2, 1, 1, True, True)(x)
    y_f, indices_f = F.max_pool2d(x, 3, 2, 1, 1, True, True)
    np.testing.assert_array_equal(y.data, y_f.data)
    np.testing.assert_array_equal(indices.data, indices_f.data)
    np.testing.assert_array_equal(
        nn.MaxPool2d((2, 3), dilation=2, ceil_mode=True)(x).data,
        F.max_pool2d(x, (2, 3), dilation=2, ceil_mode=True).data,
    )
    np.testing.assert_array_equal(
        nn.AvgPool2d(3, 2, 1, True, False, 5)(x).data, F.avg_pool2d(x, 3, 2, 1, True, False, 5).data
    )
    np.testing.assert_array_equal(
        nn.AvgPool2d(2, padding=1, count_include_pad=False)(x).data,
        F.avg_pool2d(x, 2, padding=1, count_include_pad=False).data,
    )
    np.testing.assert_array_equal(
        nn.AdaptiveAvgPool2d((4, None))(x).data, F.adaptive_avg_pool2d(x, (4, None)).data
    )
    assert nn.AdaptiveAvgPool2d((4, None))(x).shape == (2, 3, 4, 8)
