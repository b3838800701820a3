"""mathdnn: the mathematics of deep neural networks, executable.

``mathdnn.tensor`` makes a tensor; ``mathdnn.functional`` holds the primitives (convolution,
pooling,
activations, losses), each a forward with its vector-Jacobian product beside it.

The names below are loaded on first use (PEP 562), so ``import mathdnn`` itself imports no NumPy:
the ``mathdnn`` command imports the heavy libraries inside its ``main()``, where Ctrl-C is caught.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mathdnn.engine import (
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
    from mathdnn.threads import get_num_threads, set_num_threads

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
# Where each public name is defined: the engine, except the thread settings.
_HOMES = {name: "mathdnn.engine" for name in __all__ if name != "__version__"}
_HOMES.update(dict.fromkeys(("get_num_threads", "set_num_threads"), "mathdnn.threads"))
# Subpackages and modules reachable as attributes after a bare ``import mathdnn``.
_SUBMODULES = (
    "data",
    "engine",
    "functional",
    "hw4",
    "images",
    "io",
    "kernels",
    "nn",
    "verify",
)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # found once; later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES, *_SUBMODULES})
