"""A problem as an exercise for a student: the vocabulary of grading a student's construction,
which every problem's grading part uses (``mathdnn grade``; this module imports nothing of
mathdnn's, so every problem module can use it, as ``mathdnn.check`` for the checks).

A problem that can be graded declares an ``Exercise``: the functions a student writes (``Task``:
the name, the fixed signature, the statement the template shows) and, for each, a check
``check(student, search)``. ``student(*args)`` calls the student's function in its own process
(``mathdnn.grade.sandbox``) and returns what came back; the check tests the answer's type, shape,
dtype and finiteness (``float_array``, ``number``, ``integer``, …), then the problem's identity on
many inputs with ``search.find``, which returns the smallest input it can find where the identity
fails, as a ``Counterexample``: the call, its input, what came back, what was expected and the
identity broken. Nothing here imports a problem; the problems import this.

``search.find`` is a small property-based search in the style of QuickCheck and Hypothesis
(written here rather than taking Hypothesis as a run-time dependency: its examples are plain
NumPy, deterministic for a seed, integer-valued first so that a counterexample reads easily, and
the search stops at a time budget, which a grader needs and a test framework does not). Cases come
from a generator, simple ones first; a failing case is shrunk greedily: every candidate the
shrinker offers is strictly simpler (fewer entries, fewer non-zeros, fewer non-integers, smaller
magnitudes, fewer negatives), and the first that still fails the same way replaces it, until
none does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

# ------------------------------------------------------------------------ arrays and their entries


def fmt(x: Any) -> str:
    """A number as a student reads it: integers without a point, others to 6 digits, ``−``."""
    x = float(x) if not isinstance(x, int | np.integer) else int(x)
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        text = str(int(x)) if x.is_integer() and abs(x) < 1e15 else f"{x:.6g}"
    else:
        text = f"{x:,}" if abs(x) >= 10_000 else str(x)
    return text.replace("-", "−")


def _literal_number(v: float) -> str:
    text = f"{v:.6g}"
    return text if any(c in text for c in ".ein") else text + ".0"


def _nested(a: np.ndarray) -> str:
    if a.ndim == 0:
        return str(bool(a)) if a.dtype == bool else _literal_number(float(a))
    return "[" + ", ".join(_nested(row) for row in a) + "]"


def literal(a: np.ndarray) -> str:
    """``a`` as Python a student can paste, on one line: ``np.array([[1.0, 0.0]])``."""
    return f"np.array({_nested(np.asarray(a))})"


def index_text(index: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def _nonzero_entries(name: str, a: np.ndarray) -> list[str]:
    return [f"{name}{index_text(i)} = {_literal_number(a[tuple(i)])}" for i in np.argwhere(a != 0)]


def _shapes(arrays: Sequence[np.ndarray]) -> str:
    """``(3, 5, 5) ×6, (4, 5, 5) ×9, (6, 5, 5)``: the shapes in order, runs counted."""
    runs: list[list[Any]] = []
    for a in arrays:
        if runs and runs[-1][0] == a.shape:
            runs[-1][1] += 1
        else:
            runs.append([a.shape, 1])
    return ", ".join(f"{shape}" + (f" ×{n}" if n > 1 else "") for shape, n in runs)


def show(name: str, value: Any) -> str:
    """A value of an input as a line ``name = …``: a small array in full; a large one that is
    mostly zeros as its shape and its non-zero entries; a list of arrays item by item, or, when
    they are mostly zeros, as their shapes and non-zero entries."""
    if isinstance(value, list | tuple) and all(isinstance(v, np.ndarray) for v in value):
        if sum(v.size for v in value) > 36:
            entries = [e for k, v in enumerate(value) for e in _nonzero_entries(f"{name}[{k}]", v)]
            if len(entries) <= 12:
                head = f"{name} = {len(value)} arrays of zeros of shapes {_shapes(value)}"
                return head + (f", except {', '.join(entries)}" if entries else "")
        return "; ".join(show(f"{name}[{k}]", v) for k, v in enumerate(value))
    if not isinstance(value, np.ndarray):
        return f"{name} = {value!r}"
    if value.size <= 36:
        return f"{name} = {literal(value)}"
    entries = _nonzero_entries(name, value)
    if len(entries) <= 12:
        shape = tuple(int(n) for n in value.shape)
        return f"{name} = np.zeros({shape})" + (f", except {', '.join(entries)}" if entries else "")
    return f"{name} = {np.array2string(value, threshold=40, separator=', ')}"


def tolerance(dtype: np.dtype) -> tuple[float, float]:
    """``(rtol, atol)`` for comparing an answer of ``dtype``: the mistakes a grader looks for
    are of order one, rounding is far below these."""
    return (1e-5, 1e-6) if np.dtype(dtype).itemsize < 8 else (1e-9, 1e-9)


def mismatch(got: np.ndarray, expected: np.ndarray, dtype: Any = np.float64) -> tuple | None:
    """The first index (in C order) where ``got`` and ``expected`` differ beyond ``tolerance``,
    or ``None``."""
    rtol, atol = tolerance(dtype)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(got - expected) <= atol + rtol * np.abs(expected))
    where = np.argwhere(bad)
    return tuple(int(i) for i in where[0]) if len(where) else None


# ---------------------------------------------------------------------------- what a check reports


@dataclass(frozen=True)
class Mismatch:
    """What came back and what was expected, in words, with the identity it breaks."""

    got: str
    expected: str = ""
    identity: str = ""


@dataclass(frozen=True)
class Counterexample:
    """A failing call: ``call`` (what was called and how its answer was used), its ``inputs``
    (each a line ``name = value``, see ``show``), and the ``Mismatch``."""

    call: str
    inputs: tuple[str, ...]
    got: str
    expected: str = ""
    identity: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "call": self.call,
            "inputs": list(self.inputs),
            "got": self.got,
            "expected": self.expected,
            "identity": self.identity,
        }


class SubmissionError(Exception):
    """Something went wrong in a call of the student's code; the message is for the student."""


class NotImplementedBySubmission(SubmissionError):
    """The function raised ``NotImplementedError`` the first time it was called, or is absent."""


class Raised(SubmissionError):
    """The student's function raised an exception: that is its answer for this input."""


class Broke(SubmissionError):
    """The student's process failed (a time or memory limit, a crash, ``exit()``, a flood of
    output, an unreadable answer): the function is not asked again. ``case`` is the input it was
    working on, if any."""

    def __init__(self, message: str, case: Counterexample | None = None) -> None:
        super().__init__(message)
        self.case = case


class WrongAnswer(Exception):
    """An answer of the wrong type, shape, dtype or not finite: the ``Mismatch`` says how."""

    def __init__(self, mismatch: Mismatch) -> None:
        super().__init__(mismatch.got)
        self.mismatch = mismatch


# ------------------------------------- checking the type, shape, dtype and finiteness of an answer


def describe(value: Any) -> str:
    """What a returned value is, in a few words."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return f"the bool {value}"
    if isinstance(value, int):
        return f"the int {fmt(value)}"
    if isinstance(value, float):
        return f"the float {fmt(value)}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"a {getattr(value, 'type_name', type(value).__name__)}"


def _shape_text(shape: Sequence[int | None]) -> str:
    names = [str(n) if n is not None else "…" for n in shape]
    return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


def float_array(
    value: Any,
    shape: Sequence[int | None],
    what: str = "an array",
    accept_integers: bool = False,
) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape`` (``None``: any length), or
    ``WrongAnswer``. Integer arrays pass only with ``accept_integers`` (an input such as a
    counterexample, not a filter or a result, which must be float)."""
    expected = f"{what} of shape {_shape_text(shape)} (a NumPy float array)"
    if not isinstance(value, np.ndarray):
        raise WrongAnswer(Mismatch(f"{describe(value)}", expected))
    kinds = "fiu" if accept_integers else "f"
    if value.dtype.kind not in kinds:
        raise WrongAnswer(
            Mismatch(
                f"an array of dtype {value.dtype}",
                f"{what} of real numbers (dtype float64 or float32"
                + (", or integers)" if accept_integers else ")"),
            )
        )
    if len(value.shape) != len(shape) or any(
        n is not None and m != n for m, n in zip(value.shape, shape, strict=False)
    ):
        raise WrongAnswer(Mismatch(f"an array of shape {value.shape}", expected))
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        bad = tuple(np.argwhere(~np.isfinite(value))[0])
        raise WrongAnswer(
            Mismatch(
                f"an array with [{', '.join(map(str, bad))}] = {fmt(value[bad])}",
                f"{what} of finite numbers",
            )
        )
    return value


def bool_array(value: Any, shape: Sequence[int], what: str = "an array") -> np.ndarray:
    """``value`` as a boolean array of ``shape``, or ``WrongAnswer``."""
    expected = f"{what} of shape {_shape_text(shape)} and dtype bool"
    if not isinstance(value, np.ndarray):
        raise WrongAnswer(Mismatch(describe(value), expected))
    if value.dtype != bool:
        raise WrongAnswer(Mismatch(f"an array of dtype {value.dtype}", expected))
    if value.shape != tuple(shape):
        raise WrongAnswer(Mismatch(f"an array of shape {value.shape}", expected))
    return value


def number(value: Any, what: str = "a number") -> float:
    """A real number: a Python or NumPy float (or int), or a 0-d/size-1 float array; finite."""
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fiu":
        value = value.reshape(()).item()
    if isinstance(value, np.floating | np.integer):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WrongAnswer(Mismatch(describe(value), f"{what} (one float)"))
    if not math.isfinite(value):
        raise WrongAnswer(Mismatch(f"the float {fmt(value)}", f"{what}, finite"))
    return float(value)


def integer(value: Any, what: str = "an int") -> int:
    """A Python or NumPy integer (not a float, not a bool)."""
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WrongAnswer(Mismatch(describe(value), what))
    return value


def array_list(value: Any, length: int, what: str) -> list[Any]:
    """``value`` as a list or tuple of ``length`` items, or ``WrongAnswer``."""
    if not isinstance(value, list | tuple) or len(value) != length:
        raise WrongAnswer(Mismatch(describe(value), f"{what}: a list of {length} items"))
    return list(value)


# ----------------------------------------------------------------------------- the property search

Case = dict[str, Any]
Describe = Callable[[Case], tuple[str, tuple[str, ...]]]


@dataclass
class Search:
    """Tries up to ``examples`` generated cases, while ``time.monotonic() < deadline``; counts
    what it did in ``tried`` and ``shrinks``. ``rng`` is the generator the cases are drawn from.
    """

    rng: np.random.Generator
    examples: int | None
    deadline: float
    tried: int = 0
    shrinks: int = 0

    def time_left(self) -> bool:
        return time.monotonic() < self.deadline

    def find(
        self,
        cases: Iterable[Case],
        holds: Callable[[Case], Mismatch | None],
        describe: Describe,
        shrink: Callable[[Case], Iterable[Case]] = lambda case: (),
    ) -> Counterexample | None:
        """The smallest case found where ``holds`` returns a ``Mismatch`` (an exception the
        student's code raised, or a malformed answer, counts as one), shrunk with ``shrink``;
        ``None`` if every case tried holds."""
        for case in cases:
            if self.examples is not None and self.tried >= self.examples:
                return None
            if not self.time_left():
                return None
            self.tried += 1
            failure = self._failure(case, holds, describe)
            if failure is not None:
                return self._shrink(case, failure, holds, describe, shrink)
        return None

    def _failure(
        self, case: Case, holds: Callable[[Case], Mismatch | None], describe: Describe
    ) -> tuple[str, Counterexample] | None:
        """How ``case`` fails, if it does: its kind (a wrong value, a malformed answer, or the
        type of exception raised) and the counterexample."""
        try:
            found, kind = holds(case), "value"
        except WrongAnswer as err:
            found, kind = replace(err.mismatch, got=f"your answer: {err.mismatch.got}"), "answer"
        except Raised as err:
            found, kind = Mismatch(f"raised {err}"), str(err).split(":")[0].split(" (line")[0]
        except Broke as err:
            if err.case is None:
                call, inputs = describe(case)
                err.case = Counterexample(call, inputs, str(err))
            raise
        if found is None:
            return None
        call, inputs = describe(case)
        return kind, Counterexample(call, inputs, found.got, found.expected, found.identity)

    def _shrink(
        self,
        case: Case,
        failure: tuple[str, Counterexample],
        holds: Callable[[Case], Mismatch | None],
        describe: Describe,
        shrink: Callable[[Case], Iterable[Case]],
    ) -> Counterexample:
        """Replace ``case`` by the first simpler candidate that fails the same way (a wrong
        value stays a wrong value, an exception the same exception), until none does."""
        kind, found = failure
        improved = True
        while improved and self.time_left():
            improved = False
            for candidate in shrink(case):
                if not self.time_left():
                    break
                smaller = self._failure(candidate, holds, describe)
                if smaller is not None and smaller[0] == kind:
                    case, found, improved = candidate, smaller[1], True
                    self.shrinks += 1
                    break
        return found


# --------------------------------------------------------------------------------------- shrinking


def smaller_ints(n: int, lowest: int) -> Iterator[int]:
    """``lowest``, halfway, ``n − 1``: the integers below ``n`` a shrink tries."""
    seen = set()
    for m in (lowest, (lowest + n) // 2, n - 1):
        if lowest <= m < n and m not in seen:
            seen.add(m)
            yield m


def smaller_shapes(a: np.ndarray, minimum: Sequence[int]) -> Iterator[np.ndarray]:
    """``a`` cut along one axis to fewer entries (from the end, then from the start), never
    below ``minimum``."""
    for axis, lowest in enumerate(minimum):
        n = a.shape[axis]
        for m in smaller_ints(n, lowest):
            yield np.take(a, range(m), axis=axis)
        if n > lowest:
            yield np.take(a, range(1, n), axis=axis)


def simpler_values(a: np.ndarray) -> Iterator[np.ndarray]:
    """``a`` with simpler entries: all zero; half, a quarter, … of its non-zeros set to 0; one
    entry rounded, halved toward 0 or moved one toward 0; one made positive."""
    flat = a.reshape(-1)
    nonzero = np.flatnonzero(flat)
    if len(nonzero) == 0:
        return

    def changed(positions: Any, values: Any) -> np.ndarray:
        b = flat.copy()
        b[positions] = values
        return b.reshape(a.shape)

    yield np.zeros_like(a)
    chunk = len(nonzero) // 2
    while chunk >= 1:
        for start in range(0, len(nonzero), chunk):
            yield changed(nonzero[start : start + chunk], 0)
        chunk //= 2
    for k in nonzero:
        v = flat[k]
        if not float(v).is_integer():
            yield changed(k, np.round(v))
        elif abs(v) > 1:
            yield changed(k, np.trunc(v / 2))
            if abs(v) > 2:
                yield changed(k, v - np.sign(v))
    for k in nonzero:
        if flat[k] < 0:
            yield changed(k, -flat[k])


def replaced(case: Case, **fields: Any) -> Case:
    """A copy of ``case`` with some fields replaced."""
    return {**case, **fields}


def shrink_arrays(case: Case, minimum: dict[str, Sequence[int]]) -> Iterator[Case]:
    """The case with one named array smaller (``minimum`` gives each its smallest shape), then
    with one array's values simpler."""
    for name, lowest in minimum.items():
        for a in smaller_shapes(case[name], lowest):
            yield replaced(case, **{name: a})
    for name in minimum:
        for a in simpler_values(case[name]):
            yield replaced(case, **{name: a})


def integer_array(rng: np.random.Generator, shape: Sequence[int], bound: int = 3) -> np.ndarray:
    """Integers in ``[−bound, bound]`` as float64: the first examples, easy to read."""
    return rng.integers(-bound, bound + 1, tuple(shape)).astype(np.float64)


def example_array(rng: np.random.Generator, shape: Sequence[int], k: int) -> np.ndarray:
    """The ``k``-th example's array: integer-valued for the first half of the examples, then
    Gaussian."""
    return integer_array(rng, shape) if k % 2 == 0 else rng.standard_normal(tuple(shape))


# ------------------------------------------------------------------------ a problem's grading part

Student = Callable[..., Any]


@dataclass(frozen=True)
class ActivationRef:
    """An argument for a student's function that is an activation ``σ`` (``part="value"``) or
    its derivative ``σ′`` (``part="slope"``) of ``mathdnn.functional.activation.ACTIVATIONS``:
    functions cannot travel to the student's process, so this names one, and the child passes
    the function itself."""

    name: str
    part: str = "value"


@dataclass(frozen=True)
class Task:
    """One function the student writes: its ``name``, its ``signature`` (the ``def`` line's
    parameters and return annotation), the ``statement`` the template shows as its docstring,
    and ``check(student, search)``, which returns ``None`` when every case holds. ``examples``:
    how many cases its search tries (``None``: every case its check lists)."""

    name: str
    signature: str
    statement: str
    check: Callable[[Student, Search], Counterexample | None]
    examples: int | None = 100


@dataclass(frozen=True)
class Exercise:
    """A problem as a student solves it: its ``problem`` number, its ``title`` and the
    ``tasks``, the functions the student writes."""

    problem: str
    title: str
    tasks: tuple[Task, ...]
