"""Problem 7: the connection table against the paper, the hand counts against the homework, the
two forms of C3 against each other and against finite differences, the table's text and figure."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mathdnn
import mathdnn.functional as F
from mathdnn.engine.gradcheck import gradcheck_error
from mathdnn.hw4.p7_lenet_c3 import (
    C3_SUBSETS,
    CONNECTIONS,
    MaskedConv2d,
    SubsetConv2d,
    answer,
    connected_rows,
    connection_table_figure,
    connection_table_png,
    connection_table_text,
    input_subsets,
    lenet5_parameter_count,
    parameter_count,
    parameter_counts,
    parameter_table_text,
    write_connection_table_png,
)

# Table 1 of LeCun, Bottou, Bengio, Haffner (1998), transcribed: rows = input maps 0–5 (S2),
# columns = output maps 0–15 (C3).
PAPER_TABLE_1 = [
    "X   XXX  XXXX XX",
    "XX   XXX  XXXX X",
    "XXX   XXX  X XXX",
    " XXX  XXXX  X XX",
    "  XXX  XXXX XX X",
    "   XXX  XXXX XXX",
]


def paper_table() -> np.ndarray:
    return np.array([[c == "X" for c in row] for row in PAPER_TABLE_1])


def parameter_total(module: mathdnn.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@st.composite
def tables(draw: st.DrawFn) -> np.ndarray:
    """A random (C_in, C_out) connection table in which every output map sees some input."""
    c_in, c_out = draw(st.integers(1, 6)), draw(st.integers(1, 7))
    seed = draw(st.integers(0, 2**16))
    generator = np.random.default_rng(seed)
    table = generator.random((c_in, c_out)) < 0.5
    table[generator.integers(0, c_in, c_out), np.arange(c_out)] = True
    return table


def test_table_is_the_papers_table_1():
    np.testing.assert_array_equal(CONNECTIONS, paper_table())
    assert not CONNECTIONS.flags.writeable


def test_subsets_are_the_columns_of_the_table():
    for o, (subset, described) in enumerate(zip(input_subsets(), C3_SUBSETS, strict=True)):
        np.testing.assert_array_equal(subset, sorted(described), err_msg=f"output map {o}")
    neighbours = [sorted((o + k) % 6 for k in range(n)) for n, o in [(3, 4), (4, 5)]]
    assert [list(input_subsets()[o]) for o in (4, 11)] == neighbours


def test_hand_counts_are_the_homeworks():
    full = np.ones((6, 16), dtype=bool)
    assert parameter_count(full) == 16 * 6 * 25 + 16
    assert parameter_count(CONNECTIONS) == (6 * 3 + 9 * 4 + 1 * 6) * 25 + 16
    assert parameter_count(full) - parameter_count(CONNECTIONS) == 900
    assert lenet5_parameter_count(full) == 61_706
    assert lenet5_parameter_count(CONNECTIONS) == 60_806


def test_the_modules_report_the_hand_count():
    assert parameter_total(SubsetConv2d(rng=0)) == parameter_count(CONNECTIONS)
    assert parameter_total(MaskedConv2d(rng=0)) == parameter_count(CONNECTIONS)
    assert parameter_total(mathdnn.nn.Conv2d(6, 16, 5)) == parameter_count(np.ones((6, 16)))


@given(table=tables(), kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)))
def test_counts_agree_for_any_table(table, kernel):
    hand = int(table.sum()) * kernel[0] * kernel[1] + table.shape[1]
    assert parameter_count(table, kernel) == hand
    assert parameter_total(SubsetConv2d(table, kernel, rng=0)) == hand
    assert parameter_total(MaskedConv2d(table, kernel, rng=0)) == hand


def test_parameter_names_are_those_of_a_module_list():
    names = [name for name, _ in SubsetConv2d(rng=0).named_parameters()]
    assert names == [f"convs.{o}.{p}" for o in range(16) for p in ("weight", "bias")]
    masked = dict(MaskedConv2d(rng=0).named_parameters())
    assert {k: v.shape for k, v in masked.items()} == {"weight": (60, 5, 5), "bias": (16,)}


def test_pytorch_initialisation_map_by_map():
    subsets = SubsetConv2d(rng=3)
    for conv, subset in zip(subsets.convs, input_subsets(), strict=True):
        bound = 1 / np.sqrt(len(subset) * 25)
        assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
        assert np.abs(conv.weight.data).max() > 0.8 * bound  # fills U(−bound, bound)
    masked = MaskedConv2d(rng=3)
    rows = connected_rows([c.weight.data for c in subsets.convs])
    np.testing.assert_array_equal(masked.weight.data, rows)
    np.testing.assert_array_equal(masked.bias.data, [c.bias.data[0] for c in subsets.convs])
    assert masked.weight.dtype == np.float32 and MaskedConv2d(dtype=np.float64).bias.dtype == "f8"


def run(module: mathdnn.nn.Module, x: np.ndarray, g: np.ndarray) -> mathdnn.Tensor:
    xt = mathdnn.tensor(x, requires_grad=True)
    module(xt).backward(g)
    return xt


@given(
    table=tables(),
    kernel=st.sampled_from([(1, 1), (3, 3), (5, 5), (2, 3)]),
    n=st.integers(1, 3),
    size=st.integers(5, 9),
    seed=st.integers(0, 2**16),
)
def test_masked_and_hint_forms_agree(table, kernel, n, size, seed):
    """Forward, ∂L/∂x, and the parameter gradients mapped by connected_rows, in float64."""
    generator = np.random.default_rng(seed)
    subsets = SubsetConv2d(table, kernel, rng=seed, dtype=np.float64)
    masked = MaskedConv2d(table, kernel, rng=seed, dtype=np.float64)
    x = generator.standard_normal((n, table.shape[0], size, size))
    y_masked, y_subsets = masked(mathdnn.tensor(x)).data, subsets(mathdnn.tensor(x)).data
    np.testing.assert_allclose(y_masked, y_subsets, rtol=1e-12, atol=1e-12)
    g = generator.standard_normal(y_masked.shape)
    x_masked, x_subsets = run(masked, x, g), run(subsets, x, g)
    np.testing.assert_allclose(x_masked.grad, x_subsets.grad, rtol=1e-12, atol=1e-12)
    weight_grads = connected_rows([c.weight.grad for c in subsets.convs])
    np.testing.assert_allclose(masked.weight.grad, weight_grads, rtol=1e-12, atol=1e-12)
    bias_grads = np.concatenate([c.bias.grad for c in subsets.convs])
    np.testing.assert_allclose(masked.bias.grad, bias_grads, rtol=1e-12, atol=1e-12)


def test_from_subsets_copies_the_parameters():
    subsets = SubsetConv2d(rng=5, dtype=np.float64)
    masked = MaskedConv2d.from_subsets(subsets)
    x = mathdnn.tensor(np.random.default_rng(0).standard_normal((2, 6, 14, 14)))
    np.testing.assert_allclose(masked(x).data, subsets(x).data, rtol=1e-12, atol=1e-12)
    masked.weight.data[...] = 0  # a copy: the hint form keeps its weights
    assert np.abs(subsets.convs[0].weight.data).max() > 0


def test_full_weight_places_the_kernels_and_its_vjp_picks_them_back():
    """W[o, i] = the kernel of connection (o, i), zero elsewhere; ∂L/∂weight is ∂L/∂W read at the
    connections (checked against a plain conv2d whose weight is W itself)."""
    masked = MaskedConv2d(rng=1, dtype=np.float64)
    W = masked.full_weight().data
    assert W.shape == (16, 6, 5, 5)
    np.testing.assert_array_equal(W[~CONNECTIONS.T], 0)
    subsets = input_subsets()
    for o, conv in enumerate(SubsetConv2d(rng=1, dtype=np.float64).convs):
        np.testing.assert_array_equal(W[o, subsets[o]], conv.weight.data[0])
    x = np.random.default_rng(2).standard_normal((3, 6, 14, 14))
    g = np.random.default_rng(3).standard_normal((3, 16, 10, 10))
    run(masked, x, g)
    plain = mathdnn.tensor(W, requires_grad=True)
    F.conv2d(mathdnn.tensor(x), plain, mathdnn.tensor(masked.bias.data)).backward(g)
    np.testing.assert_allclose(masked.weight.grad, plain.grad[CONNECTIONS.T], rtol=1e-12)


def test_the_zeros_stay_zero_under_training():
    masked = MaskedConv2d(rng=0, dtype=np.float64)
    generator = np.random.default_rng(0)
    for _ in range(5):
        x = mathdnn.tensor(generator.standard_normal((4, 6, 14, 14)))
        masked.zero_grad()
        (masked(x) ** 2).mean().backward()
        for p in masked.parameters():
            p.data -= 0.5 * p.grad
    W = masked.full_weight().data
    np.testing.assert_array_equal(W[~CONNECTIONS.T], 0)
    assert np.all(np.abs(W[CONNECTIONS.T]).sum(axis=(1, 2)) > 0)


@pytest.mark.parametrize("form", [MaskedConv2d, SubsetConv2d])
def test_vjp_against_finite_differences(form):
    table = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool)
    module = form(table, (2, 3), rng=0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((2, 4, 4, 5))
    names, params = zip(*[(n, p.data.copy()) for n, p in module.named_parameters()], strict=True)

    def f(x: mathdnn.Tensor, *values: mathdnn.Tensor) -> mathdnn.Tensor:
        for name, value in zip(names, values, strict=True):  # the inputs become the parameters
            *path, attribute = name.split(".")
            owner = module
            for part in path:
                owner = getattr(owner, part)
            setattr(owner, attribute, value)
        return module(x)

    assert gradcheck_error(f, [x, *params]) < 1e-8


def test_text_is_the_papers_layout():
    text = connection_table_text()
    header, *rows = text.splitlines()
    assert header.split() == [str(o) for o in range(16)]
    assert [int(row.split()[0]) for row in rows] == list(range(6))
    columns = [header.index(f" {o}") + len(f" {o}") - 1 for o in range(16)]  # right-aligned
    parsed = [[len(row) > c and row[c] == "X" for c in columns] for row in rows]
    np.testing.assert_array_equal(parsed, CONNECTIONS)
    assert text.count("X") == 60


def test_figure_png(tmp_path):
    png = connection_table_png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    path = write_connection_table_png(tmp_path / "figures" / "c3.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    small = np.array([[1, 0], [1, 1]])
    axes = connection_table_figure(small, groups=()).axes[0]
    assert len(axes.patches) == small.size


def test_answer_reports_agreement():
    text = answer()
    assert connection_table_text() in text
    assert parameter_table_text(parameter_counts()) in text
    assert "table and model agree" in text
    assert "the hint's 16 convolutions: hand 60,806, reported 60,806: agrees" in text


def test_parameter_counts_from_table_and_model():
    counts = parameter_counts()
    for c3 in ("full", "original"):
        assert counts[c3]["c3_from_table"] == counts[c3]["c3_from_model"]
        assert counts[c3]["network_from_table"] == counts[c3]["network_from_model"]
    unconnected = CONNECTIONS.size - int(CONNECTIONS.sum())
    saved = counts["full"]["network_from_model"] - counts["original"]["network_from_model"]
    assert saved == unconnected * 5 * 5
    text = parameter_table_text(counts)
    assert f"{counts['original']['network_from_model']:,}" in text and "agree" in text


BAD_TABLES = [
    (np.ones(16, dtype=bool), ValueError, "non-empty 2-D"),
    (np.ones((6, 16, 1), dtype=bool), ValueError, "non-empty 2-D"),
    (np.ones((0, 16), dtype=bool), ValueError, "non-empty 2-D"),
    (np.full((6, 16), 2), ValueError, "0/1"),
    (np.full((6, 16), np.nan), ValueError, "0/1"),
    (np.array([["X", ""]]), TypeError, "dtype"),
    ([[1, 0], [1]], ValueError, "2-D array"),
    (CONNECTIONS * np.arange(16) % 7 != 0, ValueError, r"column\(s\) \[0, 7, 14\]"),
]


@pytest.mark.parametrize(("table", "error", "message"), BAD_TABLES)
@pytest.mark.parametrize(
    ("fn", "call"),
    [
        ("SubsetConv2d", SubsetConv2d),
        ("MaskedConv2d", MaskedConv2d),
        ("parameter_count", parameter_count),
        ("input_subsets", input_subsets),
        ("connection_table_text", connection_table_text),
        ("connection_table_figure", lambda t: connection_table_figure(t, groups=())),
        ("lenet5_parameter_count", lenet5_parameter_count),
    ],
)
def test_bad_tables(fn, call, table, error, message):
    with pytest.raises(error, match=rf"^{fn}: .*{message}"):
        call(table)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^lenet5_parameter_count: table must have shape \(6, 16"):
        lenet5_parameter_count(np.ones((6, 15)))
    with pytest.raises(ValueError, match=r"^MaskedConv2d: kernel_size must be positive"):
        MaskedConv2d(kernel_size=0)
    with pytest.raises(TypeError, match=r"^SubsetConv2d: kernel_size must be an int or a pair"):
        SubsetConv2d(kernel_size=2.5)
    with pytest.raises(TypeError, match=r"^MaskedConv2d: dtype must be float32 or float64"):
        MaskedConv2d(dtype=np.int32)
    with pytest.raises(TypeError, match=r"^SubsetConv2d: dtype must be float32 or float64"):
        SubsetConv2d(dtype="no such type")
    with pytest.raises(TypeError, match=r"^MaskedConv2d.from_subsets: subsets must be a Subset"):
        MaskedConv2d.from_subsets(mathdnn.nn.Conv2d(6, 16, 5))
    with pytest.raises(ValueError, match=r"^connection_table_figure: group 'all 6' covers .*15"):
        connection_table_figure(np.ones((6, 15)))
    for form in (MaskedConv2d, SubsetConv2d):
        for shape in [(2, 5, 14, 14), (6, 14, 14), (2, 7, 14, 14)]:
            x = mathdnn.tensor(np.zeros(shape, dtype=np.float32))
            with pytest.raises(ValueError, match=rf"^{form.__name__}: x must have shape \(N, 6"):
                form(rng=0)(x)
