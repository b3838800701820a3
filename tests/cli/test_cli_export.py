"""``mathdnn export``: a checkpoint becomes an ONNX model that ONNX Runtime runs to mathdnn's
logits;
bad input is one line on stderr, status 2, nothing written."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from conftest import no_hang

import mathdnn
from mathdnn.checkpoint import save_checkpoint
from mathdnn.cli import main
from mathdnn.models import LeNet5


@pytest.fixture
def checkpoint(tmp_path):
    model = LeNet5("original", rng=3)
    return save_checkpoint(tmp_path / "model.safetensors", model), model


def test_export_runs_in_onnx_runtime(tmp_path, checkpoint, capsys):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    path, model = checkpoint
    assert main(["export", str(path), str(tmp_path / "out" / "lenet.onnx")]) == 0
    assert "wrote" in capsys.readouterr().out
    session = ort.InferenceSession(str(tmp_path / "out" / "lenet.onnx"))
    x = np.random.default_rng(0).random((5, 1, 28, 28), dtype=np.float32)
    (logits,) = session.run(["logits"], {"images": x})
    np.testing.assert_allclose(logits, model(mathdnn.tensor(x)).data, rtol=1e-4, atol=1e-5)


def test_a_fixed_batch(tmp_path, checkpoint):
    onnx = pytest.importorskip("onnx")
    path, _ = checkpoint
    assert main(["export", str(path), str(tmp_path / "m.onnx"), "--batch", "4"]) == 0
    shape = onnx.load(str(tmp_path / "m.onnx")).graph.input[0].type.tensor_type.shape
    assert [d.dim_value for d in shape.dim] == [4, 1, 28, 28]


def bad(args, capsys, tmp_path, message):
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["export", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("mathdnn export: ") and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_bad_input(tmp_path, checkpoint, capsys):
    path, _ = checkpoint
    out = str(tmp_path / "m.onnx")
    bad([str(tmp_path / "none.safetensors"), out], capsys, tmp_path, "there is no checkpoint")
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    bad([str(tmp_path / "notes.txt"), out], capsys, tmp_path, "not a safetensors file")
    bad([str(path), str(path / "m.onnx")], capsys, tmp_path, "is a file, not a directory")
    bad([str(path), out, "--batch", "0"], capsys, tmp_path, "--batch must be a positive integer")
    pytest.importorskip("onnx")
    bad([str(path), out, "--opset", "9"], capsys, tmp_path, "opset")


def test_the_checkpoint_itself_is_never_the_output(tmp_path, checkpoint, capsys):
    path, _ = checkpoint
    content = path.read_bytes()
    (tmp_path / "link.onnx").symlink_to(path)
    for output in (path, tmp_path / "." / path.name, tmp_path / "link.onnx"):
        bad([str(path), str(output)], capsys, tmp_path, "is the checkpoint itself")
    bad([str(path), str(tmp_path)], capsys, tmp_path, "is a directory")
    assert path.read_bytes() == content


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_or_a_device_is_refused_at_once(tmp_path, capsys):
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)
    with no_hang():  # a FIFO opened for reading would wait for a writer
        bad([str(fifo), str(tmp_path / "m.onnx")], capsys, tmp_path, "is a FIFO (named pipe)")
    if os.path.exists("/dev/urandom"):
        (tmp_path / "random.safetensors").symlink_to("/dev/urandom")
        bad(
            [str(tmp_path / "random.safetensors"), str(tmp_path / "m.onnx")],
            capsys,
            tmp_path,
            "is a character device",
        )


def test_without_onnx_the_error_says_how_to_install_it(tmp_path, checkpoint, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx fails
    path, _ = checkpoint
    bad([str(path), str(tmp_path / "m.onnx")], capsys, tmp_path, "pip install '.[onnx]'")
