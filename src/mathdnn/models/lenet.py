"""The course's LeNet-5 for 1×28×28 images, with the full C3 or the original one of Problem 7."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import mathdnn.functional as F
from mathdnn.engine import Tensor
from mathdnn.functional._checks import float_dtype, float_tensor
from mathdnn.nn import Conv2d, Linear, MaskedConv2d, Module, SubsetConv2d
from mathdnn.nn.init import generator

# The output maps of C3 and the input maps (of S2) each one sees; neighbours are cyclic mod 6.
C3_SUBSETS: tuple[tuple[int, ...], ...] = (
    *(tuple((o + k) % 6 for k in range(3)) for o in range(6)),  # maps 0–5: 3 neighbours
    *(tuple((o + k) % 6 for k in range(4)) for o in range(6)),  # maps 6–11: 4 neighbours
    (0, 1, 3, 4),  # maps 12–14: 4, not all neighbours
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),  # map 15: all 6
)


def _table_from_subsets(subsets: Sequence[Sequence[int]], in_maps: int) -> np.ndarray:
    table = np.zeros((in_maps, len(subsets)), dtype=bool)
    for o, subset in enumerate(subsets):
        table[list(subset), o] = True
    table.flags.writeable = False
    return table


# Table 1 of the paper: CONNECTIONS[i, o] is True when output map o of C3 sees input map i.
CONNECTIONS = _table_from_subsets(C3_SUBSETS, in_maps=6)

C3_FORMS = {"masked": MaskedConv2d, "hint": SubsetConv2d}
#: The two C3 layers of Problem 7: connected to all 6 input maps, or by the paper's table.
C3_CHOICES = ("full", "original")


class LeNet5(Module):
    """LeNet-5 as the course trains it on MNIST; returns the logits (the trainer applies the
    cross-entropy)::

        C1  conv 1→6, 5×5, padding 2, tanh      (N, 6, 28, 28)
        S2  avg-pool 2, tanh                     (N, 6, 14, 14)
        C3  conv 6→16, 5×5, tanh                 (N, 16, 10, 10)
        S4  avg-pool 2, tanh                     (N, 16, 5, 5)
        C5  flatten, linear 400→120, tanh        (N, 120)
        F6  linear 120→84, tanh                  (N, 84)
        F7  linear 84→10                         (N, 10)

    ``c3="full"`` connects every C3 output map to all 6 input maps (61,706 parameters);
    ``c3="original"`` uses the connection table of LeCun et al. 1998 (``CONNECTIONS``, 60,806
    parameters), computed as ``c3_form="masked"`` (one convolution with the unconnected
    kernels held at zero, ``MaskedConv2d``; the default, being faster) or ``c3_form="hint"`` (16
    small convolutions, ``SubsetConv2d``). Both have the same parameters in a different layout
    and give the same outputs and gradients; the hint form runs 16 small convolutions, and the
    VJP of each ``x[:, S_o]`` adds into a zero copy of ``x`` (the epoch times of both are in
    ``benchmarks/README.md``, from ``benchmarks/bench_lenet.py``).

    Parameters are PyTorch's default initialisation, drawn in the order c1, c3, c5, f6, f7 from
    ``rng`` (a Generator or a seed). Their names are those of this PyTorch module (``c1.weight``,
    ``c1.bias``, …, ``f7.bias``; F is ``torch.nn.functional``)::

        class LeNet5(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.c1 = torch.nn.Conv2d(1, 6, 5, padding=2)
                self.c3 = torch.nn.Conv2d(6, 16, 5)  # or the PyTorch MaskedConv2d /
                self.c5 = torch.nn.Linear(400, 120)  # SubsetConv2d of their docstrings
                self.f6 = torch.nn.Linear(120, 84)
                self.f7 = torch.nn.Linear(84, 10)

            def forward(self, x):
                y = torch.tanh(F.avg_pool2d(torch.tanh(self.c1(x)), 2))
                y = torch.tanh(F.avg_pool2d(torch.tanh(self.c3(y)), 2))
                y = torch.tanh(self.f6(torch.tanh(self.c5(y.flatten(1)))))
                return self.f7(y)

    ``config()`` is the JSON-able dict of the constructor's arguments besides ``rng``, so
    ``LeNet5(**model.config())`` rebuilds the architecture for a checkpoint's parameters.
    """

    def __init__(
        self,
        c3: str = "full",
        c3_form: str | None = None,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        fn = "LeNet5"
        if c3 not in C3_CHOICES:
            raise ValueError(f"{fn}: c3 must be 'full' or 'original', got {c3!r}")
        if c3 == "full" and c3_form is not None:
            raise ValueError(
                f"{fn}: c3_form chooses how the original C3 is computed; it must be None with "
                f"c3='full', got c3_form={c3_form!r}"
            )
        if c3 == "original":
            c3_form = "masked" if c3_form is None else c3_form
            if c3_form not in C3_FORMS:
                raise ValueError(f"{fn}: c3_form must be 'masked' or 'hint', got {c3_form!r}")
        dtype = float_dtype(fn, dtype)
        self._config = {"c3": c3, "c3_form": c3_form, "dtype": dtype.name}

        rng = generator(fn, rng)
        self.c1 = Conv2d(1, 6, 5, padding=2, rng=rng, dtype=dtype)
        if c3 == "full":
            self.c3: Module = Conv2d(6, 16, 5, rng=rng, dtype=dtype)
        else:
            self.c3 = C3_FORMS[c3_form](CONNECTIONS, 5, rng=rng, dtype=dtype)
        self.c5 = Linear(400, 120, rng=rng, dtype=dtype)
        self.f6 = Linear(120, 84, rng=rng, dtype=dtype)
        self.f7 = Linear(84, 10, rng=rng, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        x = float_tensor("LeNet5", "x", x)
        if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
            raise ValueError(f"LeNet5: x must have shape (N, 1, 28, 28), got {x.shape}")
        y = F.tanh(F.avg_pool2d(F.tanh(self.c1(x)), 2))  # C1, S2
        y = F.tanh(F.avg_pool2d(F.tanh(self.c3(y)), 2))  # C3, S4
        y = F.tanh(self.f6(F.tanh(self.c5(y.flatten(1)))))  # C5, F6
        return self.f7(y)  # F7: the logits

    def config(self) -> dict[str, str | None]:
        """``{"c3": …, "c3_form": …, "dtype": …}``: ``LeNet5(**config)`` rebuilds this model's
        architecture (``c3_form`` is None for the full C3)."""
        return dict(self._config)
