"""Problem 5's experiment: training reaches well above chance, is reproducible, and the
``mathdnn losses`` command writes its results or fails cleanly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from mathdnn.cli import main
from mathdnn.data import binary_digits, load_mnist
from mathdnn.hw4.p5_losses import compare, summarize, train
from mathdnn.training import TrainingDiverged


@pytest.fixture(scope="module")
def digits_4_9():
    m = load_mnist()
    X, y = binary_digits(m.train_images, m.train_labels)
    X_test, y_test = binary_digits(m.test_images, m.test_labels)
    return X, y, X_test, y_test


@pytest.mark.parametrize("loss", ["kl", "sos"])
def test_short_training_is_well_above_chance(digits_4_9, loss):
    X, y, X_test, y_test = digits_4_9
    history = train(X, y, loss, lr=0.3, epochs=2, X_test=X_test, y_test=y_test).history
    assert len(history.test_accuracy) == len(history.metrics[f"test_{loss}_loss"]) == 2
    assert history.test_accuracy[-1] > 0.9
    assert history.train_loss[-1] < history.train_loss[0]


def test_training_is_reproducible_per_seed(digits_4_9):
    X, y, X_test, y_test = digits_4_9
    runs = [train(X, y, "sos", epochs=2, seed=s, X_test=X_test, y_test=y_test) for s in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0].model.a.data, runs[1].model.a.data)
    assert runs[0].history.metrics == runs[1].history.metrics
    assert not np.array_equal(runs[0].model.a.data, runs[2].model.a.data)


def test_compare_and_summary(digits_4_9):
    comparison = compare(*digits_4_9, seeds=2, epochs=1)
    assert set(comparison.runs) == {"kl", "sos"}
    assert all(len(v) == 2 for v in comparison.test_accuracy.values())
    results = comparison.results()
    summary = comparison.summary()
    assert results["summary"]["mean"] == summary.mean
    assert results["summary"]["verdict"] == summary.verdict()
    for loss in ("kl", "sos"):
        assert results[loss]["test_accuracy"] == comparison.test_accuracy[loss]
        assert [len(v) for v in results[loss]["per_epoch"]["test_accuracy"]] == [1, 1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0.0}, "train: lr must be a positive finite number"),
        ({"epochs": 0}, "train: epochs must be a positive integer"),
        ({"loss": "mse"}, "train: loss must be one of"),
    ],
)
def test_train_rejects_bad_arguments(digits_4_9, kwargs, message):
    X, y, _, _ = digits_4_9
    with pytest.raises(ValueError, match=message):
        train(X, y, **kwargs)


# ------------------------------------------------------------------- the paired statistics
def _t_interval(differences):
    """The 95 % Student's t interval of the mean of ``differences``, written out here."""
    d = np.asarray(differences, dtype=np.float64)
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return d.mean() - half, d.mean() + half


@pytest.mark.parametrize(
    ("kl", "sos", "better"),
    [
        ([0.92, 0.905, 0.91, 0.915, 0.90], [0.925, 0.915, 0.92, 0.925, 0.905], "sos"),
        ([0.93, 0.94, 0.92], [0.90, 0.92, 0.895], "kl"),
        ([0.90, 0.92, 0.91, 0.93], [0.92, 0.91, 0.93, 0.92], None),
        ([0.90, 0.92], [0.90, 0.92], None),  # identical runs: no difference at all
    ],
)
def test_summary_is_the_paired_t_interval(kl, sos, better):
    s = summarize({"kl": kl, "sos": sos})
    d = np.subtract(sos, kl)
    assert s.differences == pytest.approx(d.tolist()) and s.difference == pytest.approx(d.mean())
    assert s.wins == {
        "kl": int((d < 0).sum()),
        "sos": int((d > 0).sum()),
        "tie": int((d == 0).sum()),
    }
    assert s.interval == pytest.approx(_t_interval(d), abs=1e-12)
    assert s.better == better
    if better is None:
        assert (
            s.verdict().startswith("the runs cannot tell them apart")
            and "contains 0" in s.verdict()
        )
    else:
        title = {"sos": "sum of squares", "kl": "KL (logistic)"}[better]
        assert s.verdict().startswith(f"{title} is better") and "excludes 0" in s.verdict()
    if np.ptp(d) > 1e-12:
        assert s.p_value == pytest.approx(stats.ttest_rel(sos, kl).pvalue)
    else:
        assert s.t is None and s.p_value is None  # the t statistic is 0 / 0 or ±inf
    assert [row["difference"] for row in s.paired_table()] == s.differences


def test_one_seed_cannot_tell():
    s = summarize({"kl": [0.90], "sos": [0.93]})
    assert s.interval is None and s.better is None and s.paired_std is None
    assert s.verdict().startswith("one seed cannot tell them apart")
    assert "two or more seeds" in s.verdict()
    with pytest.raises(ValueError, match="summarize: both losses need the same seeds"):
        summarize({"kl": [0.9, 0.8], "sos": [0.9]})


def _losses(tmp_path, *args):
    out = tmp_path / "out"
    assert main(["losses", *args, "-o", str(out), "--quiet"]) == 0
    return json.loads((out / "results.json").read_text(), parse_constant=_refuse_non_json)


def test_cli_one_seed_says_it_cannot_tell(tmp_path, capsys):
    summary = _losses(tmp_path, "--seeds", "1", "--epochs", "2")["summary"]
    assert summary["interval"] is None and summary["better"] is None
    assert summary["verdict"].startswith("one seed cannot tell them apart")
    assert f"verdict: {summary['verdict']}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("seeds", "epochs"),
    [
        ("5", "20"),  # the defaults: decisive on the bundled digits
        ("2", "5"),  # hw4 --quick's: the interval contains 0
    ],
)
def test_cli_verdict_is_the_paired_t_interval(tmp_path, capsys, seeds, epochs):
    doc = _losses(tmp_path, "--seeds", seeds, "--epochs", epochs)
    summary = doc["summary"]
    kl, sos = doc["kl"]["test_accuracy"], doc["sos"]["test_accuracy"]
    assert [(r["kl"], r["sos"]) for r in summary["paired"]] == list(zip(kl, sos, strict=True))
    lo, hi = _t_interval(np.subtract(sos, kl))
    assert summary["interval"] == pytest.approx([lo, hi], abs=1e-12)
    if lo > 0:
        assert summary["better"] == "sos"
        assert summary["verdict"].startswith("sum of squares is better")
    elif hi < 0:
        assert summary["better"] == "kl"
        assert summary["verdict"].startswith("KL (logistic) is better")
    else:
        assert summary["better"] is None
        assert summary["verdict"].startswith("the runs cannot tell them apart")
    if seeds == "5":
        assert summary["better"] == "sos"  # what the default answers on the bundled digits
    printed = capsys.readouterr().out
    assert f"[{100 * lo:+.2f}, {100 * hi:+.2f}]" in printed and summary["verdict"] in printed


def _refuse_non_json(constant: str) -> None:
    raise AssertionError(f"results.json is not strict JSON: it holds {constant}")


def test_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "tmp"
    assert main(["losses", "--epochs", "1", "--seeds", "2", "-o", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "KL (logistic)" in printed and "verdict:" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "curves.png",
        "loss_functions.png",
        "misclassified.png",
        "results.json",
    ]
    for png in out.glob("*.png"):
        assert png.read_bytes().startswith(b"\x89PNG")
    doc = json.loads((out / "results.json").read_text(), parse_constant=_refuse_non_json)
    assert set(doc) == {"config", "data", "kl", "sos", "summary"}
    assert doc["data"]["n_train"] == 800 and doc["data"]["n_test"] == 200
    for name in ("kl", "sos"):
        entry = doc[name]
        assert set(entry) == {"title", "test_accuracy", "per_epoch"}
        assert len(entry["test_accuracy"]) == 2
        assert all(0 <= a <= 1 for a in entry["test_accuracy"])
        assert set(entry["per_epoch"]) == {
            "test_accuracy",
            "test_loss",
            "test_kl_loss",
            "test_sos_loss",
            "train_loss",
        }
        assert all(len(v) == 2 and len(v[0]) == 1 for v in entry["per_epoch"].values())
    assert [row["seed"] for row in doc["summary"]["paired"]] == [0, 1]


def _corrupt_mnist(directory):
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (directory / name).write_bytes(b"not an idx file")
    return directory


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--mnist-dir", "{empty}"], "no complete MNIST set"),
        (["--mnist-dir", "{corrupt}"], "bad magic number"),
        (["--mnist-dir", "{missing}"], "does not exist"),
        (["--digits", "4", "10"], "--digits"),
        (["--digits", "-1", "9"], "--digits"),
        (["--digits", "7", "7"], "must differ"),
        (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["--seeds", "0"], "--seeds must be a positive integer, got 0"),
        (["--batch-size", "-3"], "--batch-size must be a positive integer"),
        (["--lr", "0"], "--lr must be a positive finite number, got 0.0"),
        (["--lr", "-0.5"], "--lr must be a positive finite number"),
        (["--lr", "nan"], "--lr must be a positive finite number"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, monkeypatch, args, expected):
    monkeypatch.delenv("MATHDNN_MNIST_DIR", raising=False)
    (tmp_path / "empty").mkdir()
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    _corrupt_mnist(corrupt)
    places = {"empty": tmp_path / "empty", "corrupt": corrupt, "missing": tmp_path / "nope"}
    args = [a.format(**places) for a in args]
    out = tmp_path / "out"
    assert main(["losses", *args, "-o", str(out), "--quiet"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mathdnn losses:"), captured.err
    assert expected in lines[0]
    assert captured.out == ""
    assert not out.exists()


def test_cli_output_path_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["losses", "-o", str(target), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("mathdnn losses: -o:")
    assert target.read_text() == "x"


@pytest.mark.parametrize("loss", ["kl", "sos"])
def test_divergence_stops_training_at_once(digits_4_9, loss):
    X, y, X_test, y_test = digits_4_9
    with pytest.raises(
        TrainingDiverged,
        match=r"train: .* seed 3 diverged \(fit: epoch 1: .* minibatch [12]\): lr=1e\+300",
    ):
        train(X, y, loss, lr=1e300, epochs=3, seed=3, X_test=X_test, y_test=y_test)
