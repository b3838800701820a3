"""``Module``, ``Sequential`` and ``ModuleList``: parameters and sub-modules found by assignment.

As in PyTorch, assigning a ``Tensor`` leaf with ``requires_grad=True`` to an attribute registers
it as a parameter, and assigning a ``Module`` registers it as a child. A parameter's name is the
path of attribute names down to it, joined by dots (``"features.3.bias"``), exactly as in
``torch.nn``: so ``state_dict()`` of a model has the keys and array shapes of the same
``torch.nn`` model, and the arrays of one load into the other.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, overload

import numpy as np

from mathdnn.engine import Tensor


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(..., strict=False)`` could not match (PyTorch's namedtuple)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """A differentiable map with parameters; ``module(x)`` calls ``module.forward(x)``.

    A subclass calls ``super().__init__()``, assigns its parameters and sub-modules as
    attributes and defines ``forward``. ``training`` (True until ``eval()``) is a flag for
    layers that behave differently in training; no layer here reads it yet.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call Module.__init__() before assigning attributes"
            )
        params, modules = self._parameters, self._modules
        if isinstance(value, Module):
            params.pop(name, None)
            modules[name] = value
        elif (
            isinstance(value, Tensor) and value.is_leaf and (value.requires_grad or name in params)
        ):
            # A parameter stays one when replaced by another leaf, even one without gradient.
            modules.pop(name, None)
            params[name] = value
        elif value is not None and (name in params or name in modules):
            kind = "parameter" if name in params else "child module"
            what = "a non-leaf Tensor" if isinstance(value, Tensor) else type(value).__name__
            raise TypeError(
                f"{type(self).__name__}: cannot assign {what} as {kind} {name!r} "
                f"({'a leaf Tensor' if kind == 'parameter' else 'a Module'} or None expected)"
            )
        else:
            params.pop(name, None)
            modules.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child ``name`` (as ``setattr``, for names like ``"0"``)."""
        fn = f"{type(self).__name__}.add_module"
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"{fn}: name must be a non-empty string without '.', got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{fn}: module must be a Module, got {type(module).__name__}")
        setattr(self, name, module)

    # ------------------------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.forward is not defined")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---------------------------------------------------------------- walking the module tree
    def named_modules(
        self, memo: set[Module] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for this module (name ``prefix``) and every descendant, depth
        first, children in assignment order; a module reached twice is listed once unless
        ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(memo, _join(prefix, name), remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for the direct sub-modules, in assignment order (each once)."""
        seen: set[Module] = set()
        for name, child in self._modules.items():
            if child not in seen:
                seen.add(child)
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, parameter)``: each module's own parameters, then its children's.

        A parameter shared by several modules is listed once (under its first name) unless
        ``remove_duplicate=False``; ``recurse=False`` lists this module's own parameters only.
        """
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        seen: set[int] = set()
        for module_prefix, module in modules:
            for name, p in module._parameters.items():
                if remove_duplicate:
                    if id(p) in seen:
                        continue
                    seen.add(id(p))
                yield _join(module_prefix, name), p

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every parameter once, in the order of ``named_parameters``."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    # ----------------------------------------------------------------------------- the state
    def state_dict(self, *, prefix: str = "") -> OrderedDict[str, np.ndarray]:
        """``name -> array``, the names and layouts of PyTorch (``"0.weight"``,
        ``"features.3.bias"``), ``prefix`` put in front of each.

        A shared parameter appears under each of its names, as in PyTorch. The arrays are
        copies (PyTorch's share memory with the parameters), so the dict stays a snapshot while
        training goes on.
        """
        return OrderedDict(
            (prefix + name, p.data.copy())
            for name, p in self.named_parameters(remove_duplicate=False)
        )

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy the arrays of ``state_dict`` into the parameters of the same names, in place
        (an optimizer holding them sees the new values), each cast to its parameter's dtype.

        Raises ``ValueError`` listing every problem (missing and unexpected keys when
        ``strict``, shape mismatches always) before anything is copied. Returns the missing and
        unexpected keys.
        """
        fn = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{fn}: state_dict must be a mapping, got {type(state_dict).__name__}")
        params = OrderedDict(self.named_parameters(remove_duplicate=False))
        missing = [name for name in params if name not in state_dict]
        unexpected = [key for key in state_dict if key not in params]
        errors = []
        if strict and missing:
            errors.append("missing key(s) in state_dict: " + ", ".join(map(repr, missing)))
        if strict and unexpected:
            errors.append("unexpected key(s) in state_dict: " + ", ".join(map(repr, unexpected)))
        arrays = {}
        for name, p in params.items():
            if name not in state_dict:
                continue
            try:
                array = np.asarray(state_dict[name])
            except ValueError:  # a ragged nest of lists
                errors.append(f"{name!r} is not an array: its rows have different lengths")
                continue
            if array.dtype.kind not in "biuf":
                errors.append(f"{name!r} holds {array.dtype}, not numbers")
            elif array.shape != p.shape:
                errors.append(
                    f"size mismatch for {name!r}: copying an array of shape {array.shape} from "
                    f"state_dict, the shape in the current model is {p.shape}"
                )
            arrays[name] = array
        if errors:
            raise ValueError(f"{fn}: error(s) in loading state_dict:\n\t" + "\n\t".join(errors))
        for name, array in arrays.items():
            params[name].data[...] = array
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------- acting on every part
    def train(self, mode: bool = True) -> Module:
        """Set ``training = mode`` on this module and all its descendants; returns ``self``."""
        if not isinstance(mode, bool):
            raise TypeError(f"{type(self).__name__}.train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the accumulated gradients: ``p.grad = None`` (default), or fill them with 0."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter (``False`` freezes them); returns ``self``."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every descendant (children first), then on ``self``; returns ``self``."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -------------------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The module's own arguments, shown between its parentheses by ``repr``."""
        return ""

    def __repr__(self) -> str:
        """PyTorch's layout: ``Name(extra)``, or one indented ``(name): child`` line per child."""
        extra_repr = self.extra_repr()
        extra = extra_repr.split("\n") if extra_repr else []
        children = [
            f"({name}): " + repr(child).replace("\n", "\n  ")
            for name, child in self._modules.items()
        ]
        if len(extra) == 1 and not children:
            return f"{type(self).__name__}({extra[0]})"
        lines = extra + children
        body = "\n  " + "\n  ".join(lines) + "\n" if lines else ""
        return f"{type(self).__name__}({body})"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _check_index(owner: str, index: Any, length: int) -> int:
    """``index`` (an int, negative counting from the end) as a position in ``range(length)``."""
    if isinstance(index, bool) or not isinstance(index, int | np.integer):
        raise TypeError(f"{owner}: index must be an int or a slice, got {index!r}")
    if not -length <= index < length:
        raise IndexError(f"{owner}: index {index} is out of range for {length} modules")
    return int(index) % length


class _ModuleSequence(Module):
    """What ``Sequential`` and ``ModuleList`` share: their children in order, a length,
    ``append``."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Any:
        """Add ``module`` at the end, as the child ``str(len(self))``; returns ``self``."""
        if not isinstance(module, Module):
            raise TypeError(
                f"{type(self).__name__}.append: module must be a Module, got "
                f"{type(module).__name__}"
            )
        self.add_module(str(len(self)), module)
        return self


class Sequential(_ModuleSequence):
    """``Sequential(f_1, …, f_L)(x) = f_L(… f_2(f_1(x)))``, as ``torch.nn.Sequential``.

    The layers are the children ``"0"``, ``"1"``, ...; or give one ``OrderedDict`` of
    ``name -> module`` to name them. Indexable (a slice is a ``Sequential`` of the same
    modules under the same names), iterable, has a length, ``append``.
    """

    def __init__(self, *args: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            named: Iterable[tuple[str, Any]] = args[0].items()
        else:
            named = ((str(i), m) for i, m in enumerate(args))
        for name, module in named:
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential: argument {name} must be a Module, got {type(module).__name__}"
                )
            self.add_module(name, module)

    def forward(self, x: Any) -> Any:
        for module in self:
            x = module(x)
        return x

    @overload
    def __getitem__(self, index: int) -> Module: ...
    @overload
    def __getitem__(self, index: slice) -> Sequential: ...
    def __getitem__(self, index: int | slice) -> Module | Sequential:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[_check_index("Sequential", index, len(items))][1]


class ModuleList(_ModuleSequence):
    """A list of modules registered as the children ``"0"``, ``"1"``, ... (``torch.nn.ModuleList``).

    Indexable (a slice is a new ``ModuleList``, renumbered), iterable, has a length,
    ``append``, ``extend``. It has no ``forward``: the module holding it decides how to call
    its entries.
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    @overload
    def __getitem__(self, index: int) -> Module: ...
    @overload
    def __getitem__(self, index: slice) -> ModuleList: ...
    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[_check_index("ModuleList", index, len(modules))]

    def __setitem__(self, index: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: module must be a Module, got {type(module).__name__}")
        self.add_module(str(_check_index("ModuleList", index, len(self))), module)

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append each of ``modules``; returns ``self``."""
        if not isinstance(modules, Iterable):
            raise TypeError(
                f"ModuleList.extend: modules must be an iterable of Modules, got "
                f"{type(modules).__name__}"
            )
        for module in modules:
            self.append(module)
        return self
