"""Problem 7 graded: a student's C3 of the original LeNet-5: the connection table against the
paper's ``CONNECTIONS``, the parameter counts against the hand counts ``parameter_count`` and
``lenet5_parameter_count``, and the layer's forward against the hint's form ``SubsetConv2d``."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np

from mathdnn.engine import Tensor, no_grad
from mathdnn.grade.exercise import (
    Case,
    Counterexample,
    Exercise,
    Mismatch,
    Search,
    Student,
    Task,
    bool_array,
    example_array,
    float_array,
    fmt,
    index_text,
    integer,
    mismatch,
    replaced,
    show,
    simpler_values,
)
from mathdnn.hw4.p7_lenet_c3 import (
    C3_GROUPS,
    CONNECTIONS,
    MaskedConv2d,
    SubsetConv2d,
    connection_table_text,
    input_subsets,
    lenet5_parameter_count,
    parameter_count,
)

TABLE = (
    "LeNet-5's Table 1 (LeCun et al. 1998): output maps 0–5 see 3 cyclically neighbouring input "
    "maps {o, o+1, o+2} mod 6, maps 6–11 see 4 neighbours {o, …, o+3} mod 6, maps 12–14 see "
    "{0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5}, map 15 sees all 6"
)
C3_COUNT = "Σ_o |S_o|·5·5 + 16: one 5×5 kernel per connection, one bias per output map"
LENET_COUNT = (
    "C1 6·1·5·5 + 6, C3 Σ_o |S_o|·5·5 + 16, C5 400·120 + 120, F6 120·84 + 84, F7 84·10 + 10"
)
SUBSETS = [tuple(int(i) for i in s) for s in input_subsets(CONNECTIONS)]


def _group(o: int) -> str:
    for label, start, stop in C3_GROUPS:
        if start <= o < stop:
            return label.replace("\n", " ")
    raise AssertionError(o)


def check_c3_connections(student: Student, search: Search) -> Counterexample | None:
    table = bool_array(student(), (6, 16), "the connection table")
    for o in range(16):
        for i in range(6):
            if table[i, o] != CONNECTIONS[i, o]:
                return Counterexample(
                    "c3_connections()",
                    (),
                    f"your table[{i}, {o}] = {bool(table[i, o])}",
                    f"{bool(CONNECTIONS[i, o])}: output map {o} ({_group(o)}) sees input maps "
                    f"{SUBSETS[o]}",
                    TABLE,
                )
    return None


def _tables(search: Search) -> Iterator[Case]:
    yield {"table": CONNECTIONS.copy()}
    yield {"table": np.ones((6, 16), dtype=bool)}
    while True:
        table = search.rng.random((6, 16)) < search.rng.uniform(0.1, 0.9)
        table[search.rng.integers(0, 6, 16), np.arange(16)] = True  # no output map sees nothing
        yield {"table": table}


def _fewer_connections(case: Case) -> Iterator[Case]:
    """Tables with fewer connections, every output map still seeing one input map."""
    table = case["table"]
    first = table.argmax(axis=0)
    only_first = np.zeros_like(table)
    only_first[first, np.arange(16)] = True
    if table.sum() > 16:
        yield {"table": only_first}
    for o in range(16):
        if table[:, o].sum() > 1:
            fewer = table.copy()
            fewer[:, o] = only_first[:, o]
            yield {"table": fewer}


def _describe_table(name: str) -> Callable[[Case], tuple[str, tuple[str, ...]]]:
    def describe(case: Case) -> tuple[str, tuple[str, ...]]:
        table = case["table"]
        text = "table (rows: input maps, columns: output maps, X: connected) =\n"
        return f"{name}(table)", (text + connection_table_text(table),)

    return describe


def _count_check(
    name: str,
    reference: Callable[[np.ndarray], int],
    explain: Callable[[np.ndarray], str],
    identity: str,
) -> Callable[[Student, Search], Counterexample | None]:
    def check(student: Student, search: Search) -> Counterexample | None:
        def holds(case: Case) -> Mismatch | None:
            table = case["table"]
            got = integer(student(table), "the number of parameters, an int")
            expected = reference(table)
            if got == expected:
                return None
            return Mismatch(
                f"your {name}(table) = {fmt(got)}", f"{fmt(expected)} = {explain(table)}", identity
            )

        return search.find(_tables(search), holds, _describe_table(name), _fewer_connections)

    return check


def _c3_terms(table: np.ndarray) -> str:
    return f"{int(table.sum())}·5·5 + 16"


check_c3_parameter_count = _count_check("c3_parameter_count", parameter_count, _c3_terms, C3_COUNT)
check_lenet5_parameter_count = _count_check(
    "lenet5_parameter_count",
    lenet5_parameter_count,
    lambda table: (
        f"156 + ({_c3_terms(table)} = {fmt(parameter_count(table))}) + 48,120 + 10,164 + 850"
    ),
    LENET_COUNT,
)


def _forward_cases(search: Search) -> Iterator[Case]:
    for k in itertools.count():
        n = 1 + k % 2
        yield {
            "x": example_array(search.rng, (n, 6, 14, 14), k),
            "weights": [example_array(search.rng, (len(s), 5, 5), k) for s in SUBSETS],
            "bias": example_array(search.rng, (16,), k),
        }


def _forward_shrink(case: Case) -> Iterator[Case]:
    x, weights = case["x"], case["weights"]
    if len(x) > 1:
        yield replaced(case, x=x[:1])
    for simpler in simpler_values(case["bias"]):
        yield replaced(case, bias=simpler)
    if any(w.any() for w in weights):
        yield replaced(case, weights=[np.zeros_like(w) for w in weights])
    for o, w in enumerate(weights):
        if w.any() and sum(v.any() for v in weights) > 1:
            yield replaced(
                case, weights=[v if p == o else np.zeros_like(v) for p, v in enumerate(weights)]
            )
    for simpler in simpler_values(x):
        yield replaced(case, x=simpler)
    for o, w in enumerate(weights):
        for simpler in simpler_values(w):
            yield replaced(case, weights=[*weights[:o], simpler, *weights[o + 1 :]])


def check_c3_forward(student: Student, search: Search) -> Counterexample | None:
    hint = SubsetConv2d(dtype=np.float64)

    def expected_output(case: Case) -> np.ndarray:
        """The hint's form with the case's kernels, computed as the masked form (one
        convolution, the same map)."""
        for conv, w, b in zip(hint.convs, case["weights"], case["bias"], strict=True):
            conv.weight.data = w[None]
            conv.bias.data = np.array([b])
        with no_grad():
            return MaskedConv2d.from_subsets(hint)(Tensor(case["x"])).data

    def holds(case: Case) -> Mismatch | None:
        x = case["x"]
        got = float_array(
            student(x, case["weights"], case["bias"]), (len(x), 16, 10, 10), "the output Y"
        )
        expected = expected_output(case)
        index = mismatch(got, expected, got.dtype)
        if index is None:
            return None
        n, o, i, j = index
        s = SUBSETS[o]
        return Mismatch(
            f"your Y{index_text(index)} = {fmt(got[index])}",
            f"{fmt(expected[index])} = bias[{o}] + Σ_(k, a, b) weights[{o}][k, a, b]·"
            f"x[{n}, S_{o}[k], {i} + a, {j} + b], S_{o} = {s}",
            "Y[n, o] = conv2d(x[n, S_o], weights[o]) + bias[o]: output map o convolves only the "
            "input maps S_o it sees (5×5 kernels, no padding)",
        )

    def describe(case: Case) -> tuple[str, tuple[str, ...]]:
        return (
            "c3_forward(x, weights, bias)",
            (show("x", case["x"]), show("weights", case["weights"]), show("bias", case["bias"])),
        )

    return search.find(_forward_cases(search), holds, describe, _forward_shrink)


STATEMENT_TABLE = """\
In the original LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998, Table 1), C3 connects each of its
16 output maps o to a subset S_o of the 6 input maps (the maps of S2): maps 0–5 see 3
neighbouring input maps, maps 6–11 see 4 neighbouring input maps, maps 12–14 see 4 input maps
that are not all neighbours, and map 15 sees all 6 (neighbours are taken cyclically, as in the
paper's table).
"""

EXERCISE = Exercise(
    "7",
    "the C3 layer of LeNet-5",
    (
        Task(
            "c3_connections",
            "() -> np.ndarray",
            "Problem 7: the connection table of C3.\n\n"
            + STATEMENT_TABLE
            + """
Return the table as a bool array of shape (6, 16): table[i, o] is True when output map o sees
input map i (rows: input maps, columns: output maps, as in the paper).
""",
            check_c3_connections,
            examples=None,
        ),
        Task(
            "c3_parameter_count",
            "(table: np.ndarray) -> int",
            """\
Problem 7: the number of parameters of a partially connected C3.

table is a bool array of shape (6, 16), table[i, o] True when output map o sees input map i
(every output map sees at least one). Return the number of parameters of a C3 connected by
table, with 5×5 kernels and one bias per output map (an int). A full C3 (all True) has
16·6·25 + 16 = 2,416.
""",
            check_c3_parameter_count,
            examples=40,
        ),
        Task(
            "lenet5_parameter_count",
            "(table: np.ndarray) -> int",
            """\
Problem 7: the number of parameters of LeNet-5 with C3 connected by table.

The network, for 1×28×28 inputs: C1 conv 1→6 5×5 padding 2; S2 avg-pool 2 (no parameters);
C3 connected by table (as in c3_parameter_count); S4 avg-pool 2; C5 linear 400→120; F6 linear
120→84; F7 linear 84→10; every convolution and linear layer has a bias. Return the total number
of parameters (an int).
""",
            check_lenet5_parameter_count,
            examples=40,
        ),
        Task(
            "c3_forward",
            "(x: np.ndarray, weights: list[np.ndarray], bias: np.ndarray) -> np.ndarray",
            "Problem 7: the forward of C3.\n\n"
            + STATEMENT_TABLE
            + """
Compute C3 with the paper's table: x has shape (N, 6, 14, 14); weights is a list of 16 arrays,
weights[o] of shape (|S_o|, 5, 5), the kernels of output map o for its input maps S_o in
increasing order; bias has shape (16,). Return Y of shape (N, 16, 10, 10):

    Y[n, o] = conv2d(x[n, S_o], weights[o]) + bias[o]     (no padding, stride 1)

(the course's hint: 16 small convolutions on x[:, S_o], concatenated).
""",
            check_c3_forward,
            examples=12,
        ),
    ),
)
