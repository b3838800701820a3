"""The one ``mathdnn hw4 --quick`` run the report's tests share (it takes a minute)."""

from __future__ import annotations

import io

import pytest

import mathdnn.cli.hw4 as command
from mathdnn.cli import main
from mathdnn.report.build import build as report_build


@pytest.fixture(scope="session")
def quick(tmp_path_factory):
    """One ``mathdnn hw4 --quick`` run: its folder, exit status, output and the Report built."""
    out = tmp_path_factory.mktemp("hw4") / "report"
    built = []

    def build(*args, **kwargs):
        built.append(report_build(*args, **kwargs))
        return built[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MATHDNN_MNIST_DIR", raising=False)
        patch.setattr(command, "build", build)
        stdout = io.StringIO()
        patch.setattr("sys.stdout", stdout)
        status = main(["hw4", "--quick", "-o", str(out)])
    return {"out": out, "status": status, "stdout": stdout.getvalue(), "report": built[0]}
