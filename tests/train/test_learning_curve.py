"""The learning curve of ``mathdnn train`` and of Problem 7: a labelled tick at both ends of the
log-scale loss axis, plain numbers below 1 too, and the final accuracy in the legend rather
than written on a curve."""

from __future__ import annotations

import numpy as np
import pytest

from mathdnn.training import History, learning_curve_figure, log_ticks


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0.84, 2.3, [0.7, 1, 2, 3]),
        (0.03, 2.3, [0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5]),
        (0.001, 2.3, [1e-4, 1e-3, 1e-2, 0.1, 1, 10]),
        (1.1, 1.3, [1, 2]),
    ],
)
def test_log_ticks_label_both_ends_in_plain_numbers(low, high, ticks):
    assert log_ticks(low, high) == pytest.approx(ticks)


def test_the_final_accuracy_is_in_the_legend_and_no_text_lies_on_the_axes():
    history = History(
        train_loss=[2.3, 1.0, 0.4],
        seconds=[1.0] * 3,
        metrics={"test_loss": [2.2, 1.1, 0.5], "test_accuracy": [0.5, 0.8, 0.9]},
    )
    fig = learning_curve_figure({"full C3": history, "original C3": history}, "title")
    loss_ax, accuracy_ax = fig.axes
    labels = [t.get_text() for t in accuracy_ax.get_legend().get_texts()]
    assert labels == ["full C3, final 90.0 %", "original C3, final 90.0 %"]
    assert len(accuracy_ax.texts) == len(loss_ax.texts) == 0  # nothing written over a curve
    low, high = loss_ax.get_ylim()
    assert low == pytest.approx(0.3) and high == pytest.approx(3)
    assert np.allclose(loss_ax.get_yticks(), [0.3, 0.5, 0.7, 1, 2, 3])
