"""``Module`` and ``Sequential``: parameters and sub-modules found by attribute assignment.

As in PyTorch, assigning a ``Tensor`` leaf with ``requires_grad=True`` to an attribute registers
it as a parameter, and assigning a ``Module`` registers it as a child; ``parameters()`` walks both
in assignment order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, overload

from mfdnn.engine import Tensor


class Module:
    """A differentiable map with parameters; ``module(x)`` calls ``module.forward(x)``."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call Module.__init__() before assigning attributes"
            )
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Tensor) and value.requires_grad and value.is_leaf:
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def forward(self, *args: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__}.forward is not defined")

    def __call__(self, *args: Any) -> Tensor:
        return self.forward(*args)

    def children(self) -> Iterator[Module]:
        """The direct sub-modules, in the order they were assigned."""
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, tensor)`` for this module's parameters, then its children's."""
        for name, p in self._parameters.items():
            yield prefix + name, p
        for name, child in self._modules.items():
            yield from child.named_parameters(f"{prefix}{name}.")

    def parameters(self) -> list[Tensor]:
        """Every parameter once, even if several modules share it."""
        seen: dict[int, Tensor] = {}
        for _, p in self.named_parameters():
            seen.setdefault(id(p), p)
        return list(seen.values())

    def zero_grad(self) -> None:
        """Forget the accumulated gradients: ``p.grad = None`` for every parameter."""
        for p in self.parameters():
            p.grad = None

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [
            f"  ({name}): {child!r}".replace("\n", "\n  ") for name, child in self._modules.items()
        ]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Sequential(Module):
    """``Sequential(f_1, …, f_L)(x) = f_L(… f_2(f_1(x)))``; indexable, iterable, has a length."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(
                    f"Sequential: argument {i} must be a Module, got {type(m).__name__}"
                )
            setattr(self, str(i), m)

    def forward(self, x: Tensor) -> Tensor:
        for m in self:
            x = m(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    @overload
    def __getitem__(self, index: int) -> Module: ...
    @overload
    def __getitem__(self, index: slice) -> Sequential: ...
    def __getitem__(self, index: int | slice) -> Module | Sequential:
        layers = list(self)
        if isinstance(index, slice):
            return Sequential(*layers[index])
        try:
            return layers[index]
        except (IndexError, TypeError):
            raise IndexError(
                f"Sequential: index {index!r} is out of range for {len(layers)} layers"
            ) from None
