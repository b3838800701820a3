"""Settings and paths shared by the grader's tests: the solution files, and a smaller search
(``SCALE`` of every function's cases) so that grading dozens of files stays quick."""

from __future__ import annotations

from pathlib import Path

from mathdnn.grade.run import Settings
from mathdnn.grade.sandbox import Limits

SOLUTIONS = Path(__file__).with_name("solutions")
SCALE = 0.25
FAST = Settings(scale=SCALE)


def short(seconds: float) -> Settings:
    """Settings with a time limit of ``seconds`` per function (for the submissions that hang)."""
    return Settings(limits=Limits(time=seconds), scale=SCALE)
