"""Reader for the IDX format in which MNIST is distributed (plain or gzipped).

An IDX file is::

    0x00 0x00 <dtype code> <ndim>           4-byte magic
    <size of dim 0> ... <size of dim ndim-1>  one big-endian uint32 each
    <data>                                   row-major, big-endian

Everything is validated before it is trusted: the magic, the dtype code, the number of
dimensions, and that the data is exactly as long as the header says. A forged header that
claims an absurd size is rejected without allocating it: for a plain file the claim is checked
against the file size first, and data is read in bounded chunks, never more than the claim plus
one byte (the byte that detects trailing data), so a gzipped file also costs at most what it
really decompresses to.
"""

from __future__ import annotations

import gzip
import math
import os
import stat
import zlib
from typing import BinaryIO

import numpy as np

__all__ = ["IDX_DTYPES", "read_idx"]

#: IDX dtype code -> NumPy dtype (big-endian, as stored on disk).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # read data 1 MiB at a time


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a native-endian NumPy array.

    Gzip compression is detected from the content (magic bytes ``1f 8b``), not from the name.

    Parameters
    ----------
    path:
        The file, e.g. ``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz``.

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
        dimensions, data shorter or longer than the header says, or a corrupt gzip stream.
        The message names ``read_idx``, the file and the problem.
    """
    name = os.fspath(path)
    with open(name, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not compressed:
            return _read_stream(raw, name, _regular_file_size(raw))
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                return _read_stream(f, name, None)
        except (gzip.BadGzipFile, EOFError, zlib.error) as e:
            raise ValueError(f"read_idx: {name} is not a valid gzip stream: {e}") from e


def _regular_file_size(f: BinaryIO) -> int | None:
    st = os.fstat(f.fileno())
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _read_stream(f: BinaryIO, name: str, total_size: int | None) -> np.ndarray:
    """Parse an IDX stream; ``total_size`` is the stream's length if known (plain files)."""
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
    dtype = IDX_DTYPES[code]
    nbytes = math.prod(shape) * dtype.itemsize  # Python int: no overflow
    header_len = 4 + 4 * ndim

    if total_size is not None:  # plain file: compare the claim with the file size first
        found = total_size - header_len
        if found != nbytes:
            _raise_length(name, shape, nbytes, found, exact=True)
    data = _read_bounded(f, nbytes + 1)
    if len(data) != nbytes:
        _raise_length(name, shape, nbytes, len(data), exact=len(data) < nbytes)

    arr = np.frombuffer(data, dtype=dtype).reshape(shape)
    native = dtype.newbyteorder("=")
    return arr.astype(native) if dtype.itemsize > 1 else arr.view(native)


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
