"""Argument checks shared by the primitives: every message names the function and the argument."""

from __future__ import annotations

from typing import Any

import numpy as np

from mathdnn.engine import Tensor
from mathdnn.engine.tensor import as_numbers


def float_tensor(fn: str, name: str, value: Any) -> Tensor:
    """``value`` as a Tensor, which must hold floating-point numbers (float32 or float64; a
    float16 array is widened to float32, longdouble and complex ones are refused)."""
    t = value if isinstance(value, Tensor) else Tensor(as_numbers(fn, name, value))
    if t.dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must be a floating-point tensor, got dtype {t.dtype}")
    return t


def check_ndim(fn: str, name: str, t: Tensor, allowed: tuple[int, ...], meaning: str) -> None:
    if t.ndim not in allowed:
        raise ValueError(
            f"{fn}: {name} must have {' or '.join(map(str, allowed))} dimensions {meaning}, "
            f"got shape {t.shape}"
        )


def positive_int(fn: str, name: str, value: Any) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool):
        raise TypeError(f"{fn}: {name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{fn}: {name} must be positive, got {value}")
    return int(value)


def float_dtype(fn: str, dtype: Any) -> np.dtype:
    """``dtype`` as a NumPy dtype, which must be float32 or float64 (the parameters' dtype)."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{fn}: dtype must be float32 or float64, got {dtype!r}") from err
    if resolved not in (np.float32, np.float64):
        raise TypeError(f"{fn}: dtype must be float32 or float64, got {resolved}")
    return resolved
