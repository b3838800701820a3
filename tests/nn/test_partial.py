"""``mathdnn.nn.partial``: the two forms of a partially connected convolution (one small
convolution per output map, and one masked convolution) against each other, against a plain
``conv2d`` and finite differences, with the parameter counts of their table; on LeNet-5's C3 and
on random tables."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mathdnn
import mathdnn.functional as F
from mathdnn.engine.gradcheck import gradcheck_error
from mathdnn.models.lenet import CONNECTIONS
from mathdnn.nn.partial import MaskedConv2d, SubsetConv2d, connected_rows, input_subsets


def parameter_total(module: mathdnn.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def hand_count(table: np.ndarray, kernel: tuple[int, int] = (5, 5)) -> int:
    """One ``kh×kw`` kernel per connection, one bias per output map."""
    return int(np.sum(table)) * kernel[0] * kernel[1] + np.shape(table)[1]


@st.composite
def tables(draw: st.DrawFn) -> np.ndarray:
    """A random (C_in, C_out) connection table in which every output map sees some input."""
    c_in, c_out = draw(st.integers(1, 6)), draw(st.integers(1, 7))
    seed = draw(st.integers(0, 2**16))
    generator = np.random.default_rng(seed)
    table = generator.random((c_in, c_out)) < 0.5
    table[generator.integers(0, c_in, c_out), np.arange(c_out)] = True
    return table


def test_the_modules_report_the_hand_count():
    assert parameter_total(SubsetConv2d(CONNECTIONS, rng=0)) == hand_count(CONNECTIONS) == 1516
    assert parameter_total(MaskedConv2d(CONNECTIONS, rng=0)) == hand_count(CONNECTIONS)
    assert parameter_total(mathdnn.nn.Conv2d(6, 16, 5)) == hand_count(np.ones((6, 16)))


def test_subsets_are_the_columns_of_the_table():
    table = np.array([[1, 0, 1], [0, 1, 1]], dtype=bool)
    assert [list(s) for s in input_subsets(table)] == [[0], [1], [0, 1]]


@given(table=tables(), kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)))
def test_counts_agree_for_any_table(table, kernel):
    hand = hand_count(table, kernel)
    assert parameter_total(SubsetConv2d(table, kernel, rng=0)) == hand
    assert parameter_total(MaskedConv2d(table, kernel, rng=0)) == hand


def test_parameter_names_are_those_of_a_module_list():
    names = [name for name, _ in SubsetConv2d(CONNECTIONS, rng=0).named_parameters()]
    assert names == [f"convs.{o}.{p}" for o in range(16) for p in ("weight", "bias")]
    masked = dict(MaskedConv2d(CONNECTIONS, rng=0).named_parameters())
    assert {k: v.shape for k, v in masked.items()} == {"weight": (60, 5, 5), "bias": (16,)}


def test_pytorch_initialisation_map_by_map():
    subsets = SubsetConv2d(CONNECTIONS, rng=3)
    for conv, subset in zip(subsets.convs, input_subsets(CONNECTIONS), strict=True):
        bound = 1 / np.sqrt(len(subset) * 25)
        assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
        assert np.abs(conv.weight.data).max() > 0.8 * bound  # fills U(−bound, bound)
    masked = MaskedConv2d(CONNECTIONS, rng=3)
    rows = connected_rows([c.weight.data for c in subsets.convs])
    np.testing.assert_array_equal(masked.weight.data, rows)
    np.testing.assert_array_equal(masked.bias.data, [c.bias.data[0] for c in subsets.convs])
    assert masked.weight.dtype == np.float32
    assert MaskedConv2d(CONNECTIONS, dtype=np.float64).bias.dtype == "f8"


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
    subsets = SubsetConv2d(CONNECTIONS, rng=5, dtype=np.float64)
    masked = MaskedConv2d.from_subsets(subsets)
    x = mathdnn.tensor(np.random.default_rng(0).standard_normal((2, 6, 14, 14)))
    np.testing.assert_allclose(masked(x).data, subsets(x).data, rtol=1e-12, atol=1e-12)
    masked.weight.data[...] = 0  # a copy: the hint form keeps its weights
    assert np.abs(subsets.convs[0].weight.data).max() > 0


def test_full_weight_places_the_kernels_and_its_vjp_picks_them_back():
    """W[o, i] = the kernel of connection (o, i), zero elsewhere; ∂L/∂weight is ∂L/∂W read at the
    connections (checked against a plain conv2d whose weight is W itself)."""
    masked = MaskedConv2d(CONNECTIONS, rng=1, dtype=np.float64)
    W = masked.full_weight().data
    assert W.shape == (16, 6, 5, 5)
    np.testing.assert_array_equal(W[~CONNECTIONS.T], 0)
    subsets = input_subsets(CONNECTIONS)
    for o, conv in enumerate(SubsetConv2d(CONNECTIONS, rng=1, dtype=np.float64).convs):
        np.testing.assert_array_equal(W[o, subsets[o]], conv.weight.data[0])
    x = np.random.default_rng(2).standard_normal((3, 6, 14, 14))
    g = np.random.default_rng(3).standard_normal((3, 16, 10, 10))
    run(masked, x, g)
    plain = mathdnn.tensor(W, requires_grad=True)
    F.conv2d(mathdnn.tensor(x), plain, mathdnn.tensor(masked.bias.data)).backward(g)
    np.testing.assert_allclose(masked.weight.grad, plain.grad[CONNECTIONS.T], rtol=1e-12)


def test_the_zeros_stay_zero_under_training():
    masked = MaskedConv2d(CONNECTIONS, rng=0, dtype=np.float64)
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
        ("input_subsets", input_subsets),
    ],
)
def test_bad_tables(fn, call, table, error, message):
    with pytest.raises(error, match=rf"^{fn}: .*{message}"):
        call(table)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^MaskedConv2d: kernel_size must be positive"):
        MaskedConv2d(CONNECTIONS, kernel_size=0)
    with pytest.raises(TypeError, match=r"^SubsetConv2d: kernel_size must be an int or a pair"):
        SubsetConv2d(CONNECTIONS, kernel_size=2.5)
    with pytest.raises(TypeError, match=r"^MaskedConv2d: dtype must be float32 or float64"):
        MaskedConv2d(CONNECTIONS, dtype=np.int32)
    with pytest.raises(TypeError, match=r"^SubsetConv2d: dtype must be float32 or float64"):
        SubsetConv2d(CONNECTIONS, dtype="no such type")
    with pytest.raises(TypeError, match=r"^MaskedConv2d.from_subsets: subsets must be a Subset"):
        MaskedConv2d.from_subsets(mathdnn.nn.Conv2d(6, 16, 5))
    for form in (MaskedConv2d, SubsetConv2d):
        for shape in [(2, 5, 14, 14), (6, 14, 14), (2, 7, 14, 14)]:
            x = mathdnn.tensor(np.zeros(shape, dtype=np.float32))
            with pytest.raises(ValueError, match=rf"^{form.__name__}: x must have shape \(N, 6"):
                form(CONNECTIONS, rng=0)(x)
