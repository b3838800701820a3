"""Problem 5 against PyTorch: the two objectives and their gradients against torch autograd."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


import mathdnn  # noqa: E402
from mathdnn.hw4.p5_losses import (  # noqa: E402
    logistic_loss,
    sum_of_squares_loss,
)


def test_gradient_matches_torch_autograd():
    rng = np.random.default_rng(2)
    z = np.concatenate([rng.standard_normal(30) * 4, [30.0, -30.0]])
    y = rng.choice([-1.0, 1.0], len(z))
    yt = torch.tensor(y)
    formulas = {
        logistic_loss: lambda t: torch.log1p(torch.exp(-yt * t)).mean(),
        sum_of_squares_loss: lambda t: (2 * torch.sigmoid(-yt * t) ** 2).mean(),
    }
    for ours, theirs in formulas.items():
        zm = mathdnn.tensor(z, requires_grad=True)
        zt = torch.tensor(z, requires_grad=True)
        value_m, value_t = ours(zm, y), theirs(zt)
        value_m.backward()
        value_t.backward()
        assert value_m.item() == pytest.approx(value_t.item(), rel=1e-12)
        np.testing.assert_allclose(zm.grad, zt.grad.numpy(), rtol=1e-10, atol=1e-18)
