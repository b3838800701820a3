"""The property search: cases are shrunk to the smallest that still fails, every shrink step is
strictly simpler, and a returned value is checked for type, shape, dtype and finiteness with a
message that says what came back and what was expected."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mathdnn.exercise import (
    Mismatch,
    Raised,
    Search,
    WrongAnswer,
    float_array,
    fmt,
    index_text,
    integer,
    literal,
    mismatch,
    number,
    show,
    shrink_arrays,
    simpler_values,
)


def simplicity(a: np.ndarray) -> tuple:
    """What a shrink step must decrease (in this order)."""
    return (
        a.size,
        np.count_nonzero(a),
        np.count_nonzero(a != np.round(a)),
        float(np.abs(np.round(a)).sum()),
        np.count_nonzero(a < 0),
    )


@given(hnp.arrays(np.float64, (2, 3), elements=st.floats(-9, 9).map(lambda v: round(v, 1))))
def test_every_simpler_value_is_strictly_simpler(a):
    for b in simpler_values(a):
        assert b.shape == a.shape
        assert simplicity(b) < simplicity(a)


def search(examples=50):
    return Search(np.random.default_rng(0), examples, time.monotonic() + 30)


def test_a_failing_case_shrinks_to_the_smallest():
    def cases():
        rng = np.random.default_rng(1)
        while True:
            yield {"x": rng.integers(-9, 10, (3, 4)).astype(float)}

    def holds(case):
        big = np.argwhere(case["x"] > 3)
        return Mismatch(f"x{index_text(big[0])} > 3") if len(big) else None

    found = search().find(
        cases(),
        holds,
        lambda case: ("f(x)", (show("x", case["x"]),)),
        lambda case: shrink_arrays(case, {"x": (1, 1)}),
    )
    assert found.inputs == ("x = np.array([[4.0]])",)
    assert found.got == "x[0, 0] > 3"


def test_an_exception_or_a_malformed_answer_is_a_counterexample_too():
    def holds(case):
        if case["n"] > 2:
            raise Raised("IndexError: out of range (line 3)")
        if case["n"] > 1:
            raise WrongAnswer(Mismatch("an array of shape (2,)", "shape (3,)"))
        return None

    describe = lambda case: (f"f({case['n']})", ())  # noqa: E731
    found = search().find(({"n": n} for n in range(10)), holds, describe)
    assert (found.call, found.got, found.expected) == (
        "f(2)",
        "your answer: an array of shape (2,)",
        "shape (3,)",
    )
    found = search().find(({"n": n} for n in (0, 5)), holds, describe)
    assert found.got == "raised IndexError: out of range (line 3)"


def test_the_search_stops_at_its_budget():
    s = search(examples=7)
    assert s.find(({"n": n} for n in range(100)), lambda case: None, lambda c: ("", ())) is None
    assert s.tried == 7
    late = Search(np.random.default_rng(0), None, time.monotonic() - 1)
    assert late.find(({"n": n} for n in range(100)), lambda c: None, lambda c: ("", ())) is None
    assert late.tried == 0


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (None, "None"),
        ([1.0, 2.0], "a list of 2 items"),
        (np.zeros((2, 3)), "an array of shape (2, 3)"),
        (np.zeros((2, 2), dtype=int), "an array of dtype int64"),
        (np.array([[0.0, np.inf], [0, 0]]), "an array with [0, 1] = ∞"),
    ],
)
def test_a_malformed_array_is_named(value, says):
    with pytest.raises(WrongAnswer) as err:
        float_array(value, (2, 2), "the filter w")
    assert err.value.mismatch.got == says
    assert "the filter w" in err.value.mismatch.expected


def test_numbers_and_integers_are_checked():
    assert number(np.float32(0.5)) == 0.5 and number(np.array([2.0])) == 2.0 and number(3) == 3.0
    for bad in (np.zeros(2), "1", True, float("nan")):
        with pytest.raises(WrongAnswer):
            number(bad)
    assert integer(np.int64(1516)) == 1516
    for bad in (1516.0, True, None):
        with pytest.raises(WrongAnswer):
            integer(bad)


def test_values_read_as_a_student_writes_them():
    assert fmt(-0.5) == "−0.5" and fmt(3.0) == "3" and fmt(61706) == "61,706"
    assert literal(np.array([[1.0, -0.5]])) == "np.array([[1.0, -0.5]])"
    sparse = np.zeros((1, 6, 14, 14))
    sparse[0, 2, 3, 4] = 1
    assert show("x", sparse) == "x = np.zeros((1, 6, 14, 14)), except x[0, 2, 3, 4] = 1.0"
    weights = [np.zeros((3, 5, 5))] * 6 + [np.zeros((4, 5, 5))]
    assert show("w", weights) == "w = 7 arrays of zeros of shapes (3, 5, 5) ×6, (4, 5, 5)"


def test_a_float32_answer_is_compared_at_float32_precision():
    expected = np.array([0.299, 0.587])
    assert mismatch(expected.astype(np.float32), expected, np.float32) is None
    assert mismatch(expected.astype(np.float32), expected, np.float64) == (0,)


def test_a_failure_shrinks_only_to_a_failure_of_the_same_kind():
    def holds(case):
        if case["n"] < 3:
            raise Raised("IndexError: out of range (line 3)")
        return Mismatch(f"f({case['n']}) is wrong")

    def shrink(case):
        return ({"n": m} for m in range(case["n"]))

    found = search().find([{"n": 7}], holds, lambda c: (f"f({c['n']})", ()), shrink)
    assert found.got == "f(3) is wrong"  # not the IndexError of n < 3
