"""mathdnn modules and their PyTorch twins: the same layers, parameter names, layouts and outputs.

``to_torch(model)`` builds the PyTorch twin of an mathdnn model and copies the parameters into
it; ``from_torch(module)`` does the reverse. Each supported layer and its twin (the same
constructor arguments, the same parameters ``weight``, ``bias``)::

    mathdnn                                  torch
    nn.Conv2d                              nn.Conv2d (padding_mode "zeros")
    nn.Linear                              nn.Linear
    nn.MaxPool2d                           nn.MaxPool2d
    nn.AvgPool2d                           nn.AvgPool2d
    nn.Flatten, ReLU, Tanh, Sigmoid,       nn.Flatten, ReLU, Tanh, Sigmoid,
       LeakyReLU, Softplus, Hardtanh          LeakyReLU, Softplus, Hardtanh
    nn.Sequential                          nn.Sequential of the twins, the same indices
    models.LeNet5                          TorchLeNet5 (below)
    hw4 SubsetConv2d, MaskedConv2d         TorchSubsetConv2d (below)

Layers are matched by their exact type, since a subclass may compute something else. PyTorch's
C3 of the original LeNet-5 is always the homework's hint, 16 convolutions on ``x[:, S_o]``
concatenated (``TorchSubsetConv2d``), whatever its mathdnn form: a ``MaskedConv2d``'s rows of
``weight`` (``(connections, kh, kw)``, output map by output map) become ``convs.o.weight``
(``(1, |S_o|, kh, kw)``) and its ``bias[o]`` becomes ``convs.o.bias``, so a masked model's C3
has the hint's parameter names in PyTorch. The twin remembers the form (``form``), and
``from_torch`` gives it back: ``from_torch(to_torch(model))`` has ``model``'s parameter names and
values exactly.

PyTorch is imported only when these functions are called: mathdnn never needs it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from mathdnn.interop._optional import require
from mathdnn.models import LeNet5
from mathdnn.models.lenet import CONNECTIONS
from mathdnn.nn import (
    AvgPool2d,
    Conv2d,
    Flatten,
    Hardtanh,
    LeakyReLU,
    Linear,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    Softplus,
    Tanh,
)
from mathdnn.nn.partial import MaskedConv2d, SubsetConv2d, connected_rows, input_subsets

if TYPE_CHECKING:
    import torch

INSTALL_TORCH = "pip install '.[test]' in the mathdnn checkout; see its README for the CPU build"


# ------------------------------------------------------------------ the two PyTorch modules
@functools.cache
def torch_classes() -> SimpleNamespace:
    """``TorchSubsetConv2d`` and ``TorchLeNet5``, the PyTorch twins of mathdnn's C3 and LeNet-5.

    They are defined on first use, so that importing mathdnn never imports PyTorch.
    """
    torch = require("torch_classes", "torch", INSTALL_TORCH)
    nn = torch.nn

    class TorchSubsetConv2d(nn.Module):
        """The homework's hint, as ``mathdnn.nn.SubsetConv2d``: ``Y[:, o] =
        conv2d(X[:, S_o], W_o) + b_o`` for each output map ``o``, concatenated along channels.
        ``form`` ("hint" or "masked") is the mathdnn form ``from_torch`` builds again."""

        def __init__(self, table: Any = CONNECTIONS, kernel_size: Any = 5, form: str = "hint"):
            super().__init__()
            self.table = np.array(table, dtype=bool)
            self.subsets = [s.tolist() for s in input_subsets(self.table)]
            self.kernel_size, self.form = kernel_size, form
            self.convs = nn.ModuleList(nn.Conv2d(len(s), 1, kernel_size) for s in self.subsets)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([c(x[:, s]) for c, s in zip(self.convs, self.subsets, strict=True)], 1)

        def extra_repr(self) -> str:
            return f"form={self.form!r}"

    class TorchLeNet5(nn.Module):
        """``mathdnn.models.LeNet5`` in PyTorch: the same layers, names and forward (see there)."""

        def __init__(self, c3: str = "full", c3_form: str | None = None):
            super().__init__()
            self.c1 = nn.Conv2d(1, 6, 5, padding=2)
            if c3 == "full":
                self.c3: nn.Module = nn.Conv2d(6, 16, 5)
            else:
                self.c3 = TorchSubsetConv2d(CONNECTIONS, 5, c3_form or "masked")
            self.c5 = nn.Linear(400, 120)
            self.f6 = nn.Linear(120, 84)
            self.f7 = nn.Linear(84, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            F = nn.functional
            y = torch.tanh(F.avg_pool2d(torch.tanh(self.c1(x)), 2))  # C1, S2
            y = torch.tanh(F.avg_pool2d(torch.tanh(self.c3(y)), 2))  # C3, S4
            y = torch.tanh(self.f6(torch.tanh(self.c5(y.flatten(1)))))  # C5, F6
            return self.f7(y)  # F7: the logits

        def config(self) -> dict[str, str | None]:
            """The arguments of ``mathdnn.models.LeNet5`` (besides rng and dtype) of this net."""
            if isinstance(self.c3, TorchSubsetConv2d):
                return {"c3": "original", "c3_form": self.c3.form}
            return {"c3": "full", "c3_form": None}

    # Named as module attributes (see __getattr__ below), so pickle (torch.save of a whole
    # module, multiprocessing) finds the classes.
    for cls in (TorchSubsetConv2d, TorchLeNet5):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
    return SimpleNamespace(TorchSubsetConv2d=TorchSubsetConv2d, TorchLeNet5=TorchLeNet5)


def __getattr__(name: str) -> Any:
    if name in ("TorchSubsetConv2d", "TorchLeNet5"):
        return getattr(torch_classes(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------- mathdnn → PyTorch
def _conv2d_to_torch(nn: Any, conv: Conv2d) -> Any:
    return nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=conv.bias is not None,
    )


def _c3_to_torch(nn: Any, c3: SubsetConv2d | MaskedConv2d) -> Any:
    form = "masked" if isinstance(c3, MaskedConv2d) else "hint"
    return torch_classes().TorchSubsetConv2d(c3.table, c3.kernel_size, form)


def _lenet5_to_torch(nn: Any, lenet: LeNet5) -> Any:
    config = lenet.config()
    return torch_classes().TorchLeNet5(config["c3"], config["c3_form"])


# The twin of each supported mathdnn layer (its parameters are copied in afterwards).
TO_TORCH: dict[type[Module], Callable[[Any, Any], Any]] = {
    Conv2d: _conv2d_to_torch,
    Linear: lambda nn, m: nn.Linear(m.in_features, m.out_features, bias=m.bias is not None),
    MaxPool2d: lambda nn, m: nn.MaxPool2d(
        m.kernel_size, m.stride, m.padding, m.dilation, m.return_indices, m.ceil_mode
    ),
    AvgPool2d: lambda nn, m: nn.AvgPool2d(
        m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override
    ),
    Flatten: lambda nn, m: nn.Flatten(m.start_dim, m.end_dim),
    ReLU: lambda nn, m: nn.ReLU(),
    Tanh: lambda nn, m: nn.Tanh(),
    Sigmoid: lambda nn, m: nn.Sigmoid(),
    LeakyReLU: lambda nn, m: nn.LeakyReLU(m.negative_slope),
    Softplus: lambda nn, m: nn.Softplus(m.beta, m.threshold),
    Hardtanh: lambda nn, m: nn.Hardtanh(m.min, m.max),
    SubsetConv2d: _c3_to_torch,
    MaskedConv2d: _c3_to_torch,
    LeNet5: _lenet5_to_torch,
}


def _torch_twin(nn: Any, layer: Module, where: str) -> Any:
    if type(layer) is Sequential:
        return nn.Sequential(
            *(_torch_twin(nn, child, f"{where}[{i}]") for i, child in enumerate(layer))
        )
    make = TO_TORCH.get(type(layer))
    if make is None:
        supported = ", ".join(["Sequential", *(t.__name__ for t in TO_TORCH)])
        raise ValueError(
            f"to_torch: {where} is a {type(layer).__name__}, which has no PyTorch twin "
            f"(supported: {supported})"
        )
    return make(nn, layer)


def to_torch(model: Module) -> torch.nn.Module:
    """The PyTorch twin of ``model``: the same parameter names and layouts (see the module), the
    same dtype, the same outputs, its parameters copies of ``model``'s."""
    fn = "to_torch"
    torch = require(fn, "torch", INSTALL_TORCH)
    if not isinstance(model, Module):
        hint = " (from_torch goes the other way)" if isinstance(model, torch.nn.Module) else ""
        raise TypeError(f"{fn}: model must be an mathdnn Module, got {_type_name(model)}{hint}")
    named = dict(model.named_parameters())
    dtype = _one_dtype(fn, ((name, p.dtype) for name, p in named.items()))
    # Built on the meta device: no memory, and no draws from torch's random generator (whose
    # state the caller may rely on); the values are copied in next.
    with torch.device("meta"):
        twin = _torch_twin(torch.nn, model, "model")
    twin = twin.to_empty(device="cpu").to(getattr(torch, dtype.name))
    arrays = _hint_layout(twin, {name: p.data for name, p in named.items()})
    twin.load_state_dict({name: torch.from_numpy(a) for name, a in arrays.items()})
    return twin


# --------------------------------------------------------------------- PyTorch → mathdnn
class _Unsupported(Exception):
    """A torch layer whose settings mathdnn has no equivalent for; the message says which."""


def _only_defaults(layer: Any, **defaults: Any) -> None:
    for name, default in defaults.items():
        if getattr(layer, name) != default:
            raise _Unsupported(f"{name}={getattr(layer, name)!r} (mathdnn has only {default!r})")


def _conv2d_from_torch(conv: Any, dtype: np.dtype) -> Conv2d:
    _only_defaults(conv, padding_mode="zeros")
    return Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=conv.bias is not None,
        rng=0,
        dtype=dtype,
    )


def _max_pool2d_from_torch(pool: Any, dtype: np.dtype) -> MaxPool2d:
    return MaxPool2d(
        pool.kernel_size,
        pool.stride,
        pool.padding,
        pool.dilation,
        pool.return_indices,
        pool.ceil_mode,
    )


def _avg_pool2d_from_torch(pool: Any, dtype: np.dtype) -> AvgPool2d:
    return AvgPool2d(
        pool.kernel_size,
        pool.stride,
        pool.padding,
        pool.ceil_mode,
        pool.count_include_pad,
        pool.divisor_override,
    )


def _c3_from_torch(c3: Any, dtype: np.dtype) -> SubsetConv2d | MaskedConv2d:
    form = {"hint": SubsetConv2d, "masked": MaskedConv2d}.get(c3.form)
    if form is None:
        raise _Unsupported(f"form={c3.form!r} (mathdnn has 'hint' and 'masked')")
    return form(c3.table, c3.kernel_size, rng=0, dtype=dtype)


def _lenet5_from_torch(lenet: Any, dtype: np.dtype) -> LeNet5:
    table = getattr(lenet.c3, "table", CONNECTIONS)
    if table.shape != CONNECTIONS.shape or not np.array_equal(table, CONNECTIONS):
        raise _Unsupported("a C3 whose connection table is not LeNet-5's")
    return LeNet5(**lenet.config(), rng=0, dtype=dtype)


@functools.cache
def _from_torch_table() -> dict[type, Callable[[Any, np.dtype], Module]]:
    """The mathdnn twin of each supported torch layer (its parameters are copied in afterwards)."""
    nn = require("from_torch", "torch", INSTALL_TORCH).nn
    classes = torch_classes()
    return {
        nn.Conv2d: _conv2d_from_torch,
        nn.Linear: lambda m, dtype: Linear(
            m.in_features, m.out_features, bias=m.bias is not None, rng=0, dtype=dtype
        ),
        nn.MaxPool2d: _max_pool2d_from_torch,
        nn.AvgPool2d: _avg_pool2d_from_torch,
        nn.Flatten: lambda m, dtype: Flatten(m.start_dim, m.end_dim),
        nn.ReLU: lambda m, dtype: ReLU(),
        nn.Tanh: lambda m, dtype: Tanh(),
        nn.Sigmoid: lambda m, dtype: Sigmoid(),
        nn.LeakyReLU: lambda m, dtype: LeakyReLU(m.negative_slope),
        nn.Softplus: lambda m, dtype: Softplus(m.beta, m.threshold),
        nn.Hardtanh: lambda m, dtype: Hardtanh(m.min_val, m.max_val),
        classes.TorchSubsetConv2d: _c3_from_torch,
        classes.TorchLeNet5: _lenet5_from_torch,
    }


def _mathdnn_twin(nn: Any, layer: Any, dtype: np.dtype, where: str) -> Module:
    if type(layer) is nn.Sequential:
        return Sequential(
            *(_mathdnn_twin(nn, child, dtype, f"{where}[{i}]") for i, child in enumerate(layer))
        )
    table = _from_torch_table()
    make = table.get(type(layer))
    if make is None:
        supported = ", ".join(["Sequential", *(t.__name__ for t in table)])
        raise ValueError(
            f"from_torch: {where} is a {_type_name(layer)}, which has no mathdnn twin "
            f"(supported: {supported})"
        )
    try:
        return make(layer, dtype)
    except _Unsupported as err:
        raise ValueError(f"from_torch: {where}, a {_type_name(layer)}, has {err}") from None


def from_torch(module: torch.nn.Module) -> Module:
    """The mathdnn twin of a PyTorch ``module`` built from the layers ``to_torch`` produces: the
    same parameter names and values (copies), the same dtype, the same outputs."""
    fn = "from_torch"
    torch = require(fn, "torch", INSTALL_TORCH)
    if not isinstance(module, torch.nn.Module):
        hint = " (to_torch goes the other way)" if isinstance(module, Module) else ""
        raise TypeError(f"{fn}: module must be a torch.nn.Module, got {_type_name(module)}{hint}")
    named = dict(module.named_parameters())
    numpy_dtypes = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}
    for name, p in named.items():
        if p.dtype not in numpy_dtypes:
            raise TypeError(
                f"{fn}: parameters must be float32 or float64, got {p.dtype} for {name!r}"
            )
    dtype = _one_dtype(fn, ((name, numpy_dtypes[p.dtype]) for name, p in named.items()))
    model = _mathdnn_twin(torch.nn, module, dtype, "module")
    arrays = _masked_layout(module, {n: p.detach().cpu().numpy() for n, p in named.items()})
    params = dict(model.named_parameters())
    if set(arrays) != set(params):
        raise ValueError(
            f"{fn}: the module's parameters {sorted(arrays)} are not those of its layers' mathdnn "
            f"twins {sorted(params)} (was a layer of the module replaced?)"
        )
    for name, p in params.items():
        if arrays[name].shape != p.shape:
            raise ValueError(
                f"{fn}: parameter {name!r} has shape {tuple(arrays[name].shape)}, but the "
                f"layer's arguments give {p.shape}"
            )
        np.copyto(p.data, arrays[name])
    return model


# ------------------------------------------------- C3's parameters: masked rows ↔ the hint's
def _masked_c3s(twin: Any) -> list[tuple[str, Any]]:
    """``(name prefix, module)`` of each ``TorchSubsetConv2d`` whose mathdnn form is masked."""
    subset_conv = torch_classes().TorchSubsetConv2d
    return [
        (f"{name}." if name else "", m)
        for name, m in twin.named_modules()
        if isinstance(m, subset_conv) and m.form == "masked"
    ]


def _hint_layout(twin: Any, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """mathdnn's parameters under the twin's names: each masked C3's ``weight`` rows (output map
    by output map) and ``bias`` cut into the hint's ``convs.o.weight``, ``convs.o.bias``."""
    arrays = dict(arrays)
    for prefix, c3 in _masked_c3s(twin):
        weight, bias = arrays.pop(f"{prefix}weight"), arrays.pop(f"{prefix}bias")
        ends = np.cumsum([len(s) for s in c3.subsets])
        for o, rows in enumerate(np.split(weight, ends[:-1])):
            arrays[f"{prefix}convs.{o}.weight"] = rows[np.newaxis]
            arrays[f"{prefix}convs.{o}.bias"] = bias[o : o + 1]
    return arrays


def _masked_layout(twin: Any, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of ``_hint_layout``: the twin's parameters under mathdnn's names."""
    arrays = dict(arrays)
    for prefix, c3 in _masked_c3s(twin):
        convs = range(len(c3.subsets))
        weights = [arrays.pop(f"{prefix}convs.{o}.weight") for o in convs]
        biases = [arrays.pop(f"{prefix}convs.{o}.bias") for o in convs]
        arrays[f"{prefix}weight"] = connected_rows(weights)
        arrays[f"{prefix}bias"] = np.concatenate(biases)
    return arrays


# ----------------------------------------------------------------------------------- helpers
def _one_dtype(fn: str, named_dtypes: Iterable[tuple[str, Any]]) -> np.dtype:
    """The one dtype of a model's parameters (float32 if it has none)."""
    seen: dict[np.dtype, str] = {}
    for name, dtype in named_dtypes:
        seen.setdefault(np.dtype(dtype), name)
    if len(seen) > 1:
        listed = ", ".join(f"{d} ({name!r})" for d, name in seen.items())
        raise TypeError(f"{fn}: all parameters must have one dtype, got {listed}")
    return next(iter(seen), np.dtype(np.float32))


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
