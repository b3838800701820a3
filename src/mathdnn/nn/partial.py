"""Partially connected convolutions: each output map sees only the input maps a connection table
gives it, as in the C3 layer of LeCun et al.'s LeNet-5 (1998, Table 1; ``mathdnn.models.lenet``
holds that table).

``table[i, o]`` is True when output map ``o`` sees input map ``i`` (rows = input maps, columns =
output maps, as in the paper); ``S_o = input_subsets(table)[o]`` are the maps ``o`` sees. The layer
is written two ways that compute the same map, with the same parameters in a different layout:

- ``SubsetConv2d``: one small convolution per output map on the input maps it sees,
  ``Y[:, o] = conv2d(X[:, S_o], W_o) + b_o``, concatenated along channels;
- ``MaskedConv2d``: one full convolution whose weight is scattered from the connected kernels,
  ``W[o, i] = weight[k(o, i)]`` if ``o`` sees ``i``, else 0. Only the connected kernels are
  parameters, so the zeros stay zero under training and the parameter count is the table's,
  ``Σ_o |S_o|·kh·kw + C_out``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import mathdnn.functional as F
from mathdnn.engine import Tensor, cat
from mathdnn.functional._checks import float_dtype
from mathdnn.nn.init import generator
from mathdnn.nn.layers import Conv2d
from mathdnn.nn.module import Module, ModuleList
from mathdnn.windows import pair


def connection_table(fn: str, table: Any) -> np.ndarray:
    """``table`` as a read-only boolean ``(C_in, C_out)`` array of 0/1 entries in which every
    output map (column) sees at least one input map; ``fn`` names the caller in the errors."""
    try:
        array = np.asarray(table)
    except ValueError as err:  # ragged rows
        raise ValueError(f"{fn}: table must be a 2-D array, got {table!r}") from err
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: table must hold 0/1 or booleans, got dtype {array.dtype}")
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(
            f"{fn}: table must be a non-empty 2-D array (input maps × output maps), got shape "
            f"{array.shape}"
        )
    if not np.isin(array, (0, 1)).all():
        raise ValueError(f"{fn}: table entries must be 0/1 or booleans, got {np.unique(array)}")
    connected = array.astype(bool)
    empty = np.flatnonzero(~connected.any(axis=0))
    if empty.size:
        raise ValueError(
            f"{fn}: every output map must see at least one input map, but column(s) "
            f"{empty.tolist()} of table are empty"
        )
    connected.flags.writeable = False
    return connected


def input_subsets(table: Any) -> list[np.ndarray]:
    """``S_o``, the input maps output map ``o`` sees, in increasing order (column ``o``)."""
    table = connection_table("input_subsets", table)
    return [np.flatnonzero(column) for column in table.T]


def _check_forms_arguments(
    fn: str, table: Any, kernel_size: Any, dtype: Any
) -> tuple[np.ndarray, tuple[int, int]]:
    table = connection_table(fn, table)
    kernel = pair(fn, "kernel_size", kernel_size, minimum=1)
    float_dtype(fn, dtype)
    return table, kernel


def _check_input(fn: str, x: Tensor, table: np.ndarray) -> None:
    if x.ndim != 4 or x.shape[1] != table.shape[0]:
        raise ValueError(
            f"{fn}: x must have shape (N, {table.shape[0]}, H, W), one channel per row of the "
            f"table, got {x.shape}"
        )


class SubsetConv2d(Module):
    """C3 as the homework's hint writes it: output map ``o`` is a convolution of the input maps
    ``S_o`` it sees, ``Y[:, o] = conv2d(X[:, S_o], W_o) + b_o``, and ``Y`` is their concatenation.

    ``convs[o]`` is ``Conv2d(|S_o|, 1, kernel_size)``, ``S_o = input_subsets(table)[o]`` (in
    increasing order), with PyTorch's initialisation ``U(±1/√(|S_o|·kh·kw))``. The same module
    in PyTorch, with the same parameter names (``convs.0.weight``, ``convs.0.bias``, …)::

        class SubsetConv2d(torch.nn.Module):
            def __init__(self, subsets, kernel_size=5):
                super().__init__()
                self.subsets = subsets
                self.convs = torch.nn.ModuleList(
                    torch.nn.Conv2d(len(s), 1, kernel_size) for s in subsets
                )

            def forward(self, x):
                return torch.cat([c(x[:, s]) for c, s in zip(self.convs, self.subsets)], 1)
    """

    def __init__(
        self,
        table: Any,
        kernel_size: int | tuple[int, int] = 5,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        self.table, self.kernel_size = _check_forms_arguments(
            "SubsetConv2d", table, kernel_size, dtype
        )
        self.subsets = input_subsets(self.table)
        rng = generator("SubsetConv2d", rng)
        self.convs = ModuleList(
            [Conv2d(len(s), 1, self.kernel_size, rng=rng, dtype=dtype) for s in self.subsets]
        )

    def forward(self, x: Tensor) -> Tensor:
        _check_input("SubsetConv2d", x, self.table)
        return cat([conv(x[:, s]) for conv, s in zip(self.convs, self.subsets, strict=True)], 1)

    def extra_repr(self) -> str:
        return f"table {self.table.shape}, kernel_size={self.kernel_size}"


def connected_rows(per_map: Sequence[np.ndarray]) -> np.ndarray:
    """``MaskedConv2d``'s ``(connections, kh, kw)`` rows from ``SubsetConv2d``'s kernels
    ``(1, |S_o|, kh, kw)`` (weights or their gradients): output map by output map, its inputs in
    increasing order."""
    return np.concatenate([w[0] for w in per_map])


class MaskedConv2d(Module):
    """C3 as one full convolution whose weight is zero where the table has no connection::

        Y = conv2d(X, W, bias),   W[o, i] = weight[k(o, i)] if o sees i, else 0

    ``weight`` holds only the connected kernels, ``(connections, kh, kw)``, the ``k``-th being
    the ``k``-th connection ``(o, i)`` in order of ``o``, then ``i``; ``bias`` is ``(C_out,)``.
    ``W`` is a gather from ``weight`` with a zero row appended; the VJP of the gather
    (``Tensor.__getitem__``'s) adds each ``∂L/∂W[o, i]`` back onto row ``k(o, i)``, so
    ``∂L/∂weight[k(o, i)] = ∂L/∂W[o, i]`` and the unconnected kernels, not being parameters, stay
    zero. Initialised as ``SubsetConv2d(table, kernel_size, rng)`` (the same draws, so the same
    map for the same seed). The same module in PyTorch (parameters ``weight``, ``bias``)::

        class MaskedConv2d(torch.nn.Module):
            def __init__(self, table, kernel_size=5):    # table: (C_in, C_out) booleans
                super().__init__()
                self.mask = torch.tensor(table).T
                self.weight = torch.nn.Parameter(
                    torch.empty(int(self.mask.sum()), kernel_size, kernel_size))
                self.bias = torch.nn.Parameter(torch.empty(self.mask.shape[0]))

            def forward(self, x):
                W = self.weight.new_zeros(*self.mask.shape, *self.weight.shape[1:])
                W[self.mask] = self.weight
                return torch.nn.functional.conv2d(x, W, self.bias)
    """

    def __init__(
        self,
        table: Any,
        kernel_size: int | tuple[int, int] = 5,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        _check_forms_arguments("MaskedConv2d", table, kernel_size, dtype)
        # PyTorch's initialisation map by map: SubsetConv2d's draws, moved into rows.
        self._take_parameters(SubsetConv2d(table, kernel_size, rng, dtype))

    @classmethod
    def from_subsets(cls, subsets: SubsetConv2d) -> MaskedConv2d:
        """The masked form of ``subsets``: the same map, its parameters copied."""
        if not isinstance(subsets, SubsetConv2d):
            raise TypeError(
                f"MaskedConv2d.from_subsets: subsets must be a SubsetConv2d, got "
                f"{type(subsets).__name__}"
            )
        masked = cls.__new__(cls)
        Module.__init__(masked)
        masked._take_parameters(subsets)
        return masked

    def _take_parameters(self, subsets: SubsetConv2d) -> None:
        self.table, self.kernel_size = subsets.table, subsets.kernel_size
        convs = list(subsets.convs)
        self.weight = Tensor(connected_rows([c.weight.data for c in convs]), requires_grad=True)
        self.bias = Tensor(np.concatenate([c.bias.data for c in convs]), requires_grad=True)
        # rows[o, i] = k(o, i), or the index of the zero row where o does not see i; row-major
        # order over (o, i) is the order of the connections.
        connected = self.table.T
        self.rows = np.full(connected.shape, connected.sum())
        self.rows[connected] = np.arange(connected.sum())

    def full_weight(self) -> Tensor:
        """``W``, ``(C_out, C_in, kh, kw)``: the connected kernels in place, zeros elsewhere."""
        zero_row = Tensor(np.zeros((1, *self.kernel_size), dtype=self.weight.dtype))
        return cat([self.weight, zero_row])[self.rows]

    def forward(self, x: Tensor) -> Tensor:
        _check_input("MaskedConv2d", x, self.table)
        return F.conv2d(x, self.full_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"table {self.table.shape}, kernel_size={self.kernel_size}"
