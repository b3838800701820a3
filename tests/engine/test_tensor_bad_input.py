"""Bad input to the Tensor: each raises ValueError or TypeError naming the operation, the
argument, and the shapes or values it got."""

from __future__ import annotations

import re

import numpy as np
import pytest

import mathdnn


def t(*shape: int, dtype=np.float64, grad: bool = False) -> mathdnn.Tensor:
    return mathdnn.tensor(np.ones(shape, dtype), requires_grad=grad)


def s(shape: tuple[int, ...]) -> str:
    """A regex matching ``shape`` as printed."""
    return re.escape(str(shape))


def _backward_non_scalar():
    (t(2, 3, grad=True) * 2).backward()


def _backward_wrong_grad_shape():
    (t(2, 3, grad=True) * 2).backward(np.ones((3, 2)))


CASES = [
    (_backward_non_scalar, ValueError, rf"Tensor\.backward.*grad.*scalar.*{s((2, 3))}"),
    (_backward_wrong_grad_shape, ValueError, rf"Tensor\.backward.*grad.*{s((3, 2))}.*{s((2, 3))}"),
    (lambda: t(2, 3) @ t(2, 3), ValueError, rf"matmul.*{s((2, 3))} and {s((2, 3))}"),
    (lambda: t(2, 3).reshape(4, 2), ValueError, rf"reshape.*{s((2, 3))}.*{s((4, 2))}"),
    (lambda: t(2, 3).sum(2), ValueError, r"sum.*dim 2.*2 dimensions"),
    (lambda: t(2, 3).permute(0, 0), ValueError, r"permute.*dim"),
    (lambda: t(2, 3).unsqueeze(3), ValueError, r"unsqueeze.*dim 3.*2 dimensions"),
    (lambda: t(2, 3).unsqueeze(-4), ValueError, r"unsqueeze.*dim -4.*2 dimensions"),
    (lambda: t(2, 3).flatten(0, 2), ValueError, r"flatten.*dim 2.*2 dimensions"),
    (lambda: t(2, 3).flatten(1, 0), ValueError, r"flatten.*start_dim 1.*end_dim 0"),
    (lambda: t(2, 3).transpose(0, 2), ValueError, r"transpose.*dim 2.*2 dimensions"),
    (lambda: mathdnn.cat([t(2, 3), t(3, 2)], 0), ValueError, r"concatenate.*\(2, 3\), \(3, 2\)"),
    (
        lambda: mathdnn.tensor([1, 2], requires_grad=True),
        TypeError,
        r"tensor.*requires_grad.*int64",
    ),
    (lambda: mathdnn.tensor(["a"]), TypeError, r"tensor.*data.*dtype"),
]


@pytest.mark.parametrize(
    "call, error, pattern", CASES, ids=[f"{k:02d}-{c[2][:40]}" for k, c in enumerate(CASES)]
)
def test_bad_input_raises_a_clear_error(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
