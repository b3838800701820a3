"""to_torch / from_torch: the PyTorch twin has mathdnn's parameter names, layouts and values, and
PyTorch computes the same logits and gradients with it; the round trip gives back exactly the
parameters; bad input gets an error that names the function."""

import io
import sys

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402
from conftest import DTYPES, assert_close, dtypes, seeds  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from interop_cases import (  # noqa: E402
    EVERY_LAYER_INPUT,
    LENET5_VARIANTS,
    conv_layers,
    every_layer,
    lenet5,
)

import mathdnn  # noqa: E402
import mathdnn.functional as F  # noqa: E402
from mathdnn import nn  # noqa: E402
from mathdnn.interop import from_torch, to_torch  # noqa: E402
from mathdnn.nn.partial import connected_rows, input_subsets  # noqa: E402

TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def arrays(module) -> dict[str, np.ndarray]:
    """Parameter name → values, in order, of an mathdnn or a torch module."""
    if isinstance(module, torch.nn.Module):
        return {n: p.detach().numpy() for n, p in module.named_parameters()}
    return {n: p.data for n, p in module.named_parameters()}


def hint_names_of_masked(model) -> dict[str, tuple[int, ...]]:
    """The names and shapes a masked C3 has in PyTorch: the hint's, one conv per output map."""
    names = {}
    for name, p in model.named_parameters():
        if not name.startswith("c3."):
            names[name] = p.shape
        elif name == "c3.weight":
            for o, subset in enumerate(input_subsets(model.c3.table)):
                names[f"c3.convs.{o}.weight"] = (1, len(subset), 5, 5)
                names[f"c3.convs.{o}.bias"] = (1,)
    return names


def assert_same_logits(model, twin, x: np.ndarray) -> None:
    ours = model(mathdnn.tensor(x)).data
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    assert theirs.dtype == ours.dtype == x.dtype
    finite = np.isfinite(ours)
    assert np.array_equal(np.isfinite(theirs), finite)
    assert np.array_equal(theirs[~finite], ours[~finite], equal_nan=True)  # NaN, +inf, -inf
    assert_close(theirs[finite], ours[finite], x.dtype, "logits")


# ------------------------------------------------------------------------------- LeNet-5
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("c3", "c3_form"), LENET5_VARIANTS)
def test_lenet5_twin_has_the_names_layouts_and_values(c3, c3_form, dtype):
    model = lenet5(c3, c3_form, dtype)
    twin = to_torch(model)
    theirs = {n: tuple(p.shape) for n, p in twin.named_parameters()}
    if c3_form == "masked":
        assert theirs == hint_names_of_masked(model)
        rows = connected_rows([c.weight.detach().numpy() for c in twin.c3.convs])
        assert np.array_equal(rows, model.c3.weight.data)
    else:
        assert list(theirs.items()) == [(n, p.shape) for n, p in model.named_parameters()]
    ours = arrays(model)
    for name, value in arrays(twin).items():
        assert value.dtype == dtype
        if name in ours:
            assert np.array_equal(value, ours[name]), name
    # The twin's values are copies: training it leaves the mathdnn model alone.
    with torch.no_grad():
        twin.c1.weight.add_(1)
    assert np.array_equal(model.c1.weight.data, ours["c1.weight"])


@settings(max_examples=12)
@given(st.sampled_from(LENET5_VARIANTS), dtypes, st.integers(0, 5), seeds)
def test_lenet5_twin_gives_the_same_logits(variant, dtype, batch, seed):
    model = lenet5(*variant, dtype, seed=seed % 1000)
    x = np.random.default_rng(seed).standard_normal((batch, 1, 28, 28)).astype(dtype)
    assert_same_logits(model, to_torch(model), x)


@pytest.mark.parametrize(("c3", "c3_form"), LENET5_VARIANTS)
def test_lenet5_gradients_through_the_twin_are_mathdnns(c3, c3_form):
    model = lenet5(c3, c3_form, np.float64, seed=3)
    twin = to_torch(model)
    rng = np.random.default_rng(4)
    x, labels = rng.standard_normal((6, 1, 28, 28)), rng.integers(0, 10, 6)
    F.cross_entropy(model(mathdnn.tensor(x)), labels).backward()
    twin_loss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.tensor(labels))
    twin_loss.backward()
    theirs = {n: p.grad.numpy() for n, p in twin.named_parameters()}
    if c3_form == "masked":
        convs = range(len(input_subsets(model.c3.table)))
        theirs["c3.weight"] = connected_rows([theirs.pop(f"c3.convs.{o}.weight") for o in convs])
        theirs["c3.bias"] = np.concatenate([theirs.pop(f"c3.convs.{o}.bias") for o in convs])
    ours = {n: p.grad for n, p in model.named_parameters()}
    assert sorted(theirs) == sorted(ours)
    for name, grad in ours.items():
        assert_close(grad, theirs[name], np.float64, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("c3", "c3_form"), LENET5_VARIANTS)
def test_lenet5_round_trip_gives_back_the_parameters(c3, c3_form, dtype):
    model = lenet5(c3, c3_form, dtype, seed=5)
    back = from_torch(to_torch(model))
    assert type(back) is type(model) and type(back.c3) is type(model.c3)
    assert back.config() == model.config()
    ours, theirs = arrays(model), arrays(back)
    assert list(theirs) == list(ours)
    for name, value in ours.items():
        assert theirs[name].dtype == value.dtype
        assert np.array_equal(theirs[name], value), name
        assert theirs[name] is not value


# ------------------------------------------------------------------------- Sequentials
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_layer_round_trips_with_the_same_logits(dtype):
    model = every_layer(dtype, seed=6)
    twin = to_torch(model)
    assert isinstance(twin[3], torch.nn.Sequential)
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in model.named_parameters()]
    x = 2 * np.random.default_rng(7).standard_normal((4, *EVERY_LAYER_INPUT)).astype(dtype)
    assert_same_logits(model, twin, x)
    back = from_torch(twin)
    assert [type(m) for m in back] == [type(m) for m in model]
    ours, theirs = arrays(model), arrays(back)
    assert list(theirs) == list(ours)
    assert all(np.array_equal(theirs[n], v) for n, v in ours.items())
    assert_same_logits(back, twin, x)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@settings(max_examples=40)
@given(st.data(), dtypes, st.integers(0, 3), st.booleans())
def test_drawn_convolutions_give_the_same_outputs(data, dtype, batch, non_finite):
    conv, shape = data.draw(conv_layers(dtype))
    x = np.random.default_rng(batch).standard_normal((batch, *shape)).astype(dtype)
    if non_finite and x.size:  # NaN and ±inf at drawn places: the same non-finite outputs
        places = data.draw(st.lists(st.integers(0, x.size - 1), min_size=1, max_size=3))
        x.flat[places] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    twin = to_torch(conv)
    assert_same_logits(conv, twin, x)
    back = from_torch(twin)
    assert all(np.array_equal(arrays(back)[n], v) for n, v in arrays(conv).items())


def test_a_torch_sequential_round_trips_through_mathdnn():
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 3),
    ).double()
    model = from_torch(module)
    assert all(p.dtype == np.float64 for p in model.parameters())
    x = np.random.default_rng(8).standard_normal((5, 2, 4, 4))
    assert_same_logits(model, module, x)
    again = to_torch(model)
    assert list(again.state_dict()) == list(module.state_dict())
    for name, value in module.state_dict().items():
        assert torch.equal(again.state_dict()[name], value)


def test_to_torch_leaves_torchs_random_generator_alone():
    state = torch.random.get_rng_state()
    to_torch(lenet5("original", "hint", np.float32))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_the_twin_pickles_whole():
    twin = to_torch(lenet5("original", "masked", np.float32))
    buffer = io.BytesIO()
    torch.save(twin, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert type(loaded) is type(twin)
    assert from_torch(loaded).config() == {
        "c3": "original",
        "c3_form": "masked",
        "dtype": "float32",
    }


# ---------------------------------------------------------------------------- bad input
def test_to_torch_rejects_what_is_not_an_mathdnn_module():
    with pytest.raises(TypeError, match=r"to_torch: model must be an mathdnn Module, got int"):
        to_torch(3)
    with pytest.raises(TypeError, match=r"to_torch: .*from_torch goes the other way"):
        to_torch(torch.nn.ReLU())


@pytest.mark.parametrize(
    ("model", "where", "kind"),
    [
        (nn.Step(), "model", "Step"),
        (
            nn.Sequential(nn.ReLU(), nn.Sequential(nn.Tanh(), nn.Clamp(min=0))),
            r"model\[1\]\[1\]",
            "Clamp",
        ),
        (nn.Sequential(nn.Elementwise(F.relu)), r"model\[0\]", "Elementwise"),
    ],
)
def test_to_torch_names_an_unsupported_layer(model, where, kind):
    with pytest.raises(ValueError, match=rf"to_torch: {where} is a {kind}, which has no PyTorch"):
        to_torch(model)


def test_to_torch_needs_one_dtype():
    model = nn.Sequential(nn.Linear(2, 2, dtype=np.float32), nn.Linear(2, 2, dtype=np.float64))
    with pytest.raises(TypeError, match=r"to_torch: all parameters must have one dtype"):
        to_torch(model)


def test_from_torch_rejects_what_is_not_a_torch_module():
    with pytest.raises(TypeError, match=r"from_torch: module must be a torch.nn.Module, got str"):
        from_torch("lenet")
    with pytest.raises(TypeError, match=r"from_torch: .*to_torch goes the other way"):
        from_torch(nn.ReLU())


class UnknownNet(torch.nn.Module):
    """A torch LeNet-like module of a class the bridge does not know."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 6, 5)

    def forward(self, x):
        return self.c1(x)


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (torch.nn.BatchNorm2d(3), r"module is a torch.nn.modules.batchnorm.BatchNorm2d, which"),
        (torch.nn.Sequential(torch.nn.ReLU(), UnknownNet()), r"module\[1\] is a .*UnknownNet"),
        (torch.nn.Conv2d(1, 2, 3, padding_mode="reflect"), r"module, a .*Conv2d, has padding_mode"),
    ],
)
def test_from_torch_names_an_unsupported_layer(module, message):
    with pytest.raises(ValueError, match=rf"from_torch: {message}"):
        from_torch(module)


def test_from_torch_needs_float32_or_float64():
    with pytest.raises(TypeError, match=r"from_torch: parameters must be float32 or float64, got "
                       r"torch.float16 for '0.weight'"):  # fmt: skip
        from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2)).half())
    mixed = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2).double())
    with pytest.raises(TypeError, match=r"from_torch: all parameters must have one dtype"):
        from_torch(mixed)


def test_from_torch_checks_parameter_shapes():
    conv = torch.nn.Conv2d(1, 2, 3)
    conv.weight = torch.nn.Parameter(torch.zeros(2, 1, 4, 4))
    with pytest.raises(
        ValueError, match=r"from_torch: parameter 'weight' has shape \(2, 1, 4, 4\)"
    ):
        from_torch(conv)


@pytest.mark.parametrize(("function", "argument"), [(to_torch, nn.ReLU()), (from_torch, None)])
def test_without_torch_the_error_names_the_function(monkeypatch, function, argument):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    name = function.__name__
    with pytest.raises(ModuleNotFoundError, match=rf"{name}: needs the optional package 'torch'"):
        function(argument)


def test_from_torch_notices_a_replaced_layer():
    twin = to_torch(lenet5("full", None, np.float32))
    twin.c1 = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 5, padding=2))
    with pytest.raises(ValueError, match=r"from_torch: the module's parameters .*c1\.0\.weight"):
        from_torch(twin)


def test_from_torch_notices_another_connection_table():
    twin = to_torch(lenet5("original", "hint", np.float32))
    table = np.array(twin.c3.table)
    table[:, 0] = np.roll(table[:, 0], 1)  # map 0 sees other inputs, as many
    twin.c3 = type(twin.c3)(table, 5, "hint")
    with pytest.raises(ValueError, match=r"from_torch: module, a .*TorchLeNet5, has a C3 whose"):
        from_torch(twin)


def test_a_masked_lenet5_inside_a_sequential_round_trips():
    model = nn.Sequential(lenet5("original", "masked", np.float64, seed=9), nn.Tanh())
    twin = to_torch(model)
    assert "0.c3.convs.15.weight" in dict(twin.named_parameters())
    assert_same_logits(model, twin, np.random.default_rng(10).standard_normal((2, 1, 28, 28)))
    back = from_torch(twin)
    assert type(back[0].c3) is type(model[0].c3)
    assert all(np.array_equal(arrays(back)[n], v) for n, v in arrays(model).items())


@pytest.mark.parametrize("dtype", DTYPES)
def test_pools_with_every_option_round_trip(dtype):
    """ceil_mode, count_include_pad, divisor_override and dilation cross in both directions."""
    twin = torch.nn.Sequential(
        torch.nn.MaxPool2d(3, 2, padding=1, dilation=(1, 2), ceil_mode=True),
        torch.nn.AvgPool2d(2, 2, padding=1, ceil_mode=True, count_include_pad=False),
        torch.nn.AvgPool2d(2, 1, divisor_override=3),
    ).to(torch.float64 if dtype == np.float64 else torch.float32)
    model = from_torch(twin)
    x = np.random.default_rng(8).standard_normal((2, 3, 13, 12)).astype(dtype)
    assert_same_logits(model, twin, x)
    assert_same_logits(model, to_torch(model), x)
