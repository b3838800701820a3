"""mfdnn: the mathematics of deep neural networks, executable.

``mfdnn.tensor`` makes a tensor; ``mfdnn.functional`` holds the primitives (convolution, pooling,
activations, losses), each a forward with its vector-Jacobian product beside it.
"""

from mfdnn.engine import (
    Tensor,
    as_tensor,
    cat,
    concatenate,
    from_numpy,
    is_grad_enabled,
    no_grad,
    ones,
    tensor,
    zeros,
)
from mfdnn.kernels.threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "__version__",
    "as_tensor",
    "cat",
    "concatenate",
    "from_numpy",
    "get_num_threads",
    "is_grad_enabled",
    "no_grad",
    "ones",
    "set_num_threads",
    "tensor",
    "zeros",
]
