"""The primitives, with the names, signatures and defaults of ``torch.nn.functional``.

Each primitive is a forward computation with its vector-Jacobian product beside it; the
docstrings give both formulas. ``mathdnn.functional.reference`` holds loop versions of the
convolution and pooling kernels, the oracle the fast ones are tested against. The fast paths
(``mathdnn.kernels``) are imported here, which registers them with the switch (``mathdnn.switch``)
that the primitives ask; the primitives themselves never import them.
"""

import mathdnn.kernels  # noqa: F401  (registers the fast paths)
from mathdnn.functional.activation import (
    clamp,
    leaky_relu,
    log_softmax,
    logsigmoid,
    relu,
    sigmoid,
    softmax,
    softplus,
    step,
    tanh,
)
from mathdnn.functional.conv import conv2d
from mathdnn.functional.linear import linear
from mathdnn.functional.loss import cross_entropy, mse_loss
from mathdnn.functional.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "clamp",
    "conv2d",
    "cross_entropy",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "max_pool2d",
    "mse_loss",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "step",
    "tanh",
]
