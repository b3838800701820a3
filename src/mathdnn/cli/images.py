"""``mathdnn edges``, ``mathdnn gray``, ``mathdnn pool``: Problems 1, 3 and 2 on a real photograph.

Each reads an image (default: matplotlib's sample photograph) and writes the figure of
its problem's module that shows the problem's convolution on it, one PNG for a person to look at.
Every check on the input happens before anything is written, and from the image's header before
it is decoded: its pixel count against ``--max-pixels``, and the memory the command will need
(``estimated_bytes``) against ``--max-memory`` and what the process can get.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from mathdnn.cli import CommandError, positive_int
from mathdnn.cli.memory import (
    DEFAULT_MAX_MEMORY_GIB,
    add_max_memory,
    check_max_memory,
    check_memory,
)
from mathdnn.hw4.p1_finite_differences import edges_figure
from mathdnn.hw4.p2_average_pooling import average_pool_figure
from mathdnn.hw4.p3_grayscale import grayscale_figure
from mathdnn.images import (
    ImageHeader,
    default_photo_path,
    image_header,
    load_image,
    save_figure,
)
from mathdnn.io import check_writable

# A 4000×3000 photograph.
DEFAULT_MAX_PIXELS = 12_000_000

# The peak memory of each command beyond its start-up, per pixel of the image: bytes per pixel
# of a grey and of a colour image, and for `pool` the pooled image's part, which is divided by k².
# From the peak resident memory measured by `python scripts/image_memory.py` (the command's
# growth between a 1500×1000 and a 3000×2000 image): the largest of its runs, which differ by up
# to a quarter with the allocator's history, rounded up. The float64 image, its convolutions and
# matplotlib's resampling of each panel take most of it.
BYTES_PER_PIXEL = {"edges": (112, 136), "gray": (80, 112), "pool": (64, 96)}
FIGURE_COMMANDS = tuple(BYTES_PER_PIXEL)
POOLED_BYTES_PER_PIXEL = (24, 48)
# What the figure costs whatever the image's size (matplotlib's canvas and text), rounded up.
FIGURE_BYTES = 48 * 2**20


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
            f"{DEFAULT_MAX_PIXELS}, a 4000×3000 photograph)",
        )
        add_max_memory(parser, DEFAULT_MAX_MEMORY_GIB, "images whose figure")
        parser.set_defaults(run=run)


def _output_path(value: str) -> Path:
    path = Path(value)
    if path.suffix.lower() != ".png":
        raise CommandError(f"output {value!r} must end in .png (the figure is a PNG)")
    if path.is_dir():
        raise CommandError(f"output {value!r} is a directory")
    return check_writable(path)


def estimated_bytes(command: str, header: ImageHeader, k: int = 1) -> int:
    """The memory ``command`` (``edges``, ``gray`` or ``pool`` with window ``k``) needs for the
    image ``header`` describes, beyond what the program holds at start-up."""
    colour = header.channels == 3
    per_pixel = BYTES_PER_PIXEL[command][colour]
    if command == "pool":
        per_pixel += POOLED_BYTES_PER_PIXEL[colour] / k**2
    return FIGURE_BYTES + round(per_pixel * header.pixels)


def describe(name: str, header: ImageHeader) -> str:
    """``photo.png (4000×3000, colour)``."""
    kind = "grey" if header.channels == 1 else "colour"
    return f"{name} ({header.width}×{header.height}, {kind})"


def _header(args: argparse.Namespace) -> tuple[Path, ImageHeader]:
    """The image's path and header; too many pixels are refused before the image is decoded."""
    positive_int("--max-pixels", args.max_pixels)
    check_max_memory(args.max_memory)
    path = default_photo_path() if args.image is None else Path(args.image)
    header = image_header(path)
    if header.pixels > args.max_pixels:
        raise CommandError(
            f"{path.name} is {header.width}×{header.height} = {header.pixels:,} pixels, more "
            f"than --max-pixels {args.max_pixels:,}; raise --max-pixels to process it"
        )
    return path, header


def _load(args: argparse.Namespace, path: Path, header: ImageHeader, k: int = 1) -> np.ndarray:
    """The image as floats in [0, 1], once the memory the command will need for it is known to
    fit ``--max-memory`` and the process."""
    check_memory(
        estimated_bytes(args.command, header, k),
        args.max_memory,
        describe(path.name, header),
        "use a smaller image",
    )
    return load_image(path)


def _write(path: Path, figure: Figure) -> None:
    save_figure(path, figure)
    print(f"wrote {path}")


def run_edges(args: argparse.Namespace) -> int:
    out = _output_path(args.output)
    path, header = _header(args)
    _write(out, edges_figure(_load(args, path, header), path.name))
    return 0


def run_gray(args: argparse.Namespace) -> int:
    out = _output_path(args.output)
    path, header = _header(args)
    _write(out, grayscale_figure(_load(args, path, header), path.name))
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
    path, header = _header(args)
    if k > min(header.width, header.height):
        raise CommandError(
            f"-k {k} is larger than the image {path.name} ({header.width}×{header.height} pixels)"
        )
    figure = average_pool_figure(_load(args, path, header, k), path.name, k)
    _write(out, figure)
    return 0
