"""``mfdnn edges``, ``mfdnn gray``, ``mfdnn pool``: Problems 1, 3 and 2 on a real photograph.

Each reads an image (default: matplotlib's sample photograph), computes with the convolutions of
``mfdnn.hw4`` (Problems 1–3) and writes one PNG figure for a person to look at. Every check on
the input happens before anything is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mfdnn.cli import CommandError, positive_int
from mfdnn.engine import no_grad
from mfdnn.hw4.p1_finite_differences import finite_differences, gradient_magnitude
from mfdnn.hw4.p2_average_pooling import average_pool
from mfdnn.hw4.p3_grayscale import grayscale
from mfdnn.images import (
    default_photo_path,
    from_batch,
    image_size,
    load_image,
    save_figure,
    to_batch,
)
from mfdnn.io import check_writable

# Inches per image panel, and the robust range of the signed maps (ignores the 0.5 % extremes).
_PANEL = 4.2
_PERCENTILE = 99.5
# A 4000×3000 photograph; `mfdnn edges` holds about 150 bytes per pixel (1.8 GB here).
DEFAULT_MAX_PIXELS = 12_000_000


def register(subparsers: argparse._SubParsersAction) -> None:
    image_help = "a PNG or JPEG image, colour or grey, 8 or 16 bit (default: a sample photograph)"
    edges = subparsers.add_parser(
        "edges",
        help="Problem 1: image derivatives and edge map by one 3×3 convolution",
        description="Convolve the (greyscale) image with the (2, 1, 3, 3) finite-difference "
        "filter of Problem 1, padding 1: Y0 = X[i+1, j] − X[i, j], Y1 = X[i, j+1] − X[i, j]. "
        "Writes the input, both derivative maps and the gradient magnitude √(Y0² + Y1²).",
    )
    gray = subparsers.add_parser(
        "gray",
        help="Problem 3: RGB to greyscale by one 1×1 convolution",
        description="Convolve the image with the (1, 3, 1, 1) filter (0.299, 0.587, 0.114) of "
        "Problem 3 and write the input beside its greyscale.",
    )
    pool = subparsers.add_parser(
        "pool",
        help="Problem 2: k×k average pooling by one strided convolution",
        description="Convolve each channel with the k×k filter 1/k², stride k (Problem 2) and "
        "write the input beside the pooled image.",
    )
    pool.add_argument(
        "-k",
        default="4",
        metavar="K",
        help="pooling window and stride, a positive integer (default 4)",
    )
    for parser, run, default in (
        (edges, run_edges, "edges.png"),
        (gray, run_gray, "gray.png"),
        (pool, run_pool, "pool.png"),
    ):
        parser.add_argument("image", nargs="?", metavar="IMAGE", help=image_help)
        parser.add_argument(
            "-o",
            "--output",
            default=default,
            metavar="OUT.png",
            help=f"the PNG figure to write (default: {default})",
        )
        parser.add_argument(
            "--max-pixels",
            type=int,
            default=DEFAULT_MAX_PIXELS,
            metavar="N",
            help="refuse images of more than N pixels, checked before decoding (default "
            f"{DEFAULT_MAX_PIXELS}, a 4000×3000 photograph; `edges` needs about 150 bytes of "
            "memory per pixel)",
        )
        parser.set_defaults(run=run)


def _output_path(value: str) -> Path:
    path = Path(value)
    if path.suffix.lower() != ".png":
        raise CommandError(f"output {value!r} must end in .png (the figure is a PNG)")
    if path.is_dir():
        raise CommandError(f"output {value!r} is a directory")
    return check_writable(path)


def _input(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    """The image as floats in [0, 1] and the name to show for it; too many pixels are refused
    from the header, before the image is decoded."""
    positive_int("--max-pixels", args.max_pixels)
    path = default_photo_path() if args.image is None else Path(args.image)
    width, height = image_size(path)
    if width * height > args.max_pixels:
        raise CommandError(
            f"{path.name} is {width}×{height} = {width * height:,} pixels, more than "
            f"--max-pixels {args.max_pixels:,}; raise --max-pixels to process it"
        )
    return load_image(path), path.name


def _rgb(image: np.ndarray) -> np.ndarray:
    """A grey image as three equal channels (its luma is itself, since the weights sum to 1)."""
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    with no_grad():
        return from_batch(grayscale(to_batch(image)).data)


def _show(ax: Any, image: np.ndarray, title: str, **kwargs: Any) -> Any:
    if image.ndim == 2:
        kwargs = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0, **kwargs}
    shown = ax.imshow(image, **kwargs)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
    return shown


def _figure(rows: int, columns: int, aspect: float) -> tuple[Figure, np.ndarray]:
    figure = Figure(figsize=(columns * _PANEL, rows * _PANEL * aspect + 0.5), layout="constrained")
    axes = np.asarray(figure.subplots(rows, columns)).ravel()
    return figure, axes


def _write(path: Path, figure: Figure) -> None:
    save_figure(path, figure)
    print(f"wrote {path}")


def run_edges(args: argparse.Namespace) -> int:
    out = _output_path(args.output)
    image, name = _input(args)
    grey = _grey(image)
    with no_grad():
        y = finite_differences(grey[None, None])
        magnitude = gradient_magnitude(y).data[0]
    d_i, d_j = y.data[0]
    h, w = grey.shape
    limit = max(float(np.percentile(np.abs(y.data), _PERCENTILE)), 1e-12)
    figure, axes = _figure(2, 2, 0.87 * h / w)  # the colourbars take width, not height
    _show(axes[0], grey, f"{name} ({w}×{h}), greyscale")
    for ax, d, title in (
        (axes[1], d_i, "∂/∂i: X[i+1, j] − X[i, j]"),
        (axes[2], d_j, "∂/∂j: X[i, j+1] − X[i, j]"),
    ):
        shown = _show(ax, d, title, cmap="RdBu_r", vmin=-limit, vmax=limit)
        figure.colorbar(shown, ax=ax, shrink=0.8)
    top = max(float(np.percentile(magnitude, _PERCENTILE)), 1e-12)
    shown = _show(
        axes[3], magnitude, "gradient magnitude √(Y0² + Y1²)", cmap="magma", vmin=0, vmax=top
    )
    figure.colorbar(shown, ax=axes[3], shrink=0.8)
    figure.suptitle("Problem 1: finite differences as one 3×3 convolution (padding 1)")
    _write(out, figure)
    return 0


def run_gray(args: argparse.Namespace) -> int:
    out = _output_path(args.output)
    image, name = _input(args)
    with no_grad():
        grey = from_batch(grayscale(to_batch(_rgb(image))).data)
    h, w = grey.shape
    figure, axes = _figure(1, 2, h / w)
    _show(axes[0], image, f"{name} ({w}×{h})")
    _show(axes[1], grey, "0.299 R + 0.587 G + 0.114 B (1×1 convolution)")
    figure.suptitle("Problem 3: RGB to greyscale as a 1×1 convolution")
    _write(out, figure)
    return 0


def _pool_size(value: str) -> int:
    try:
        k = int(value)
    except ValueError:
        raise CommandError(f"-k must be a positive integer, got {value!r}") from None
    if k < 1:
        raise CommandError(f"-k must be a positive integer, got {value!r}")
    return k


def run_pool(args: argparse.Namespace) -> int:
    out = _output_path(args.output)
    k = _pool_size(args.k)
    image, name = _input(args)
    h, w = image.shape[:2]
    if k > min(h, w):
        raise CommandError(f"-k {k} is larger than the image {name} ({w}×{h} pixels)")
    with no_grad():
        pooled = np.clip(from_batch(average_pool(to_batch(image), k).data), 0.0, 1.0)
    ph, pw = pooled.shape[:2]
    figure, axes = _figure(1, 2, h / w)
    _show(axes[0], image, f"{name} ({w}×{h})")
    # Shown at the input's size, nearest-neighbour, so each k×k block is one visible square.
    _show(axes[1], pooled, f"{k}×{k} average pool, stride {k} ({pw}×{ph})", interpolation="nearest")
    figure.suptitle(
        f"Problem 2: average pooling as a convolution with the {k}×{k} filter 1/{k * k}"
    )
    _write(out, figure)
    return 0
