"""Problem 7: the C3 layer of the original LeNet-5, which connects each output map to only some of
the input maps.

In C3 (LeCun, Bottou, Bengio, Haffner 1998, Table 1) each of the 16 output maps sees a subset of
the 6 input maps: maps 0–5 see 3 cyclically neighbouring inputs, maps 6–11 see 4 neighbouring
inputs, maps 12–14 see 4 inputs that are not all neighbours, map 15 sees all 6. What is the
reduction in parameter count against a full 6→16 5×5 convolution, and does the count the model
reports agree with the hand calculation?

Answer: A full C3 has 16·6·25 + 16 = 2,416 parameters, the original (6·3 + 9·4 + 1·6)·25 + 16 =
60·25 + 16 = 1,516: 900 fewer (37 % of C3). The whole network (1×28×28 input, C1 padding 2) has
61,706 parameters with the full C3 and 60,806 with the original, and ``mathdnn.models.LeNet5``
reports exactly these counts (``sum(p.numel() for p in model.parameters())``) with either form of
C3.

The connection table is ``mathdnn.models.lenet.CONNECTIONS`` (rows = input maps, columns = output
maps, as in the paper); ``connection_table_text`` prints it, ``connection_table_png`` draws it. C3
is a layer of the library, written two ways that compute the same map with the same parameters in
a different layout (``mathdnn.nn.partial``):

- ``SubsetConv2d``, the homework's hint: one small convolution per output map ``o`` on the input
  maps ``S_o`` it sees, ``Y[:, o] = conv2d(X[:, S_o], W_o) + b_o``, concatenated along channels;
- ``MaskedConv2d``: one full convolution whose weight is scattered from the connected kernels,
  ``W[o, i] = weight[k(o, i)]`` if ``o`` sees ``i``, else 0. Only the connected kernels are
  parameters, so the zeros stay zero under training and the parameter count is the table's.

``parameter_count`` and ``lenet5_parameter_count`` are the hand calculation, from the table.
"""

from __future__ import annotations

import concurrent.futures
import io
import itertools
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.queues import Queue
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from matplotlib.figure import Figure as PlotFigure
from matplotlib.patches import Rectangle

import mathdnn.functional as F
from mathdnn.check import ROUNDING, Check, max_abs_difference, pytorch_checks
from mathdnn.command import TrainingNote
from mathdnn.data import MNIST
from mathdnn.engine import Tensor, no_grad
from mathdnn.exercise import (
    Case,
    Counterexample,
    Exercise,
    Mismatch,
    Search,
    Student,
    Task,
    bool_array,
    example_array,
    float_array,
    fmt,
    index_text,
    integer,
    mismatch,
    replaced,
    show,
    simpler_values,
)
from mathdnn.hw4 import figures
from mathdnn.hw4.inputs import Inputs, Progress
from mathdnn.hw4.page import Block, Cell, Figure, Formula, Heading, Table, Text
from mathdnn.io import atomic_write
from mathdnn.models import LeNet5
from mathdnn.models.lenet import CONNECTIONS
from mathdnn.nn.partial import (
    MaskedConv2d,
    SubsetConv2d,
    connected_rows,
    connection_table,
    input_subsets,
)
from mathdnn.threads import get_num_threads, set_num_threads
from mathdnn.training import C3, History, Settings, learning_curve_figure, train_lenet
from mathdnn.windows import pair

# The four kinds of output map, as (label, first map, one past the last map), for the figure.
C3_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("3 neighbours", 0, 6),
    ("4 neighbours", 6, 12),
    ("4, not all\nneighbours", 12, 15),
    ("all 6", 15, 16),
)


def parameter_count(table: Any = CONNECTIONS, kernel_size: int | tuple[int, int] = 5) -> int:
    """The hand count of a partially connected convolution: ``Σ_o |S_o|·kh·kw + C_out`` (one
    ``kh×kw`` kernel per connection, one bias per output map). An all-ones ``(6, 16)`` table gives
    the full C3, 16·6·25 + 16 = 2,416; ``CONNECTIONS`` gives 60·25 + 16 = 1,516."""
    table = connection_table("parameter_count", table)
    kh, kw = pair("parameter_count", "kernel_size", kernel_size, minimum=1)
    return int(table.sum()) * kh * kw + table.shape[1]


def lenet5_parameter_count(table: Any = CONNECTIONS) -> int:
    """The hand count of the course's LeNet-5 (1×28×28 input) with C3 connected by ``table``::

        C1 6·1·25 + 6 = 156,  C3 parameter_count(table),  C5 400·120 + 120 = 48,120,
        F6 120·84 + 84 = 10,164,  F7 84·10 + 10 = 850

    61,706 with the full C3 (an all-ones table), 60,806 with ``CONNECTIONS``.
    """
    table = connection_table("lenet5_parameter_count", table)
    if table.shape != (6, 16):
        raise ValueError(
            f"lenet5_parameter_count: table must have shape (6, 16) (C3's input maps × output "
            f"maps), got {table.shape}"
        )
    c1 = 6 * 1 * 5 * 5 + 6
    c5, f6, f7 = (n_in * n_out + n_out for n_in, n_out in ((400, 120), (120, 84), (84, 10)))
    return c1 + parameter_count(table, 5) + c5 + f6 + f7


# ------------------------------------------------------------------------ the table as text
def connection_table_text(table: Any = CONNECTIONS) -> str:
    """The table as in the paper: one row per input map, one column per output map, ``X`` where
    they are connected."""
    table = connection_table("connection_table_text", table)
    width = len(str(table.shape[1] - 1)) + 1
    header = " " * width + "".join(f"{o:>{width}}" for o in range(table.shape[1]))
    rows = [
        f"{i:>{width}}" + "".join(f"{'X' if seen else '':>{width}}" for seen in row)
        for i, row in enumerate(table)
    ]
    return "\n".join(line.rstrip() for line in (header, *rows))


# ---------------------------------------------------------------------- the table as a figure
def connection_table_figure(
    table: Any = CONNECTIONS, groups: Sequence[tuple[str, int, int]] = C3_GROUPS
) -> PlotFigure:
    """The table drawn as a grid: input maps down, output maps across, a filled square where they
    are connected, the number of inputs of each output map underneath. ``groups`` labels runs of
    output maps, ``(label, first, one past the last)``; pass ``()`` for a table of another size.
    """
    fn = "connection_table_figure"
    table = connection_table(fn, table)
    n_in, n_out = table.shape
    for label, start, stop in groups:
        if not 0 <= start < stop <= n_out:
            raise ValueError(
                f"{fn}: group {label!r} covers output maps {start}..{stop - 1}, outside the "
                f"table's 0..{n_out - 1}"
            )
    fig = PlotFigure(figsize=(0.5 * n_out + 2.2, 0.5 * n_in + 2.4))
    ax = fig.add_subplot()
    for (i, o), seen in np.ndenumerate(table):
        square = Rectangle(
            (o - 0.42, i - 0.42),
            0.84,
            0.84,
            facecolor="tab:blue" if seen else "white",
            edgecolor="tab:blue" if seen else "0.8",
        )
        ax.add_patch(square)
    for o, count in enumerate(table.sum(axis=0)):
        ax.text(o, n_in - 0.1, str(count), ha="center", va="top", fontsize=9)
    ax.text(-0.7, n_in - 0.1, "inputs", ha="right", va="top", fontsize=9)
    for label, start, stop in groups:
        if start > 0:
            ax.plot([start - 0.5] * 2, [-0.5, n_in + 1.6], color="0.3", linewidth=1, clip_on=False)
        ax.text((start + stop - 1) / 2, n_in + 0.6, label, ha="center", va="top", fontsize=9)
    ax.set_xlim(-0.5, n_out - 0.5)
    ax.set_ylim(n_in + (1.6 if groups else 0.5), -0.5)
    ax.set_aspect("equal")
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xticks(range(n_out))
    ax.set_yticks(range(n_in))
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_xlabel("output map of C3")
    ax.set_ylabel("input map (from S2)")
    fig.suptitle(
        f"C3 connections: {int(table.sum())} of {table.size} "
        f"({parameter_count(table):,} parameters with 5×5 kernels, "
        f"{parameter_count(np.ones_like(table)):,} if full)",
        y=0.06,
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def connection_table_png(
    table: Any = CONNECTIONS, groups: Sequence[tuple[str, int, int]] = C3_GROUPS
) -> bytes:
    """``connection_table_figure`` as PNG bytes."""
    buffer = io.BytesIO()
    connection_table_figure(table, groups).savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()


def write_connection_table_png(
    path: str | os.PathLike[str],
    table: Any = CONNECTIONS,
    groups: Sequence[tuple[str, int, int]] = C3_GROUPS,
) -> Path:
    """Write ``connection_table_png`` to ``path`` (whole or not at all)."""
    png = connection_table_png(table, groups)
    return atomic_write(path, lambda f: f.write(png))


# ------------------------------------------------------------------------------ the construction
def c3_connections() -> np.ndarray:
    """C3's connection table, ``(6, 16)`` booleans: ``[i, o]`` is True when output map ``o`` sees
    input map ``i`` (LeCun et al. 1998, Table 1; ``CONNECTIONS``)."""
    return CONNECTIONS.copy()


def c3_parameter_count(table: Any) -> int:
    """The hand count of C3 connected by ``table`` with ``5×5`` kernels, ``Σ_o |S_o|·25 + 16``:
    ``parameter_count(table)``."""
    return parameter_count(table)


def c3_forward(x: Any, weights: Sequence[Any], bias: Any) -> np.ndarray:
    """C3 on ``x`` ``(N, 6, 14, 14)``, ``(N, 16, 10, 10)`` out: ``Y[:, o] = conv2d(X[:, S_o],
    W_o) + b_o`` with ``W_o = weights[o]`` of shape ``(|S_o|, 5, 5)`` and ``b = bias`` ``(16,)``.

    Computed as ``MaskedConv2d`` does: one convolution whose ``(16, 6, 5, 5)`` weight holds
    ``weights[o][k]`` at ``[o, S_o[k]]`` and zeros where ``o`` does not see ``i``."""
    fn = "c3_forward"
    subsets = input_subsets(c3_connections())
    if len(weights) != len(subsets):
        raise ValueError(f"{fn}: weights must hold {len(subsets)} kernels, got {len(weights)}")
    kernels = [np.asarray(w, dtype=np.float64) for w in weights]
    for o, (w, s) in enumerate(zip(kernels, subsets, strict=True)):
        if w.shape != (len(s), 5, 5):
            raise ValueError(f"{fn}: weights[{o}] must have shape ({len(s)}, 5, 5), got {w.shape}")
    full = np.zeros((len(subsets), CONNECTIONS.shape[0], 5, 5))
    for o, (w, s) in enumerate(zip(kernels, subsets, strict=True)):
        full[o, s] = w
    with no_grad():
        return F.conv2d(x, full, np.asarray(bias, dtype=np.float64)).data


# ---------------------------------------------------------------------------------- the answer
def parameter_counts() -> dict[str, dict[str, int]]:
    """Problem 7's table: for the full and the original C3, the parameters of C3 and of the whole
    LeNet-5, counted by hand from the connection table (``CONNECTIONS``) and as
    ``sum(p.numel())`` over the parameters of ``mathdnn.models.LeNet5``."""
    counts = {}
    for c3, table in (("full", np.ones_like(CONNECTIONS)), ("original", CONNECTIONS)):
        model = LeNet5(c3=c3, rng=0)
        counts[c3] = {
            "c3_from_table": parameter_count(table),
            "c3_from_model": sum(p.numel() for p in model.c3.parameters()),
            "network_from_table": lenet5_parameter_count(table),
            "network_from_model": sum(p.numel() for p in model.parameters()),
        }
    return counts


def parameter_table_text(counts: Mapping[str, Mapping[str, int]]) -> str:
    """``parameter_counts()`` as a table: one row per layer and C3, the two counts."""
    full, original = counts["full"], counts["original"]
    rows = [
        ("C3, full", full["c3_from_table"], full["c3_from_model"]),
        ("C3, original", original["c3_from_table"], original["c3_from_model"]),
        ("LeNet-5, full C3", full["network_from_table"], full["network_from_model"]),
        ("LeNet-5, original C3", original["network_from_table"], original["network_from_model"]),
    ]
    lines = [f"{'Problem 7: parameters':<24}{'from the table':>15}{'from the model':>16}"]
    lines += [f"{name:<24}{table:>15,}{model:>16,}" for name, table, model in rows]
    saved = full["network_from_table"] - original["network_from_table"]
    lines.append(
        f"the original C3 saves {saved:,} parameters ({saved / full['c3_from_table']:.0%} of C3); "
        f"table and model {'agree' if all(r[1] == r[2] for r in rows) else 'DISAGREE'}"
    )
    return "\n".join(lines)


def answer() -> str:
    """Problem 7 answered: the table, the hand counts, and the counts ``mathdnn.models.LeNet5``
    reports for each C3, the hint's form of the original one too."""
    counts = parameter_counts()
    hand = counts["original"]["network_from_table"]
    hint = sum(p.numel() for p in LeNet5(c3="original", c3_form="hint", rng=0).parameters())
    return "\n".join(
        [
            "Problem 7: the connection table of C3 (LeCun et al. 1998, Table 1)",
            "rows = input maps, columns = output maps, X = connected",
            connection_table_text(),
            "",
            parameter_table_text(counts),
            f"the original C3 as the hint's 16 convolutions: hand {hand:,}, reported {hint:,}: "
            + ("agrees" if hint == hand else "DISAGREES"),
        ]
    )


# ------------------------------------------------------------------------------ the experiment
#: Each LeNet-5 trains on this many images in all at each scale, in at most ``EPOCHS`` epochs
#: (fewer epochs on a larger training set, so the run keeps its time).
IMAGES = {"full": 120_000, "quick": 12_000}
EPOCHS = {"full": 30, "quick": 3}


def lenet_epochs(scale: str, n_train: int) -> int:
    """Epochs of each LeNet-5: ``IMAGES[scale]`` images in all, at most ``EPOCHS[scale]`` epochs,
    at least one."""
    return max(1, min(EPOCHS[scale], -(-IMAGES[scale] // max(n_train, 1))))


@dataclass(frozen=True)
class TrainedC3:
    """Problem 7 in the report: the parameter counts, and LeNet-5 trained with each C3 alike:
    its settings, epochs, history and seconds, by ``"full"`` and ``"original"``."""

    counts: dict[str, dict[str, int]]
    settings: dict[str, Settings]
    epochs: int
    histories: dict[str, History]
    seconds: dict[str, float]
    data: str
    n_train: int
    n_test: int

    def numbers(self) -> dict[str, Any]:
        return {
            "connections": CONNECTIONS.tolist(),
            "parameters": self.counts,
            "training": {
                c3: {
                    "settings": self.settings[c3].as_dict(),
                    "epochs": self.epochs,
                    "per_epoch": history.per_epoch(),
                    "final_test_accuracy": history.test_accuracy[-1],
                    "final_test_loss": history.test_loss[-1],
                    "training_seconds": sum(history.seconds),
                    "seconds": self.seconds[c3],
                }
                for c3, history in self.histories.items()
            },
        }

    def figures(self) -> dict[str, bytes]:
        settings = next(iter(self.settings.values()))
        title = (
            f"LeNet-5, full vs original C3: SGD lr {settings.lr:g}, batch {settings.batch_size}, "
            f"seed {settings.seed}; {self.data}, {self.n_train:,} training / {self.n_test:,} test "
            "images"
        )
        histories = {f"{c3} C3": h for c3, h in self.histories.items()}
        figure = learning_curve_figure(histories, title)
        return {"p7_learning_curves.png": figures.figure_png(figure)}

    def page(self) -> list[Block]:
        counts = self.counts
        full, original = counts["full"], counts["original"]
        rows = tuple(
            (label, f"{table:,}", f"{model:,}", "✓ agree" if table == model else "✗ DIFFER")
            for label, table, model in (
                ("C3, full", full["c3_from_table"], full["c3_from_model"]),
                ("C3, original", original["c3_from_table"], original["c3_from_model"]),
                ("LeNet-5, full C3", full["network_from_table"], full["network_from_model"]),
                (
                    "LeNet-5, original C3",
                    original["network_from_table"],
                    original["network_from_model"],
                ),
            )
        )
        train_rows = tuple(
            (
                f"{c3} C3",
                f"{counts[c3]['network_from_model']:,}",
                str(self.epochs),
                f"{100 * h.test_accuracy[-1]:.2f} %",
                f"{h.test_loss[-1]:.4f}",
                f"{sum(h.seconds):.1f} s",
                f"{self.n_train * self.epochs / sum(h.seconds):,.0f}",
            )
            for c3, h in self.histories.items()
        )
        table = CONNECTIONS
        marks = [
            (Cell(str(i), header=True), *(Cell("X", marked=True) if seen else "" for seen in row))
            for i, row in enumerate(table)
        ]
        inputs = (Cell("inputs", header=True), *(str(n) for n in table.sum(axis=0)))
        grid = (*marks, inputs)
        settings = next(iter(self.settings.values()))
        return [
            Heading("Construction"),
            Table(
                "C3's connection table (LeCun et al. 1998, Table 1): X where output map o sees "
                "input map i",
                ("input \\\\ output", *(str(o) for o in range(table.shape[1]))),
                grid,
                grid=True,
            ),
            Text(
                "The course's hint: output map $o$ is a small convolution of the input maps "
                "$S_o$ it sees, concatenated along the channels,"
            ),
            Formula(
                (
                    r"Y[:, o] = \mathrm{conv2d}(X[:, S_o], W_o) + b_o, \quad"
                    r" W_o \in \mathbb{R}^{1 \times |S_o| \times 5 \times 5}; \qquad"
                    r" \text{parameters } \sum_o |S_o| \cdot 25 + 16",
                )
            ),
            Text(
                "Code: ``mathdnn.nn.SubsetConv2d`` (the hint) and ``MaskedConv2d`` "
                "(one convolution whose unconnected kernels are not parameters); "
                '``mathdnn.models.LeNet5(c3="full" | "original")``.'
            ),
            Table(
                "Parameters",
                ("", "counted by hand from the table", "sum of p.numel() of the model", ""),
                rows,
            ),
            Heading("Both networks trained alike, in this run"),
            Text(
                f"SGD lr {settings.lr:g}, batch {settings.batch_size}, seed {settings.seed}, "
                "cross-entropy; the same initial draws and batches for both."
            ),
            Table(
                "After the last epoch",
                (
                    "network",
                    "parameters",
                    "epochs",
                    "test accuracy",
                    "test loss",
                    "training time",
                    "images/s",
                ),
                train_rows,
            ),
            Figure(
                "p7_learning_curves.png",
                "Training loss (mean over each epoch, dashed), test loss (solid) and test "
                "accuracy after each epoch, for both networks.",
                "Learning curves of LeNet-5 with the full and the original C3",
            ),
        ]


#: In each process that trains (``run``): where it tells the parent which epoch it finished.
_finished_epochs: Queue | None = None


def _tell_finished_epochs(queue: Queue) -> None:
    global _finished_epochs
    _finished_epochs = queue


def _train(mnist: MNIST, epochs: int, settings: Settings, threads: int) -> tuple[History, float]:
    """One of Problem 7's trainings, in a process of its own (``run``): its history and seconds.
    After each epoch it puts ``(c3, epoch)`` on the parent's queue, for the progress line."""
    set_num_threads(threads)

    def on_epoch(run: Any) -> None:
        if _finished_epochs is not None:
            _finished_epochs.put((settings.c3, run.epoch))

    began = time.perf_counter()
    history = train_lenet(mnist, epochs, settings, on_epoch=on_epoch)
    return history, time.perf_counter() - began


def run(inputs: Inputs, progress: Progress) -> TrainedC3:
    """Problem 7 in the report: the parameter counts, and LeNet-5 trained with the full and with
    the original C3 on ``inputs.mnist``, alike (``mathdnn.training.train_lenet``).

    The two trainings are independent, so they run side by side, each in a process of its own on
    half of mathdnn's threads: on two cores that takes half the time of one after the other with
    both threads each (LeNet-5's layers gain little from a second thread), and gives the same
    bits, which do not depend on the number of threads."""
    m = inputs.mnist
    epochs = lenet_epochs(inputs.scale, len(m.train_labels))
    settings = {c3: Settings(c3=c3) for c3 in C3.choices}
    threads = get_num_threads()
    workers = min(len(settings), threads)
    spawn = multiprocessing.get_context("spawn")
    finished = spawn.Queue()
    reached = dict.fromkeys(settings, 0)

    def note() -> None:
        each = ", ".join(f"{c3} C3 {reached[c3]}/{epochs}" for c3 in settings)
        progress.note(f"training LeNet-5 side by side, epochs done: {each}")

    note()
    with ProcessPoolExecutor(workers, spawn, _tell_finished_epochs, (finished,)) as pool:
        jobs = {
            c3: pool.submit(_train, m, epochs, s, max(1, threads // workers))
            for c3, s in settings.items()
        }
        running = set(jobs.values())
        while running:
            running = concurrent.futures.wait(running, timeout=0.25).not_done
            while not finished.empty():
                c3, epoch = finished.get()
                reached[c3] = epoch
                note()
        done = {c3: job.result() for c3, job in jobs.items()}
    return TrainedC3(
        parameter_counts(),
        settings,
        epochs,
        {c3: history for c3, (history, _) in done.items()},
        {c3: seconds for c3, (_, seconds) in done.items()},
        m.source,
        len(m.train_labels),
        len(m.test_labels),
    )


# ------------------------------------------------------------------------------ the command
#: What ``mathdnn train lenet``, the library's training command, says of this problem: its line
#: in ``mathdnn train --help``, and the parameter table every run prints and stores.
TRAIN_LENET = TrainingNote(
    help="Problem 7: LeNet-5 with the full or the original C3",
    title="Problem 7's parameter counts",
    key="problem7_parameters",
    numbers=parameter_counts,
    text=parameter_table_text,
)


# ---------------------------------------------------------------------------------- the checks
def checks(
    rng: np.random.Generator,
    *,
    c3_connections: Callable[[], Any] = c3_connections,
    lenet5_parameter_count: Callable[[Any], int] = lenet5_parameter_count,
    c3_forward: Callable[[Any, Sequence[Any], Any], Any] = c3_forward,
) -> list[Check]:
    """Problem 7's rows of ``mathdnn verify``: the hand count ``lenet5_parameter_count`` of the
    full table and of ``c3_connections()`` against the parameters ``mathdnn.models.LeNet5``
    reports in each form of C3; the masked C3 against the hint's 16 convolutions, forward and
    VJP; and ``c3_forward`` against PyTorch's ``conv2d`` per subset. ``c3_connections``,
    ``lenet5_parameter_count`` and ``c3_forward`` are the construction under test (default: this
    module's)."""
    table = np.asarray(c3_connections())
    rows = []
    for c3, c3_form, connections in (
        ("full", None, np.ones_like(CONNECTIONS)),
        ("original", "masked", table),
        ("original", "hint", table),
    ):
        model = LeNet5(c3=c3, c3_form=c3_form, rng=0)
        reported = sum(p.numel() for p in model.parameters())
        hand = int(lenet5_parameter_count(connections))
        form = c3 if c3_form is None else f"{c3}, {c3_form}"
        rows.append(
            Check(
                "7", f"LeNet5 ({form}) parameters = {hand:,}", "hand count", abs(reported - hand), 0
            )
        )
    hint = SubsetConv2d(CONNECTIONS, rng=rng, dtype=np.float64)
    masked = MaskedConv2d.from_subsets(hint)
    x = rng.standard_normal((3, 6, 14, 14))
    g = rng.standard_normal((3, 16, 10, 10))
    outputs, input_grads = [], []
    for form in (hint, masked):
        xt = Tensor(x, requires_grad=True)
        y = form(xt)
        y.backward(g)
        outputs.append(y.data)
        input_grads.append(xt.grad)
    weight_grads = [connected_rows([c.weight.grad for c in hint.convs]), masked.weight.grad]
    bias_grads = [np.concatenate([c.bias.grad for c in hint.convs]), masked.bias.grad]
    pairs = (outputs, input_grads, weight_grads, bias_grads)
    error = max(max_abs_difference(*pair) for pair in pairs)
    rows.append(
        Check("7", "masked C3 forward and VJP", "hint form (16 convolutions)", error, ROUNDING)
    )
    weights = [c.weight.data[0] for c in hint.convs]
    bias = np.concatenate([c.bias.data for c in hint.convs])

    def compute(torch: ModuleType) -> list[float]:
        xt = torch.tensor(x)
        theirs = torch.cat(
            [
                torch.nn.functional.conv2d(
                    xt[:, list(s)], torch.from_numpy(c.weight.data), torch.from_numpy(c.bias.data)
                )
                for c, s in zip(hint.convs, hint.subsets, strict=True)
            ],
            1,
        )
        return [max_abs_difference(c3_forward(x, weights, bias), theirs.numpy())]

    return rows + pytorch_checks("7", ["c3_forward (torch conv2d per subset)"], ROUNDING, compute)


# ------------------------------------------------------------------------------- the grading
# mathdnn grade: a student's C3: the table against CONNECTIONS, the counts against this module's
# hand counts on tables shrunk to the fewest connections that fail, the forward against
# c3_forward on inputs shrunk to the fewest non-zeros.
_TABLE = (
    "LeNet-5's Table 1 (LeCun et al. 1998): output maps 0–5 see 3 cyclically neighbouring input "
    "maps {o, o+1, o+2} mod 6, maps 6–11 see 4 neighbours {o, …, o+3} mod 6, maps 12–14 see "
    "{0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5}, map 15 sees all 6"
)
_C3_COUNT = "Σ_o |S_o|·5·5 + 16: one 5×5 kernel per connection, one bias per output map"
_LENET_COUNT = (
    "C1 6·1·5·5 + 6, C3 Σ_o |S_o|·5·5 + 16, C5 400·120 + 120, F6 120·84 + 84, F7 84·10 + 10"
)
_SUBSETS = [tuple(int(i) for i in s) for s in input_subsets(CONNECTIONS)]


def _group(o: int) -> str:
    (label,) = (label for label, start, stop in C3_GROUPS if start <= o < stop)
    return label.replace("\n", " ")


def grade_c3_connections(student: Student, search: Search) -> Counterexample | None:
    """The first entry, output map by output map, where the student's table is not the
    paper's."""
    table = bool_array(student(), (6, 16), "the connection table")
    for o in range(16):
        for i in range(6):
            if table[i, o] != CONNECTIONS[i, o]:
                return Counterexample(
                    "c3_connections()",
                    (),
                    f"your table[{i}, {o}] = {bool(table[i, o])}",
                    f"{bool(CONNECTIONS[i, o])}: output map {o} ({_group(o)}) sees input maps "
                    f"{_SUBSETS[o]}",
                    _TABLE,
                )
    return None


def _tables(search: Search) -> Iterator[Case]:
    yield {"table": CONNECTIONS.copy()}
    yield {"table": np.ones((6, 16), dtype=bool)}
    while True:
        table = search.rng.random((6, 16)) < search.rng.uniform(0.1, 0.9)
        table[search.rng.integers(0, 6, 16), np.arange(16)] = True  # no output map sees nothing
        yield {"table": table}


def _fewer_connections(case: Case) -> Iterator[Case]:
    """Tables with fewer connections, every output map still seeing an input map."""
    table = case["table"]
    only_first = np.zeros_like(table)
    only_first[table.argmax(axis=0), np.arange(16)] = True
    if table.sum() > 16:
        yield {"table": only_first}
    for o in range(16):
        if table[:, o].sum() > 1:
            fewer = table.copy()
            fewer[:, o] = only_first[:, o]
            yield {"table": fewer}


def _describe_table(name: str) -> Callable[[Case], tuple[str, tuple[str, ...]]]:
    def describe(case: Case) -> tuple[str, tuple[str, ...]]:
        heading = "table (rows: input maps, columns: output maps, X: connected) =\n"
        return f"{name}(table)", (heading + connection_table_text(case["table"]),)

    return describe


def _grade_count(
    name: str,
    count: Callable[[np.ndarray], int],
    explain: Callable[[np.ndarray], str],
    identity: str,
) -> Callable[[Student, Search], Counterexample | None]:
    def grade(student: Student, search: Search) -> Counterexample | None:
        def holds(case: Case) -> Mismatch | None:
            table = case["table"]
            got = integer(student(table), "the number of parameters, an int")
            expected = count(table)
            if got == expected:
                return None
            return Mismatch(
                f"your {name}(table) = {fmt(got)}", f"{fmt(expected)} = {explain(table)}", identity
            )

        return search.find(_tables(search), holds, _describe_table(name), _fewer_connections)

    grade.__doc__ = f"The table with the fewest connections on which {name} is wrong."
    return grade


def _c3_terms(table: np.ndarray) -> str:
    return f"{int(table.sum())}·5·5 + 16"


grade_c3_parameter_count = _grade_count(
    "c3_parameter_count", c3_parameter_count, _c3_terms, _C3_COUNT
)
grade_lenet5_parameter_count = _grade_count(
    "lenet5_parameter_count",
    lenet5_parameter_count,
    lambda table: (
        f"156 + ({_c3_terms(table)} = {fmt(c3_parameter_count(table))}) + 48,120 + 10,164 + 850"
    ),
    _LENET_COUNT,
)


def _forward_cases(search: Search) -> Iterator[Case]:
    for k in itertools.count():
        yield {
            "x": example_array(search.rng, (1 + k % 2, 6, 14, 14), k),
            "weights": [example_array(search.rng, (len(s), 5, 5), k) for s in _SUBSETS],
            "bias": example_array(search.rng, (16,), k),
        }


def _forward_shrink(case: Case) -> Iterator[Case]:
    x, weights = case["x"], case["weights"]
    if len(x) > 1:
        yield replaced(case, x=x[:1])
    for simpler in simpler_values(case["bias"]):
        yield replaced(case, bias=simpler)
    if any(w.any() for w in weights):
        yield replaced(case, weights=[np.zeros_like(w) for w in weights])
    if sum(w.any() for w in weights) > 1:
        for o in range(len(weights)):
            if weights[o].any():
                only_o = [w if p == o else np.zeros_like(w) for p, w in enumerate(weights)]
                yield replaced(case, weights=only_o)
    for simpler in simpler_values(x):
        yield replaced(case, x=simpler)
    for o, w in enumerate(weights):
        for simpler in simpler_values(w):
            yield replaced(case, weights=[*weights[:o], simpler, *weights[o + 1 :]])


def grade_c3_forward(student: Student, search: Search) -> Counterexample | None:
    """The input, kernels and biases with the fewest non-zeros on which the student's C3 is not
    ``c3_forward``."""

    def holds(case: Case) -> Mismatch | None:
        x = case["x"]
        got = float_array(
            student(x, case["weights"], case["bias"]), (len(x), 16, 10, 10), "the output Y"
        )
        expected = c3_forward(x, case["weights"], case["bias"])
        index = mismatch(got, expected, got.dtype)
        if index is None:
            return None
        n, o, i, j = index
        return Mismatch(
            f"your Y{index_text(index)} = {fmt(got[index])}",
            f"{fmt(expected[index])} = bias[{o}] + Σ_(k, a, b) weights[{o}][k, a, b]·"
            f"x[{n}, S_{o}[k], {i} + a, {j} + b], S_{o} = {_SUBSETS[o]}",
            "Y[n, o] = conv2d(x[n, S_o], weights[o]) + bias[o]: output map o convolves only the "
            "input maps S_o it sees (5×5 kernels, no padding)",
        )

    def describe(case: Case) -> tuple[str, tuple[str, ...]]:
        inputs = (
            show("x", case["x"]),
            show("weights", case["weights"]),
            show("bias", case["bias"]),
        )
        return "c3_forward(x, weights, bias)", inputs

    return search.find(_forward_cases(search), holds, describe, _forward_shrink)


_C3 = """\
In the original LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998, Table 1), C3 connects each of its
16 output maps o to a subset S_o of the 6 input maps (the maps of S2): maps 0–5 see 3
neighbouring input maps, maps 6–11 see 4 neighbouring input maps, maps 12–14 see 4 input maps
that are not all neighbours, and map 15 sees all 6 (neighbours are taken cyclically, as in the
paper's table).
"""

EXERCISE = Exercise(
    "7",
    "the C3 layer of LeNet-5",
    (
        Task(
            "c3_connections",
            "() -> np.ndarray",
            "Problem 7: the connection table of C3.\n\n"
            + _C3
            + """
Return the table as a bool array of shape (6, 16): table[i, o] is True when output map o sees
input map i (rows: input maps, columns: output maps, as in the paper).
""",
            grade_c3_connections,
            examples=None,
        ),
        Task(
            "c3_parameter_count",
            "(table: np.ndarray) -> int",
            """\
Problem 7: the number of parameters of a partially connected C3.

table is a bool array of shape (6, 16), table[i, o] True when output map o sees input map i
(every output map sees at least one). Return the number of parameters of a C3 connected by
table, with 5×5 kernels and one bias per output map (an int). A full C3 (all True) has
16·6·25 + 16 = 2,416.
""",
            grade_c3_parameter_count,
            examples=40,
        ),
        Task(
            "lenet5_parameter_count",
            "(table: np.ndarray) -> int",
            """\
Problem 7: the number of parameters of LeNet-5 with C3 connected by table.

The network, for 1×28×28 inputs: C1 conv 1→6 5×5 padding 2; S2 avg-pool 2 (no parameters);
C3 connected by table (as in c3_parameter_count); S4 avg-pool 2; C5 linear 400→120; F6 linear
120→84; F7 linear 84→10; every convolution and linear layer has a bias. Return the total number
of parameters (an int).
""",
            grade_lenet5_parameter_count,
            examples=40,
        ),
        Task(
            "c3_forward",
            "(x: np.ndarray, weights: list[np.ndarray], bias: np.ndarray) -> np.ndarray",
            "Problem 7: the forward of C3.\n\n"
            + _C3
            + """
Compute C3 with the paper's table: x has shape (N, 6, 14, 14); weights is a list of 16 arrays,
weights[o] of shape (|S_o|, 5, 5), the kernels of output map o for its input maps S_o in
increasing order; bias has shape (16,). Return Y of shape (N, 16, 10, 10):

    Y[n, o] = conv2d(x[n, S_o], weights[o]) + bias[o]     (no padding, stride 1)

(the course's hint: 16 small convolutions on x[:, S_o], concatenated).
""",
            grade_c3_forward,
            examples=12,
        ),
    ),
)
