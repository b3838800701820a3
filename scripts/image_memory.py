"""Measure the peak memory of ``mathdnn edges``, ``gray`` and ``pool`` per pixel of the image.

    python scripts/image_memory.py

For each command, a grey and a colour image (random 8-bit pixels, so nothing compresses away) of
1500×1000 and of 3000×2000 pixels are processed, each in a fresh process (Linux: it reads the
peak resident size, VmHWM, from /proc/self/status). The process first runs the command on a tiny
image, so that imports and matplotlib's caches are in place, then notes its resident size and
runs the command on the measured image. The growth between the two sizes divided by their pixel
difference is the command's cost per pixel; the growth at the smaller size less that per-pixel
part is what the figure costs whatever the size. ``pool`` is measured with k = 1 and k = 4 to
separate the pooled image's part (which shrinks as 1/k²). The table prints these beside the
estimate of each command's problem (its ``image_bytes``, ``estimated_bytes`` here), which must
not be smaller.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from mathdnn.hw4 import p1_finite_differences, p2_average_pooling, p3_grayscale
from mathdnn.images import ImageHeader, image_header

SIZES = ((1500, 1000), (3000, 2000))
CASES = (("edges", ()), ("gray", ()), ("pool", ("-k", "1")), ("pool", ("-k", "4")))
MIB = 2**20

CHILD = """
import contextlib, io, sys
from PIL import Image
from mathdnn.cli import main

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))

command, image, out, *extra = sys.argv[1:]
tiny = out + ".tiny.png"
Image.new("RGB", (40, 30)).save(tiny)
with contextlib.redirect_stdout(io.StringIO()):
    assert main([command, tiny, "-o", out, *extra]) == 0
    before = status("VmRSS")
    assert main([command, image, "-o", out, *extra]) == 0
print(status("VmHWM") - before)
"""


def estimated_bytes(command: str, header: ImageHeader, k: int = 1) -> int:
    """The memory ``command`` is estimated to need for the image ``header`` describes: its
    problem's ``image_bytes`` (``pool``'s with the window ``k``)."""
    if command == "pool":
        return p2_average_pooling.image_bytes(header, k)
    return {"edges": p1_finite_differences, "gray": p3_grayscale}[command].image_bytes(header)


def peak_growth(command: str, image: Path, extra: tuple[str, ...], out: Path) -> int:
    """The growth of the peak resident size while ``command`` processes ``image``, in bytes."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, command, str(image), str(out), *extra],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout)


def main() -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        images = {}
        for width, height in SIZES:
            pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            for kind, array in (("grey", pixels[..., 0]), ("colour", pixels)):
                images[kind, width] = Path(folder, f"{kind}{width}.png")
                Image.fromarray(array).save(images[kind, width])
        out = Path(folder, "figure.png")
        print(
            f"{'command':<10} {'image':<7} {'MiB':>6} {'MiB':>6} {'B/pixel':>8} {'fixed MiB':>9}"
            f" {'estimate B/pixel':>17} {'estimate fixed MiB':>19}"
        )
        print(f"{'':<18} {'1.5 MP':>6} {'6 MP':>6}")
        for command, extra in CASES:
            for kind in ("grey", "colour"):
                small, large = (images[kind, width] for width, _ in SIZES)
                grow = [peak_growth(command, path, extra, out) for path in (small, large)]
                pixels = [image_header(path).pixels for path in (small, large)]
                per_pixel = (grow[1] - grow[0]) / (pixels[1] - pixels[0])
                fixed = grow[0] - per_pixel * pixels[0]
                k = int(extra[1]) if extra else 1
                estimate = [estimated_bytes(command, image_header(p), k) for p in (small, large)]
                estimate_per_pixel = (estimate[1] - estimate[0]) / (pixels[1] - pixels[0])
                estimate_fixed = estimate[0] - estimate_per_pixel * pixels[0]
                name = " ".join((command, *extra))
                print(
                    f"{name:<10} {kind:<7} {grow[0] / MIB:>6.0f} {grow[1] / MIB:>6.0f} "
                    f"{per_pixel:>8.1f} {fixed / MIB:>9.1f} {estimate_per_pixel:>17.1f} "
                    f"{estimate_fixed / MIB:>19.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
