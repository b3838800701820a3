"""Problem 3: RGB to greyscale is a 1×1 convolution.

Is the luma ``Y[i, j] = 0.299·X[0, i, j] + 0.587·X[1, i, j] + 0.114·X[2, i, j]`` (ITU-R BT.601) a
convolution?

Answer: Yes, with the ``1×1`` filter ``w[0, :, 0, 0] = (0.299, 0.587, 0.114)``
(``grayscale_filter``): a ``1×1`` convolution is the same linear map of the channels at every
pixel. Pillow's ``convert("L")`` uses the same weights rounded to integers, so 8-bit results agree
within one grey level.

``grayscale`` computes it; ``mathdnn gray`` draws it on a photograph.
"""

from __future__ import annotations

import argparse
import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure as PlotFigure

import mathdnn.functional as F
from mathdnn.check import EXACT, Check, max_abs_difference
from mathdnn.command import Command
from mathdnn.command.images import (
    add_image_arguments,
    figure_bytes,
    load,
    output_png,
    read_header,
    write_figure,
)
from mathdnn.engine import Tensor, no_grad
from mathdnn.exercise import (
    Case,
    Counterexample,
    Exercise,
    Mismatch,
    Search,
    Student,
    Task,
    example_array,
    float_array,
    fmt,
    index_text,
    mismatch,
    show,
    shrink_arrays,
)
from mathdnn.functional._checks import float_tensor
from mathdnn.hw4 import figures
from mathdnn.hw4.inputs import Inputs, Progress
from mathdnn.hw4.page import Block, Figure, Formula, Heading, Text, matrix, plain
from mathdnn.hw4.photo import sample_photo
from mathdnn.images import ImageHeader, from_batch, to_batch

# ITU-R BT.601 luma weights of (R, G, B), the ones Pillow's convert("L") uses.
GRAYSCALE_WEIGHTS = (0.299, 0.587, 0.114)


def grayscale_filter(dtype: Any = np.float64) -> np.ndarray:
    """The ``(1, 3, 1, 1)`` filter ``w[0, :, 0, 0] = (0.299, 0.587, 0.114)`` of Problem 3.

    ``conv2d(X, w)`` is ``Y[i, j] = 0.299·X[0, i, j] + 0.587·X[1, i, j] + 0.114·X[2, i, j]``: a
    ``1×1`` convolution is the same linear map of the channels at every pixel.
    """
    return np.array(GRAYSCALE_WEIGHTS, dtype=dtype).reshape(1, 3, 1, 1)


def grayscale(x: Tensor | np.ndarray) -> Tensor:
    """``conv2d(X, grayscale_filter())``: ``(N, 3, H, W) → (N, 1, H, W)`` (or unbatched)."""
    x = float_tensor("grayscale", "x", x)
    if x.ndim not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"grayscale: x must have shape (N, 3, H, W) or (3, H, W), got {x.shape}")
    return F.conv2d(x, grayscale_filter(x.dtype))


def luma_formula(x: np.ndarray) -> np.ndarray:
    """``0.299 R + 0.587 G + 0.114 B`` on arrays ``(N, 3, H, W) → (N, 1, H, W)``: Problem 3's
    definition, the formula the convolution is checked against."""
    return np.einsum("nchw,c->nhw", x, GRAYSCALE_WEIGHTS)[:, None]


def grey_image(image: np.ndarray) -> np.ndarray:
    """An image ``(H, W)`` or ``(H, W, 3)`` in [0, 1] as grey ``(H, W)``: its luma, by the
    convolution (a grey image is its own luma, since the weights sum to 1)."""
    if image.ndim == 2:
        return image
    with no_grad():
        return from_batch(grayscale(to_batch(image)).data)


# --------------------------------------------------------------------------------- the figure
def grayscale_figure(image: np.ndarray, name: str) -> PlotFigure:
    """Problem 3 on ``image``: the image beside ``0.299 R + 0.587 G + 0.114 B``."""
    grey = grey_image(image)
    h, w = grey.shape
    figure, axes = figures.image_grid(1, 2, h / w)
    figures.show(axes[0], image, f"{name} ({w}×{h})")
    figures.show(axes[1], grey, "0.299 R + 0.587 G + 0.114 B (1×1 convolution)")
    figure.suptitle("Problem 3: RGB to greyscale as a 1×1 convolution")
    return figure


# ------------------------------------------------------------------------------ the experiment
@dataclass(frozen=True)
class Luma:
    """Problem 3 in the report: the filter, and the photograph its luma is drawn on."""

    image: np.ndarray
    name: str

    def numbers(self) -> dict[str, Any]:
        return {"weights": grayscale_filter()[0, :, 0, 0].tolist()}

    def figures(self) -> dict[str, bytes]:
        return {"p3_grayscale.png": figures.figure_png(grayscale_figure(self.image, self.name))}

    def page(self) -> list[Block]:
        return [
            Heading("Construction"),
            Formula((rf"w[0, :, 0, 0] = {matrix(grayscale_filter()[0, :, :, 0].T)}",)),
            Text(
                r"``conv2d(X, w)``, $w \in \mathbb{R}^{1 \times 3 \times 1 \times 1}$; code: "
                "``mathdnn.hw4.p3_grayscale.grayscale(X)``."
            ),
            Figure(
                "p3_grayscale.png",
                f"{plain(self.name)} and its luma, computed by the 1×1 convolution.",
                "The photograph beside its greyscale",
                narrow=True,
            ),
        ]


def run(inputs: Inputs, progress: Progress) -> Luma:
    """Problem 3 in the report: its filter, and the luma of the photograph."""
    return Luma(inputs.image, inputs.image_name)


# --------------------------------------------------------------------------------- the command
def image_bytes(header: ImageHeader) -> int:
    """The memory ``grayscale_figure`` of the image ``header`` describes needs beyond the
    program's start-up (``mathdnn gray``, ``mathdnn hw4 --image``): 80 bytes per pixel of a grey
    image, 112 of a colour one (``figure_bytes``)."""
    return figure_bytes(header, (80, 112))


def _run_gray(args: argparse.Namespace) -> int:
    out = output_png(args.output)
    path, header = read_header(args)
    figure = grayscale_figure(load(args, path, header, image_bytes(header)), path.name)
    write_figure(out, figure)
    return 0


COMMANDS = (
    Command(
        "gray",
        help="Problem 3: RGB to greyscale by one 1×1 convolution",
        description="Convolve the image with the (1, 3, 1, 1) filter (0.299, 0.587, 0.114) of "
        "Problem 3 and write the input beside its greyscale.",
        arguments=functools.partial(add_image_arguments, default_output="gray.png"),
        run=_run_gray,
    ),
)


# ---------------------------------------------------------------------------------- the checks
def checks(
    rng: np.random.Generator, *, grayscale_filter: Callable[[], Any] = grayscale_filter
) -> list[Check]:
    """Problem 3's rows of ``mathdnn verify``: ``conv2d(X, w)`` with ``w = grayscale_filter()``
    against the luma formula on the photograph and on random images, and, ×255 on the 8-bit
    photograph, against Pillow's ``convert("L")``. ``grayscale_filter`` is the construction
    under test (default: this module's); it must return a ``(1, 3, 1, 1)`` array."""
    w = np.asarray(grayscale_filter(), dtype=np.float64)
    photo, rgb = sample_photo()
    x = rng.random((2, 3, 5, 6))
    with no_grad():
        conv_grey = F.conv2d(rgb, w).data
        random = F.conv2d(x, w).data
    pillow_grey = np.asarray(photo.convert("L"), dtype=np.float64)
    luma = "formula 0.299 R + 0.587 G + 0.114 B"
    return [
        Check(
            "3", "1×1 conv, photo", luma, max_abs_difference(conv_grey, luma_formula(rgb)), EXACT
        ),
        Check("3", "1×1 conv, random", luma, max_abs_difference(random, luma_formula(x)), EXACT),
        Check(
            "3",
            "1×1 conv × 255, 8-bit photo (grey levels)",
            'Pillow convert("L")',
            max_abs_difference(255 * conv_grey[0, 0], pillow_grey),
            1.0,
        ),
    ]


# ------------------------------------------------------------------------------- the grading
# mathdnn grade: a student's grayscale_filter(), used as conv2d(X, w), against luma_formula.
_IDENTITY = "Y[i, j] = 0.299·X[0, i, j] + 0.587·X[1, i, j] + 0.114·X[2, i, j] (ITU-R BT.601 luma)"


def _explain(X: np.ndarray, i: int, j: int) -> str:
    names = " + ".join(f"{w}·X[{c}, {i}, {j}]" for c, w in enumerate(GRAYSCALE_WEIGHTS))
    terms = " + ".join(f"{w}·{fmt(X[c, i, j])}" for c, w in enumerate(GRAYSCALE_WEIGHTS))
    return f"{names} = {terms}"


def grade_grayscale_filter(student: Student, search: Search) -> Counterexample | None:
    """The smallest image ``X`` on which the student's filter, used as ``conv2d(X, w)``, is not
    the luma of ``X``."""
    w = float_array(student(), (1, 3, 1, 1), "the filter w")

    def cases() -> Iterator[Case]:
        for k in itertools.count():
            yield {"X": example_array(search.rng, (3, *search.rng.integers(1, 5, 2)), k)}

    def holds(case: Case) -> Mismatch | None:
        X = case["X"]
        with no_grad():
            Y = F.conv2d(Tensor(X[None]), w.astype(np.float64)).data[0, 0]
        expected = luma_formula(X[None])[0, 0]
        index = mismatch(Y, expected, w.dtype)
        if index is None:
            return None
        return Mismatch(
            f"your Y{index_text(index)} = {fmt(Y[index])}",
            f"{fmt(expected[index])} = {_explain(X, *index)}",
            _IDENTITY,
        )

    return search.find(
        cases(),
        holds,
        lambda case: ("grayscale_filter(), used as Y = conv2d(X, w)", (show("X", case["X"]),)),
        lambda case: shrink_arrays(case, {"X": (3, 1, 1)}),
    )


EXERCISE = Exercise(
    "3",
    "RGB to grey as a 1×1 convolution",
    (
        Task(
            "grayscale_filter",
            "() -> np.ndarray",
            """\
Problem 3: RGB to greyscale as a 1×1 convolution.

The luma of an RGB image X (channels R, G, B = X[0], X[1], X[2]) is

    Y[i, j] = 0.299·X[0, i, j] + 0.587·X[1, i, j] + 0.114·X[2, i, j]

Return the filter w, a float array of shape (1, 3, 1, 1), such that conv2d(X, w) = Y.
""",
            grade_grayscale_filter,
            examples=200,
        ),
    ),
)
