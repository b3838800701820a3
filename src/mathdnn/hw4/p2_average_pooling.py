"""Problem 2: average pooling is a convolution.

Is the ``k×k`` average pool of ``X ∈ R^{C×m×n}``, ``Y[c, i, j] = (1/k²) Σ_{a<k, b<k}
X[c, k·i + a, k·j + b]``, a convolution?

Answer: Yes, with stride ``k``, no padding and the filter ``1/k²`` applied to each channel on its
own (``avg_pool_filter``): depthwise, ``w ∈ R^{C×1×k×k}`` with ``groups = C``, or dense,
``w ∈ R^{C×C×k×k}`` with ``w[c, c'] = δ(c, c')/k²``.

``average_pool`` computes it; ``mathdnn pool`` draws it on a photograph. It agrees with
``avg_pool2d`` and with Pillow's ``Image.reduce(k)``.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure as PlotFigure

import mathdnn.functional as F
from mathdnn.check import EXACT, Check, max_abs_difference
from mathdnn.command import Command, CommandError
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
    Raised,
    Search,
    Student,
    Task,
    WrongAnswer,
    example_array,
    float_array,
    fmt,
    index_text,
    mismatch,
    replaced,
    show,
    simpler_values,
    smaller_ints,
    smaller_shapes,
)
from mathdnn.functional import reference
from mathdnn.functional._checks import float_tensor, positive_int
from mathdnn.hw4 import figures
from mathdnn.hw4.inputs import Inputs, Progress
from mathdnn.hw4.page import Block, Figure, Formula, Heading, Text, matrix, plain
from mathdnn.hw4.photo import sample_photo
from mathdnn.images import ImageHeader, from_batch, to_batch


def avg_pool_filter(
    k: int, channels: int, dense: bool = False, dtype: Any = np.float64
) -> np.ndarray:
    """The filter that turns ``conv2d`` into the ``k×k`` average pool of Problem 2.

    Depthwise (default): ``w ∈ R^{C×1×k×k}``, ``w = 1/k²`` everywhere, used with
    ``conv2d(X, w, stride=k, groups=C)``. Dense (``dense=True``): ``w ∈ R^{C×C×k×k}`` with
    ``w[c, c', :, :] = δ(c, c')/k²``, used with ``conv2d(X, w, stride=k)``. Both give
    ``Y[c, i, j] = (1/k²) Σ_{a<k, b<k} X[c, k·i + a, k·j + b]``.
    """
    k = positive_int("avg_pool_filter", "k", k)
    channels = positive_int("avg_pool_filter", "channels", channels)
    if not dense:
        return np.full((channels, 1, k, k), 1.0 / k**2, dtype=dtype)
    w = np.zeros((channels, channels, k, k), dtype=dtype)
    w[np.arange(channels), np.arange(channels)] = 1.0 / k**2
    return w


def average_pool(x: Tensor | np.ndarray, k: int, dense: bool = False) -> Tensor:
    """The ``k×k`` average pool as one convolution with ``avg_pool_filter(k, C, dense)``.

    ``x``: ``(N, C, H, W)`` or ``(C, H, W)``; the output has ``⌊H/k⌋ × ⌊W/k⌋`` pixels (the last
    ``H mod k`` rows and ``W mod k`` columns fall outside every window, as in ``avg_pool2d``).
    """
    x = float_tensor("average_pool", "x", x)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"average_pool: x must have shape (N, C, H, W) or (C, H, W), got {x.shape}"
        )
    k = positive_int("average_pool", "k", k)
    if k > min(x.shape[-2:]):
        raise ValueError(
            f"average_pool: k={k} is larger than the image ({x.shape[-2]}×{x.shape[-1]} pixels)"
        )
    c = x.shape[-3]
    w = avg_pool_filter(k, c, dense, x.dtype)
    return F.conv2d(x, w, stride=k, groups=1 if dense else c)


# --------------------------------------------------------------------------------- the figure
def average_pool_figure(image: np.ndarray, name: str, k: int) -> PlotFigure:
    """Problem 2 on ``image``: the image beside its ``k×k`` average pool, stride ``k``."""
    h, w = image.shape[:2]
    with no_grad():
        pooled = np.clip(from_batch(average_pool(to_batch(image), k).data), 0.0, 1.0)
    ph, pw = pooled.shape[:2]
    figure, axes = figures.image_grid(1, 2, h / w)
    figures.show(axes[0], image, f"{name} ({w}×{h})")
    # Shown at the input's size, nearest-neighbour, so each k×k block is one visible square.
    figures.show(
        axes[1], pooled, f"{k}×{k} average pool, stride {k} ({pw}×{ph})", interpolation="nearest"
    )
    figure.suptitle(
        f"Problem 2: average pooling as a convolution with the {k}×{k} filter 1/{k * k}"
    )
    return figure


# ------------------------------------------------------------------------------ the experiment
#: The largest pool window of the report's figure: blocks of 8×8 pixels stay visible on the page.
MAX_K = 8


def pool_size(image: np.ndarray) -> int:
    """The window of the report's figure: ``MAX_K``, or less for a small image (at least 1)."""
    return max(1, min(MAX_K, min(image.shape[:2]) // 16))


@dataclass(frozen=True)
class Pooled:
    """Problem 2 in the report: the photograph and the window ``k`` of its average pool."""

    image: np.ndarray
    name: str
    k: int

    def numbers(self) -> dict[str, Any]:
        h, w = self.image.shape[:2]
        k = self.k
        return {
            "k": k,
            "filter_entry": 1 / k**2,
            "channels": 1 if self.image.ndim == 2 else 3,
            "input_size": [w, h],
            "output_size": [w // k, h // k],
        }

    def figures(self) -> dict[str, bytes]:
        figure = average_pool_figure(self.image, self.name, self.k)
        return {"p2_average_pool.png": figures.figure_png(figure)}

    def page(self) -> list[Block]:
        k = self.k
        h, w = self.image.shape[:2]
        entry = rf"\tfrac{{1}}{{{k * k}}}"
        return [
            Heading("Construction"),
            Text(
                f"For the figure, $k = {k}$: every channel $c$ has the same "
                f"${k} \\times {k}$ kernel,"
            ),
            Formula((rf"w[c, 0] = {matrix([[entry] * k] * k)} \qquad (k = {k})",)),
            Text(
                f"``conv2d(X, w, stride={k}, groups=C)``; code: "
                "``mathdnn.hw4.p2_average_pooling.average_pool(X, k)``."
            ),
            Figure(
                "p2_average_pool.png",
                f"{plain(self.name)} ({w}×{h}) and its {k}×{k} average pool ({w // k}×{h // k}), "
                "drawn at the input's size so each block is one visible square.",
                "The photograph beside its average pool",
                narrow=True,
            ),
        ]


def run(inputs: Inputs, progress: Progress) -> Pooled:
    """Problem 2 in the report: the average pool of the photograph, its window fit to its size."""
    return Pooled(inputs.image, inputs.image_name, pool_size(inputs.image))


# --------------------------------------------------------------------------------- the command
def image_bytes(header: ImageHeader, k: int = 1) -> int:
    """The memory ``average_pool_figure`` of the image ``header`` describes with window ``k``
    needs beyond the program's start-up (``mathdnn pool``, and with ``k = 1``, its largest,
    ``mathdnn hw4 --image``): 64 bytes per pixel of a grey image, 96 of a colour one, and for the
    pooled image 24 and 48 bytes divided by ``k²`` (``figure_bytes``)."""
    return figure_bytes(header, (64 + 24 / k**2, 96 + 48 / k**2))


def _pool_size(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise CommandError(f"-k must be a positive integer, got {value!r}") from None
    if k < 1:
        raise CommandError(f"-k must be a positive integer, got {value!r}")
    return k


def _pool_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-k",
        default="4",
        metavar="K",
        help="pooling window and stride, a positive integer (default 4)",
    )
    add_image_arguments(parser, "pool.png")


def _run_pool(args: argparse.Namespace) -> int:
    out = output_png(args.output)
    k = _pool_size(args.k)
    path, header = read_header(args)
    if k > min(header.width, header.height):
        raise CommandError(
            f"-k {k} is larger than the image {path.name} ({header.width}×{header.height} pixels)"
        )
    figure = average_pool_figure(load(args, path, header, image_bytes(header, k)), path.name, k)
    write_figure(out, figure)
    return 0


COMMANDS = (
    Command(
        "pool",
        help="Problem 2: k×k average pooling by one strided convolution",
        description="Convolve each channel with the k×k filter 1/k², stride k (Problem 2) and "
        "write the input beside the pooled image.",
        arguments=_pool_arguments,
        run=_run_pool,
    ),
)


# ---------------------------------------------------------------------------------- the checks
def checks(
    rng: np.random.Generator,
    *,
    avg_pool_filter: Callable[[int, int], Any] = avg_pool_filter,
) -> list[Check]:
    """Problem 2's rows of ``mathdnn verify``: ``conv2d(X, w, stride=k, groups=C)`` with
    ``w = avg_pool_filter(k, C)`` against ``avg_pool2d`` on the photograph, against the loop
    oracle on a random image, and, ×255 on the 8-bit photograph, against Pillow's
    ``Image.reduce(k)``; and this module's dense form against its depthwise form.
    ``avg_pool_filter`` is the construction under test (default: this module's); it must return
    a ``(C, 1, k, k)`` array."""
    photo, rgb = sample_photo()
    k = 4
    x = rng.standard_normal((2, 3, 9, 7))
    w_photo = np.asarray(avg_pool_filter(k, 3), dtype=np.float64)
    w_random = np.asarray(avg_pool_filter(3, 3), dtype=np.float64)
    with no_grad():
        depthwise = F.conv2d(rgb, w_photo, stride=k, groups=3).data
        dense = average_pool(rgb, k, dense=True).data
        pooled = F.avg_pool2d(Tensor(rgb), k).data
        random = F.conv2d(x, w_random, stride=3, groups=3).data
    reduced = np.asarray(photo.reduce(k), dtype=np.float64).transpose(2, 0, 1)[None]
    loop = reference.avg_pool2d(x, (3, 3), (3, 3), (0, 0))
    name = f"depthwise conv (stride {k}, groups 3)"
    return [
        Check("2", f"{name}, photo", "avg_pool2d", max_abs_difference(depthwise, pooled), EXACT),
        Check(
            "2",
            "dense (C, C, k, k) conv, photo",
            "depthwise conv",
            max_abs_difference(dense, depthwise),
            EXACT,
        ),
        Check("2", "conv, random, k = 3", "loop oracle", max_abs_difference(random, loop), EXACT),
        Check(
            "2",
            f"conv × 255, 8-bit photo (grey levels), k = {k}",
            f"Pillow reduce({k})",
            max_abs_difference(255 * depthwise, reduced),
            0.5 + 1e-6,
            detail="Pillow rounds each block mean to the nearest grey level",
        ),
    ]


# ------------------------------------------------------------------------------- the grading
# mathdnn grade: a student's avg_pool_filter(k, channels), used as
# conv2d(X, w, stride=k, groups=channels), against avg_pool2d(X, k).
_IDENTITY = "Y[c, i, j] = (1/k²) Σ_{a<k, b<k} X[c, k·i + a, k·j + b] (avg_pool2d(X, k))"


def _explain(X: np.ndarray, k: int, index: tuple[int, ...]) -> str:
    c, i, j = index
    block = X[c, k * i : k * i + k, k * j : k * j + k]
    rows, cols = f"{k * i}:{k * i + k}", f"{k * j}:{k * j + k}"
    return f"(1/{k * k})·(sum of X[{c}, {rows}, {cols}] = {fmt(block.sum())})"


def grade_avg_pool_filter(student: Student, search: Search) -> Counterexample | None:
    """The smallest ``(k, channels, X)`` on which the student's filter, used as
    ``conv2d(X, w, stride=k, groups=channels)``, is not ``avg_pool2d(X, k)``."""
    answers: dict[tuple[int, int], Any] = {}

    def filter_for(k: int, channels: int) -> np.ndarray:
        """The student's filter for ``(k, channels)``, asked once."""
        if (k, channels) not in answers:
            try:
                answers[k, channels] = float_array(
                    student(k, channels), (channels, 1, k, k), "the filter w"
                )
            except (WrongAnswer, Raised) as err:
                answers[k, channels] = err
        answer = answers[k, channels]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def cases() -> Iterator[Case]:
        for n in itertools.count():
            k, channels = int(search.rng.integers(1, 5)), int(search.rng.integers(1, 4))
            shape = (channels, *search.rng.integers(k, 3 * k + 1, 2))
            yield {"k": k, "channels": channels, "X": example_array(search.rng, shape, n)}

    def holds(case: Case) -> Mismatch | None:
        k, X = case["k"], case["X"]
        w = filter_for(k, case["channels"])
        with no_grad():
            Y = F.conv2d(Tensor(X[None]), w.astype(np.float64), stride=k, groups=len(X)).data[0]
            expected = F.avg_pool2d(Tensor(X[None]), k).data[0]
        index = mismatch(Y, expected, w.dtype)
        if index is None:
            return None
        return Mismatch(
            f"your Y{index_text(index)} = {fmt(Y[index])}",
            f"{fmt(expected[index])} = {_explain(X, k, index)}",
            _IDENTITY,
        )

    def describe(case: Case) -> tuple[str, tuple[str, ...]]:
        k, channels = case["k"], case["channels"]
        return (
            f"avg_pool_filter({k}, {channels}), used as Y = conv2d(X, w, stride={k}, "
            f"groups={channels})",
            (show("X", case["X"]),),
        )

    def shrink(case: Case) -> Iterator[Case]:
        k, channels, X = case["k"], case["channels"], case["X"]
        for smaller in smaller_ints(k, 1):
            yield replaced(case, k=smaller)
        for smaller in smaller_ints(channels, 1):
            yield replaced(case, channels=smaller, X=X[:smaller])
        for smaller in smaller_shapes(X, (channels, k, k)):
            yield replaced(case, X=smaller)
        for simpler in simpler_values(X):
            yield replaced(case, X=simpler)

    return search.find(cases(), holds, describe, shrink)


EXERCISE = Exercise(
    "2",
    "average pooling as a convolution",
    (
        Task(
            "avg_pool_filter",
            "(k: int, channels: int) -> np.ndarray",
            """\
Problem 2: average pooling as a convolution.

The k×k average pool of X (C channels, H×W pixels, no padding, stride k):

    Y[c, i, j] = (1/k²) Σ_{a<k, b<k} X[c, k·i + a, k·j + b]

Return the filter w, a float array of shape (channels, 1, k, k), such that
conv2d(X, w, stride=k, groups=channels) = avg_pool2d(X, k) for every X with `channels`
channels (groups=channels: each output channel sees its own input channel only).
""",
            grade_avg_pool_filter,
            examples=60,
        ),
    ),
)
