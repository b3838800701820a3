"""export_onnx: the file passes onnx.checker, and ONNX Runtime computes mathdnn's logits with it
(float32, dynamic and fixed batch sizes); bad input gets an error that names the function and
leaves no file behind."""

import sys

import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import numpy as np  # noqa: E402
from conftest import DTYPES, assert_close, dtypes  # noqa: E402
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
from mathdnn import nn  # noqa: E402
from mathdnn.interop import export_onnx  # noqa: E402
from mathdnn.interop.onnx_export import lenet5_layers  # noqa: E402


def run(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"images": x})[0]


def assert_runtime_agrees(model, path, x: np.ndarray) -> None:
    """ONNX Runtime on float32 ``x`` gives ``model``'s logits to float32 accuracy."""
    theirs = run(path, x.astype(np.float32))
    ours = model(mathdnn.tensor(x.astype(model_dtype(model)))).data
    assert theirs.dtype == np.float32
    assert_close(theirs, ours, np.float32, "logits")


def model_dtype(model) -> np.dtype:
    return next((p.dtype for p in model.parameters()), np.dtype(np.float32))


def dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("c3", "c3_form"), LENET5_VARIANTS)
def test_lenet5_runs_in_onnx_runtime(tmp_path, c3, c3_form, dtype):
    model = lenet5(c3, c3_form, dtype, seed=1)
    path = export_onnx(model, tmp_path / "lenet5.onnx")
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import] == [17]
    ops = [node.op_type for node in proto.graph.node]
    assert ops.count("Conv") == 2 and ops.count("AveragePool") == 2 and ops.count("Gemm") == 3
    (images,), (logits,) = proto.graph.input, proto.graph.output
    assert (images.name, dims(images)) == ("images", ["N", 1, 28, 28])
    assert (logits.name, dims(logits)) == ("logits", ["N", 10])
    for batch in (1, 2, 7):
        x = np.random.default_rng(batch).standard_normal((batch, 1, 28, 28))
        assert_runtime_agrees(model, path, x)


def test_the_original_c3_is_one_conv_with_zeros_off_the_table(tmp_path):
    model = lenet5("original", "hint", np.float32)
    proto = onnx.load(export_onnx(model, tmp_path / "lenet5.onnx"))
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    full = weights["c3.weight"]
    assert full.shape == (16, 6, 5, 5)
    connected = model.c3.table.T  # (output map, input map)
    assert not full[~connected].any() and full[connected].all()


def test_lenet5_layers_is_lenet5s_forward():
    model = lenet5("original", "masked", np.float64, seed=2)
    x = mathdnn.tensor(np.random.default_rng(3).standard_normal((4, 1, 28, 28)))
    layers = nn.Sequential(*(layer for _, layer in lenet5_layers(model)))
    assert np.array_equal(layers(x).data, model(x).data)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_layer_runs_in_onnx_runtime(tmp_path, dtype):
    model = every_layer(dtype, seed=4)
    path = export_onnx(model, tmp_path / "every.onnx", input_shape=EVERY_LAYER_INPUT)
    for batch in (1, 3):
        x = 2 * np.random.default_rng(batch).standard_normal((batch, *EVERY_LAYER_INPUT))
        assert_runtime_agrees(model, path, x)


@pytest.mark.parametrize(
    "layer", [nn.Clamp(min=0.1), nn.Clamp(max=-0.2), nn.Flatten(2), nn.Sequential()]
)
def test_clips_reshapes_and_the_empty_model_run(tmp_path, layer):
    path = export_onnx(layer, tmp_path / "layer.onnx", input_shape=(2, 3, 4))
    assert_runtime_agrees(layer, path, np.random.default_rng(5).standard_normal((3, 2, 3, 4)))


@settings(max_examples=25)
@given(st.data(), dtypes)
def test_drawn_convolutions_run_in_onnx_runtime(tmp_path_factory, data, dtype):
    conv, shape = data.draw(conv_layers(dtype))
    path = export_onnx(conv, tmp_path_factory.mktemp("conv") / "conv.onnx", input_shape=shape)
    assert_runtime_agrees(conv, path, np.random.default_rng(6).standard_normal((2, *shape)))


def test_a_fixed_batch_size(tmp_path):
    model = lenet5("full", None, np.float32)
    path = export_onnx(model, tmp_path / "lenet5.onnx", batch=3)
    assert dims(onnx.load(path).graph.input[0]) == [3, 1, 28, 28]
    assert_runtime_agrees(model, path, np.zeros((3, 1, 28, 28)))
    with pytest.raises(ort.capi.onnxruntime_pybind11_state.InvalidArgument, match="images"):
        run(path, np.zeros((2, 1, 28, 28), dtype=np.float32))


def test_the_newest_opset(tmp_path):
    newest = onnx.defs.onnx_opset_version()
    model = every_layer(np.float32)
    path = tmp_path / "every.onnx"
    export_onnx(model, path, opset=newest, input_shape=EVERY_LAYER_INPUT)
    assert [o.version for o in onnx.load(path).opset_import] == [newest]


# ---------------------------------------------------------------------------- bad input
def export_fails(tmp_path, error, match, model=None, **kwargs):
    """export_onnx raises ``error`` and leaves the existing file at the path as it was."""
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")
    model = lenet5("full", None, np.float32) if model is None else model
    with pytest.raises(error, match=rf"export_onnx: {match}"):
        export_onnx(model, path, **kwargs)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


@pytest.mark.parametrize(
    ("error", "match", "kwargs"),
    [
        (ValueError, r"opset must be between 17 and \d+ .*, got 16", {"opset": 16}),
        (ValueError, r"opset must be between 17 and \d+ .*, got 1000", {"opset": 1000}),
        (TypeError, r"opset must be an int, got '17'", {"opset": "17"}),
        (ValueError, r"batch must be 'dynamic' or a positive int, got 0", {"batch": 0}),
        (ValueError, r"batch must be 'dynamic' or a positive int, got 'any'", {"batch": "any"}),
        (TypeError, r"input_shape must be a tuple of ints, got 28", {"input_shape": 28}),
        (ValueError, r"LeNet5 takes input_shape \(1, 28, 28\), got \(1, 32, 32\)",
         {"input_shape": (1, 32, 32)}),
    ],
)  # fmt: skip
def test_bad_arguments(tmp_path, error, match, kwargs):
    export_fails(tmp_path, error, match, **kwargs)


@pytest.mark.parametrize(
    "layer",
    [
        nn.MaxPool2d(3, 2, padding=1, ceil_mode=True),
        nn.MaxPool2d(2, 2, dilation=(1, 2), ceil_mode=True),
        nn.AvgPool2d(3, 2, padding=1, ceil_mode=True),
        nn.AvgPool2d(2, 2, padding=1, ceil_mode=True, count_include_pad=False),
    ],
)
def test_pools_with_ceil_mode_run(tmp_path, layer):
    """Where ceil_mode's last window starts in the padding, PyTorch drops it and ONNX keeps it:
    the export refuses those (the last case); the others run alike."""
    if layer.padding == 1 and layer.kernel_size == 2:
        message = r"AvgPool2d has ceil_mode=True and its last window starts in the padding"
        export_fails(tmp_path, ValueError, message, layer, input_shape=(3, 13, 12))
        return
    path = export_onnx(layer, tmp_path / "pool.onnx", input_shape=(3, 13, 12))
    assert_runtime_agrees(layer, path, np.random.default_rng(6).standard_normal((2, 3, 13, 12)))


def test_pool_options_onnx_cannot_express(tmp_path):
    divisor = nn.AvgPool2d(2, divisor_override=3)
    export_fails(tmp_path, ValueError, r"AvgPool2d has divisor_override=3, which ONNX", divisor)
    indices = nn.MaxPool2d(2, return_indices=True)
    export_fails(tmp_path, ValueError, r"the layer 'MaxPool2d' returns a tuple", indices)


def test_unsupported_layers_and_models(tmp_path):
    step = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.ReLU(), nn.Step()))
    export_fails(tmp_path, ValueError, r"the layer '1.1' is a Step, which has no ONNX", step)
    export_fails(tmp_path, TypeError, r"model must be an mathdnn Module, got str", "lenet")
    batch_axis = nn.Flatten(0)
    export_fails(tmp_path, ValueError, r"Flatten flattens the batch axis", batch_axis)


def test_an_input_shape_that_does_not_fit(tmp_path):
    model = nn.Sequential(nn.Flatten(), nn.Linear(10, 2))
    export_fails(
        tmp_path, ValueError, r"input_shape \(1, 28, 28\) does not fit the layer '1'", model
    )


def test_bad_paths(tmp_path):
    model = lenet5("full", None, np.float32)
    blocker = tmp_path / "a_file"
    blocker.write_bytes(b"keep")
    with pytest.raises(ValueError, match=r"export_onnx: cannot write .*a_file.* is a file"):
        export_onnx(model, blocker / "sub" / "lenet5.onnx")
    assert blocker.read_bytes() == b"keep"
    with pytest.raises(ValueError, match=r"export_onnx: path .* is a directory"):
        export_onnx(model, tmp_path)
    with pytest.raises(TypeError, match=r"export_onnx: path must be a str or os.PathLike"):
        export_onnx(model, 3)


def test_a_missing_parent_directory_is_made(tmp_path):
    path = export_onnx(lenet5("full", None, np.float32), tmp_path / "new" / "lenet5.onnx")
    assert path.is_file()


def test_without_onnx_the_error_names_the_function(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now fails
    with pytest.raises(ModuleNotFoundError, match=r"export_onnx: needs the optional package"):
        export_onnx(lenet5("full", None, np.float32), tmp_path / "lenet5.onnx")
    assert not any(tmp_path.iterdir())


def test_lenet5_inside_a_sequential(tmp_path):
    model = nn.Sequential(
        lenet5("original", "masked", np.float32, seed=7), nn.Softplus(), nn.Linear(10, 3, rng=8)
    )
    path = export_onnx(model, tmp_path / "stacked.onnx")
    names = {t.name for t in onnx.load(path).graph.initializer}
    assert {"0.c1.weight", "0.c3.weight", "0.f7.bias", "2.weight"} <= names
    assert_runtime_agrees(model, path, np.random.default_rng(9).standard_normal((2, 1, 28, 28)))
