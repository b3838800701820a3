"""tanh's fast path (``kernels/elementwise.py``) against its formula: the same bits, forward and
VJP, for any shape (one part or many), dtype, layout and thread count, NaN and ±∞ included; and
the rule takes it only for arrays the workspace keeps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mathdnn
from mathdnn import kernels
from mathdnn.functional.activation import tanh_formula
from mathdnn.kernels import elementwise, workspace


@given(
    size=st.integers(0, 300_000),
    dtype=st.sampled_from([np.float32, np.float64]),
    transposed=st.booleans(),
    special=st.booleans(),
    threads=st.sampled_from([1, 2, 3]),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40)
def test_tanh_in_parts_has_the_formulas_bits(size, dtype, transposed, special, threads, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((size, 2)) * 3).astype(dtype)
    g = rng.standard_normal((size, 2)).astype(dtype)
    if special and size:
        x.reshape(-1)[rng.integers(0, x.size, 3)] = [np.nan, np.inf, -np.inf]
        g.reshape(-1)[rng.integers(0, g.size, 3)] = [np.nan, np.inf, -np.inf]
    if transposed:  # not contiguous
        x, g = x.T, g.T
    previous = mathdnn.get_num_threads()
    mathdnn.set_num_threads(threads)
    try:
        with np.errstate(invalid="ignore"):  # ∞ · 0 = NaN in both
            t, vjp = elementwise.tanh(x)
            (grad,) = vjp(g)
            t_formula, vjp_formula = tanh_formula(x)
            (grad_formula,) = vjp_formula(g)
    finally:
        mathdnn.set_num_threads(previous)
    assert t.shape == x.shape and t.dtype == x.dtype and grad.dtype == grad_formula.dtype
    assert t.tobytes() == np.ascontiguousarray(t_formula).tobytes()
    assert grad.tobytes() == np.ascontiguousarray(grad_formula).tobytes()


def test_parts_cover_the_array_in_runs_of_part_bytes():
    assert elementwise.parts(10, 4) == [slice(0, 10)]  # small: one part
    n = elementwise.PARALLEL_MIN_BYTES // 4 + 5
    runs = elementwise.parts(n, 4)
    assert runs[0].start == 0 and runs[-1].stop == n and len(runs) > 1
    assert all(a.stop == b.start for a, b in itertools.pairwise(runs))
    assert all(r.stop - r.start <= elementwise.PART_BYTES // 4 for r in runs)


@pytest.mark.parametrize("size", [100, workspace.MIN_BYTES // 4])
def test_the_rule_takes_the_parts_for_arrays_the_workspace_keeps(size):
    x = np.ones(size, dtype=np.float32)
    picked = kernels.tanh_kernel(tanh_formula, x)
    assert picked is (elementwise.tanh if x.nbytes >= workspace.MIN_BYTES else tanh_formula)
