"""mfdnn: the mathematics of deep neural networks, executable.

``mfdnn.tensor`` makes a tensor; ``mfdnn.functional`` holds the primitives (convolution, pooling,
activations, losses), each a forward with its vector-Jacobian product beside it.
"""

from mfdnn.engine import (
    Tensor,
    as_tensor,
    cat,
    concatenate,
    is_grad_enabled,
    no_grad,
    ones,
    tensor,
    zeros,
)

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "__version__",
    "as_tensor",
    "cat",
    "concatenate",
    "is_grad_enabled",
    "no_grad",
    "ones",
    "tensor",
    "zeros",
]
