"""mathdnn.models.LeNet5 against the same network written the obvious way in PyTorch: parameter
names, PyTorch's initialisation bounds, forward and every gradient of the cross-entropy."""

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402
from conftest import assert_close, dtypes  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mathdnn  # noqa: E402
import mathdnn.functional as F  # noqa: E402
from mathdnn.models import LeNet5  # noqa: E402
from mathdnn.models.lenet import CONNECTIONS  # noqa: E402
from mathdnn.nn.partial import input_subsets  # noqa: E402

TF = torch.nn.functional


class TorchSubsetConv2d(torch.nn.Module):
    def __init__(self, subsets):
        super().__init__()
        self.subsets = [list(s) for s in subsets]
        self.convs = torch.nn.ModuleList(torch.nn.Conv2d(len(s), 1, 5) for s in self.subsets)

    def forward(self, x):
        return torch.cat([c(x[:, s]) for c, s in zip(self.convs, self.subsets, strict=True)], 1)


class TorchMaskedConv2d(torch.nn.Module):
    def __init__(self, table):
        super().__init__()
        self.mask = torch.tensor(table).T
        self.weight = torch.nn.Parameter(torch.empty(int(self.mask.sum()), 5, 5))
        self.bias = torch.nn.Parameter(torch.empty(self.mask.shape[0]))

    def forward(self, x):
        W = self.weight.new_zeros(*self.mask.shape, *self.weight.shape[1:])
        W[self.mask] = self.weight
        return TF.conv2d(x, W, self.bias)


class TorchLeNet5(torch.nn.Module):
    def __init__(self, c3="full", c3_form=None):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 6, 5, padding=2)
        if c3 == "full":
            self.c3 = torch.nn.Conv2d(6, 16, 5)
        elif c3_form == "hint":
            self.c3 = TorchSubsetConv2d(input_subsets(CONNECTIONS))
        else:
            self.c3 = TorchMaskedConv2d(CONNECTIONS)
        self.c5 = torch.nn.Linear(400, 120)
        self.f6 = torch.nn.Linear(120, 84)
        self.f7 = torch.nn.Linear(84, 10)

    def forward(self, x):
        y = torch.tanh(TF.avg_pool2d(torch.tanh(self.c1(x)), 2))
        y = torch.tanh(TF.avg_pool2d(torch.tanh(self.c3(y)), 2))
        y = torch.tanh(self.f6(torch.tanh(self.c5(y.flatten(1)))))
        return self.f7(y)


VARIANTS = [("full", None), ("original", "masked"), ("original", "hint")]


@pytest.mark.parametrize(("c3", "c3_form"), VARIANTS)
def test_names_and_shapes_are_torchs(c3, c3_form):
    ours = {name: p.shape for name, p in LeNet5(c3, c3_form, rng=0).named_parameters()}
    theirs = {name: tuple(p.shape) for name, p in TorchLeNet5(c3, c3_form).state_dict().items()}
    assert list(ours) == list(theirs) and ours == theirs
    assert sum(p.numel() for p in TorchLeNet5(c3, c3_form).parameters()) == sum(
        p.numel() for p in LeNet5(c3, c3_form).parameters()
    )


@pytest.mark.parametrize(("c3", "c3_form"), [("full", None), ("original", "hint")])
def test_pytorch_default_initialisation_bounds(c3, c3_form):
    """Every parameter lies in U(±1/√fan_in) with torch's fan_in, and fills most of it."""
    reference = dict(TorchLeNet5(c3, c3_form).named_parameters())
    for name, p in LeNet5(c3, c3_form, rng=0).named_parameters():
        weight = reference[name.rsplit(".", 1)[0] + ".weight"]
        fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(p.data).max() <= bound, name
        if p.numel() >= 25:
            assert np.abs(p.data).max() > 0.8 * bound, name


@settings(max_examples=15)
@given(
    variant=st.sampled_from(VARIANTS),
    dtype=dtypes,
    n=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1.0, 10.0]),
)
def test_forward_and_gradients_match_torch(variant, dtype, n, seed, scale):
    c3, c3_form = variant
    model = LeNet5(c3, c3_form, rng=seed, dtype=dtype)
    reference = TorchLeNet5(c3, c3_form).to(getattr(torch, np.dtype(dtype).name))
    theirs = dict(reference.named_parameters())
    with torch.no_grad():
        for name, p in model.named_parameters():
            theirs[name].copy_(torch.from_numpy(p.data))
    generator = np.random.default_rng(seed)
    x = (scale * generator.standard_normal((n, 1, 28, 28))).astype(dtype)
    labels = generator.integers(0, 10, n)
    x_ours, x_theirs = mathdnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    logits, expected = model(x_ours), reference(x_theirs)
    assert logits.dtype == dtype
    assert_close(logits.data, expected.detach().numpy(), dtype, "logits")
    F.cross_entropy(logits, labels).backward()
    TF.cross_entropy(expected, torch.from_numpy(labels)).backward()
    assert_close(x_ours.grad, x_theirs.grad.numpy(), dtype, "∂L/∂x")
    for name, p in model.named_parameters():
        assert_close(p.grad, theirs[name].grad.numpy(), dtype, f"∂L/∂{name}")
