"""``mathdnn train lenet``: the files it writes, --resume bit-identical to an uninterrupted run, the
progress bar, and every bad input as one stderr line, exit status 2, nothing written."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from conftest import no_hang
from test_cli_hostile import MAIN, run_child, without_stdout

from mathdnn import training
from mathdnn.checkpoint import digest, load_checkpoint, save_checkpoint
from mathdnn.cli import main
from mathdnn.data import load_mnist

N_TRAIN, N_TEST = 200, 60
FAST = ["--batch-size", "50", "--quiet"]


def _idx(array: np.ndarray) -> bytes:
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return head + array.tobytes()


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory) -> Path:
    """The IDX files of the bundled subset's first 200 training and 60 test images."""
    directory = tmp_path_factory.mktemp("mnist")
    m = load_mnist()
    for name, array in (
        ("train-images-idx3-ubyte", m.train_images[:N_TRAIN]),
        ("train-labels-idx1-ubyte", m.train_labels[:N_TRAIN].astype(np.uint8)),
        ("t10k-images-idx3-ubyte", m.test_images[:N_TEST]),
        ("t10k-labels-idx1-ubyte", m.test_labels[:N_TEST].astype(np.uint8)),
    ):
        (directory / name).write_bytes(_idx(np.ascontiguousarray(array)))
    return directory


def train(mnist_dir, out, *args: str) -> int:
    """The command's exit status (argparse's errors exit by ``SystemExit``)."""
    try:
        return main(["train", "lenet", "--mnist-dir", str(mnist_dir), "-o", str(out), *FAST, *args])
    except SystemExit as stop:
        return stop.code


def one_line_error(capsys, *fragments: str) -> str:
    """The single stderr line of a failed command; nothing on stdout."""
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("mathdnn train"), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert captured.out == ""
    return lines[0]


def _strict_json(path: Path):
    def refuse(constant):
        raise ValueError(f"{path} holds {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


# --------------------------------------------------------------------------- it works
def test_files_and_printout(mnist_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert train(mnist_dir, out, "--epochs", "2", "--c3", "original") == 0
    printed = capsys.readouterr().out
    assert "epoch   1/2" in printed and "epoch   2/2" in printed and "test accuracy" in printed
    assert "Problem 7: parameters" in printed and "LeNet-5, original C3" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.safetensors",
        "learning_curve.png",
        "results.json",
    ]
    assert (out / "learning_curve.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    doc = _strict_json(out / "results.json")
    assert doc["config"]["model"] == {
        "class": "LeNet5",
        "c3": "original",
        "c3_form": "masked",
        "dtype": "float32",
    }
    assert doc["config"]["optimizer"] == "sgd" and doc["config"]["lr"] == 0.1
    assert doc["config"]["batch_size"] == 50 and doc["config"]["epochs"] == 2
    assert doc["data"] == {"source": str(mnist_dir), "n_train": N_TRAIN, "n_test": N_TEST}
    per_epoch = doc["per_epoch"]
    assert per_epoch["epoch"] == [1, 2]
    for name in ("train_loss", "test_loss", "test_accuracy", "seconds"):
        assert len(per_epoch[name]) == 2
    assert doc["final"]["test_accuracy"] == per_epoch["test_accuracy"][-1]
    assert doc["timing"]["resumed_from_epoch"] is None and doc["timing"]["training_seconds"] > 0
    counts = doc["problem7_parameters"]
    for c3 in ("full", "original"):
        assert counts[c3]["network_from_table"] == counts[c3]["network_from_model"]
    assert doc["stopped_early"] is None
    checkpoint = load_checkpoint(out / "checkpoint.safetensors")
    assert checkpoint.epoch == 2 and checkpoint.model.config()["c3"] == "original"


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resume_is_bit_identical(mnist_dir, tmp_path, capsys, optimizer):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    args = ["--optimizer", optimizer, "--seed", "4"]
    assert train(mnist_dir, whole, "--epochs", "2", *args) == 0
    assert train(mnist_dir, parts, "--epochs", "1", *args) == 0
    assert train(mnist_dir, parts, "--epochs", "2", "--resume") == 0  # its settings, unrepeated
    assert "resuming after epoch 1" in capsys.readouterr().out
    a = load_checkpoint(whole / "checkpoint.safetensors")
    b = load_checkpoint(parts / "checkpoint.safetensors")
    assert a.epoch == b.epoch == 2 and a.loader_state == b.loader_state
    for (name, w), v in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert np.array_equal(w, v), name
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    for k, state in sa["state"].items():
        for key, value in state.items():
            assert np.array_equal(value, sb["state"][k][key]), (k, key)
    da, db = _strict_json(whole / "results.json"), _strict_json(parts / "results.json")
    for name in ("train_loss", "test_loss", "test_accuracy"):
        assert da["per_epoch"][name] == db["per_epoch"][name]
    assert db["timing"]["resumed_from_epoch"] == 1


def test_resume_accepts_the_same_settings_given_again(mnist_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert train(mnist_dir, out, "--epochs", "1", "--c3", "original", "--lr", "0.05") == 0
    assert (
        train(mnist_dir, out, "--epochs", "2", "--resume", "--c3", "original", "--lr", "0.05") == 0
    )
    assert load_checkpoint(out / "checkpoint.safetensors").epoch == 2


def test_progress_bar_on_a_terminal(mnist_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    out = tmp_path / "out"
    args = ["train", "lenet", "--mnist-dir", str(mnist_dir), "-o", str(out), "--epochs", "1"]
    assert main([*args, "--batch-size", "50"]) == 0
    err = capsys.readouterr().err
    assert "img/s" in err and "loss=" in err and "epoch 1/1" in err


def test_progress_bar_not_piped_nor_quiet(mnist_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert train(mnist_dir, tmp_path / "out", "--epochs", "1") == 0  # --quiet
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- bad input
def _files(directory: Path) -> dict[str, bytes]:
    return (
        {p.name: p.read_bytes() for p in sorted(directory.iterdir())} if directory.exists() else {}
    )


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--c3", "half"], ["argument --c3: invalid choice: 'half'"]),
        (["--optimizer", "rmsprop"], ["argument --optimizer: invalid choice: 'rmsprop'"]),
        (["--epochs", "0"], ["--epochs must be a positive integer, got 0"]),
        (["--epochs", "-3"], ["--epochs must be a positive integer, got -3"]),
        (["--epochs", "two"], ["argument --epochs: invalid int value: 'two'"]),
        (["--batch-size", "0"], ["--batch-size must be a positive integer, got 0"]),
        (["--batch-size", "-1"], ["--batch-size must be a positive integer"]),
        (["--lr", "nan"], ["--lr must be a positive finite number, got nan"]),
        (["--lr", "inf"], ["--lr must be a positive finite number, got inf"]),
        (["--lr", "-0.1"], ["--lr must be a positive finite number, got -0.1"]),
        (["--lr", "0"], ["--lr must be a positive finite number, got 0.0"]),
        (["--seed", "-1"], ["--seed must be a non-negative integer, got -1"]),
        (["--resume"], ["--resume: there is no checkpoint", "checkpoint.safetensors to resume"]),
    ],
)
def test_bad_arguments(mnist_dir, tmp_path, capsys, args, fragments):
    out = tmp_path / "out"
    assert train(mnist_dir, out, *args) == 2
    one_line_error(capsys, *fragments)
    assert not out.exists()


def test_no_model_named(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train"])
    assert info.value.code == 2
    one_line_error(capsys, "required: MODEL")


@pytest.mark.parametrize("where", ["empty", "missing", "a file"])
def test_directory_without_mnist(tmp_path, capsys, monkeypatch, where):
    monkeypatch.delenv("MATHDNN_MNIST_DIR", raising=False)
    directory = tmp_path / "mnist"
    if where == "empty":
        directory.mkdir()
    elif where == "a file":
        directory.write_text("x")
    out = tmp_path / "out"
    assert train(directory, out, "--epochs", "1") == 2
    expected = {
        "empty": "no complete MNIST set",
        "missing": "does not exist",
        "a file": "is not a directory",
    }
    one_line_error(capsys, expected[where], str(directory))
    assert not out.exists()


def test_output_that_is_a_file(mnist_dir, tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert train(mnist_dir, target, "--epochs", "1") == 2
    one_line_error(capsys, f"-o: {target} exists and is not a directory")
    assert train(mnist_dir, target / "deeper", "--epochs", "1") == 2
    one_line_error(capsys, "is a file, not a directory")
    assert target.read_text() == "x"


@pytest.mark.parametrize("name", ["checkpoint.safetensors", "results.json", "learning_curve.png"])
def test_every_output_is_checked_before_training(mnist_dir, tmp_path, capsys, name):
    out = tmp_path / "out"
    (out / name).mkdir(parents=True)
    assert train(mnist_dir, out, "--epochs", "1") == 2
    one_line_error(capsys, f"cannot write {out / name}: it is a directory")
    assert [p.name for p in out.iterdir()] == [name]  # nothing trained, nothing written


def test_resuming_a_complete_run_finishes_its_outputs(mnist_dir, one_epoch, tmp_path, capsys):
    out = _copy(one_epoch, tmp_path)  # as if stopped between the checkpoint and results.json
    saved = (out / "checkpoint.safetensors").read_bytes()
    results = _strict_json(out / "results.json")
    for name in ("results.json", "learning_curve.png"):
        (out / name).unlink()
    assert train(mnist_dir, out, "--epochs", "1", "--resume") == 0
    assert "its 1 epochs are done, writing its results" in capsys.readouterr().out
    assert (out / "checkpoint.safetensors").read_bytes() == saved
    assert (out / "learning_curve.png").read_bytes().startswith(b"\x89PNG")
    finished = _strict_json(out / "results.json")
    for name in ("train_loss", "test_loss", "test_accuracy"):
        assert finished["per_epoch"][name] == results["per_epoch"][name]
    assert train(mnist_dir, out, "--epochs", "0", "--resume") == 2
    capsys.readouterr()
    out_before = sorted(p.name for p in out.iterdir())
    assert train(mnist_dir, out, "--epochs", "1", "--resume", "--seed", "1") == 2
    one_line_error(capsys, "--seed 1 differs")
    assert sorted(p.name for p in out.iterdir()) == out_before


def test_fewer_epochs_than_done_is_refused(mnist_dir, one_epoch, tmp_path, capsys):
    out = _copy(one_epoch, tmp_path)
    assert train(mnist_dir, out, "--epochs", "2", "--resume") == 0
    capsys.readouterr()
    assert train(mnist_dir, out, "--epochs", "1", "--resume") == 2
    one_line_error(capsys, "has done 2 epochs already; give --epochs 2 to finish its outputs")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_resume_from_a_fifo_says_what_it_is(mnist_dir, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "checkpoint.safetensors")
    with no_hang():  # a FIFO opened for reading would wait for a writer
        assert train(mnist_dir, out, "--epochs", "1", "--resume") == 2
    one_line_error(capsys, "checkpoint.safetensors: it is a FIFO (named pipe)")


@pytest.mark.parametrize("how", ["closed", "a pipe without reader"])
def test_without_stdout_nothing_is_trained_nor_left(mnist_dir, tmp_path, how):
    out = tmp_path / "out"
    kwargs, pipe = without_stdout(how)
    args = ["train", "lenet", "--mnist-dir", str(mnist_dir), "-o", str(out), *FAST]
    try:
        child = run_child(MAIN, *args, "--epochs", "1", stderr=subprocess.PIPE, **kwargs)
    finally:
        if pipe is not None:
            os.close(pipe)
    assert (child.returncode, child.stderr) == (141, "")
    assert not out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_output_in_a_read_only_directory(mnist_dir, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert train(mnist_dir, locked / "out", "--epochs", "1") == 2
        one_line_error(capsys, "is not writable")
    finally:
        locked.chmod(0o700)
    assert list(locked.iterdir()) == []


@pytest.mark.skipif(not os.path.isdir("/sys"), reason="needs /sys, a file system nobody writes")
def test_output_where_nobody_may_write(mnist_dir, capsys):
    assert train(mnist_dir, "/sys/mathdnn-train-test", "--epochs", "1") == 2
    one_line_error(capsys, "/sys/mathdnn-train-test")
    assert not Path("/sys/mathdnn-train-test").exists()


# ---------------------------------------------------------------- bad checkpoints on --resume
@pytest.fixture(scope="module")
def one_epoch(mnist_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one") / "out"
    assert train(mnist_dir, out, "--epochs", "1") == 0
    return out


def _copy(one_epoch: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    for p in one_epoch.iterdir():
        (out / p.name).write_bytes(p.read_bytes())
    return out


def _rewrite(path: Path, edit_arrays=None, edit_metadata=None) -> None:
    with safetensors.safe_open(path, framework="numpy") as f:
        arrays = {k: f.get_tensor(k) for k in f.keys()}
        meta = dict(f.metadata())
    arrays = edit_arrays(arrays) if edit_arrays else arrays
    meta = edit_metadata(meta) if edit_metadata else meta
    meta["sha256"] = digest(arrays, meta)
    safetensors.numpy.save_file(arrays, path, metadata=meta)


def _another_model(meta):
    return {**meta, "model": json.dumps({"class": "ResNet18", "config": {}})}


def _wrong_shape(arrays):
    return {**arrays, "model.f7.weight": np.zeros((10, 80), np.float32)}


def _missing_key(arrays):
    return {k: v for k, v in arrays.items() if k != "model.c5.bias"}


@pytest.mark.parametrize(
    ("damage", "fragments"),
    [
        ("truncate", ["not a safetensors file, or cut short"]),
        ("text", ["not a safetensors file"]),
        ("flip", ["corrupt"]),
        ("another model", ["model of class 'ResNet18'"]),
        ("wrong shape", ["size mismatch for 'f7.weight'"]),
        ("missing key", ["missing key(s) in state_dict: 'c5.bias'"]),
        ("c3 differs", ["--c3 original differs from the checkpoint's full"]),
        ("seed differs", ["--seed 9 differs from the checkpoint's 0"]),
        ("other data", ["it was trained on other data"]),
        ("no training", ["not a checkpoint of mathdnn.training"]),
    ],
)
def test_resume_refuses_bad_checkpoints(one_epoch, mnist_dir, tmp_path, capsys, damage, fragments):
    out = _copy(one_epoch, tmp_path)
    path = out / "checkpoint.safetensors"
    data = path.read_bytes()
    args, directory = ["--epochs", "2", "--resume"], mnist_dir
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "text":
        path.write_text("hello")
    elif damage == "flip":
        path.write_bytes(data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:])
    elif damage == "another model":
        _rewrite(path, edit_metadata=_another_model)
    elif damage == "wrong shape":
        _rewrite(path, edit_arrays=_wrong_shape)
    elif damage == "missing key":
        _rewrite(path, edit_arrays=_missing_key)
    elif damage == "c3 differs":
        args += ["--c3", "original"]
    elif damage == "seed differs":
        args += ["--seed", "9"]
    elif damage == "other data":
        directory = None
    elif damage == "no training":
        save_checkpoint(path, load_checkpoint(path).model)
    before = _files(out)
    if directory is None:
        assert main(["train", "lenet", "-o", str(out), *FAST, *args]) == 2  # the bundled set
    else:
        assert train(directory, out, *args) == 2
    line = one_line_error(capsys, *fragments)
    assert str(path) in line
    assert _files(out) == before


# ----------------------------------------------------------------------------- divergence
def test_divergence_in_the_first_epoch(mnist_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert train(mnist_dir, out, "--epochs", "2", "--lr", "1e38") == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mathdnn train: training diverged: fit: epoch 1")
    assert "no checkpoint was written; try a smaller --lr" in lines[0]
    assert not out.exists()


def test_divergence_keeps_the_last_good_checkpoint(mnist_dir, one_epoch, tmp_path, capsys):
    out = _copy(one_epoch, tmp_path)
    path = out / "checkpoint.safetensors"
    run = training.resume(path, load_mnist(mnist_dir))
    run.settings = dataclasses.replace(run.settings, lr=1e38)
    run.optimizer.param_groups[0]["lr"] = 1e38
    training.save(run, path)
    saved = path.read_bytes()
    assert train(mnist_dir, out, "--epochs", "3", "--resume") == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "training diverged: fit: epoch 2" in lines[0]
    assert f"the last good checkpoint (epoch 1) is kept in {path}" in lines[0]
    assert path.read_bytes() == saved
    doc = _strict_json(out / "results.json")
    assert doc["per_epoch"]["epoch"] == [1] and "fit: epoch 2" in doc["stopped_early"]
