"""The layers: each holds its arguments (and parameters) and calls one primitive in ``forward``.

Initialisation is PyTorch's default (``mathdnn.nn.init.uniform_fan_in``): ``weight`` and ``bias``
drawn from ``U(−1/√fan_in, 1/√fan_in)``, ``fan_in = (C_in/groups)·kh·kw`` for a convolution and
``in_features`` for a linear layer, from a NumPy ``Generator`` (``rng=`` a Generator or a seed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

import mathdnn.functional as F
from mathdnn.engine import Tensor
from mathdnn.engine.tensor import real_number
from mathdnn.functional._checks import float_dtype, positive_int
from mathdnn.functional.activation import ACTIVATIONS, LEAKY_SLOPE, ActivationFunction
from mathdnn.functional.conv import conv_padding
from mathdnn.nn.init import generator, uniform_fan_in
from mathdnn.nn.module import Module
from mathdnn.windows import pair


def _parameter(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, dtype: Any) -> Tensor:
    return Tensor(uniform_fan_in(rng, shape, fan_in, dtype), requires_grad=True)


class Conv2d(Module):
    """``y = conv2d(x, weight, bias, stride, padding, dilation, groups)``, as ``torch.nn.Conv2d``.

    ``weight``: ``(C_out, C_in/groups, kh, kw)``, ``bias``: ``(C_out,)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        fn = "Conv2d"
        in_channels = positive_int(fn, "in_channels", in_channels)
        out_channels = positive_int(fn, "out_channels", out_channels)
        groups = positive_int(fn, "groups", groups)
        dtype = float_dtype(fn, dtype)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{fn}: in_channels {in_channels} and out_channels {out_channels} must both be "
                f"divisible by groups {groups}"
            )
        kh, kw = pair(fn, "kernel_size", kernel_size, minimum=1)
        # Stored as PyTorch stores them: pairs (padding may also be "valid" or "same").
        self.stride = pair(fn, "stride", stride, minimum=1)
        self.dilation = pair(fn, "dilation", dilation, minimum=1)
        conv_padding(fn, padding, (kh, kw), self.stride, self.dilation)
        self.padding = padding if isinstance(padding, str) else pair(fn, "padding", padding, 0)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (kh, kw)
        self.groups = groups
        rng = generator(fn, rng)
        fan_in = in_channels // groups * kh * kw
        self.weight = _parameter(rng, (out_channels, in_channels // groups, kh, kw), fan_in, dtype)
        self.bias = _parameter(rng, (out_channels,), fan_in, dtype) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        """PyTorch's: the arguments that differ from their defaults, after the sizes."""
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Linear(Module):
    """``y = x Aᵀ + b``, ``weight`` ``A``: ``(out_features, in_features)`` (``torch.nn.Linear``)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        fn = "Linear"
        self.in_features = positive_int(fn, "in_features", in_features)
        self.out_features = positive_int(fn, "out_features", out_features)
        dtype = float_dtype(fn, dtype)
        rng = generator(fn, rng)
        self.weight = _parameter(rng, (out_features, in_features), in_features, dtype)
        self.bias = _parameter(rng, (out_features,), in_features, dtype) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Flatten(Module):
    """Merge the axes ``start_dim..end_dim`` (by default all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)


class MaxPool2d(Module):
    """``ρ(X)[n, c, i, j] = max_{a,b} X'[n, c, s·i + d·a, s·j + d·b]`` (``F.max_pool2d``), as
    ``torch.nn.MaxPool2d``: ``stride`` defaults to ``kernel_size``; with ``return_indices`` it
    returns ``(output, indices)``."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return F.max_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """``Y[n, c, i, j] = (1/|window|) Σ_{a,b} X'[n, c, s·i + a, s·j + b]`` (``F.avg_pool2d``), as
    ``torch.nn.AvgPool2d``: ``stride`` defaults to ``kernel_size``."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            ceil_mode=self.ceil_mode,
            count_include_pad=self.count_include_pad,
            divisor_override=self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """The mean over each of ``Ho×Wo`` windows that cover the input (``F.adaptive_avg_pool2d``),
    as ``torch.nn.AdaptiveAvgPool2d``; ``None`` in ``output_size`` keeps that input size."""

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class Activation(Module):
    """An elementwise ``σ: R → R``; ``monotone`` says whether ``σ`` is non-decreasing.

    A subclass names its ``σ`` in the registry ``mathdnn.functional.activation.ACTIVATIONS``
    (``activation``), whose primitive ``function`` calls and whose flag ``monotone`` copies; a
    layer with arguments calls its primitive with them, and one outside the registry defines
    ``function``. A non-decreasing ``σ`` commutes with max pooling (Problem 4).
    """

    activation: ClassVar[ActivationFunction | None] = None
    monotone: ClassVar[bool] = True

    def function(self, x: Tensor) -> Tensor:
        if self.activation is None:
            raise NotImplementedError(f"{type(self).__name__}.function is not defined")
        return self.activation.op(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.function(x)


class ReLU(Activation):
    """``σ(x) = max(x, 0)``."""

    activation = ACTIVATIONS["relu"]
    monotone = activation.monotone


class LeakyReLU(Activation):
    """``σ(x) = x`` for ``x > 0``, else ``negative_slope·x``; non-decreasing iff the slope ≥ 0."""

    activation = ACTIVATIONS["leaky_relu"]

    def __init__(self, negative_slope: float = LEAKY_SLOPE) -> None:
        super().__init__()
        # As PyTorch, an infinite slope is a slope too (−∞ for x < 0, NaN at 0).
        self.negative_slope = real_number("LeakyReLU", "negative_slope", negative_slope, True)

    @property
    def monotone(self) -> bool:  # type: ignore[override]
        return self.negative_slope >= 0

    def function(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Activation):
    """``σ(x) = 1 / (1 + e^{−x})``."""

    activation = ACTIVATIONS["sigmoid"]
    monotone = activation.monotone


class Tanh(Activation):
    """``σ(x) = tanh x``."""

    activation = ACTIVATIONS["tanh"]
    monotone = activation.monotone


class Softplus(Activation):
    """``σ(x) = (1/β) log(1 + e^{βx})`` (increasing for every ``β ≠ 0``)."""

    activation = ACTIVATIONS["softplus"]
    monotone = activation.monotone

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = real_number("Softplus", "beta", beta)
        self.threshold = real_number("Softplus", "threshold", threshold)
        if self.beta == 0:
            raise ValueError("Softplus: beta must be non-zero, got 0")

    def function(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Clamp(Activation):
    """``σ(x) = min(max(x, min), max)``."""

    def __init__(self, min: float | None = None, max: float | None = None) -> None:
        super().__init__()
        if min is None and max is None:
            raise ValueError("Clamp: at least one of min and max must be given")
        if min is not None and max is not None and min > max:
            raise ValueError(f"Clamp: min must be at most max, got min={min}, max={max}")
        self.min, self.max = min, max

    def function(self, x: Tensor) -> Tensor:
        return F.clamp(x, self.min, self.max)

    def extra_repr(self) -> str:
        return f"min={self.min}, max={self.max}"


class Hardtanh(Clamp):
    """``σ(x) = min(max(x, min_val), max_val)``, as ``torch.nn.Hardtanh`` (default [−1, 1])."""

    activation = ACTIVATIONS["hardtanh"]
    monotone = activation.monotone

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        super().__init__(min_val, max_val)


class Step(Activation):
    """The Heaviside step ``σ(x) = [x > 0]``."""

    activation = ACTIVATIONS["step"]
    monotone = activation.monotone


class Elementwise(Activation):
    """Any elementwise ``fn: Tensor → Tensor``; declare ``monotone=True`` only if ``fn`` is
    non-decreasing (``mathdnn.hw4.p4_maxpool_commutes.check_commutes`` tests the claim on hard
    inputs)."""

    def __init__(
        self, fn: Callable[[Tensor], Tensor], monotone: bool = False, name: str | None = None
    ) -> None:
        super().__init__()
        if not callable(fn):
            raise TypeError(f"Elementwise: fn must be callable, got {type(fn).__name__}")
        self.fn, self._monotone = fn, bool(monotone)
        self.name = name or getattr(fn, "__name__", "fn")

    @property
    def monotone(self) -> bool:  # type: ignore[override]
        return self._monotone

    def function(self, x: Tensor) -> Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return f"{self.name}, monotone={self._monotone}"
