"""What a problem's experiment runs on: the photograph, MNIST, the scale of the run and the
settings problems declare (``Option``), and how it reports progress.

``mathdnn hw4`` loads and checks every input once, before any problem runs
(``mathdnn.report.build.prepare``), and hands each problem's ``run`` the same ``Inputs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mathdnn.data import MNIST

#: How much each experiment does: ``"full"`` (``mathdnn hw4``) or ``"quick"`` (``--quick``). Each
#: problem declares what a scale means for it.
SCALES = ("full", "quick")


@dataclass(frozen=True)
class Option:
    """A setting of ``mathdnn hw4`` that a problem declares in its ``OPTIONS``: the command's
    ``--name N``, a positive integer, with its default at each scale and its help."""

    name: str
    help: str
    full: int
    quick: int

    def default(self, scale: str) -> int:
        return self.quick if scale == "quick" else self.full


@dataclass(frozen=True)
class Inputs:
    """The inputs of every problem, loaded and checked: the photograph (floats in [0, 1],
    ``(H, W)`` or ``(H, W, 3)``) and its path, MNIST, the scale, and the value of each declared
    ``Option`` by its name."""

    image: np.ndarray
    image_path: Path
    mnist: MNIST
    scale: str
    options: Mapping[str, int]

    @property
    def image_name(self) -> str:
        return self.image_path.name

    @property
    def quick(self) -> bool:
        return self.scale == "quick"


class Progress:
    """What a problem tells while it runs: ``note`` says what it is doing now. This one says
    nothing; ``mathdnn hw4`` shows it beside its progress bar."""

    def note(self, text: str) -> None:
        pass
