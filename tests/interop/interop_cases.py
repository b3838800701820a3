"""Models shared by the interop tests: LeNet-5's three variants, a Sequential that holds every
layer the bridges support (nested, with each optional argument away from its default), and
a strategy drawing single convolutions with awkward arguments."""

from __future__ import annotations

from hypothesis import strategies as st

from mathdnn import nn
from mathdnn.models import LeNet5

LENET5_VARIANTS = [("full", None), ("original", "masked"), ("original", "hint")]

# every_layer's input: (N, 3, 12, 12).
EVERY_LAYER_INPUT = (3, 12, 12)


def lenet5(c3: str, c3_form: str | None, dtype, seed: int = 0) -> LeNet5:
    return LeNet5(c3, c3_form, rng=seed, dtype=dtype)


def every_layer(dtype, seed: int = 0) -> nn.Sequential:
    """Every layer to_torch, from_torch and export_onnx support (besides LeNet-5's C3)."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, dilation=2, rng=seed, dtype=dtype),  # 5×5
        nn.Softplus(2.0, 3.0),  # β·x passes the threshold for some inputs
        nn.MaxPool2d(3, 2, 1, dilation=2),  # 2×2
        nn.Sequential(
            nn.Conv2d(
                8, 8, (3, 1), padding="same", groups=4, bias=False, rng=seed + 1, dtype=dtype
            ),
            nn.Hardtanh(-0.5, 0.5),
        ),
        nn.AvgPool2d(2, padding=1, count_include_pad=False),  # 2×2
        nn.Flatten(1, 2),  # (N, 16, 2): a linear layer on more than two axes
        nn.Linear(2, 4, rng=seed + 2, dtype=dtype),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(64, 16, rng=seed + 3, dtype=dtype),
        nn.ReLU(),
        nn.Linear(16, 6, bias=False, rng=seed + 4, dtype=dtype),
        nn.Tanh(),
        nn.Sigmoid(),
    )


@st.composite
def conv_layers(draw, dtype) -> tuple[nn.Conv2d, tuple[int, int, int]]:
    """A Conv2d with drawn kernel, stride, padding (an int, a pair, "same" or "valid"),
    dilation, groups and bias, and an input shape (C_in, H, W) it fits."""
    groups = draw(st.sampled_from([1, 2, 3]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(
        st.one_of(
            st.integers(0, 2),
            st.tuples(st.integers(0, 2), st.integers(0, 2)),
            st.just("valid"),
            st.just("same") if stride == (1, 1) else st.just(0),
        )
    )
    height = draw(st.integers(dilation[0] * (kernel[0] - 1) + 1, 9))
    width = draw(st.integers(dilation[1] * (kernel[1] - 1) + 1, 9))
    conv = nn.Conv2d(
        c_in,
        c_out,
        kernel,
        stride,
        padding,
        dilation,
        groups,
        bias=draw(st.booleans()),
        rng=draw(st.integers(0, 2**32 - 1)),
        dtype=dtype,
    )
    return conv, (c_in, height, width)
