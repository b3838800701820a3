"""The engine: tensors and reverse-mode automatic differentiation."""

from mathdnn.engine.tensor import (
    Tensor,
    as_tensor,
    cat,
    concatenate,
    from_numpy,
    is_grad_enabled,
    no_grad,
    ones,
    tensor,
    unbroadcast,
    zeros,
)

__all__ = [
    "Tensor",
    "as_tensor",
    "cat",
    "concatenate",
    "from_numpy",
    "is_grad_enabled",
    "no_grad",
    "ones",
    "tensor",
    "unbroadcast",
    "zeros",
]
