"""mathdnn.nn against torch.nn: PyTorch's default initialisation, the same state_dict keys and
layouts, arrays loaded across the two libraries giving the same outputs, the same repr."""

from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import assert_close, dtypes, seeds  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mathdnn  # noqa: E402
from mathdnn import nn  # noqa: E402


def ks_distance(a, b):
    """The two-sample Kolmogorov-Smirnov statistic ``sup_x |F_a(x) − F_b(x)|``."""
    a, b = np.sort(a.ravel()), np.sort(b.ravel())
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


@pytest.mark.parametrize(
    ("make", "make_torch", "fan_in"),
    [
        (lambda: nn.Linear(300, 200, rng=0), lambda: torch.nn.Linear(300, 200), 300),
        (
            lambda: nn.Conv2d(12, 240, (5, 3), groups=3, rng=0),
            lambda: torch.nn.Conv2d(12, 240, (5, 3), groups=3),
            4 * 5 * 3,
        ),
    ],
)
def test_default_init_is_pytorchs(make, make_torch, fan_in):
    """``kaiming_uniform_(a=√5)`` for the weight and ``U(±1/√fan_in)`` for the bias, i.e. both
    ``U(−1/√fan_in, 1/√fan_in)``: inside the bounds, filling them, the same distribution as
    PyTorch's own draws (two-sample KS distance far below the 0.1 % critical value)."""
    torch.manual_seed(0)
    ours, theirs = make(), make_torch()
    bound = 1 / np.sqrt(fan_in)
    for name in ("weight", "bias"):
        a = getattr(ours, name).data
        b = getattr(theirs, name).detach().numpy()
        assert a.shape == b.shape and a.dtype == b.dtype == np.float32
        assert np.abs(a).max() <= bound and np.abs(b).max() <= bound
        assert np.abs(a).max() > bound * (1 - 20 / a.size)
        critical = 1.95 * np.sqrt(2 / a.size)  # α = 0.001
        assert ks_distance(a, b) < critical, name
        uniform = np.linspace(-bound, bound, 100_001)
        assert ks_distance(a, uniform) < 1.95 * np.sqrt(1 / a.size + 1 / uniform.size), name


def pair_of_models(c_in, c_out, kernel, stride, padding, size, classes, bias):
    """``Sequential(Conv2d, Tanh, Flatten, Linear)`` in both libraries."""
    side = (size + 2 * padding - kernel) // stride + 1
    ours = nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=bias, rng=0),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(c_out * side * side, classes, rng=1),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=bias),
        torch.nn.Tanh(),
        torch.nn.Flatten(),
        torch.nn.Linear(c_out * side * side, classes),
    )
    return ours, theirs


@settings(max_examples=40)
@given(
    c_in=st.integers(1, 3),
    c_out=st.integers(1, 4),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
    size=st.integers(3, 7),
    classes=st.integers(1, 5),
    bias=st.booleans(),
    batch=st.integers(1, 3),
    dtype=dtypes,
    seed=seeds,
)
def test_state_dicts_match_torch_and_load_both_ways(
    c_in, c_out, kernel, stride, padding, size, classes, bias, batch, dtype, seed
):
    ours, theirs = pair_of_models(c_in, c_out, kernel, stride, padding, size, classes, bias)
    if dtype == np.float64:
        theirs = theirs.double()
        ours.load_state_dict(ours.state_dict())  # loading keeps our float32
        assert all(p.dtype == np.float32 for p in ours.parameters())
    torch_sd = theirs.state_dict()
    sd = ours.state_dict()
    assert list(sd) == list(torch_sd)
    assert [a.shape for a in sd.values()] == [tuple(t.shape) for t in torch_sd.values()]

    x = np.random.default_rng(seed).standard_normal((batch, c_in, size, size)).astype(dtype)
    ours.load_state_dict({k: t.numpy() for k, t in torch_sd.items()})
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    assert_close(ours(mathdnn.tensor(x)).data, expected, np.float32, "torch's weights in mathdnn")

    # and back: fresh weights of ours into torch's model
    fresh, _ = pair_of_models(c_in, c_out, kernel, stride, padding, size, classes, bias)
    result = theirs.load_state_dict({k: torch.from_numpy(a) for k, a in fresh.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    assert_close(fresh(mathdnn.tensor(x)).data, expected, np.float32, "mathdnn's weights in torch")


def lenet(library):
    """The same LeNet-like module, written the PyTorch way with ``library`` (torch.nn or ours)."""

    class LeNet(library.Module):
        def __init__(self):
            super().__init__()
            self.features = library.Sequential(
                library.Conv2d(1, 6, 5, padding=2),
                library.Tanh(),
                library.Conv2d(6, 16, 5),
                library.Tanh(),
            )
            self.classifier = library.ModuleList(
                [library.Linear(16 * 10 * 10, 120), library.Linear(120, 10)]
            )

    return LeNet()


def test_nested_names_and_repr_match_torch():
    ours, theirs = lenet(nn), lenet(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)
    ours.eval()
    theirs.eval()
    assert [m.training for m in ours.modules()] == [m.training for m in theirs.modules()]


@pytest.mark.parametrize(
    "args",
    [
        ((3, 8, 3), {}),
        ((4, 8, (3, 5)), {"stride": 2, "padding": (1, 2), "dilation": 2, "groups": 2}),
        ((1, 2, 3), {"padding": "same", "bias": False}),
        ((1, 2, 1), {"padding": "valid"}),
    ],
)
def test_conv2d_repr_and_attributes_match_torch(args):
    positional, keywords = args
    ours, theirs = nn.Conv2d(*positional, **keywords), torch.nn.Conv2d(*positional, **keywords)
    assert repr(ours) == repr(theirs)
    for name in ("kernel_size", "stride", "padding", "dilation", "groups"):
        assert getattr(ours, name) == getattr(theirs, name), name


def test_sequential_with_names_matches_torch():
    ours = nn.Sequential(OrderedDict([("c1", nn.Conv2d(1, 2, 3)), ("act", nn.Tanh())]))
    theirs = torch.nn.Sequential(
        OrderedDict([("c1", torch.nn.Conv2d(1, 2, 3)), ("act", torch.nn.Tanh())])
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    assert repr(ours[1:]) == repr(theirs[1:])
