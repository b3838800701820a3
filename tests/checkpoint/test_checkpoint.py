"""mathdnn.checkpoint: a model, its optimizer, the epoch and the loader's state survive the round
trip
through one safetensors file exactly; a kill during a save leaves the last checkpoint readable;
every kind of bad file (not safetensors, cut short, corrupt, another format, version, model,
shapes, keys, dtypes, optimizer) is one CheckpointError naming the file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.numpy
from conftest import no_hang
from hypothesis import given, settings
from hypothesis import strategies as st

import mathdnn
import mathdnn.functional as F
from mathdnn import checkpoint as ckpt
from mathdnn.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from mathdnn.data import DataLoader
from mathdnn.models import LeNet5
from mathdnn.nn import Linear
from mathdnn.optim import SGD, Adam

VARIANTS = [("full", None), ("original", "masked"), ("original", "hint")]


def _steps(model, optimizer, seed: int, steps: int = 2) -> None:
    """A few optimizer steps on random images, so the optimizer has state."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = rng.random((4, 1, 28, 28), dtype=np.float32)
        optimizer.zero_grad()
        F.cross_entropy(model(mathdnn.from_numpy(x)), rng.integers(0, 10, 4)).backward()
        optimizer.step()


def _trained(c3="full", c3_form=None, optimizer="adam"):
    model = LeNet5(c3, c3_form, rng=0)
    if optimizer == "adam":
        opt = Adam(model.parameters(), lr=1e-3, amsgrad=True)
    else:
        opt = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    _steps(model, opt, seed=1)
    return model, opt


def _same_state(a: dict, b: dict) -> None:
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for k, state in a["state"].items():
        assert state.keys() == b["state"][k].keys()
        for name, value in state.items():
            other = b["state"][k][name]
            assert (
                np.array_equal(value, other) and np.asarray(value).dtype == np.asarray(other).dtype
            )


@pytest.mark.parametrize(("c3", "c3_form"), VARIANTS)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_round_trip_is_exact_and_training_goes_on_identically(tmp_path, c3, c3_form, optimizer):
    model, opt = _trained(c3, c3_form, optimizer)
    loader = DataLoader(np.zeros((10, 1)), np.zeros(10), 3, shuffle=True, generator=5)
    iter(loader)  # advance the generator
    extra = {"note": "ok", "numbers": [1, 2.5]}
    path = save_checkpoint(tmp_path / "c.safetensors", model, opt, 7, loader.state_dict(), extra)
    loaded = load_checkpoint(path)

    assert loaded.path == path and loaded.epoch == 7 and loaded.extra == extra
    assert loaded.loader_state == json.loads(json.dumps(loader.state_dict()))
    assert type(loaded.model) is LeNet5 and loaded.model.config() == model.config()
    saved, back = model.state_dict(), loaded.model.state_dict()
    assert list(saved) == list(back)
    for name in saved:
        assert np.array_equal(saved[name], back[name]) and saved[name].dtype == back[name].dtype
    assert type(loaded.optimizer) is type(opt)
    _same_state(opt.state_dict(), loaded.optimizer.state_dict())
    # The rebuilt optimizer holds the rebuilt model's parameters: both go on as the originals.
    _steps(model, opt, seed=2)
    _steps(loaded.model, loaded.optimizer, seed=2)
    for (name, a), b in zip(
        model.state_dict().items(), loaded.model.state_dict().values(), strict=True
    ):
        assert np.array_equal(a, b), name
    _same_state(opt.state_dict(), loaded.optimizer.state_dict())


def test_model_alone_and_load_model(tmp_path):
    model = LeNet5("original", rng=3, dtype=np.float64)
    path = save_checkpoint(tmp_path / "m.safetensors", model)
    loaded = load_checkpoint(path)
    assert loaded.optimizer is None and loaded.loader_state is None
    assert loaded.epoch == 0 and loaded.extra == {}
    rebuilt = load_model(str(path))
    assert rebuilt.config() == model.config()
    for a, b in zip(model.parameters(), rebuilt.parameters(), strict=True):
        assert np.array_equal(a.data, b.data) and b.dtype == np.float64


def test_file_is_plain_safetensors_with_pytorch_names(tmp_path):
    model, opt = _trained(optimizer="adam")
    path = save_checkpoint(tmp_path / "c.safetensors", model, opt, 1)
    arrays = safetensors.numpy.load_file(path)
    assert {k.removeprefix("model.") for k in arrays if k.startswith("model.")} == set(
        model.state_dict()
    )
    assert "optimizer.state.0.exp_avg" in arrays and "optimizer.state.9.max_exp_avg_sq" in arrays
    with safetensors.safe_open(path, framework="numpy") as f:
        metadata = f.metadata()
    assert metadata["format"] == ckpt.FORMAT
    assert metadata["format_version"] == str(ckpt.FORMAT_VERSION)
    assert json.loads(metadata["model"]) == {"class": "LeNet5", "config": model.config()}
    assert json.loads(metadata["optimizer"])["state"]["0"] == {"step": 2}


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_a_kill_while_saving_keeps_the_last_checkpoint(tmp_path, monkeypatch, where):
    model, opt = _trained()
    path = save_checkpoint(tmp_path / "c.safetensors", model, opt, 1)
    before = path.read_bytes()
    _steps(model, opt, seed=3)

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, where, killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, opt, 2)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_checkpoint(path).epoch == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]


# --------------------------------------------------------------------------- bad files
def _rewrite(src, dst, tensors=lambda t: t, metadata=lambda m: m, redigest=True):
    """Copy the checkpoint ``src`` to ``dst`` with its arrays and metadata edited, and the digest
    recomputed (so the edit is what the loader meets, not a digest mismatch)."""
    with safetensors.safe_open(src, framework="numpy") as f:
        arrays = {k: f.get_tensor(k) for k in f.keys()}
        meta = dict(f.metadata())
    arrays, meta = tensors(arrays), metadata(meta)
    if redigest:
        meta["sha256"] = ckpt.digest(arrays, meta)
    safetensors.numpy.save_file(arrays, dst, metadata=meta)
    return dst


def _edit(mapping, **changes):
    out = dict(mapping)
    for key, value in changes.items():
        if value is None:
            out.pop(key)
        else:
            out[key] = value
    return out


def _json_edit(key, change):
    def edit(meta):
        value = json.loads(meta[key])
        change(value)
        return {**meta, key: json.dumps(value)}

    return edit


@pytest.fixture
def good(tmp_path):
    model, opt = _trained(optimizer="sgd")
    return save_checkpoint(tmp_path / "good.safetensors", model, opt, 3, None, {"a": 1})


def _set_c3(config):
    config["config"]["c3"] = "half"


def _set_class(name):
    def change(value):
        value["class"] = name

    return change


def _wrong_momentum_shape(t):
    return {**t, "optimizer.state.0.momentum_buffer": np.zeros((3, 3), np.float32)}


BAD_EDITS = {
    "no metadata format": (
        {"metadata": lambda m: _edit(m, format=None)},
        "not an mathdnn checkpoint",
    ),
    "another format": ({"metadata": lambda m: _edit(m, format="pt")}, "not an mathdnn checkpoint"),
    "another version": ({"metadata": lambda m: _edit(m, format_version="2")}, "version '2'"),
    "metadata not JSON": ({"metadata": lambda m: _edit(m, epoch="two")}, "not JSON"),
    "metadata missing": ({"metadata": lambda m: _edit(m, loader=None)}, "lacks loader"),
    "negative epoch": ({"metadata": lambda m: _edit(m, epoch="-1")}, "epoch must be"),
    "another model class": (
        {"metadata": _json_edit("model", _set_class("ResNet18"))},
        "model of class 'ResNet18'",
    ),
    "invalid config": ({"metadata": _json_edit("model", _set_c3)}, "does not build a LeNet5"),
    "wrong shape": (
        {"tensors": lambda t: {**t, "model.c1.weight": np.zeros((6, 1, 3, 3), np.float32)}},
        "size mismatch for 'c1.weight'",
    ),
    "missing weight": ({"tensors": lambda t: _edit(t, **{"model.f7.bias": None})}, "missing"),
    "extra weight": (
        {"tensors": lambda t: {**t, "model.f8.weight": np.zeros(2, np.float32)}},
        "unexpected key(s) in state_dict: 'f8.weight'",
    ),
    "wrong dtype": (
        {"tensors": lambda t: {**t, "model.c1.bias": t["model.c1.bias"].astype(np.float64)}},
        "'c1.bias' is float64",
    ),
    "stray array": ({"tensors": lambda t: {**t, "junk": np.zeros(1)}}, "unexpected array(s) junk"),
    "unknown optimizer": (
        {"metadata": _json_edit("optimizer", _set_class("RMSprop"))},
        "optimizer 'RMSprop'",
    ),
    "optimizer state of the wrong shape": (
        {"tensors": _wrong_momentum_shape},
        "momentum_buffer of parameter 0",
    ),
    "optimizer arrays without optimizer": (
        {"metadata": lambda m: _edit(m, optimizer="null")},
        "optimizer arrays but no optimizer",
    ),
    "optimizer of other parameters": (
        {"metadata": _json_edit("optimizer", lambda o: o["param_groups"][0]["params"].pop())},
        "not the 10 parameters",
    ),
    "optimizer options invalid": (
        {"metadata": _json_edit("optimizer", lambda o: o["param_groups"][0].update(lr=-1))},
        "lr must be a finite number",
    ),
}


def _one_error(path, match):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message, message
    assert match in message, message
    assert message.startswith("load_checkpoint: ")


@pytest.mark.parametrize("case", list(BAD_EDITS))
def test_mismatched_checkpoints_are_one_error_naming_the_file(good, tmp_path, case):
    edits, match = BAD_EDITS[case]
    _one_error(_rewrite(good, tmp_path / "bad.safetensors", **edits), match)


def test_changed_metadata_or_array_byte_is_corrupt(good, tmp_path):
    edited = _rewrite(
        good, tmp_path / "e.safetensors", metadata=lambda m: _edit(m, epoch="4"), redigest=False
    )
    _one_error(edited, "corrupt")
    data = bytearray(good.read_bytes())
    data[-5] ^= 0x01  # a bit of the last array
    flipped = tmp_path / "flipped.safetensors"
    flipped.write_bytes(bytes(data))
    _one_error(flipped, "corrupt")


@pytest.mark.parametrize("cut", [0, 4, 8, 50, -1, -100])
def test_cut_short_is_one_error(good, tmp_path, cut):
    data = good.read_bytes()
    short = tmp_path / "short.safetensors"
    short.write_bytes(data[:cut])
    _one_error(short, "not a safetensors file, or cut short")


def test_other_files_are_one_error(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint at all, just some text that is long enough")
    _one_error(text, "not a safetensors file")
    plain = tmp_path / "weights.safetensors"
    safetensors.numpy.save_file({"c1.weight": np.zeros((6, 1, 5, 5), np.float32)}, plain)
    _one_error(plain, "not an mathdnn checkpoint (its metadata's format is None")
    with pytest.raises(CheckpointError, match="is a directory"):
        load_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"there is no checkpoint .*missing"):
        load_checkpoint(tmp_path / "missing.safetensors")
    with pytest.raises(TypeError, match="load_checkpoint: path must be a path"):
        load_checkpoint(3)


# ---------------------------------------------------------------- bad arguments to save
class _OtherOptimizer(SGD):
    pass


def test_save_checkpoint_rejects_bad_arguments(tmp_path):
    model, opt = _trained(optimizer="sgd")
    path = tmp_path / "c.safetensors"
    with pytest.raises(
        TypeError, match=re.escape("save_checkpoint: model must be one of mathdnn.models")
    ):
        save_checkpoint(path, Linear(2, 3))
    with pytest.raises(TypeError, match="save_checkpoint: optimizer must be one of SGD, Adam"):
        save_checkpoint(path, model, _OtherOptimizer(model.parameters()))
    with pytest.raises(
        ValueError, match=re.escape("save_checkpoint: optimizer must optimize model.param")
    ):
        save_checkpoint(path, model, SGD(LeNet5(rng=1).parameters()))
    with pytest.raises(
        ValueError, match=re.escape("save_checkpoint: optimizer must optimize model.param")
    ):
        save_checkpoint(path, model, SGD(list(model.parameters())[::-1]))
    for epoch in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="save_checkpoint: epoch must be a non-negative int"):
            save_checkpoint(path, model, opt, epoch)
    with pytest.raises(TypeError, match="save_checkpoint: extra must be JSON-able"):
        save_checkpoint(path, model, opt, 1, None, {"x": float("nan")})
    with pytest.raises(TypeError, match="save_checkpoint: extra must be JSON-able"):
        save_checkpoint(path, model, opt, 1, None, {"x": np.zeros(2)})
    with pytest.raises(TypeError, match="save_checkpoint: loader_state must be JSON-able"):
        save_checkpoint(path, model, opt, 1, {"generator": object()})
    with pytest.raises(TypeError, match="save_checkpoint: path must be a path"):
        save_checkpoint(None, model)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        save_checkpoint(blocker / "c.safetensors", model)
    assert not path.exists()


_SAVER = """
import sys
from mathdnn.checkpoint import save_checkpoint
from mathdnn.models import LeNet5
from mathdnn.optim import Adam

model = LeNet5(rng=0)
optimizer = Adam(model.parameters())
for epoch in range(1, 100000):
    for p in model.parameters():
        p.data[...] = epoch
    save_checkpoint(sys.argv[1], model, optimizer, epoch)
    if epoch == 1:
        print("saved", flush=True)
"""


@pytest.mark.parametrize("delay", [0.0, 0.013, 0.05])
def test_a_process_killed_while_saving_leaves_a_readable_checkpoint(tmp_path, delay):
    path = tmp_path / "c.safetensors"
    src = str(Path(mathdnn.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen(
        [sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert child.stdout.readline() == "saved\n"
        time.sleep(delay)  # the kill lands somewhere in the loop of saves
    finally:
        child.kill()
        child.wait()
    loaded = load_checkpoint(path)
    for p in loaded.model.parameters():
        assert np.all(p.data == loaded.epoch)  # the weights of the epoch it names


# ------------------------------------------------------- hostile files (forged, odd, huge)
def _parts(path):
    """The header (arrays' table and ``__metadata__``) and the data of a safetensors file."""
    raw = Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _raw(path, header, data=b"", n=None, size=None):
    """A safetensors file written byte by byte: ``n`` overrides the header's length, ``size``
    truncates or extends the file (extended, it is sparse: it claims the bytes, holds none)."""
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write((len(text) if n is None else n).to_bytes(8, "little"))
        f.write(text)
        f.write(data)
        if size is not None:
            f.truncate(size)
    return path


def _peak_while(load):
    """The peak of traced memory (NumPy's arrays included) while ``load()`` runs; its error."""
    tracemalloc.start()
    try:
        try:
            load()
            error = None
        except (CheckpointError, OSError) as err:
            error = err
        return tracemalloc.get_traced_memory()[1], error
    finally:
        tracemalloc.stop()


def _meta_edit(**values):
    return {"metadata": lambda m: {**m, **values}}


HOSTILE_METADATA = {
    "optimizer lr 10**400": (
        {"metadata": _json_edit("optimizer", lambda o: o["param_groups"][0].update(lr=10**400))},
        "its optimizer state does not fit the model",
    ),
    "optimizer momentum 10**400": (
        {
            "metadata": _json_edit(
                "optimizer", lambda o: o["param_groups"][0].update(momentum=10**400)
            )
        },
        "its optimizer state does not fit the model",
    ),
    "optimizer lr 1e400": (
        {
            "metadata": lambda m: {
                **m,
                "optimizer": m["optimizer"].replace('"lr": 0.1', '"lr": 1e400'),
            }
        },
        "its optimizer state does not fit the model",
    ),
    "100,000 [ in extra": (
        _meta_edit(extra="[" * 100_000 + "]" * 100_000),
        f"its metadata's extra is nested deeper than {ckpt.MAX_DEPTH}",
    ),
    "33 levels in extra": (
        _meta_edit(
            extra=json.dumps(
                {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
            )
        ),
        "nested deeper than 32",
    ),
    "NaN in extra": (_meta_edit(extra='{"a": NaN}'), "NaN is not a number of strict JSON"),
    "a 5,000-digit int in extra": (_meta_edit(extra="[" + "9" * 5000 + "]"), "is not JSON"),
    "optimizer state key ²": (
        {"metadata": _json_edit("optimizer", lambda o: o["state"].update({"²": {"step": 1}}))},
        "unexpected optimizer state '²'",
    ),
    "optimizer state key of 5,000 digits": (
        {"metadata": _json_edit("optimizer", lambda o: o["state"].update({"1" * 5000: {}}))},
        "unexpected optimizer state '1111",
    ),
    "optimizer state key past the parameters": (
        {"metadata": _json_edit("optimizer", lambda o: o["state"].update({"10": {}}))},
        "numbered 0 to 9",
    ),
    "optimizer array key ²": (
        {
            "tensors": lambda t: {
                **t,
                "optimizer.state.².momentum_buffer": t["optimizer.state.0.momentum_buffer"],
            }
        },
        "unexpected array 'optimizer.state.².momentum_buffer'",
    ),
    "optimizer array key of 5,000 digits": (
        {"tensors": lambda t: {**t, f"optimizer.state.{'7' * 5000}.x": np.zeros(1, np.float32)}},
        "unexpected array 'optimizer.state.7777",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_METADATA))
def test_hostile_metadata_is_one_error(good, tmp_path, case):
    edits, match = HOSTILE_METADATA[case]
    _one_error(_rewrite(good, tmp_path / "bad.safetensors", **edits), match)


def test_a_deeply_nested_header_and_a_huge_one_are_refused(good, tmp_path):
    header, data = _parts(good)
    deep = tmp_path / "deep.safetensors"
    _raw(deep, {**header, "x": "PLACEHOLDER"}, data)
    raw = deep.read_bytes().replace(b'"PLACEHOLDER"', b"[" * 100_000 + b"]" * 100_000)
    deep.write_bytes(len(raw[8 : -len(data)]).to_bytes(8, "little") + raw[8:])
    _one_error(deep, "its header is nested deeper than 32")
    huge = _raw(tmp_path / "huge.safetensors", header, data, n=2**40, size=2**40 + 8)
    peak, error = _peak_while(lambda: load_checkpoint(huge))
    assert "its header would be 1,099,511,627,776 bytes, more than 16,777,216" in str(error)
    assert peak < 2**20
    past = _raw(tmp_path / "past.safetensors", header, data, n=2**62)
    _one_error(past, "more than the")


@pytest.mark.parametrize("dtype", ["BF16", "F16", "I64", "F8_E4M3", "Q4"])
def test_arrays_of_another_dtype_are_refused_by_name(good, tmp_path, dtype):
    header, data = _parts(good)
    entry = header["model.c1.bias"]
    size = entry["data_offsets"][1] - entry["data_offsets"][0]
    itemsize = {"BF16": 2, "F16": 2, "I64": 8, "F8_E4M3": 1, "Q4": 4}[dtype]
    entry["dtype"], entry["shape"] = dtype, [size // itemsize]
    path = _raw(tmp_path / "other.safetensors", header, data)
    _one_error(path, f"array 'model.c1.bias' has dtype '{dtype}'")
    if dtype == "BF16":
        _one_error(path, "(bfloat16); a checkpoint's arrays are F32 or F64")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "c.safetensors"
    os.mkfifo(fifo)
    with no_hang():
        _one_error(fifo, "it is a FIFO (named pipe), not a checkpoint file")


@pytest.mark.skipif(not os.path.exists("/dev/urandom"), reason="needs /dev/urandom")
def test_a_link_to_a_device_is_refused(tmp_path):
    link = tmp_path / "c.safetensors"
    link.symlink_to("/dev/urandom")
    _one_error(link, "it is a character device, not a checkpoint file")


def test_what_cannot_be_read_says_why(tmp_path, monkeypatch):
    loop = tmp_path / "loop.safetensors"
    loop.symlink_to(loop)
    with pytest.raises(OSError, match=r"load_checkpoint: cannot read .*loop.safetensors: Too many"):
        load_checkpoint(loop)
    dangling = tmp_path / "dangling.safetensors"
    dangling.symlink_to(tmp_path / "gone")
    with pytest.raises(FileNotFoundError, match=r"there is no checkpoint .*\(a symbolic link to"):
        load_checkpoint(dangling)
    locked = tmp_path / "locked.safetensors"
    locked.write_bytes(b"x")

    def denied(path, flags, *args):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", denied)  # root reads any file: deny it as a user would be
    with pytest.raises(PermissionError, match=r"cannot read .*locked.safetensors: Permission"):
        load_checkpoint(locked)


SPARSE = {
    "512 MiB weight": ("model.c1.weight", [2**27], "size mismatch for 'c1.weight'"),
    "2 GiB weight": ("model.c1.weight", [2**29], "size mismatch for 'c1.weight'"),
    "2 GiB optimizer state": (
        "optimizer.state.0.momentum_buffer",
        [2**29],
        "momentum_buffer of parameter 0",
    ),
    "2 GiB stray array": ("model.huge", [2**29], "unexpected key(s) in state_dict: 'huge'"),
}


@pytest.mark.parametrize("case", list(SPARSE))
def test_sparse_files_that_declare_huge_arrays_are_refused_before_reading(good, tmp_path, case):
    """A file of a few KB on disk that claims gigabytes (sparse): the declared shapes are
    checked against the model's before any array is read, so memory stays near the model's."""
    name, shape, match = SPARSE[case]
    header, data = _parts(good)
    start = len(data)
    header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [start, start + 4 * shape[0]]}
    path = _raw(tmp_path / "sparse.safetensors", header, data)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) + 4 * shape[0])
    assert os.stat(path).st_blocks * 512 < 2**21  # it holds little
    peak, error = _peak_while(lambda: load_checkpoint(path))
    assert isinstance(error, CheckpointError) and match in str(error), error
    assert peak < 8 * 2**20, f"{peak / 2**20:.1f} MiB"


def test_arrays_past_the_end_or_overlapping_are_refused(good, tmp_path):
    header, data = _parts(good)
    entry = header["model.f7.bias"]
    begin, end = entry["data_offsets"]
    entry["data_offsets"] = [len(data) - 4, len(data) - 4 + end - begin]
    _one_error(_raw(tmp_path / "past.safetensors", header, data), "not a safetensors file, or cut")
    other = header["model.f7.weight"]["data_offsets"]
    entry["data_offsets"] = [other[0], other[0] + end - begin]
    _one_error(_raw(tmp_path / "overlap.safetensors", header, data), "overlap")
    entry["data_offsets"] = [begin, end + 4]
    _one_error(_raw(tmp_path / "size.safetensors", header, data), "takes 40 bytes")


def test_the_reader_agrees_with_safetensors(good):
    """The header and arrays load_checkpoint reads are safetensors' own."""
    checkpoint = load_checkpoint(good)
    with safetensors.safe_open(good, framework="numpy") as f:
        for key in f.keys():
            if key.startswith("model."):
                expected = f.get_tensor(key)
                actual = checkpoint.model.state_dict()[key.removeprefix("model.")]
                assert actual.dtype == expected.dtype and np.array_equal(actual, expected), key
        assert json.loads(f.metadata()["extra"]) == checkpoint.extra


# -------------------------------------------------------- forged headers, drawn by hypothesis
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**400), 10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
SIZES = st.integers(0, 2**31) | st.integers(0, 2**64 - 1) | st.sampled_from([0, 1, 4, 8, 40])


@st.composite
def forged_entries(draw, names):
    """An entry of the arrays' table: a real array's name or another, any dtype, any shape and
    place, or something that is not an entry at all."""
    name = draw(st.sampled_from(names) | st.text(max_size=20))
    entry = draw(
        st.fixed_dictionaries(
            {
                "dtype": st.sampled_from(["F32", "F64", "BF16", "F16", "I64", "U8", "", "f32"]),
                "shape": st.lists(SIZES, max_size=10) | JSON_VALUES,
                "data_offsets": st.lists(SIZES, min_size=2, max_size=2) | JSON_VALUES,
            }
        )
        | JSON_VALUES
    )
    return name, entry


@st.composite
def forged_files(draw, header):
    """A checkpoint's header with a few of its entries and metadata replaced, the length in its
    first 8 bytes and the file's size perhaps changed (made sparse, or cut)."""
    table = {k: v for k, v in header.items() if k != "__metadata__"}
    metadata = dict(header["__metadata__"])
    for name, entry in draw(st.lists(forged_entries(sorted(table)), max_size=3)):
        table[name] = entry
    for key in draw(st.lists(st.sampled_from(sorted(metadata)), max_size=2, unique=True)):
        metadata[key] = draw(
            st.text(max_size=30) | JSON_VALUES.map(lambda v: json.dumps(v, allow_nan=False))
        )
    forged = {**table, "__metadata__": metadata}
    sometimes = st.integers(0, 3).map(lambda k: k == 0)  # one time in four
    if draw(sometimes):
        forged = draw(JSON_VALUES)
    n = draw(SIZES) if draw(sometimes) else None
    size = draw(st.integers(0, 2**31)) if draw(sometimes) else None
    return forged, n, size


@pytest.fixture(scope="module")
def good_parts(tmp_path_factory):
    model, opt = _trained(optimizer="sgd")
    path = save_checkpoint(tmp_path_factory.mktemp("good") / "g.safetensors", model, opt, 3)
    return _parts(path)


@settings(max_examples=80)
@given(data=st.data())
def test_forged_headers_give_one_clear_error_or_a_correct_load(good_parts, tmp_path_factory, data):
    """Whatever the header says and however large the file claims to be: a checkpoint, or one
    error naming the file; memory near the model's; no hang."""
    header, arrays = good_parts
    forged, n, size = data.draw(forged_files(header))
    path = tmp_path_factory.mktemp("forged") / "f.safetensors"
    text = json.dumps(forged).encode()  # the header itself (JSON_VALUES never hold NaN)
    with open(path, "wb") as f:
        f.write((len(text) if n is None else n).to_bytes(8, "little"))
        f.write(text)
        f.write(arrays)
        if size is not None:
            f.truncate(size)
    with no_hang():
        peak, error = _peak_while(lambda: load_checkpoint(path))
    assert peak < 8 * 2**20, f"{peak / 2**20:.1f} MiB"
    if error is not None:
        message = str(error)
        assert message.startswith("load_checkpoint: ") and str(path) in message, message
        assert "\n" not in message, message
