"""``export_onnx``: an mathdnn model as an ONNX graph, for inference outside Python's NumPy.

Each layer becomes the ONNX operator(s) of the same formula::

    mathdnn                       ONNX
    nn.Conv2d                   Conv (padding "same"/"valid" written out as pads)
    nn.Linear                   Gemm (transB=1) on (N, features); MatMul + Add on more axes
    nn.MaxPool2d, AvgPool2d     MaxPool, AveragePool
    nn.Flatten                  Flatten (start_dim 1 to the last axis), else Reshape
    nn.ReLU, Tanh, Sigmoid      Relu, Tanh, Sigmoid
    nn.LeakyReLU                LeakyRelu
    nn.Clamp, Hardtanh          Clip
    nn.Softplus                 Where(β·x > threshold, x, Softplus(β·x)/β), as torch's
    hw4 C3 (either form)        Conv, its weight zero off the connection table
    nn.Sequential, LeNet5       their layers in order

The original C3 of LeNet-5 (``SubsetConv2d`` or ``MaskedConv2d``) is written as ONE Conv whose
``(16, 6, 5, 5)`` weight holds the 60 connected kernels and zeros where the table has no
connection (``MaskedConv2d.full_weight``): the same map, as one operator instead of the hint's
16 gathers, convolutions and a concatenation. The exported graph is for inference: it does not
know that those zeros are not parameters.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import mathdnn
from mathdnn.engine import Tensor
from mathdnn.functional._checks import positive_int
from mathdnn.functional.conv import conv_padding
from mathdnn.interop._optional import require
from mathdnn.io import atomic_write
from mathdnn.models import LeNet5
from mathdnn.nn import (
    AvgPool2d,
    Clamp,
    Conv2d,
    Flatten,
    Hardtanh,
    LeakyReLU,
    Linear,
    MaskedConv2d,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    Softplus,
    SubsetConv2d,
    Tanh,
)
from mathdnn.windows import pair

INSTALL_ONNX = "pip install '.[onnx]' in the mathdnn checkout"
MIN_OPSET = 17
LENET5_INPUT = (1, 28, 28)
# A layer's input and output shapes, the batch axis first.
Shapes = tuple[tuple[int, ...], tuple[int, ...]]


def lenet5_layers(model: LeNet5) -> list[tuple[str, Module]]:
    """``LeNet5.forward`` as a list of named layers that share ``model``'s parameters."""
    return [
        ("c1", model.c1),
        ("c1.tanh", Tanh()),
        ("s2", AvgPool2d(2)),
        ("s2.tanh", Tanh()),
        ("c3", model.c3),
        ("c3.tanh", Tanh()),
        ("s4", AvgPool2d(2)),
        ("s4.tanh", Tanh()),
        ("c5.flatten", Flatten()),
        ("c5", model.c5),
        ("c5.tanh", Tanh()),
        ("f6", model.f6),
        ("f6.tanh", Tanh()),
        ("f7", model.f7),
    ]


def _layers(model: Module, where: str) -> list[tuple[str, Module]]:
    """``model`` as a flat list of ``(name, layer)``, names as in ``named_parameters``."""
    prefix = f"{where}." if where else ""
    if type(model) is LeNet5:
        return [(prefix + name, layer) for name, layer in lenet5_layers(model)]
    if type(model) is Sequential:
        return [pair for i, m in enumerate(model) for pair in _layers(m, f"{prefix}{i}")]
    return [(where or type(model).__name__, model)]


class _Graph:
    """The nodes and initializers of the graph being written (its values float32)."""

    def __init__(self, onnx: Any) -> None:
        self.onnx, self.nodes, self.initializers = onnx, [], []

    def constant(self, name: str, value: Any, dtype: Any = np.float32) -> str:
        """An initializer holding ``value``; ``dtype`` is for the int64 of a shape."""
        array = np.asarray(value, dtype=dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], layer: str, **attributes: Any) -> str:
        """Append ``op(inputs)``; its output is named ``layer/op`` (one op per kind per layer)."""
        name = f"{layer}/{op}"
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [name], name, **attributes))
        return name


def _conv(
    g: _Graph,
    name: str,
    x: str,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: tuple[int, int],
    pads: tuple[int, int, int, int],
    dilation: tuple[int, int],
    groups: int,
) -> str:
    inputs = [x, g.constant(f"{name}.weight", weight)]
    if bias is not None:
        inputs.append(g.constant(f"{name}.bias", bias))
    top, bottom, left, right = pads
    return g.node(
        "Conv",
        inputs,
        name,
        kernel_shape=list(weight.shape[2:]),
        strides=list(stride),
        pads=[top, left, bottom, right],  # ONNX: all the begins, then all the ends
        dilations=list(dilation),
        group=groups,
    )


def _conv2d(g: _Graph, name: str, x: str, conv: Conv2d, shapes: Shapes) -> str:
    fn = "export_onnx"
    stride, dilation = pair(fn, "stride", conv.stride, 1), pair(fn, "dilation", conv.dilation, 1)
    pads = conv_padding(fn, conv.padding, conv.kernel_size, stride, dilation)
    bias = None if conv.bias is None else conv.bias.data
    return _conv(g, name, x, conv.weight.data, bias, stride, pads, dilation, conv.groups)


def _c3(g: _Graph, name: str, x: str, c3: SubsetConv2d | MaskedConv2d, shapes: Shapes) -> str:
    masked = c3 if isinstance(c3, MaskedConv2d) else MaskedConv2d.from_subsets(c3)
    weight = masked.full_weight().data
    return _conv(g, name, x, weight, masked.bias.data, (1, 1), (0, 0, 0, 0), (1, 1), 1)


def _linear(g: _Graph, name: str, x: str, linear: Linear, shapes: Shapes) -> str:
    weight, bias = linear.weight.data, linear.bias
    if len(shapes[0]) == 2:
        inputs = [x, g.constant(f"{name}.weight", weight)]
        if bias is not None:
            inputs.append(g.constant(f"{name}.bias", bias.data))
        return g.node("Gemm", inputs, name, transB=1)
    # Gemm takes only matrices: x Wᵀ + b over the last axis of a larger x.
    y = g.node("MatMul", [x, g.constant(f"{name}.weight_t", weight.T)], name)
    return y if bias is None else g.node("Add", [y, g.constant(f"{name}.bias", bias.data)], name)


def _pool_attributes(name: str, pool: MaxPool2d | AvgPool2d, shapes: Shapes) -> dict[str, Any]:
    fn = "export_onnx"
    kernel = pair(fn, "kernel_size", pool.kernel_size, 1)
    stride = kernel if pool.stride is None else pair(fn, "stride", pool.stride, 1)
    ph, pw = pair(fn, "padding", pool.padding, 0)
    dilation = pair(fn, "dilation", getattr(pool, "dilation", 1), 1)
    if pool.ceil_mode:
        # ONNX rounds up without PyTorch's rule that a last window starting in the right padding
        # is dropped: the two agree only where that rule drops nothing.
        for size, p, k, s, d, out in zip(
            shapes[0][-2:], (ph, pw), kernel, stride, dilation, shapes[1][-2:], strict=True
        ):
            if (size + 2 * p - d * (k - 1) - 1 + s - 1) // s + 1 != out:
                raise ValueError(
                    f"export_onnx: {name} has ceil_mode=True and its last window starts in the "
                    f"padding, which PyTorch drops and ONNX's AveragePool/MaxPool keep"
                )
    return {
        "kernel_shape": list(kernel),
        "strides": list(stride),
        "pads": [ph, pw, ph, pw],
        "ceil_mode": int(pool.ceil_mode),
    }


def _max_pool2d(g: _Graph, name: str, x: str, pool: MaxPool2d, shapes: Shapes) -> str:
    dilations = list(pair("export_onnx", "dilation", pool.dilation, 1))
    return g.node("MaxPool", [x], name, **_pool_attributes(name, pool, shapes), dilations=dilations)


def _avg_pool2d(g: _Graph, name: str, x: str, pool: AvgPool2d, shapes: Shapes) -> str:
    if pool.divisor_override is not None:
        raise ValueError(
            f"export_onnx: {name} has divisor_override={pool.divisor_override}, which ONNX's "
            f"AveragePool cannot express"
        )
    include = int(pool.count_include_pad)
    return g.node(
        "AveragePool", [x], name, **_pool_attributes(name, pool, shapes), count_include_pad=include
    )


def _flatten(g: _Graph, name: str, x: str, flatten: Flatten, shapes: Shapes) -> str:
    rank, out_shape = len(shapes[0]), shapes[1]
    start, end = flatten.start_dim % rank, flatten.end_dim % rank
    if start == 0:
        raise ValueError(
            f"export_onnx: {name} flattens the batch axis (start_dim={flatten.start_dim}); the "
            f"exported graph keeps axis 0 as the batch"
        )
    if start == 1 and end == rank - 1:
        return g.node("Flatten", [x], name, axis=1)
    # Reshape's 0 keeps the batch size, whatever it is at run time.
    shape = g.constant(f"{name}.shape", [0, *out_shape[1:]], dtype=np.int64)
    return g.node("Reshape", [x, shape], name)


def _clamp(g: _Graph, name: str, x: str, clamp: Clamp, shapes: Shapes) -> str:
    low = "" if clamp.min is None else g.constant(f"{name}.min", clamp.min)
    high = "" if clamp.max is None else g.constant(f"{name}.max", clamp.max)
    return g.node("Clip", [x, low, high], name)


def _softplus(g: _Graph, name: str, x: str, softplus: Softplus, shapes: Shapes) -> str:
    beta = g.constant(f"{name}.beta", softplus.beta)
    bx = g.node("Mul", [x, beta], name)
    smooth = g.node("Div", [g.node("Softplus", [bx], name), beta], name)
    linear = g.node("Greater", [bx, g.constant(f"{name}.threshold", softplus.threshold)], name)
    return g.node("Where", [linear, x, smooth], name)


def _elementwise(op: str, **attributes: Callable[[Any], Any]) -> Callable[..., str]:
    def emit(g: _Graph, name: str, x: str, layer: Module, shapes: Shapes) -> str:
        return g.node(op, [x], name, **{k: get(layer) for k, get in attributes.items()})

    return emit


# The ONNX nodes of each supported layer: emit(graph, name, x, layer, (in_shape, out_shape)).
EMITTERS: dict[type[Module], Callable[..., str]] = {
    Conv2d: _conv2d,
    SubsetConv2d: _c3,
    MaskedConv2d: _c3,
    Linear: _linear,
    MaxPool2d: _max_pool2d,
    AvgPool2d: _avg_pool2d,
    Flatten: _flatten,
    ReLU: _elementwise("Relu"),
    Tanh: _elementwise("Tanh"),
    Sigmoid: _elementwise("Sigmoid"),
    LeakyReLU: _elementwise("LeakyRelu", alpha=lambda m: m.negative_slope),
    Clamp: _clamp,
    Hardtanh: _clamp,
    Softplus: _softplus,
}


def _traced_shapes(
    layers: list[tuple[str, Module]], input_shape: tuple[int, ...], dtype: np.dtype
) -> list[Shapes]:
    """The input and output shape of each layer, found by running it on one zero example."""
    x = Tensor(np.zeros((1, *input_shape), dtype=dtype))
    shapes = []
    with mathdnn.no_grad():
        for name, layer in layers:
            try:
                y = layer(x)
            except (ValueError, TypeError) as err:
                raise ValueError(
                    f"export_onnx: input_shape {input_shape} does not fit the layer {name!r}: {err}"
                ) from None
            if not isinstance(y, Tensor):
                raise ValueError(
                    f"export_onnx: the layer {name!r} returns a {type(y).__name__}, not one tensor "
                    f"(a MaxPool2d with return_indices=True cannot be a layer of a model)"
                )
            shapes.append((x.shape, y.shape))
            x = y
    return shapes


def _checked_path(fn: str, path: Any) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{fn}: path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{fn}: path {str(path)!r} is a directory")
    existing = next(p for p in path.parents if p.exists())
    if not existing.is_dir():
        raise ValueError(
            f"{fn}: cannot write {str(path)!r}: {str(existing)!r} is a file, not a directory"
        )
    return path


def export_onnx(
    model: Module,
    path: str | os.PathLike[str],
    *,
    opset: int = MIN_OPSET,
    batch: str | int = "dynamic",
    input_shape: tuple[int, ...] = LENET5_INPUT,
) -> Path:
    """Write ``model`` to ``path`` as an ONNX model; returns the path.

    The graph's input is ``"images"``, ``(N, *input_shape)`` (for ``LeNet5``: ``(N, 1, 28,
    28)``), its output ``"logits"``; ``N`` is symbolic with ``batch="dynamic"``, else the given
    size. Layers and their operators: see the module (the original C3 is one Conv with zeros
    off the connection table). Values are float32 whatever the model's dtype (ONNX Runtime's CPU
    Conv has no float64 kernel), ``opset`` is at least 17 (and at most what the installed onnx
    knows), the IR version the oldest that opset allows. The model is checked with
    ``onnx.checker`` (with shape inference) and written whole or not at all.
    """
    fn = "export_onnx"
    onnx = require(fn, "onnx", INSTALL_ONNX)
    if not isinstance(model, Module):
        raise TypeError(f"{fn}: model must be an mathdnn Module, got {type(model).__name__}")
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int):
        raise TypeError(f"{fn}: opset must be an int, got {opset!r}")
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"{fn}: opset must be between {MIN_OPSET} and {newest} (the newest this onnx "
            f"knows), got {opset}"
        )
    if batch != "dynamic" and (
        isinstance(batch, bool) or not isinstance(batch, int | np.integer) or batch < 1
    ):
        raise ValueError(f"{fn}: batch must be 'dynamic' or a positive int, got {batch!r}")
    if isinstance(input_shape, int) or not isinstance(input_shape, tuple | list):
        raise TypeError(f"{fn}: input_shape must be a tuple of ints, got {input_shape!r}")
    input_shape = tuple(positive_int(fn, "input_shape", d) for d in input_shape)
    if type(model) is LeNet5 and input_shape != LENET5_INPUT:
        raise ValueError(f"{fn}: LeNet5 takes input_shape {LENET5_INPUT}, got {input_shape}")
    path = _checked_path(fn, path)

    layers = _layers(model, "")
    for name, layer in layers:
        if type(layer) not in EMITTERS:
            supported = ", ".join(["Sequential", "LeNet5", *(t.__name__ for t in EMITTERS)])
            raise ValueError(
                f"{fn}: the layer {name!r} is a {type(layer).__name__}, which has no ONNX "
                f"export (supported: {supported})"
            )
    dtypes = [p.dtype for p in model.parameters()]
    shapes = _traced_shapes(layers, input_shape, np.result_type(np.float32, *dtypes))

    g = _Graph(onnx)
    x = "images"
    for (name, layer), layer_shapes in zip(layers, shapes, strict=True):
        x = EMITTERS[type(layer)](g, name, x, layer, layer_shapes)
    if not g.nodes:  # an empty Sequential
        g.node("Identity", [x], "model")
    g.nodes[-1].output[0] = "logits"
    n = "N" if batch == "dynamic" else int(batch)
    out_shape = shapes[-1][1] if shapes else (1, *input_shape)
    float32 = onnx.TensorProto.FLOAT
    graph = onnx.helper.make_graph(
        g.nodes,
        type(model).__name__,
        [onnx.helper.make_tensor_value_info("images", float32, [n, *input_shape])],
        [onnx.helper.make_tensor_value_info("logits", float32, [n, *out_shape[1:]])],
        g.initializers,
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(
        graph,
        opset_imports=opsets,
        ir_version=onnx.helper.find_min_ir_version_for(opsets),
        producer_name="mathdnn",
        producer_version=mathdnn.__version__,
        doc_string=repr(model),
    )
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    return atomic_write(path, lambda f: f.write(data))
