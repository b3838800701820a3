"""Reader for the IDX format in which MNIST is distributed (plain or gzipped).

An IDX file is::

    0x00 0x00 <dtype code> <ndim>           4-byte magic
    <size of dim 0> ... <size of dim ndim-1>  one big-endian uint32 each
    <data>                                   row-major, big-endian

Everything is validated before it is trusted: the magic, the dtype code, the number of
dimensions, and that the data is exactly as long as the header says. A forged header that
claims an absurd size is rejected without allocating it: a claim beyond ``max_bytes`` is refused
from the header, for a plain file the claim is checked against the file size first, and data is
read in bounded chunks, never more than the claim plus one byte (the byte that detects trailing
data), so a gzipped file is decompressed no further than its header claims and costs at most
what it really decompresses to.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import stat
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np

from mathdnn.io import as_path

__all__ = ["DEFAULT_MAX_BYTES", "IDX_DTYPES", "read_idx", "read_idx_header"]

#: IDX dtype code -> NumPy dtype (big-endian, as stored on disk).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: The most data ``read_idx`` reads unless told otherwise: 1 GiB (MNIST's largest file has 47 MB).
DEFAULT_MAX_BYTES = 2**30

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # read data 1 MiB at a time


def read_idx(path: str | os.PathLike[str], max_bytes: int | None = DEFAULT_MAX_BYTES) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a native-endian NumPy array.

    Gzip compression is detected from the content (magic bytes ``1f 8b``), not from the name.

    Parameters
    ----------
    path:
        The file, e.g. ``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz``.
    max_bytes:
        Refuse a header that claims more data than this, before reading (or decompressing) any
        of it; ``None`` for no limit beyond the file itself.

    Returns
    -------
    A writeable array with the shape from the header and the dtype from its code
    (uint8, int8, int16, int32, float32 or float64), in native byte order.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the content is not a well-formed IDX file: bad magic, unknown dtype code, zero
        dimensions, a claim beyond ``max_bytes``, data shorter or longer than the header says,
        or a corrupt gzip stream. The message names ``read_idx``, the file and the problem.
    """
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0
    ):
        raise ValueError(
            f"read_idx: max_bytes must be a non-negative int or None, got {max_bytes!r}"
        )
    with _idx_stream("read_idx", path) as (f, name, size):
        dtype, shape = _read_header(f, name)
        nbytes = math.prod(shape) * dtype.itemsize  # Python int: no overflow
        if max_bytes is not None and nbytes > max_bytes:
            raise ValueError(
                f"read_idx: {name} claims {nbytes:,} bytes of data (shape {shape}), more than "
                f"max_bytes={max_bytes:,}; nothing was read"
            )
        return _read_body(f, name, size, dtype, shape, nbytes)


def read_idx_header(path: str | os.PathLike[str]) -> tuple[np.dtype, tuple[int, ...]]:
    """The dtype (big-endian, as stored) and shape an IDX file declares, reading only its header.

    Lets a caller check the shapes of several files against each other before reading (and,
    for gzip, decompressing) any of their data. Raises as :func:`read_idx` for a bad header.
    """
    with _idx_stream("read_idx_header", path) as (f, name, _):
        return _read_header(f, name)


@contextlib.contextmanager
def _idx_stream(fn: str, path: Any) -> Iterator[tuple[BinaryIO, str, int | None]]:
    """``(stream, name, size)``: the file decompressed if it is gzip, its name, and its length
    if known (a plain regular file)."""
    name = str(as_path(fn, "path", path))
    with open(name, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not compressed:
            yield raw, name, _regular_file_size(raw)
            return
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                yield f, name, None
        except (gzip.BadGzipFile, EOFError, zlib.error) as e:
            raise ValueError(f"read_idx: {name} is not a valid gzip stream: {e}") from e


def _regular_file_size(f: BinaryIO) -> int | None:
    st = os.fstat(f.fileno())
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _read_header(f: BinaryIO, name: str) -> tuple[np.dtype, tuple[int, ...]]:
    """Parse the magic and the sizes; leaves ``f`` at the first byte of data."""
    head = _read_bounded(f, 4)
    if len(head) < 4:
        raise ValueError(
            f"read_idx: {name} is too short for an IDX header: {len(head)} byte(s), need 4"
        )
    if head[0] != 0 or head[1] != 0:
        raise ValueError(
            f"read_idx: {name} has a bad magic number 0x{head.hex()}: "
            "an IDX file starts with two zero bytes"
        )
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"read_idx: {name} has unknown dtype code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"read_idx: {name} declares zero dimensions")
    dims_raw = _read_bounded(f, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise ValueError(
            f"read_idx: {name} is truncated: header declares {ndim} dimensions "
            f"({4 * ndim} bytes of sizes), found {len(dims_raw)} bytes"
        )
    shape = tuple(int.from_bytes(dims_raw[4 * i : 4 * i + 4], "big") for i in range(ndim))
    return IDX_DTYPES[code], shape


def _read_body(
    f: BinaryIO,
    name: str,
    total_size: int | None,
    dtype: np.dtype,
    shape: tuple[int, ...],
    nbytes: int,
) -> np.ndarray:
    """Read the ``nbytes`` of data the header declared; ``total_size`` is the stream's length if
    known. The bytes read become the array: swapped in place, never copied."""
    header_len = 4 + 4 * len(shape)
    if total_size is not None:  # plain file: compare the claim with the file size first
        found = total_size - header_len
        if found != nbytes:
            _raise_length(name, shape, nbytes, found, exact=True)
    data = _read_bounded(f, nbytes + 1)
    if len(data) != nbytes:
        _raise_length(name, shape, nbytes, len(data), exact=len(data) < nbytes)

    arr = np.frombuffer(data, dtype=dtype).reshape(shape)  # a writeable view of the bytearray
    native = dtype.newbyteorder("=")
    if not dtype.isnative:
        arr.byteswap(inplace=True)
    return arr.view(native)


def _raise_length(name: str, shape: tuple[int, ...], nbytes: int, found: int, exact: bool) -> None:
    problem = "is truncated" if found < nbytes else "has trailing bytes"
    found_txt = str(found) if exact else f"more than {nbytes}"
    raise ValueError(
        f"read_idx: {name} {problem}: header says {nbytes} bytes of data "
        f"(shape {shape}), found {found_txt}"
    )


def _read_bounded(f: BinaryIO, limit: int) -> bytearray:
    """Read up to ``limit`` bytes, in chunks: memory grows only with data actually present."""
    buf = bytearray()
    while len(buf) < limit:
        chunk = f.read(min(_CHUNK, limit - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf
