"""The comparison of an mathdnn computation, forward and backward, with the same one in PyTorch.

Import it only from a test file that starts with ``torch = pytest.importorskip("torch")``, so that
the rest of the suite runs without PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from conftest import assert_close, rng

import mathdnn

torch.set_num_threads(1)


def compare_with_torch(
    mf_fn: Callable[..., mathdnn.Tensor],
    torch_fn: Callable[..., torch.Tensor],
    inputs: Sequence[np.ndarray],
    seed: int = 0,
    grad: Sequence[bool] | None = None,
    exact_grad: bool = False,
) -> None:
    """Run ``mf_fn`` and ``torch_fn`` on the same arrays, backpropagate the same random cotangent,
    and check the outputs, their dtypes, and the gradient of every input that ``grad`` marks."""
    grad = [a.dtype.kind == "f" for a in inputs] if grad is None else list(grad)
    mf_in = [mathdnn.tensor(a, requires_grad=r) for a, r in zip(inputs, grad, strict=True)]
    th_in = [torch.tensor(a, requires_grad=r) for a, r in zip(inputs, grad, strict=True)]
    out = mf_fn(*mf_in)
    ref = torch_fn(*th_in)
    dtype = ref.detach().numpy().dtype
    assert out.dtype == dtype, f"output dtype {out.dtype}, PyTorch gives {dtype}"
    assert_close(out.data, ref.detach().numpy(), dtype, "forward")
    if not any(grad):
        return
    g = rng(seed + 1).standard_normal(ref.shape).astype(dtype)
    out.backward(g)
    ref.backward(torch.tensor(g))
    for k, (m, t) in enumerate(zip(mf_in, th_in, strict=True)):
        if not grad[k]:
            continue
        expected = t.grad.numpy() if t.grad is not None else np.zeros(t.shape, dtype)
        assert m.grad is not None, f"input {k}: no gradient"
        assert m.grad.dtype == m.dtype, f"input {k}: grad dtype {m.grad.dtype} != {m.dtype}"
        if exact_grad:
            np.testing.assert_array_equal(m.grad == 0, expected == 0, f"input {k}: placement")
        assert_close(m.grad, expected, m.dtype, f"gradient of input {k}")
