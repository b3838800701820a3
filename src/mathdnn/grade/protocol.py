"""What travels between the grader and a submission's child process: values, never code.

A message is a frame: an 8-byte big-endian length, then the payload. The payload is a 4-byte
length, a UTF-8 JSON header, then the arrays as ``.npy`` bytes one after the other (their lengths
are listed in the header). A value in the header is a tagged list::

    ["none"]  ["bool", b]  ["int", "123"]  ["float", "1.5" | "nan" | "inf" | "-inf"]  ["str", s]
    ["list", [...]]  ["tuple", [...]]  ["array", k] (the k-th .npy blob)
    ["function", name, "value" | "slope"]   σ or σ′ of mathdnn's activation registry, by name
    ["other", "dict"]   a value of a type the protocol does not carry (its type name only)

Nothing in a message is executed or unpickled: the ``.npy`` bytes are read with
``allow_pickle=False`` semantics by ``_read_npy``, which checks the header (a plain numeric or
boolean dtype, a shape whose size matches the bytes that came) before it allocates anything. The
grader reads what a child sends with ``Limits``: the header's size, the nesting depth, the number
of items and the digits of an integer are capped (the sandbox refuses a frame larger than its
answer limit before reading it). The
messages carry only arguments and return values; whether an answer is right is decided by the
grader, from the values, so a child cannot send a verdict.
"""

from __future__ import annotations

import io
import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mathdnn.exercise import ActivationRef

FRAME = struct.Struct(">Q")
HEADER = struct.Struct(">I")
# The dtypes an array may have on the wire: booleans, integers, floats, complex (the grader says
# which one it expected); never objects, strings or records.
ARRAY_KINDS = "biufc"


class ProtocolError(ValueError):
    """A message that is not what the protocol allows (too large, malformed, a bad ``.npy``)."""


@dataclass(frozen=True)
class Limits:
    """Caps on a message read from an untrusted peer."""

    max_header_bytes: int = 2**20
    max_depth: int = 16
    max_items: int = 100_000
    max_digits: int = 100


@dataclass(frozen=True)
class Other:
    """A returned value of a type the protocol does not carry; only its type name came back."""

    type_name: str


# ------------------------------------------------------------------------------------ encoding
def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def encode_value(value: Any, blobs: list[bytes], depth: int = 0) -> list[Any]:
    """The tagged tree of ``value``; arrays are appended to ``blobs`` as ``.npy`` bytes."""
    if depth > Limits.max_depth:
        return ["other", "a structure nested too deeply"]
    if value is None:
        return ["none"]
    if isinstance(value, bool | np.bool_):
        return ["bool", bool(value)]
    if isinstance(value, int | np.integer):
        return ["int", str(int(value))]
    if isinstance(value, float | np.floating):
        return ["float", repr(float(value))]
    if isinstance(value, str):
        return ["str", value]
    if isinstance(value, ActivationRef):
        return ["function", value.name, value.part]
    if isinstance(value, list | tuple):
        tag = "list" if isinstance(value, list) else "tuple"
        return [tag, [encode_value(v, blobs, depth + 1) for v in value]]
    if isinstance(value, np.ndarray):
        array = value.view(np.ndarray)
        if array.dtype.kind not in ARRAY_KINDS or array.dtype.fields is not None:
            return ["other", f"an array of dtype {array.dtype}"]
        blobs.append(_npy(array))
        return ["array", len(blobs) - 1]
    return ["other", type(value).__name__]


def pack(header: dict[str, Any], blobs: list[bytes]) -> bytes:
    """One frame: ``header`` (JSON, with the blobs' lengths added) and the blobs."""
    text = json.dumps({**header, "blobs": [len(b) for b in blobs]}, allow_nan=False).encode()
    payload = b"".join([HEADER.pack(len(text)), text, *blobs])
    return FRAME.pack(len(payload)) + payload


def message(header: dict[str, Any], **values: Any) -> bytes:
    """A frame holding ``header`` and each of ``values`` encoded under its name."""
    blobs: list[bytes] = []
    encoded = {name: encode_value(v, blobs) for name, v in values.items()}
    return pack({**header, **encoded}, blobs)


# ------------------------------------------------------------------------------------ decoding
def unpack(payload: bytes, limits: Limits) -> tuple[dict[str, Any], list[bytes]]:
    """The header and the blobs of a frame's payload, checked against ``limits``."""
    if len(payload) < HEADER.size:
        raise ProtocolError("a message shorter than its header")
    (size,) = HEADER.unpack_from(payload)
    if size > limits.max_header_bytes or HEADER.size + size > len(payload):
        raise ProtocolError(f"a message header of {size} bytes")
    try:
        header = json.loads(payload[HEADER.size : HEADER.size + size])
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ProtocolError(f"a message header that is not JSON ({err})") from None
    if not isinstance(header, dict):
        raise ProtocolError("a message header that is not a JSON object")
    lengths = header.get("blobs")
    if (
        not isinstance(lengths, list)
        or len(lengths) > limits.max_items
        or not all(type(n) is int and n >= 0 for n in lengths)
    ):
        raise ProtocolError("a message whose list of arrays is malformed")
    start = HEADER.size + size
    if start + sum(lengths) != len(payload):
        raise ProtocolError("a message whose arrays do not fill it")
    blobs = []
    for n in lengths:
        blobs.append(payload[start : start + n])
        start += n
    return header, blobs


def _read_npy(data: bytes) -> np.ndarray:
    """An array from ``.npy`` bytes, its header checked before anything is allocated."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }[version]
        shape, fortran_order, dtype = read_header(stream)
    except (KeyError, ValueError, SyntaxError, TypeError) as err:
        raise ProtocolError(f"an array whose .npy header is unreadable ({err})") from None
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ProtocolError(f"an array of dtype {dtype}, which the protocol does not carry")
    if len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
        raise ProtocolError(f"an array of shape {shape}")
    offset = stream.tell()
    if math.prod(shape) * dtype.itemsize != len(data) - offset:
        raise ProtocolError(
            f"an array of shape {shape} and dtype {dtype} in {len(data) - offset} bytes"
        )
    flat = np.frombuffer(data, dtype=dtype, offset=offset)
    return flat.reshape(shape, order="F" if fortran_order else "C").copy()


def decode_value(
    tree: Any,
    blobs: list[bytes],
    limits: Limits,
    function: Callable[[str, str], Any] | None = None,
    depth: int = 0,
) -> Any:
    """The value of a tagged tree; ``function(name, part)`` rebuilds a ``["function", ...]``
    (only the child accepts them: the grader passes ``None``)."""
    if depth > limits.max_depth:
        raise ProtocolError("a value nested too deeply")
    if not isinstance(tree, list) or not tree or not isinstance(tree[0], str):
        raise ProtocolError(f"a malformed value {str(tree)[:60]}")
    tag, rest = tree[0], tree[1:]
    match tag, rest:
        case "none", []:
            return None
        case "bool", [bool() as b]:
            return b
        case "int", [str() as digits] if len(digits) <= limits.max_digits:
            try:
                return int(digits)
            except ValueError:
                raise ProtocolError(f"a malformed integer {digits[:20]!r}") from None
        case "float", [str() as text] if len(text) <= 40:
            try:
                return float(text)
            except ValueError:
                raise ProtocolError(f"a malformed float {text[:20]!r}") from None
        case "str", [str() as s]:
            return s
        case (("list" | "tuple"), [list() as items]) if len(items) <= limits.max_items:
            values = [decode_value(v, blobs, limits, function, depth + 1) for v in items]
            return values if tag == "list" else tuple(values)
        case "array", [int() as k] if 0 <= k < len(blobs):
            return _read_npy(blobs[k])
        case "function", [str() as name, ("value" | "slope") as part] if function is not None:
            return function(name, part)
        case "other", [str() as type_name]:
            return Other(type_name[:80])
    raise ProtocolError(f"a malformed value {str(tree)[:60]}")
