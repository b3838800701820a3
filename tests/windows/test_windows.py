"""``mathdnn.windows``: a window read by output pixel and by tap are the same rows, and
``output_size`` counts the windows that fit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mathdnn import windows


@given(
    size=st.integers(1, 20),
    pad=st.integers(0, 3),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 4),
    dilation=st.integers(1, 3),
)
def test_windows_by_pixel_and_by_tap_agree(size, pad, kernel, stride, dilation):
    padded = size + 2 * pad
    if windows.extent(kernel, dilation) > padded:
        with pytest.raises(ValueError, match="f: the window"):
            windows.output_size("f", size, 2 * pad, kernel, stride, dilation, "window")
        return
    out = windows.output_size("f", size, 2 * pad, kernel, stride, dilation, "window")
    rows = np.arange(padded)
    by_pixel = np.array([rows[windows.window(i, kernel, stride, dilation)] for i in range(out)])
    by_tap = np.array([rows[windows.tap(a, stride, dilation, out)] for a in range(kernel)]).T
    np.testing.assert_array_equal(by_pixel, by_tap)
    np.testing.assert_array_equal(
        by_pixel - pad, windows.input_rows(out, kernel, stride, pad, dilation)
    )
    assert by_pixel.max() < padded  # every window fits ...
    assert (
        stride * out + windows.extent(kernel, dilation) - 1 >= padded
    )  # ... and one more would not


def test_ceil_mode_keeps_a_last_window_that_starts_inside():
    assert windows.output_size("f", 5, 0, 2, 2, 1, "window") == 2
    assert windows.output_size("f", 5, 0, 2, 2, 1, "window", ceil_mode=True) == 3
    assert windows.output_size("f", 4, 2, 2, 2, 1, "window", ceil_mode=True) == 3


def test_pair_reads_one_int_for_both_axes():
    for value in (3, (3,), [3], np.array([3]), (3, 3)):
        assert windows.pair("f", "stride", value, minimum=1) == (3, 3)
    for bad in ((), (1, 2, 3), (1.0,), (True,), "3"):
        with pytest.raises(TypeError, match=r"^f: stride must be an int or a pair of ints"):
            windows.pair("f", "stride", bad, minimum=1)
    with pytest.raises(ValueError, match=r"^f: padding must be non-negative, got \(-1,\)"):
        windows.pair("f", "padding", (-1,), minimum=0)
