"""load_mnist checks the four IDX headers against each other and against max_images before it
reads (or decompresses) any data, and read_idx checks a header's claim against max_bytes; a read
costs about the data that is really there; zero images load as empty arrays; paths that are not
paths name the function."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from mathdnn.data import flatten_scale, load_mnist, read_idx
from mathdnn.data.idx import DEFAULT_MAX_BYTES, read_idx_header
from mathdnn.data.mnist import DEFAULT_MAX_IMAGES
from mathdnn.images import image_header, load_image

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
        read_idx(tmp_path / f"{NAMES['train_images']}.gz", max_bytes=None)


def forged_gzip(path, shape: tuple[int, ...], zeros: int) -> None:
    """A gzipped IDX file whose header claims ``shape``, followed by ``zeros`` zero bytes (a
    gzip stream compresses them about a thousandfold)."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    parts = [packer.compress(header(shape))]
    parts += [packer.compress(bytes(1 << 20)) for _ in range(zeros >> 20)]
    path.write_bytes(b"".join([*parts, packer.flush()]))


def traced_peak(call) -> tuple[Exception | None, int]:
    """What ``call()`` raised (or None) and the peak of memory it allocated, in bytes."""
    tracemalloc.start()
    try:
        call()
        raised = None
    except Exception as err:  # returned to the test, which checks it
        raised = err
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return raised, peak


def test_a_gzip_claiming_four_billion_images_is_refused_before_decompressing(tmp_path):
    """Issue 22: a small .gz whose header claims 2³² − 1 images (and labels to match) was
    decompressed until memory ran out. Its claim is refused from the headers."""
    write_set(tmp_path, 20, 10)
    claimed = 2**32 - 1
    for name, shape in (("train_images", (claimed, 28, 28)), ("train_labels", (claimed,))):
        (tmp_path / NAMES[name]).unlink()
        forged_gzip(tmp_path / f"{NAMES[name]}.gz", shape, 32 << 20)
    images = tmp_path / f"{NAMES['train_images']}.gz"
    assert images.stat().st_size < 200_000

    raised, peak = traced_peak(lambda: load_mnist(tmp_path))
    assert isinstance(raised, ValueError)
    assert str(raised) == (
        f"load_mnist: {images} claims 4,294,967,295 images, more than "
        f"max_images={DEFAULT_MAX_IMAGES:,}; no file's data was read"
    )
    assert peak < 2**20  # nothing of the 32 MiB in the file was decompressed

    raised, peak = traced_peak(lambda: read_idx(images))
    assert isinstance(raised, ValueError)
    assert str(raised).startswith(f"read_idx: {images} claims 3,367,254,359,280 bytes of data")
    assert f"more than max_bytes={DEFAULT_MAX_BYTES:,}; nothing was read" in str(raised)
    assert peak < 2**20


def test_max_images_is_the_limit_of_each_file(tmp_path):
    write_set(tmp_path, 20, 10)
    with pytest.raises(ValueError, match=rf"{NAMES['train_images']} claims 20 images, more than "):
        load_mnist(tmp_path, max_images=19)
    assert len(load_mnist(tmp_path, max_images=20).train_labels) == 20
    assert len(load_mnist(max_images=0).train_labels) == 4000  # the bundled set is never refused
    for bad in (-1, 1.5, True, "20"):
        with pytest.raises(ValueError, match=r"^load_mnist: max_images must be a non-negative"):
            load_mnist(tmp_path, max_images=bad)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_refuses_a_claim_beyond_max_bytes_and_reads_without_copies(tmp_path, gz):
    """The claim is checked from the header; a file within it costs about its own data: the
    bytes read become the array (swapped to native order in place), nothing is copied."""
    data = np.arange(2**21, dtype=">i4")  # 8 MiB
    blob = struct.pack(">BBBB", 0, 0, 0x0C, 1) + struct.pack(">I", data.size) + data.tobytes()
    path = tmp_path / ("ints.gz" if gz else "ints")
    path.write_bytes(gzip.compress(blob, 1) if gz else blob)
    with pytest.raises(ValueError, match=r"claims 8,388,608 bytes of data \(shape \(2097152,\)\)"):
        read_idx(path, max_bytes=data.nbytes - 1)
    with pytest.raises(ValueError, match=r"^read_idx: max_bytes must be a non-negative int"):
        read_idx(path, max_bytes=-1)
    result: list[np.ndarray] = []
    raised, peak = traced_peak(lambda: result.append(read_idx(path, max_bytes=data.nbytes)))
    assert raised is None
    assert np.array_equal(result[0], data) and result[0].dtype.isnative
    assert peak < 1.3 * data.nbytes  # the data once, plus the last 1 MiB chunk read


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
        (lambda p: image_header(p), "image_header"),
    ],
)
@pytest.mark.parametrize("bad", [123, 1.5, ["a"]])
def test_paths_that_are_not_paths_name_the_function(call, name, bad):
    with pytest.raises(TypeError, match=rf"^{name}: path must be a path \(str or os\.PathLike\)"):
        call(bad)
