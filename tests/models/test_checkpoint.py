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
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.numpy

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
