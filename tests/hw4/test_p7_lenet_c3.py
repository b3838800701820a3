"""Problem 7: the connection table against the paper, the hand counts against the homework, the
two forms of C3 against each other and against finite differences, the table's text and figure."""

from __future__ import annotations

import numpy as np
import pytest

import mathdnn
from mathdnn.hw4.p7_lenet_c3 import (
    CONNECTIONS,
    answer,
    connection_table_figure,
    connection_table_png,
    connection_table_text,
    lenet5_parameter_count,
    parameter_count,
    parameter_counts,
    parameter_table_text,
    write_connection_table_png,
)


def parameter_total(module: mathdnn.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_hand_counts_are_the_homeworks():
    full = np.ones((6, 16), dtype=bool)
    assert parameter_count(full) == 16 * 6 * 25 + 16
    assert parameter_count(CONNECTIONS) == (6 * 3 + 9 * 4 + 1 * 6) * 25 + 16
    assert parameter_count(full) - parameter_count(CONNECTIONS) == 900
    assert lenet5_parameter_count(full) == 61_706
    assert lenet5_parameter_count(CONNECTIONS) == 60_806


def test_text_is_the_papers_layout():
    text = connection_table_text()
    header, *rows = text.splitlines()
    assert header.split() == [str(o) for o in range(16)]
    assert [int(row.split()[0]) for row in rows] == list(range(6))
    columns = [header.index(f" {o}") + len(f" {o}") - 1 for o in range(16)]  # right-aligned
    parsed = [[len(row) > c and row[c] == "X" for c in columns] for row in rows]
    np.testing.assert_array_equal(parsed, CONNECTIONS)
    assert text.count("X") == 60


def test_figure_png(tmp_path):
    png = connection_table_png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    path = write_connection_table_png(tmp_path / "figures" / "c3.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    small = np.array([[1, 0], [1, 1]])
    axes = connection_table_figure(small, groups=()).axes[0]
    assert len(axes.patches) == small.size


def test_answer_reports_agreement():
    text = answer()
    assert connection_table_text() in text
    assert parameter_table_text(parameter_counts()) in text
    assert "table and model agree" in text
    assert "the hint's 16 convolutions: hand 60,806, reported 60,806: agrees" in text


def test_parameter_counts_from_table_and_model():
    counts = parameter_counts()
    for c3 in ("full", "original"):
        assert counts[c3]["c3_from_table"] == counts[c3]["c3_from_model"]
        assert counts[c3]["network_from_table"] == counts[c3]["network_from_model"]
    unconnected = CONNECTIONS.size - int(CONNECTIONS.sum())
    saved = counts["full"]["network_from_model"] - counts["original"]["network_from_model"]
    assert saved == unconnected * 5 * 5
    text = parameter_table_text(counts)
    assert f"{counts['original']['network_from_model']:,}" in text and "agree" in text


BAD_TABLES = [
    (np.ones(16, dtype=bool), ValueError, "non-empty 2-D"),
    (np.ones((6, 16, 1), dtype=bool), ValueError, "non-empty 2-D"),
    (np.ones((0, 16), dtype=bool), ValueError, "non-empty 2-D"),
    (np.full((6, 16), 2), ValueError, "0/1"),
    (np.full((6, 16), np.nan), ValueError, "0/1"),
    (np.array([["X", ""]]), TypeError, "dtype"),
    ([[1, 0], [1]], ValueError, "2-D array"),
    (CONNECTIONS * np.arange(16) % 7 != 0, ValueError, r"column\(s\) \[0, 7, 14\]"),
]


@pytest.mark.parametrize(("table", "error", "message"), BAD_TABLES)
@pytest.mark.parametrize(
    ("fn", "call"),
    [
        ("parameter_count", parameter_count),
        ("connection_table_text", connection_table_text),
        ("connection_table_figure", lambda t: connection_table_figure(t, groups=())),
        ("lenet5_parameter_count", lenet5_parameter_count),
    ],
)
def test_bad_tables(fn, call, table, error, message):
    with pytest.raises(error, match=rf"^{fn}: .*{message}"):
        call(table)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^lenet5_parameter_count: table must have shape \(6, 16"):
        lenet5_parameter_count(np.ones((6, 15)))
    with pytest.raises(ValueError, match=r"^connection_table_figure: group 'all 6' covers .*15"):
        connection_table_figure(np.ones((6, 15)))


def test_the_side_by_side_trainings_tell_their_epochs():
    """``run`` trains each C3 in a process of its own; the progress line follows both, epoch by
    epoch, and the histories are those of ``train_lenet`` in this process (the same bits)."""
    from pathlib import Path

    from mathdnn.data import load_mnist
    from mathdnn.data.mnist import MNIST
    from mathdnn.hw4 import p7_lenet_c3
    from mathdnn.hw4.inputs import Inputs, Progress
    from mathdnn.training import Settings, train_lenet

    m = load_mnist()
    small = MNIST(
        m.train_images[:300],
        m.train_labels[:300],
        m.test_images[:100],
        m.test_labels[:100],
        m.source,
    )

    class Notes(Progress):
        def __init__(self) -> None:
            self.notes: list[str] = []

        def note(self, text: str) -> None:
            self.notes.append(text)

    notes = Notes()
    trained = p7_lenet_c3.run(Inputs(np.zeros((2, 2)), Path("x.png"), small, "quick", {}), notes)
    assert trained.epochs == 3
    done = [
        tuple(int(part.split()[-1].split("/")[0]) for part in note.split(": ")[1].split(", "))
        for note in notes.notes
    ]
    assert done[0] == (0, 0)
    assert done == sorted(done) and len(done) > 1 and all(e <= 3 for pair in done for e in pair)
    for c3 in ("full", "original"):
        here = train_lenet(small, 3, Settings(c3=c3))
        assert trained.histories[c3].metrics == here.metrics
        assert trained.histories[c3].step_loss == here.step_loss
