"""``mathdnn.nn.partial`` against PyTorch: both forms of LeNet-5's C3 against the homework's hint
written in torch."""

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402
from conftest import assert_close, dtypes  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mathdnn  # noqa: E402
from mathdnn.models.lenet import CONNECTIONS  # noqa: E402
from mathdnn.nn.partial import (  # noqa: E402
    MaskedConv2d,
    SubsetConv2d,
    connected_rows,
    input_subsets,
)


class TorchSubsetConv2d(torch.nn.Module):
    """The hint: 16 small convolutions on x[:, subset], concatenated along channels."""

    def __init__(self, subsets, kernel_size=5):
        super().__init__()
        self.subsets = [list(s) for s in subsets]
        self.convs = torch.nn.ModuleList(
            torch.nn.Conv2d(len(s), 1, kernel_size) for s in self.subsets
        )

    def forward(self, x):
        return torch.cat([c(x[:, s]) for c, s in zip(self.convs, self.subsets, strict=True)], 1)


def test_the_torch_hint_has_the_hand_count_and_our_names():
    reference = TorchSubsetConv2d(input_subsets(CONNECTIONS))
    assert sum(p.numel() for p in reference.parameters()) == 60 * 25 + 16
    names = [name for name, _ in SubsetConv2d(CONNECTIONS, rng=0).named_parameters()]
    assert names == list(reference.state_dict())


@given(dtype=dtypes, n=st.integers(1, 4), size=st.integers(5, 16), seed=st.integers(0, 2**16))
def test_both_forms_match_the_torch_hint(dtype, n, size, seed):
    """Forward, ∂L/∂x and every parameter gradient, the masked form's through connected_rows."""
    generator = np.random.default_rng(seed)
    subsets = SubsetConv2d(CONNECTIONS, rng=seed, dtype=dtype)
    masked = MaskedConv2d(CONNECTIONS, rng=seed, dtype=dtype)
    reference = TorchSubsetConv2d(input_subsets(CONNECTIONS))
    reference = reference.to(getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        for (_, p), (_, q) in zip(
            subsets.named_parameters(), reference.named_parameters(), strict=True
        ):
            q.copy_(torch.from_numpy(p.data))
    x = generator.standard_normal((n, 6, size, size)).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    expected = reference(xt)
    g = generator.standard_normal(tuple(expected.shape)).astype(dtype)
    expected.backward(torch.from_numpy(g))
    weight_grads = [c.weight.grad.numpy() for c in reference.convs]
    bias_grads = np.concatenate([c.bias.grad.numpy() for c in reference.convs])
    for module in (subsets, masked):
        x_ours = mathdnn.tensor(x, requires_grad=True)
        y = module(x_ours)
        assert y.dtype == dtype
        assert_close(y.data, expected.detach().numpy(), dtype, "forward")
        y.backward(g)
        assert_close(x_ours.grad, xt.grad.numpy(), dtype, "∂L/∂x")
    for conv, weight_grad, bias_grad in zip(subsets.convs, weight_grads, bias_grads, strict=True):
        assert_close(conv.weight.grad, weight_grad, dtype, "hint ∂L/∂W_o")
        assert_close(conv.bias.grad, [bias_grad], dtype, "hint ∂L/∂b_o")
    assert_close(masked.weight.grad, connected_rows(weight_grads), dtype, "masked ∂L/∂weight")
    assert_close(masked.bias.grad, bias_grads, dtype, "masked ∂L/∂bias")
