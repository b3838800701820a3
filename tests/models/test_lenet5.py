"""mathdnn.models.LeNet5: C3's connection table against the paper, parameter counts against the
hand count, names, config, the two forms of the original C3 as one map, bad arguments."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mathdnn
import mathdnn.functional as F
from mathdnn.hw4.p7_lenet_c3 import lenet5_parameter_count
from mathdnn.models import LeNet5
from mathdnn.models.lenet import C3_SUBSETS, CONNECTIONS
from mathdnn.nn import MaskedConv2d
from mathdnn.nn.partial import connected_rows, input_subsets

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


def test_table_is_the_papers_table_1():
    np.testing.assert_array_equal(CONNECTIONS, paper_table())
    assert not CONNECTIONS.flags.writeable


def test_subsets_are_the_columns_of_the_table():
    subsets = input_subsets(CONNECTIONS)
    for o, (subset, described) in enumerate(zip(subsets, C3_SUBSETS, strict=True)):
        np.testing.assert_array_equal(subset, sorted(described), err_msg=f"output map {o}")
    neighbours = [sorted((o + k) % 6 for k in range(n)) for n, o in [(3, 4), (4, 5)]]
    assert [list(subsets[o]) for o in (4, 11)] == neighbours


VARIANTS = [("full", None), ("original", "masked"), ("original", "hint")]


def parameter_total(model: LeNet5) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(("c3", "c3_form"), VARIANTS)
def test_parameter_count_is_the_hand_count(c3, c3_form):
    table = np.ones((6, 16), dtype=bool) if c3 == "full" else CONNECTIONS
    assert parameter_total(LeNet5(c3, c3_form, rng=0)) == lenet5_parameter_count(table)
    assert parameter_total(LeNet5(c3, c3_form, rng=0)) == {"full": 61_706, "original": 60_806}[c3]


def test_parameter_names():
    names = [name for name, _ in LeNet5(rng=0).named_parameters()]
    layers = ["c1", "c3", "c5", "f6", "f7"]
    assert names == [f"{layer}.{p}" for layer in layers for p in ("weight", "bias")]
    hint = [name for name, _ in LeNet5("original", "hint", rng=0).named_parameters()]
    assert hint[2:4] == ["c3.convs.0.weight", "c3.convs.0.bias"] and len(hint) == 8 + 32


def test_default_form_is_masked_and_config_rebuilds_the_model():
    model = LeNet5("original", rng=0, dtype=np.float64)
    assert isinstance(model.c3, MaskedConv2d)
    assert model.config() == {"c3": "original", "c3_form": "masked", "dtype": "float64"}
    for c3, c3_form in VARIANTS:
        config = LeNet5(c3, c3_form).config()
        rebuilt = LeNet5(**json.loads(json.dumps(config)))
        assert rebuilt.config() == config
        assert [p.shape for p in rebuilt.parameters()] == [
            p.shape for p in LeNet5(c3, c3_form).parameters()
        ]


def test_seeded_and_the_two_original_forms_are_one_map():
    x = mathdnn.tensor(np.random.default_rng(0).standard_normal((3, 1, 28, 28)))
    labels = np.array([0, 7, 3])
    masked = LeNet5("original", "masked", rng=4, dtype=np.float64)
    hint = LeNet5("original", "hint", rng=np.random.default_rng(4), dtype=np.float64)
    for model in (masked, hint):
        F.cross_entropy(model(x), labels).backward()
    np.testing.assert_allclose(masked(x).data, hint(x).data, rtol=1e-12, atol=1e-12)
    grads = {name: p.grad for name, p in hint.named_parameters()}
    for name, p in masked.named_parameters():
        if not name.startswith("c3."):
            np.testing.assert_allclose(p.grad, grads[name], rtol=1e-10, atol=1e-14, err_msg=name)
    hint_c3 = connected_rows([conv.weight.grad for conv in hint.c3.convs])
    np.testing.assert_allclose(masked.c3.weight.grad, hint_c3, rtol=1e-10, atol=1e-14)
    assert not np.array_equal(LeNet5(rng=1).c1.weight.data, LeNet5(rng=2).c1.weight.data)


def test_forward_shapes_and_dtype():
    x = np.random.default_rng(0).standard_normal((5, 1, 28, 28)).astype(np.float32)
    for c3, c3_form in VARIANTS:
        y = LeNet5(c3, c3_form, rng=0)(x)
        assert y.shape == (5, 10) and y.dtype == np.float32


@pytest.mark.parametrize(("c3", "c3_form"), VARIANTS)
def test_empty_batch(c3, c3_form):
    model = LeNet5(c3, c3_form, rng=0)
    y = model(np.zeros((0, 1, 28, 28), dtype=np.float32))
    assert y.shape == (0, 10)
    y.sum().backward()
    assert all(np.array_equal(p.grad, np.zeros_like(p.data)) for p in model.parameters())


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"c3": "partial"}, ValueError, "c3 must be 'full' or 'original', got 'partial'"),
        ({"c3": "full", "c3_form": "hint"}, ValueError, "c3_form .* must be None with c3='full'"),
        ({"c3": "original", "c3_form": "loop"}, ValueError, "c3_form must be 'masked' or 'hint'"),
        ({"dtype": np.int64}, TypeError, "dtype must be float32 or float64, got int64"),
        ({"dtype": "no such type"}, TypeError, "dtype must be float32 or float64"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=f"^LeNet5: {message}"):
        LeNet5(**kwargs)


@pytest.mark.parametrize("shape", [(2, 1, 32, 32), (2, 3, 28, 28), (1, 28, 28)])
def test_bad_input_shape(shape):
    with pytest.raises(ValueError, match=r"^LeNet5: x must have shape \(N, 1, 28, 28\)"):
        LeNet5(rng=0)(np.zeros(shape, dtype=np.float32))


def test_bad_input_dtype():
    with pytest.raises(TypeError, match=r"^LeNet5: x must be a floating-point tensor"):
        LeNet5(rng=0)(np.zeros((2, 1, 28, 28), dtype=np.int64))
