"""mathdnn.training: seeded runs, resume from a checkpoint bit-identical to a run that never
stopped,
divergence stopping before a bad epoch is recorded, and every bad argument named."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from mathdnn import training
from mathdnn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mathdnn.data import MNIST, load_mnist, nchw_scale
from mathdnn.models import LeNet5
from mathdnn.training import History, Run, Settings, TrainingDiverged


def _subset(n_train: int, n_test: int, offset: int = 0) -> MNIST:
    m = load_mnist()
    return MNIST(
        m.train_images[offset : offset + n_train],
        m.train_labels[offset : offset + n_train],
        m.test_images[:n_test],
        m.test_labels[:n_test],
        f"bundled, {n_train} from {offset}",
    )


@pytest.fixture(scope="module")
def small():
    return _subset(200, 60)


def _weights(run: Run) -> dict[str, np.ndarray]:
    return run.model.state_dict()


def _assert_same_run(a: Run, b: Run) -> None:
    for name, w in _weights(a).items():
        assert np.array_equal(w, _weights(b)[name]), name
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    for k, state in sa["state"].items():
        for key, value in state.items():
            assert np.array_equal(value, sb["state"][k][key]), (k, key)
    assert a.loader.state_dict() == b.loader.state_dict()
    for name in ("train_loss", "metrics", "step_loss"):
        assert getattr(a.history, name) == getattr(b.history, name), name


SMALL = {"batch_size": 50}


def test_history_and_learning(small):
    seen = []
    history = training.train_lenet(
        small,
        2,
        Settings(optimizer="adam", **SMALL),
        on_batch=lambda loss, x, y: seen.append((loss, len(y))),
        on_epoch=lambda run: seen.append(("epoch", run.epoch)),
    )
    assert len(history) == 2
    for values in history.per_epoch().values():
        assert len(values) == 2 and all(math.isfinite(v) for v in values)
    assert list(history.per_epoch()) == ["train_loss", "test_loss", "test_accuracy", "seconds"]
    assert all(0 <= a <= 1 for a in history.test_accuracy)
    # four batches of 50 per epoch, then the epoch
    assert [n for *_, n in seen] == [50, 50, 50, 50, 1, 50, 50, 50, 50, 2]
    batch_losses = [loss for loss, n in seen[:4]]
    assert history.train_loss[0] == pytest.approx(np.mean(batch_losses), rel=1e-12)
    assert history.step_loss == [loss for loss, n in seen if loss != "epoch"]


def test_training_lowers_the_loss(small):
    run = training.start(small, Settings(optimizer="adam", **SMALL))
    before = run.evaluation(run.model)["test_loss"]
    training.fit(run, 2)
    assert run.history.test_loss[-1] < before


def test_seeded(small):
    a = training.start(small, Settings(seed=3, **SMALL))
    b = training.start(small, Settings(seed=3, **SMALL))
    training.fit(a, 1)
    training.fit(b, 1)
    _assert_same_run(a, b)
    c = training.start(small, Settings(seed=4, **SMALL))
    assert not np.array_equal(_weights(a)["c1.weight"], _weights(c)["c1.weight"])


@pytest.mark.parametrize(("c3", "optimizer"), [("full", "sgd"), ("original", "adam")])
def test_resume_is_bit_identical(small, tmp_path, c3, optimizer):
    settings = Settings(c3=c3, optimizer=optimizer, seed=7, **SMALL)
    whole = training.start(small, settings)
    training.fit(whole, 2)

    first = training.start(small, settings)
    training.fit(first, 1, on_epoch=lambda run: training.save(run, tmp_path / "c.safetensors"))
    resumed = training.resume(tmp_path / "c.safetensors", small)
    assert resumed.epoch == 1 and resumed.settings == settings
    training.fit(resumed, 2)
    _assert_same_run(whole, resumed)


def test_evaluate_in_batches(small):
    model = LeNet5(rng=0)
    x, y = nchw_scale(small.test_images), small.test_labels
    loss, accuracy = training.evaluate(model, x, y)
    loss7, accuracy7 = training.evaluate(model, x, y, batch_size=7)
    assert loss7 == pytest.approx(loss, rel=1e-6) and accuracy7 == accuracy
    logits = model(x).data.astype(np.float64)
    log_p = logits - logits.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    assert loss == pytest.approx(-log_p[np.arange(len(y)), y].mean(), rel=1e-5)
    assert accuracy == np.mean(logits.argmax(1) == y)
    with pytest.raises(ValueError, match="evaluate: there are no images"):
        training.evaluate(model, x[:0], y[:0])


# ---------------------------------------------------------------------------- divergence
def test_divergence_in_the_first_epoch(small):
    epochs = []
    with pytest.raises(TrainingDiverged, match=r"fit: epoch 1: train_epoch: the loss is (inf|nan)"):
        training.train_lenet(small, 2, Settings(lr=1e38, **SMALL), on_epoch=epochs.append)
    assert epochs == []


def test_divergence_keeps_the_last_good_checkpoint(small, tmp_path):
    path = tmp_path / "c.safetensors"
    run = training.start(small, Settings(**SMALL))

    def on_epoch(run):
        training.save(run, path)
        run.optimizer.param_groups[0]["lr"] = 1e38  # the next epoch blows up

    with pytest.raises(TrainingDiverged, match="fit: epoch 2"):
        training.fit(run, 3, on_epoch=on_epoch)
    assert len(run.history) == 1
    assert load_checkpoint(path).epoch == 1
    assert training.resume(path, small).optimizer.param_groups[0]["lr"] == 0.1


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"c3": "half"}, ValueError, "Settings: c3 must be 'full' or 'original', got 'half'"),
        ({"optimizer": "rmsprop"}, ValueError, "Settings: optimizer must be 'sgd' or 'adam'"),
        ({"lr": float("nan")}, ValueError, "Settings: lr must be a positive finite number"),
        ({"lr": float("inf")}, ValueError, "Settings: lr must be a positive finite number"),
        ({"lr": -0.1}, ValueError, "Settings: lr must be a positive finite number, got -0.1"),
        ({"lr": 0}, ValueError, "Settings: lr must be a positive finite number, got 0"),
        ({"lr": "0.1"}, TypeError, "Settings: lr must be a number, got '0.1'"),
        ({"lr": True}, TypeError, "Settings: lr must be a number"),
        ({"batch_size": 0}, ValueError, "Settings: batch_size must be a positive integer, got 0"),
        ({"batch_size": 2.5}, TypeError, "Settings: batch_size must be an int, got 2.5"),
        ({"seed": -1}, ValueError, "Settings: seed must be a non-negative integer, got -1"),
        ({"seed": None}, TypeError, "Settings: seed must be an int, got None"),
    ],
)
def test_settings_reject_bad_values(kwargs, error, message):
    with pytest.raises(error) as info:
        Settings(**kwargs)
    assert message in str(info.value)


def test_default_learning_rates():
    assert Settings().lr == 0.1 and Settings(optimizer="adam").lr == 1e-3
    assert Settings(lr=2).lr == 2.0 and isinstance(Settings(lr=2).lr, float)


def test_bad_arguments_are_named(small):
    with pytest.raises(
        TypeError, match=re.escape("start: mnist must be an mathdnn.data.MNIST, got tuple")
    ):
        training.start((1, 2))
    with pytest.raises(ValueError, match="start: mnist must have training and test images"):
        training.start(_subset(0, 10))
    with pytest.raises(TypeError, match="start: settings must be a Settings, got dict"):
        training.start(small, {"c3": "full"})
    run = training.start(small, Settings(**SMALL))
    with pytest.raises(TypeError, match="fit: run must be a Run"):
        training.fit(small, 1)
    for epochs, error in ((0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="fit: epochs"):
            training.fit(run, epochs)
    training.fit(run, 1)
    with pytest.raises(ValueError, match="must exceed the 1 epochs done, got 1"):
        training.fit(run, 1)
    with pytest.raises(ValueError, match="learning_curve_png: the history has no epochs"):
        training.learning_curve_png(History(), "t")


@pytest.mark.parametrize(
    "values",
    [
        None,
        {"train_loss": []},
        {"train_loss": [1.0], "seconds": [], "metrics": {}, "step_loss": []},
        {"train_loss": [1.0], "seconds": [1.0], "metrics": {"a": [1, 2]}, "step_loss": []},
        {"train_loss": [math.nan], "seconds": [1], "metrics": {}, "step_loss": []},
        {"train_loss": [1.0], "seconds": [1], "metrics": {}, "step_loss": [10**400]},
        {"train_loss": [1.0], "seconds": [1], "metrics": [], "step_loss": []},
        {"train_loss": "1", "seconds": "1", "metrics": {}, "step_loss": "1"},
    ],
)
def test_history_from_dict_checks(values):
    with pytest.raises(ValueError, match=r"here: .*history"):
        History.from_dict("here", values)


# ------------------------------------------------------------------------ resume checks
@pytest.fixture(scope="module")
def saved(small, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "c.safetensors"
    run = training.start(small, Settings(**SMALL))
    training.fit(run, 1, on_epoch=lambda run: training.save(run, path))
    return path, run


def _resave(run: Run, path, **changes) -> None:
    parts = {
        "model": run.model,
        "optimizer": run.optimizer,
        "epoch": run.epoch,
        "loader_state": run.loader.state_dict(),
        "extra": {
            "settings": {"batch_size": run.settings.batch_size, "seed": run.settings.seed},
            "data": run.data,
            "history": run.history.as_dict(),
        },
    }
    parts.update(changes)
    save_checkpoint(path, **parts)


def test_resume_on_other_data(saved, small):
    path, _ = saved
    with pytest.raises(CheckpointError) as info:
        training.resume(path, _subset(200, 60, offset=200))
    message = str(info.value)
    assert message.startswith(f"resume: {path}: it was trained on other data, bundled, 200 from 0")


def test_resume_refuses_checkpoints_that_do_not_fit(saved, small, tmp_path):
    path, run = saved
    bad = tmp_path / "bad.safetensors"
    extra = {
        "settings": {"batch_size": run.settings.batch_size, "seed": run.settings.seed},
        "data": run.data,
        "history": run.history.as_dict(),
    }
    cases = [
        ({"extra": None}, "not a checkpoint of mathdnn.training"),
        (
            # each setting is stored once: c3, optimizer and lr are the model's and optimizer's
            {"extra": {**extra, "settings": {**extra["settings"], "c3": "full"}}},
            "its training settings must be {batch_size, seed}",
        ),
        (
            {"extra": {**extra, "settings": {"batch_size": 0, "seed": 0}}},
            "its training settings or history are invalid: Settings: batch_size must be",
        ),
        ({"optimizer": None}, "it has no optimizer, not one of sgd, adam"),
        ({"epoch": 2}, "1 epochs of history for epoch 2"),
        ({"loader_state": None}, "no data loader state"),
        (
            {"loader_state": {**run.loader.state_dict(), "next_batch": 2}},
            "saved in the middle of an epoch",
        ),
        (
            {"loader_state": {"generator": {"bit_generator": "MT19937"}, "next_batch": 0}},
            "its data loader state does not fit",
        ),
        (  # integers too large for a float, or for the generator
            {"loader_state": _huge_generator_state(run)},
            "its data loader state does not fit",
        ),
        (
            {"extra": {**extra, "history": {**extra["history"], "train_loss": [10**400]}}},
            "the history's train_loss must be a list of finite numbers",
        ),
    ]
    for changes, message in cases:
        _resave(run, bad, **changes)
        with pytest.raises(CheckpointError) as info:
            training.resume(bad, small)
        assert str(info.value).startswith(f"resume: {bad}: ") and message in str(info.value)
    with pytest.raises(TypeError, match=re.escape("resume: mnist must be an mathdnn.data.MNIST")):
        training.resume(path, None)


def _huge_generator_state(run):
    state = run.loader.state_dict()
    state["generator"]["state"]["state"] = 10**400
    return state


def _history(train_loss, test_loss, test_accuracy):
    metrics = {"test_loss": test_loss, "test_accuracy": test_accuracy}
    return History(train_loss, [1.0] * len(train_loss), metrics)


def test_learning_curve_is_a_png():
    history = _history([2.0, 1.0], [2.1, 1.2], [0.3, 0.6])
    assert training.learning_curve_png(history, "title").startswith(b"\x89PNG\r\n\x1a\n")


def test_learning_curves_of_several_runs():
    runs = {
        "full C3": _history([2.0, 1.0], [2.1, 1.2], [0.3, 0.6]),
        "original C3": _history([2.2, 1.1, 0.9], [2.3, 1.3, 1.0], [0.2, 0.5, 0.7]),
    }
    png = training.learning_curve_png(runs, "title")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png != training.learning_curve_png(runs["full C3"], "title")
    for bad in ({}, {"a": History()}):
        with pytest.raises(ValueError, match="learning_curve_png: the history has no epochs"):
            training.learning_curve_png(bad, "t")
