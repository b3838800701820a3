"""Layers: modules that hold parameters and call the primitives of ``mathdnn.functional``.

A small ``torch.nn``: ``Module`` (``parameters()``, ``named_parameters()``, ``state_dict()`` /
``load_state_dict()`` with PyTorch's key names, ``train()`` / ``eval()``, ``zero_grad()``; calling
it runs ``forward``), ``Sequential``, ``ModuleList``, ``Conv2d``, ``Linear``, ``Flatten``, the
pools and the activation layers, and the partially connected convolutions of ``nn.partial``
(``SubsetConv2d``, ``MaskedConv2d``: LeNet-5's C3). Every activation layer says whether its
function ``σ: R → R`` is non-decreasing (``monotone``); that is what Problem 4's rewrite
``mathdnn.hw4.p4_maxpool_commutes.pool_before_activation`` needs to know to move a max-pool in
front of it.
"""

from mathdnn.nn.layers import (
    Activation,
    AdaptiveAvgPool2d,
    AvgPool2d,
    Clamp,
    Conv2d,
    Elementwise,
    Flatten,
    Hardtanh,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softplus,
    Step,
    Tanh,
)
from mathdnn.nn.module import Module, ModuleList, Sequential
from mathdnn.nn.partial import MaskedConv2d, SubsetConv2d

__all__ = [
    "Activation",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "Clamp",
    "Conv2d",
    "Elementwise",
    "Flatten",
    "Hardtanh",
    "LeakyReLU",
    "Linear",
    "MaskedConv2d",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softplus",
    "Step",
    "SubsetConv2d",
    "Tanh",
]
