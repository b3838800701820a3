"""The Tensor: a NumPy array that remembers how it was made, so gradients can flow back.

Every operation is a *primitive*: a forward computation plus its vector-Jacobian product (VJP).
The forward builds the output array; right beside it a closure ``vjp(g)`` maps the cotangent
``g = ∂L/∂out`` to the cotangents of the inputs, ``∂L/∂input = g · ∂out/∂input``, without ever
materialising the Jacobian. ``Tensor.backward`` visits the graph in reverse topological order and
applies the chain rule: each node's cotangent is the sum of what its consumers send back.

Gradients accumulate in the ``.grad`` of leaf tensors (those created by the user with
``requires_grad=True``) across ``backward`` calls, as in PyTorch. A graph is freed by ``backward``
unless ``retain_graph=True``; a second pass through a freed graph raises ``RuntimeError``.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from mathdnn.threads import single_threaded_blas

ArrayLike = Any
VJP = Callable[[np.ndarray], tuple[np.ndarray | None, ...]]

_state = threading.local()


def is_grad_enabled() -> bool:
    """True unless inside a ``no_grad()`` block (per thread)."""
    return getattr(_state, "grad_enabled", True)


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Context manager in which operations record no graph (like ``torch.no_grad``)."""
    previous = is_grad_enabled()
    _state.grad_enabled = False
    try:
        yield
    finally:
        _state.grad_enabled = previous


def _power(a: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``a^p``, with ``a^(−1/2)`` as ``1/√a`` where ``p = −1/2`` (PyTorch's pow: −∞ at −0, NaN at
    −∞, where C's pow gives +∞ and 0)."""
    if not np.any(p == -0.5):
        return a**p
    return np.where(p == -0.5, 1 / np.sqrt(a), a**p)


def _freed(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
    raise RuntimeError(
        "Tensor.backward: trying to go through the graph a second time, but its saved values "
        "were freed by the first backward(); pass retain_graph=True to the first call"
    )


def _dtype_problem(dtype: np.dtype) -> str | None:
    """Why mathdnn cannot hold numbers of ``dtype``, or None if it can.

    mathdnn computes in float32 or float64 (``tensor`` widens float16 data to float32, which is
    exact); it also holds integer and bool tensors (indices, labels, masks).
    """
    if dtype.kind == "c":
        return (
            "mathdnn computes with real numbers in float32 or float64; pass the real part (x.real) "
            "or the magnitude (abs(x))"
        )
    if dtype.kind == "f" and dtype.itemsize > 8:
        return (
            "longdouble is more precise than mathdnn computes (float32 or float64); convert "
            "explicitly, e.g. x.astype(np.float64)"
        )
    if dtype.kind not in "biuf":
        return "mathdnn holds numbers only (bool, int or float)"
    return None


def as_numbers(fn: str, name: str, data: ArrayLike) -> np.ndarray:
    """``data`` (an array, a number or a nested list) as a NumPy array of a dtype mathdnn holds,
    without copying an array.

    Raises ``ValueError`` for a ragged nested list and ``TypeError`` for strings, complex or
    longdouble numbers, naming ``fn`` and ``name``.
    """
    try:
        array = np.asarray(data.data if isinstance(data, Tensor) else data)
    except ValueError as err:  # NumPy refuses ragged nested lists
        raise ValueError(
            f"{fn}: {name} must be a number or a rectangular nested list of numbers ({err})"
        ) from None
    problem = _dtype_problem(array.dtype)
    if problem is not None:
        raise TypeError(f"{fn}: {name} has dtype {array.dtype}: {problem}")
    return array


def real_number(fn: str, name: str, value: Any, allow_inf: bool = False) -> float:
    """A scalar option such as ``negative_slope`` or ``min``: an int or float, not NaN, and
    finite unless ``allow_inf``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{fn}: {name} must be a real number, got {value!r}")
    if np.isnan(value) or (not allow_inf and np.isinf(value)):
        kind = "a number" if allow_inf else "a finite number"
        raise ValueError(f"{fn}: {name} must be {kind}, got {value!r}")
    return float(value)


def _as_array(data: ArrayLike, dtype: Any = None) -> np.ndarray:
    """A copy of ``data`` for ``tensor(data, dtype)``: float32 for Python floats and float16
    arrays (widening float16 is exact); float32, float64 and integer arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data.data
    array = as_numbers("tensor", "data", data)
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError as err:
            raise TypeError(f"tensor: dtype must be a NumPy dtype, got {dtype!r}") from err
        problem = _dtype_problem(dtype)
        if dtype == np.float16:
            problem = "mathdnn computes in float32 or float64 (float16 data is widened to float32)"
        if problem is not None:
            raise TypeError(f"tensor: dtype {dtype} is not supported: {problem}")
        return np.array(array, dtype=dtype)
    from_numpy = isinstance(data, np.ndarray | np.generic)
    kind = array.dtype.kind
    if kind == "f" and not (from_numpy and array.dtype in (np.float32, np.float64)):
        target = np.dtype(np.float32)
    elif kind in "iu" and not from_numpy:
        target = np.dtype(np.int64)
    else:
        target = array.dtype
    return np.array(array, dtype=target)


def unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` over the axes that broadcasting added or stretched, so it has ``shape``.

    The VJP of ``y = broadcast_to(x, y.shape)`` is exactly this sum.
    """
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(extra))) if extra > 0 else g
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g.reshape(shape)


def _normalize_dims(fn: str, dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int | np.integer) else tuple(dim)
    out = []
    for d in dims:
        if not isinstance(d, int | np.integer) or not -max(ndim, 1) <= d < max(ndim, 1):
            raise ValueError(f"{fn}: dim {d!r} is out of range for a tensor with {ndim} dimensions")
        out.append(int(d) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}: dim {dim!r} repeats a dimension")
    return tuple(out)


class Tensor:
    """An n-dimensional array with an optional gradient and the graph that produced it."""

    __slots__ = ("_parents", "_vjp", "data", "grad", "op", "requires_grad")
    # Make ``ndarray + Tensor`` call ``Tensor.__radd__`` instead of NumPy broadcasting over it.
    __array_priority__ = 1000

    def __init__(self, data: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _as_array(data, dtype)
        self.grad: np.ndarray | None = None
        self.requires_grad = False
        self._parents: tuple[Tensor, ...] = ()
        self._vjp: VJP | None = None
        self.op = ""
        if requires_grad:
            self.requires_grad_(True)

    # ----------------------------------------------------------------- graph construction
    @classmethod
    def _make(cls, data: np.ndarray, parents: tuple[Tensor, ...], vjp: VJP, op: str) -> Tensor:
        """Wrap the output of a primitive; record the graph edge only if a gradient can flow."""
        out = cls.__new__(cls)
        # NumPy returns a scalar, not a 0-d array, from arithmetic on 0-d arrays.
        out.data = data if type(data) is np.ndarray else np.asarray(data)
        out.grad = None
        out.op = op
        if is_grad_enabled() and any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._parents = parents
            out._vjp = vjp
        else:
            out.requires_grad = False
            out._parents = ()
            out._vjp = None
        return out

    @classmethod
    def _leaf(cls, data: np.ndarray) -> Tensor:
        """A leaf without gradient over ``data`` itself, not a copy (``detach``, ``from_numpy``)."""
        out = cls.__new__(cls)
        out.data, out.grad, out.requires_grad = data, None, False
        out._parents, out._vjp, out.op = (), None, ""
        return out

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"tensor: requires_grad=True needs a floating-point dtype, got {self.data.dtype}"
            )
        if self._vjp is not None and not requires_grad:
            raise RuntimeError("requires_grad_: can only change the flag of a leaf tensor")
        self.requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self._vjp is None

    def detach(self) -> Tensor:
        """The same values, cut from the graph (shares memory, like ``torch.Tensor.detach``)."""
        return Tensor._leaf(self.data)

    def backward(self, grad: ArrayLike | None = None, retain_graph: bool = False) -> None:
        """Accumulate ``∂self/∂leaf`` (times ``grad``) into the ``.grad`` of every leaf.

        ``grad`` is the cotangent of ``self``; it may be omitted only when ``self`` is a scalar.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "Tensor.backward: this tensor does not require grad and has no graph; "
                "create the inputs with requires_grad=True"
            )
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"Tensor.backward: grad can be omitted only for a scalar output, got shape "
                    f"{self.shape}; pass grad= an array of that shape"
                )
            seed = np.ones_like(self.data)
        else:
            seed = as_numbers("Tensor.backward", "grad", grad).astype(self.dtype, copy=False)
            if seed.shape != self.shape:
                raise ValueError(
                    f"Tensor.backward: grad has shape {seed.shape}, expected the output's "
                    f"shape {self.shape}"
                )
        cotangents: dict[int, np.ndarray] = {id(self): seed}
        adopted: set[int] = set()  # arrays already made some leaf's .grad
        order = self._topological_order()
        # One BLAS span for the whole pass, so the VJPs' products run on one thread
        # (threads.py); none for a graph whose arrays are too small for BLAS to use threads.
        with single_threaded_blas(work=sum(node.data.size for node in order)):
            for node in reversed(order):
                g = cotangents.pop(id(node), None)
                if g is None:
                    continue
                g = np.asarray(g)  # a 0-d cotangent may have come back a NumPy scalar
                if node._vjp is None:
                    if node.grad is not None:
                        node.grad = np.asarray(node.grad + g.astype(node.dtype, copy=False))
                        continue
                    # .grad is the leaf's own array, of the leaf's dtype. A cotangent the VJPs just
                    # made (owning its memory, not the seed, given to no other leaf) is taken as it
                    # is; anything else (a view, the seed, a shared array) is copied.
                    private = g.base is None and g is not seed and id(g) not in adopted
                    if not private or g.dtype != node.dtype:
                        g = g.astype(node.dtype)
                    adopted.add(id(g))
                    node.grad = g
                    continue
                for parent, pg in zip(node._parents, node._vjp(g), strict=True):
                    if pg is None or not parent.requires_grad:
                        continue
                    key = id(parent)
                    cotangents[key] = pg if key not in cotangents else cotangents[key] + pg
                if not retain_graph:
                    node._vjp, node._parents = _freed, ()

    def _topological_order(self) -> list[Tensor]:
        """Nodes that need a gradient, each after all the nodes it was computed from."""
        order: list[Tensor] = []
        visited: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if p.requires_grad)
        return order

    # ---------------------------------------------------------------------- array protocol
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def numpy(self) -> np.ndarray:
        """The underlying array (shares memory)."""
        return self.data

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(
                f"Tensor.item: only a one-element tensor has an item, got {self.shape}"
            )
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is None or np.dtype(dtype) == self.data.dtype:
            return self.data.copy() if copy else self.data
        return self.data.astype(dtype)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = f", dtype={self.dtype}" if self.dtype != np.float32 else ""
        if self._vjp is not None:
            extra += f", grad_fn=<{self.op}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Indices of the maximum (no gradient), like ``torch.argmax``."""
        return Tensor(np.argmax(self.data, axis=dim, keepdims=keepdim))

    # --------------------------------------------------------------------- primitives
    # Elementwise arithmetic; broadcasting is undone in the VJP by ``unbroadcast``.
    def _operand(self, other: ArrayLike) -> Tensor:
        if isinstance(other, Tensor):
            return other
        array = np.asarray(other)
        if array.dtype.kind in "biu" or (array.dtype.kind == "f" and array.ndim == 0):
            array = array.astype(self.dtype if self.dtype.kind == "f" else np.float32)
        return Tensor(array)

    def __add__(self, other: ArrayLike) -> Tensor:
        """``a + b``; VJP: ``(g, g)`` summed back to each operand's shape."""
        a, b = self, self._operand(other)

        def vjp(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return unbroadcast(g, a.shape), unbroadcast(g, b.shape)

        return Tensor._make(a.data + b.data, (a, b), vjp, "add")

    def __sub__(self, other: ArrayLike) -> Tensor:
        """``a − b``; VJP: ``(g, −g)``."""
        a, b = self, self._operand(other)

        def vjp(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return unbroadcast(g, a.shape), unbroadcast(-g, b.shape)

        return Tensor._make(a.data - b.data, (a, b), vjp, "sub")

    def __mul__(self, other: ArrayLike) -> Tensor:
        """``a · b``; VJP: ``(g·b, g·a)``."""
        a, b = self, self._operand(other)

        def vjp(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            ga = unbroadcast(g * b.data, a.shape) if a.requires_grad else None
            gb = unbroadcast(g * a.data, b.shape) if b.requires_grad else None
            return ga, gb

        return Tensor._make(a.data * b.data, (a, b), vjp, "mul")

    def __truediv__(self, other: ArrayLike) -> Tensor:
        """``a / b``; VJP: ``(g/b, −g·a/b²)``."""
        a, b = self, self._operand(other)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = a.data / b.data

        def vjp(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            with np.errstate(divide="ignore", invalid="ignore"):
                ga = unbroadcast(g / b.data, a.shape) if a.requires_grad else None
                gb = unbroadcast(-g * out / b.data, b.shape) if b.requires_grad else None
            return ga, gb

        return Tensor._make(out, (a, b), vjp, "div")

    def __pow__(self, other: ArrayLike) -> Tensor:
        """``a ** p``; VJP: ``(g·p·a^(p−1), g·a^p·log a)``.

        As PyTorch, the first is 0 where ``p = 0`` and the second 0 where ``a = 0, p ≥ 0`` (the
        limits, instead of ``0·∞ = nan``); ``a^(−1/2)`` is ``1/√a`` (so ``√a``'s derivative is
        ``1/(2√a)``: −∞ at −0, NaN at −∞).
        """
        a, p = self, self._operand(other)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = _power(a.data, p.data)

        def vjp(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                ga = gp = None
                if a.requires_grad:
                    da = np.where(p.data == 0, 0, p.data * _power(a.data, p.data - 1))
                    ga = unbroadcast(g * da.astype(out.dtype, copy=False), a.shape)
                if p.requires_grad:
                    dp = np.where((a.data == 0) & (p.data >= 0), 0, out * np.log(a.data))
                    gp = unbroadcast(g * dp.astype(out.dtype, copy=False), p.shape)
            return ga, gp

        return Tensor._make(out, (a, p), vjp, "pow")

    def __radd__(self, other: ArrayLike) -> Tensor:
        return self._operand(other) + self

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return self._operand(other) - self

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return self._operand(other) * self

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return self._operand(other) / self

    def __rpow__(self, other: ArrayLike) -> Tensor:
        return self._operand(other) ** self

    def __neg__(self) -> Tensor:
        """``−a``; VJP: ``−g``."""
        return Tensor._make(-self.data, (self,), lambda g: (-g,), "neg")

    def __matmul__(self, other: ArrayLike) -> Tensor:
        """``a @ b`` with NumPy's rules (1-D operands, batch broadcasting).

        VJP: ``(g @ bᵀ, aᵀ @ g)``, with 1-D operands treated as a row / column and the batch
        dimensions summed back to each operand's shape.
        """
        a, b = self, self._operand(other)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                f"matmul: operands must have at least 1 dimension, got {a.shape} and {b.shape}"
            )
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(
                f"matmul: inner dimensions do not match, got shapes {a.shape} and {b.shape}"
            )
        work = a.data.size * (b.shape[-1] if b.ndim > 1 else 1)  # multiply-adds
        # inf·0 = NaN, as in PyTorch, without NumPy's warning
        with single_threaded_blas(work), np.errstate(invalid="ignore", over="ignore"):
            out = a.data @ b.data

        def vjp(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            a2 = a.data[None, :] if a.ndim == 1 else a.data
            b2 = b.data[:, None] if b.ndim == 1 else b.data
            g2 = g
            if b.ndim == 1:  # first: for 1-D @ 1-D, g is 0-d and becomes (1, 1)
                g2 = np.expand_dims(g2, -1)
            if a.ndim == 1:
                g2 = np.expand_dims(g2, -2)
            ga = gb = None
            with single_threaded_blas(work), np.errstate(invalid="ignore", over="ignore"):
                if a.requires_grad:
                    ga = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
                if b.requires_grad:
                    gb = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
            return ga, gb

        return Tensor._make(out, (a, b), vjp, "matmul")

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return self._operand(other) @ self

    def exp(self) -> Tensor:
        """``exp(a)``; VJP: ``g·exp(a)``."""
        with np.errstate(over="ignore"):
            out = np.exp(self.data)
        return Tensor._make(out, (self,), lambda g: (g * out,), "exp")

    def log(self) -> Tensor:
        """``log(a)``; VJP: ``g / a``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(self.data)

        def vjp(g: np.ndarray) -> tuple[np.ndarray]:
            with np.errstate(divide="ignore", invalid="ignore"):
                return (g / self.data,)

        return Tensor._make(out, (self,), vjp, "log")

    def sin(self) -> Tensor:
        """``sin(a)``; VJP: ``g·cos(a)``."""
        return Tensor._make(np.sin(self.data), (self,), lambda g: (g * np.cos(self.data),), "sin")

    def cos(self) -> Tensor:
        """``cos(a)``; VJP: ``−g·sin(a)``."""
        return Tensor._make(np.cos(self.data), (self,), lambda g: (-g * np.sin(self.data),), "cos")

    def abs(self) -> Tensor:
        """``|a|``; VJP: ``g·sign(a)``, ``sign(a) = [a > 0] − [a < 0]`` (0 at 0 and at NaN, as
        PyTorch)."""
        a = self.data

        def vjp(g: np.ndarray) -> tuple[np.ndarray]:
            sign = (a > 0).astype(a.dtype) - (a < 0)
            return (g * sign,)

        return Tensor._make(np.abs(a), (self,), vjp, "abs")

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:
        """``min(max(a, min), max)``; VJP: ``g`` where ``min ≤ a ≤ max``, else 0 (as PyTorch)."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        for name, bound in (("min", min), ("max", max)):
            if bound is not None:
                real_number("clamp", name, bound, allow_inf=True)
        out = np.clip(self.data, min, max).astype(self.dtype, copy=False)

        def vjp(g: np.ndarray) -> tuple[np.ndarray]:
            inside = np.ones(self.shape, dtype=bool)
            if min is not None:
                inside &= self.data >= min
            if max is not None:
                inside &= self.data <= max
            return (g * inside,)

        return Tensor._make(out, (self,), vjp, "clamp")

    # Reductions
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """``Σ a`` over ``dim``; VJP: ``g`` broadcast back over the summed axes."""
        axes = _normalize_dims("sum", dim, self.ndim)
        with np.errstate(invalid="ignore", over="ignore"):  # inf + (−inf) = NaN, as in PyTorch
            out = np.sum(self.data, axis=axes, keepdims=keepdim)

        def vjp(g: np.ndarray) -> tuple[np.ndarray]:
            g = g if keepdim else np.expand_dims(g, axes)
            return (np.broadcast_to(g, self.shape),)

        return Tensor._make(np.asarray(out), (self,), vjp, "sum")

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """``(1/n) Σ a`` over ``dim``; VJP: ``g / n`` broadcast back."""
        if self.dtype.kind != "f":
            raise TypeError(f"mean: needs a floating-point tensor, got dtype {self.dtype}")
        axes = _normalize_dims("mean", dim, self.ndim)
        count = int(np.prod([self.shape[i] for i in axes])) if self.ndim else 1
        return self.sum(dim, keepdim) / float(count)

    def max(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """``max a`` over ``dim``; VJP: ``g`` shared equally among the maximal entries.

        (This is ``torch.amax``'s rule; ``torch.max(dim)`` sends it all to one index instead.
        Where the maximum is NaN no entry equals it and the gradient is NaN, as in PyTorch.)
        """
        axes = _normalize_dims("max", dim, self.ndim)
        if self.data.size == 0 and any(self.shape[d] == 0 for d in axes):
            raise ValueError(f"max: cannot take the max over a dim of size 0 (shape {self.shape})")
        out = np.max(self.data, axis=axes, keepdims=True)

        def vjp(g: np.ndarray) -> tuple[np.ndarray]:
            g = g if keepdim else np.expand_dims(g, axes)
            mask = self.data == out
            with np.errstate(divide="ignore", invalid="ignore"):
                return (mask * (g / mask.sum(axis=axes, keepdims=True)),)

        value = out if keepdim else np.squeeze(out, axis=axes)
        return Tensor._make(np.asarray(value), (self,), vjp, "max")

    # Shape
    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """The same entries in a new shape; VJP: reshape ``g`` back."""
        target = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
        try:
            out = self.data.reshape(target)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {self.shape} to {target}"
            ) from err
        return Tensor._make(out, (self,), lambda g: (g.reshape(self.shape),), "reshape")

    view = reshape

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        """Reorder the axes; VJP: apply the inverse permutation to ``g``."""
        order = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else dims
        axes = _normalize_dims("permute", order, self.ndim)
        if len(axes) != self.ndim:
            raise ValueError(f"permute: dims {order} is not a permutation of {self.ndim} axes")
        inverse = tuple(np.argsort(axes))
        return Tensor._make(
            self.data.transpose(axes), (self,), lambda g: (g.transpose(inverse),), "permute"
        )

    def transpose(self, dim0: int = 0, dim1: int = 1) -> Tensor:
        """Swap two axes (``torch.transpose``); VJP: swap them back."""
        order = list(range(self.ndim))
        # Each dim on its own: (0, -1) of a 1-D tensor name the same axis, which is no error.
        (d0,), (d1,) = (_normalize_dims("transpose", d, self.ndim) for d in (dim0, dim1))
        order[d0], order[d1] = order[d1], order[d0]
        return self.permute(order)

    @property
    def T(self) -> Tensor:
        return self.permute(tuple(reversed(range(self.ndim))))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge axes ``start_dim..end_dim`` into one (``torch.flatten``)."""
        if self.ndim == 0:
            return self.reshape(1)
        (s,), (e,) = (_normalize_dims("flatten", d, self.ndim) for d in (start_dim, end_dim))
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        merged = math.prod(self.shape[s : e + 1])  # not -1: NumPy cannot infer it beside a 0
        return self.reshape((*self.shape[:s], merged, *self.shape[e + 1 :]))

    def unsqueeze(self, dim: int) -> Tensor:
        if not isinstance(dim, int | np.integer) or not -self.ndim - 1 <= dim <= self.ndim:
            raise ValueError(
                f"unsqueeze: dim {dim!r} is out of range [{-self.ndim - 1}, {self.ndim}] for a "
                f"tensor with {self.ndim} dimensions"
            )
        d = dim % (self.ndim + 1)
        return self.reshape((*self.shape[:d], 1, *self.shape[d:]))

    def squeeze(self, dim: int | None = None) -> Tensor:
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        d = _normalize_dims("squeeze", dim, self.ndim)[0]
        return self if self.shape[d] != 1 else self.reshape(self.shape[:d] + self.shape[d + 1 :])

    def __getitem__(self, index: Any) -> Tensor:
        """``a[index]`` (slices, integers, lists / arrays of indices, masks).

        VJP: scatter ``g`` into zeros at the selected places, adding where an index repeats.
        """
        index = _index_arrays(index)
        try:
            out = self.data[index]
        except IndexError as err:
            raise IndexError(f"Tensor.__getitem__: {err} (tensor shape {self.shape})") from None

        def vjp(g: np.ndarray) -> tuple[np.ndarray]:
            full = np.zeros(self.shape, dtype=self.dtype)
            np.add.at(full, index, g)
            return (full,)

        return Tensor._make(np.asarray(out), (self,), vjp, "index")

    def zero_(self) -> Tensor:
        self.data[...] = 0
        return self


def _index_arrays(index: Any) -> Any:
    """Replace tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def tensor(data: ArrayLike, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new leaf tensor holding a copy of ``data``.

    Python floats and lists become float32 (as in PyTorch); float32 and float64 arrays keep their
    dtype; float16 arrays are widened to float32 (exact: every float16 is a float32); Python
    integers become int64. ``requires_grad=True`` needs a floating dtype. mathdnn computes in
    float32 or float64 only: longdouble and complex data raise ``TypeError`` (convert first, e.g.
    ``x.astype(np.float64)``), as does a ragged nested list (``ValueError``).
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)  # Tensor() copies the data


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (as ``torch.from_numpy``): no copy is made, so
    writing to either changes both. Works for float32, float64, integer and bool arrays."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype not in (np.float32, np.float64) and array.dtype.kind not in "iub":
        raise TypeError(
            f"from_numpy: array has dtype {array.dtype}, but only float32, float64, integer and "
            "bool arrays can be shared (mathdnn computes in float32 or float64); convert it, e.g. "
            "mathdnn.tensor(array) (a copy; float16 becomes float32) or array.astype(np.float64)"
        )
    return Tensor._leaf(array)


def as_tensor(data: ArrayLike, dtype: Any = None) -> Tensor:
    """``data`` itself if it is a Tensor, else a tensor without gradient over it."""
    return data if isinstance(data, Tensor) and dtype is None else Tensor(data, dtype=dtype)


def concatenate(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing axis (``torch.cat``); VJP: split ``g`` into the pieces."""
    if len(tensors) == 0:
        raise ValueError("concatenate: needs at least one tensor")
    parts = tuple(as_tensor(t) for t in tensors)
    ndim = parts[0].ndim
    if any(p.ndim != ndim for p in parts) or ndim == 0:
        raise ValueError(
            f"concatenate: tensors must have the same number (>= 1) of dimensions, got shapes "
            f"{[p.shape for p in parts]}"
        )
    axis = _normalize_dims("concatenate", dim, ndim)[0]
    try:
        out = np.concatenate([p.data for p in parts], axis=axis)
    except ValueError as err:
        raise ValueError(
            f"concatenate: shapes {[p.shape for p in parts]} differ outside dim {dim}"
        ) from err
    bounds = np.cumsum([p.shape[axis] for p in parts])[:-1]

    def vjp(g: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(np.split(g, bounds, axis=axis))

    return Tensor._make(out, parts, vjp, "concatenate")


cat = concatenate


def _size(fn: str, shape: tuple[Any, ...]) -> tuple[int, ...]:
    """The shape of ``zeros(2, 3)`` or ``zeros((2, 3))``: non-negative ints."""
    size = shape[0] if len(shape) == 1 and not isinstance(shape[0], int | np.integer) else shape
    if not isinstance(size, Sequence) or not all(
        isinstance(n, int | np.integer) and not isinstance(n, bool) and n >= 0 for n in size
    ):
        raise ValueError(f"{fn}: the shape must be non-negative ints, got {shape!r}")
    return tuple(int(n) for n in size)


def zeros(*shape: int, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_size("zeros", shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: int, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_size("ones", shape), dtype=dtype), requires_grad=requires_grad)
