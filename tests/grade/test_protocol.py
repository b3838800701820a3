"""The child ↔ grader protocol: values travel as JSON and .npy bytes, and a message from a hostile
peer is refused (too large, malformed, an array whose header claims more than it holds, objects)
before anything is allocated for it."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mathdnn.exercise import ActivationRef
from mathdnn.grade import protocol
from mathdnn.grade.protocol import Limits, Other, ProtocolError

LIMITS = Limits()


def round_trip(value, function=None):
    frame = protocol.message({"status": "ok"}, value=value)
    (size,) = protocol.FRAME.unpack_from(frame)
    assert size == len(frame) - protocol.FRAME.size
    header, blobs = protocol.unpack(frame[protocol.FRAME.size :], LIMITS)
    return protocol.decode_value(header["value"], blobs, LIMITS, function)


arrays = hnp.arrays(
    st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.uint8, np.complex128]),
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
)


@given(arrays)
def test_an_array_comes_back_with_its_dtype_shape_and_bits(a):
    b = round_trip(a)
    assert b.dtype == a.dtype and b.shape == a.shape
    assert b.tobytes() == a.tobytes()
    assert b.flags.writeable


def test_nested_values_come_back_and_unknown_types_by_name_only():
    value = ([np.eye(2), np.zeros(3)], (1, 2.5, float("nan"), None, True, "relu"), -(10**30))
    back = round_trip(value)
    assert isinstance(back[0], list) and isinstance(back[1], tuple)
    np.testing.assert_array_equal(back[0][0], np.eye(2))
    assert back[1][:2] == (1, 2.5) and np.isnan(back[1][2]) and back[1][3:] == (None, True, "relu")
    assert back[2] == -(10**30)
    assert round_trip({"a": 1}) == Other("dict")
    assert round_trip(np.array([object()])) == Other("an array of dtype object")
    assert round_trip(np.float32(0.5)) == 0.5 and round_trip(np.int8(3)) == 3


def test_a_function_travels_by_name_and_only_to_who_accepts_it():
    assert round_trip(ActivationRef("tanh", "slope"), lambda n, p: (n, p)) == ("tanh", "slope")
    with pytest.raises(ProtocolError):
        round_trip(ActivationRef("tanh"))  # the grader accepts none


def npy(shape, dtype="<f8", body=b""):
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + body


def payload(header, blobs=()):
    text = json.dumps({**header, "blobs": [len(b) for b in blobs]}).encode()
    return protocol.HEADER.pack(len(text)) + text + b"".join(blobs)


@pytest.mark.parametrize(
    ("blob", "says"),
    [
        (npy((10**9, 10**9)), "in 0 bytes"),  # claims 8e18 bytes: refused, not allocated
        (npy((2,), body=b"\0" * 8), "in 8 bytes"),
        (npy((1,), dtype="|O", body=b"\0" * 8), "dtype object"),
        (b"not an npy file", "unreadable"),
        (npy((-1,)), "shape"),
    ],
)
def test_a_bad_array_is_refused_before_it_is_allocated(blob, says):
    header, blobs = protocol.unpack(payload({"value": ["array", 0]}, [blob]), LIMITS)
    with pytest.raises(ProtocolError, match=says):
        protocol.decode_value(header["value"], blobs, LIMITS)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        protocol.HEADER.pack(10**9) + b"{}",
        protocol.HEADER.pack(2) + b"[]",
        protocol.HEADER.pack(5) + b"{nope",
        payload({}, []) + b"extra bytes",
        protocol.HEADER.pack(12) + b'{"blobs": 3}',
    ],
)
def test_a_malformed_message_is_refused(raw):
    with pytest.raises(ProtocolError):
        protocol.unpack(raw, LIMITS)


@pytest.mark.parametrize(
    "tree",
    [
        ["array", 5],
        ["int", "1" * 1000],
        ["float", "one"],
        ["list", "not a list"],
        ["bool", "yes"],
        "a string",
        ["list", [["list", [["list", [["none"]]]]]]],
    ],
)
def test_a_malformed_value_is_refused(tree):
    with pytest.raises(ProtocolError):
        protocol.decode_value(tree, [], Limits(max_depth=2))
