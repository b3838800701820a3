"""Shared helpers for the engine's correctness tests: hypothesis profiles, random arrays, and the
comparison of an mfdnn computation (forward and backward) against the same one in PyTorch."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import mfdnn

# "ci" (the default) is reproducible: the same examples on every run. HYPOTHESIS_PROFILE=dev
# explores new examples on each run; print_blob lets a failure be replayed exactly.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

torch.set_num_threads(1)

DTYPES = (np.float64, np.float32)
dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**32 - 1)

# Agreement with PyTorch: float64 to ~1e-10, float32 to ~1e-5, relative to the largest magnitude.
TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def randn(seed: int, shape: Sequence[int], dtype=np.float64) -> np.ndarray:
    return rng(seed).standard_normal(tuple(shape)).astype(dtype)


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype, what: str = "") -> None:
    """``|actual − expected| ≤ tol · (|expected| + max(1, max|expected|))``, same shape."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    tol = TOLERANCE[np.dtype(dtype)]
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale, err_msg=what)


def compare_with_torch(
    mf_fn: Callable[..., mfdnn.Tensor],
    torch_fn: Callable[..., torch.Tensor],
    inputs: Sequence[np.ndarray],
    seed: int = 0,
    grad: Sequence[bool] | None = None,
    exact_grad: bool = False,
) -> None:
    """Run ``mf_fn`` and ``torch_fn`` on the same arrays, backpropagate the same random cotangent,
    and check the outputs, their dtypes, and the gradient of every input that ``grad`` marks."""
    grad = [a.dtype.kind == "f" for a in inputs] if grad is None else list(grad)
    mf_in = [mfdnn.tensor(a, requires_grad=r) for a, r in zip(inputs, grad, strict=True)]
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
