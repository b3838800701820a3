"""conv2d and the pools on every sample input of PyTorch's own OpInfo database
(``torch.testing._internal.common_methods_invocations.op_db``, in float64): the same outputs (and
indices), or an error where PyTorch raises one."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")  # torch.testing._internal needs it

from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402

import mathdnn  # noqa: E402
import mathdnn.functional as F  # noqa: E402

OURS = {
    "nn.functional.conv2d": F.conv2d,
    "nn.functional.max_pool2d": F.max_pool2d,
    "nn.functional.avg_pool2d": F.avg_pool2d,
    "nn.functional.adaptive_avg_pool2d": F.adaptive_avg_pool2d,
}
OPS = {op.name: op for op in op_db if op.name in OURS and not op.variant_test_name}


def as_numpy(value):
    return value.detach().numpy() if isinstance(value, torch.Tensor) else value


def samples(name: str, dtype: torch.dtype) -> list:
    return list(OPS[name].sample_inputs("cpu", dtype, requires_grad=False))


def test_the_samples_are_there():
    assert set(OPS) == set(OURS)
    counts = {name: len(samples(name, torch.float64)) for name in OURS}
    assert counts["nn.functional.conv2d"] >= 20 and counts["nn.functional.max_pool2d"] >= 1000
    assert min(counts.values()) >= 5


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_opinfo_sample_matches_pytorch(name):
    op, ours = OPS[name], OURS[name]
    failures = []
    for sample in samples(name, torch.float64):
        args = [as_numpy(a) for a in sample.args]
        kwargs = {k: as_numpy(v) for k, v in sample.kwargs.items()}
        what = f"{name}{(tuple(sample.input.shape), *sample.args)} {sample.kwargs}"
        try:
            expected = op.op(sample.input, *sample.args, **sample.kwargs)
        except RuntimeError:
            with pytest.raises((ValueError, TypeError)):
                ours(mathdnn.tensor(as_numpy(sample.input)), *args, **kwargs)
            continue
        try:
            got = ours(mathdnn.tensor(as_numpy(sample.input)), *args, **kwargs)
        except (ValueError, TypeError) as err:
            failures.append(f"{what}: {err}")
            continue
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = got if isinstance(got, tuple) else (got,)
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-10, atol=1e-10, err_msg=what)
    assert failures == []
