"""load_mnist checks the four IDX headers against each other before it reads (or decompresses)
any data; zero images load as empty arrays; paths that are not paths name the function."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from mathdnn.data import flatten_scale, load_mnist, read_idx
from mathdnn.data.idx import read_idx_header
from mathdnn.images import image_size, load_image

NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def header(shape: tuple[int, ...]) -> bytes:
    """The IDX header of a uint8 array (code 0x08) of ``shape``."""
    return struct.pack(">BBBB", 0, 0, 0x08, len(shape)) + struct.pack(f">{len(shape)}I", *shape)


def idx(array: np.ndarray) -> bytes:
    return header(array.shape) + array.astype(np.uint8).tobytes()


def write_set(directory, n_train: int, n_test: int) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 28, 28))
        (directory / NAMES[f"{split}_images"]).write_bytes(idx(images))
        (directory / NAMES[f"{split}_labels"]).write_bytes(idx(np.arange(n) % 10))


def test_a_forged_image_count_is_caught_from_the_headers_before_decompressing(tmp_path):
    """The image file claims 2·10⁶ images; its gzip body is cut after a few KiB, so reading it
    would fail as truncated. The count mismatch is what is reported: the body was never read."""
    write_set(tmp_path, 20, 10)
    claimed = 2_000_000
    body = gzip.compress(header((claimed, 28, 28)) + bytes(1 << 20))
    (tmp_path / NAMES["train_images"]).unlink()
    (tmp_path / f"{NAMES['train_images']}.gz").write_bytes(body[:4096])
    with pytest.raises(ValueError, match=rf"load_mnist: .*{claimed} images but 20 labels"):
        load_mnist(tmp_path)
    assert read_idx_header(tmp_path / f"{NAMES['train_images']}.gz") == (
        np.dtype(np.uint8),
        (claimed, 28, 28),
    )
    with pytest.raises(ValueError, match=r"gzip|truncated"):  # what reading the body would say
        read_idx(tmp_path / f"{NAMES['train_images']}.gz")


def test_a_wrong_image_shape_is_caught_from_the_header(tmp_path):
    write_set(tmp_path, 20, 10)
    (tmp_path / NAMES["test_images"]).write_bytes(header((10, 28, 27)))  # no body at all
    with pytest.raises(ValueError, match=r"load_mnist: .*images must be uint8 of shape \(n, 28"):
        load_mnist(tmp_path)


def test_zero_images_load_as_empty_arrays(tmp_path):
    write_set(tmp_path, 0, 0)
    mnist = load_mnist(tmp_path)
    assert mnist.train_images.shape == (0, 28, 28) and mnist.test_labels.shape == (0,)
    assert flatten_scale(mnist.train_images).shape == (0, 784)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda p: load_mnist(p), "load_mnist"),
        (lambda p: read_idx(p), "read_idx"),
        (lambda p: read_idx_header(p), "read_idx_header"),
        (lambda p: load_image(p), "load_image"),
        (lambda p: image_size(p), "image_size"),
    ],
)
@pytest.mark.parametrize("bad", [123, 1.5, ["a"]])
def test_paths_that_are_not_paths_name_the_function(call, name, bad):
    with pytest.raises(TypeError, match=rf"^{name}: path must be a path \(str or os\.PathLike\)"):
        call(bad)
