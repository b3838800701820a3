"""The bad arguments of ``test_pooling_errors``: PyTorch refuses them too (where it checks)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from test_pooling_errors import CASES  # noqa: E402

REFUSED = [c for c in CASES if c[-1]]


@pytest.mark.parametrize(
    "name, shape, args, kwargs, error, message, pytorch_raises",
    REFUSED,
    ids=[f"{k:02d}-{c[0]}-{c[5][len(c[0]) + 2 :][:30]}" for k, c in enumerate(REFUSED)],
)
def test_pytorch_refuses_them_too(name, shape, args, kwargs, error, message, pytorch_raises):
    with pytest.raises((RuntimeError, TypeError, ValueError)):
        getattr(torch.nn.functional, name)(torch.ones(shape, dtype=torch.float64), *args, **kwargs)
