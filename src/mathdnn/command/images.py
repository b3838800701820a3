"""The commands that draw a figure of an image (``mathdnn edges``, ``gray``, ``pool``): their
options and their steps, in order.

Each command reads an image (default: matplotlib's sample photograph) and writes its problem's
figure of it, one PNG for a person to look at. Every check on the input happens before anything
is written, and from the image's header before it is decoded: its pixel count against
``--max-pixels``, and the memory the figure will need (the problem's estimate) against
``--max-memory`` and what the process can get.

1. ``add_image_arguments``: ``IMAGE``, ``-o OUT.png``, ``--max-pixels``, ``--max-memory``;
2. ``output_png``: the output checked before any work;
3. ``read_header``: the image's header, refused when it has too many pixels;
4. ``load``: the image, once its figure's memory is known to fit;
5. ``write_figure``: the PNG, written atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from mathdnn.command import CommandError, positive_int
from mathdnn.command.memory import (
    DEFAULT_MAX_MEMORY_GIB,
    add_max_memory,
    check_max_memory,
    check_memory,
)
from mathdnn.images import ImageHeader, default_photo_path, image_header, load_image, save_figure
from mathdnn.io import check_writable

# A 4000×3000 photograph.
DEFAULT_MAX_PIXELS = 12_000_000

# What a figure costs whatever the image's size (matplotlib's canvas and text), rounded up.
FIGURE_BYTES = 48 * 2**20


def figure_bytes(header: ImageHeader, per_pixel: tuple[float, float]) -> int:
    """The memory a figure of the image ``header`` describes needs beyond the program's start-up:
    ``FIGURE_BYTES`` and ``per_pixel`` bytes for each pixel (of a grey, of a colour image).

    Each problem's bytes per pixel come from the peak resident memory measured by ``python
    scripts/image_memory.py`` (the command's growth between a 1500×1000 and a 3000×2000 image):
    the largest of its runs, which differ by up to a quarter with the allocator's history,
    rounded up. The float64 image, its convolutions and matplotlib's resampling of each panel
    take most of it."""
    colour = header.channels == 3
    return FIGURE_BYTES + round(per_pixel[colour] * header.pixels)


def describe(name: str, header: ImageHeader) -> str:
    """``photo.png (4000×3000, colour)``."""
    kind = "grey" if header.channels == 1 else "colour"
    return f"{name} ({header.width}×{header.height}, {kind})"


def add_image_arguments(parser: argparse.ArgumentParser, default_output: str) -> None:
    """``IMAGE`` (default: the sample photograph), ``-o OUT.png``, ``--max-pixels N`` and
    ``--max-memory GIB``."""
    parser.add_argument(
        "image",
        nargs="?",
        metavar="IMAGE",
        help="a PNG or JPEG image, colour or grey, 8 or 16 bit (default: a sample photograph)",
    )
    parser.add_argument(
        "-o",
        "--output",
        default=default_output,
        metavar="OUT.png",
        help=f"the PNG figure to write (default: {default_output})",
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


def output_png(value: str) -> Path:
    """``-o``: a PNG file that can be written."""
    path = Path(value)
    if path.suffix.lower() != ".png":
        raise CommandError(f"output {value!r} must end in .png (the figure is a PNG)")
    if path.is_dir():
        raise CommandError(f"output {value!r} is a directory")
    return check_writable(path)


def read_header(args: argparse.Namespace) -> tuple[Path, ImageHeader]:
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


def load(args: argparse.Namespace, path: Path, header: ImageHeader, need: int) -> np.ndarray:
    """The image as floats in [0, 1], once the memory its figure will need, ``need`` bytes, is
    known to fit ``--max-memory`` and the process. Hand it straight to the figure, holding no
    name for it: it is freed before ``write_figure`` renders, which the estimates count on."""
    check_memory(need, args.max_memory, describe(path.name, header), "use a smaller image")
    return load_image(path)


def write_figure(path: Path, figure: Figure) -> None:
    """Write the matplotlib ``figure`` as the PNG ``path`` (atomically) and say so."""
    save_figure(path, figure)
    print(f"wrote {path}")
