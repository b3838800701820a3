"""The pools' signatures are PyTorch's (functions and layers: names, order, defaults), and the
layers MaxPool2d, AvgPool2d, AdaptiveAvgPool2d call their function with every argument."""

from __future__ import annotations

import ast
import inspect
import re

import numpy as np
import pytest

import mathdnn.functional as F
from mathdnn import nn
from mathdnn.engine import Tensor

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def parameters(f) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(f).parameters.values()]


def documented_parameters(doc: str) -> list[tuple[str, object]]:
    """``(name, default)`` from the first line of a PyTorch docstring, ``f(input, k, s=None)``."""
    inside = re.search(r"\((.*)\)", doc.strip().splitlines()[0]).group(1)
    pairs = [item.strip().partition("=") for item in inside.split(",")]
    return [
        (name, ast.literal_eval(default) if eq else inspect.Parameter.empty)
        for name, eq, default in pairs
    ]


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (F.max_pool2d, parameters(TF.max_pool2d_with_indices)),
        (F.avg_pool2d, documented_parameters(TF.avg_pool2d.__doc__)),
        (F.adaptive_avg_pool2d, parameters(TF.adaptive_avg_pool2d)),
    ],
)
def test_functions_have_pytorchs_signature(ours, theirs):
    assert theirs[0][0] == "input" and parameters(ours)[0][0] == "x"  # mathdnn calls it x
    assert parameters(ours)[1:] == theirs[1:]


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (nn.MaxPool2d, torch.nn.MaxPool2d),
        (nn.AvgPool2d, torch.nn.AvgPool2d),
        (nn.AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool2d),
    ],
)
def test_layers_have_pytorchs_constructor_and_repr(ours, theirs):
    assert parameters(ours.__init__) == parameters(theirs.__init__)
    for args in [(2,), (3, 2, 1)] if ours is not nn.AdaptiveAvgPool2d else [(2,), ((3, None),)]:
        assert repr(ours(*args)) == repr(theirs(*args))


def test_layers_match_pytorch_in_a_model():
    """LeNet's pools, and a global average pool, in a Sequential, forward and backward."""
    x = np.random.default_rng(1).standard_normal((4, 2, 12, 12))
    ours = nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1))
    theirs = torch.nn.Sequential(
        torch.nn.MaxPool2d(2, ceil_mode=True), torch.nn.AvgPool2d(2), torch.nn.AdaptiveAvgPool2d(1)
    )
    xm, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ym, yt = ours(xm), theirs(xt)
    np.testing.assert_allclose(ym.data, yt.detach().numpy(), rtol=1e-12)
    ym.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), rtol=1e-12)
