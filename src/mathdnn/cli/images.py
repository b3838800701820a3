"""``mathdnn edges``, ``mathdnn gray``, ``mathdnn pool``: Problems 1, 3 and 2 on a real photograph.

Each reads an image (default: matplotlib's sample photograph) and writes the figure of its problem's
module that shows the problem's convolution on it, one PNG for a person to look at.
Every check on the input happens before anything is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from mathdnn.cli import CommandError, positive_int
from mathdnn.hw4.p1_finite_differences import edges_figure
from mathdnn.hw4.p2_average_pooling import average_pool_figure
from mathdnn.hw4.p3_grayscale import grayscale_figure
from mathdnn.images import (
    default_photo_path,
    image_size,
    load_image,
    save_figure,
)
from mathdnn.io import check_writable

# A 4000×3000 photograph; `mathdnn edges` holds about 150 bytes per pixel (1.8 GB here).
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


def _write(path: Path, figure: Figure) -> None:
    save_figure(path, figure)
    print(f"wrote {path}")


def run_edges(args: argparse.Namespace) -> int:
    out = _output_path(args.output)
    image, name = _input(args)
    _write(out, edges_figure(image, name))
    return 0


def run_gray(args: argparse.Namespace) -> int:
    out = _output_path(args.output)
    image, name = _input(args)
    _write(out, grayscale_figure(image, name))
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
    figure = average_pool_figure(image, name, k)
    _write(out, figure)
    return 0
