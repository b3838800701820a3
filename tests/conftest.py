"""Shared helpers of the tests: hypothesis profiles, random arrays and the tolerance of a
comparison. Nothing here imports PyTorch: the comparison with PyTorch is in ``torch_reference``,
which only the tests that start with ``pytest.importorskip("torch")`` import."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image

from mathdnn.images import default_photo_path

# "ci" (the default) is reproducible: the same examples on every run. HYPOTHESIS_PROFILE=dev
# explores new examples on each run; print_blob lets a failure be replayed exactly.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


DTYPES = (np.float64, np.float32)
dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**32 - 1)

# Agreement with PyTorch: float64 to ~1e-10, float32 to ~1e-5, relative to the largest magnitude.
TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def randn(seed: int, shape: Sequence[int], dtype=np.float64) -> np.ndarray:
    return rng(seed).standard_normal(tuple(shape)).astype(dtype)


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype, what: str = "") -> None:
    """``|actual − expected| ≤ tol · (|expected| + max(1, max|expected|))``, same shape."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    tol = TOLERANCE[np.dtype(dtype)]
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale, err_msg=what)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """The default photograph (matplotlib's sample), 8-bit RGB."""
    with Image.open(default_photo_path()) as image:
        return image.convert("RGB")


@pytest.fixture
def images(tmp_path):
    """Small images of every kind ``load_image`` reads, and two it refuses (text, float)."""
    rng = np.random.default_rng(0)
    paths = {}
    grey16 = (rng.random((20, 24)) * 65535).astype(np.uint16)
    Image.fromarray(grey16).save(paths.setdefault("grey16", tmp_path / "grey16.png"))
    Image.fromarray((rng.random((20, 24)) * 255).astype(np.uint8)).save(
        paths.setdefault("grey8", tmp_path / "grey8.png")
    )
    rgba = (rng.random((16, 18, 4)) * 255).astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(paths.setdefault("rgba", tmp_path / "rgba.png"))
    Image.fromarray(rgba[..., :3]).convert("P").save(
        paths.setdefault("palette", tmp_path / "p.png")
    )
    Image.fromarray(rgba[..., :3]).save(paths.setdefault("jpeg", tmp_path / "photo.jpg"))
    (tmp_path / "text.png").write_text("not an image")
    paths["text"] = tmp_path / "text.png"
    Image.fromarray(rng.random((5, 5)).astype(np.float32), "F").save(tmp_path / "float.tiff")
    paths["float"] = tmp_path / "float.tiff"
    return paths


@contextlib.contextmanager
def no_hang(seconds: int = 60):
    """Fail the test, rather than wait forever, if the block still runs after ``seconds`` (a
    guard against a hang, not a measure of speed)."""

    def hung(signum, frame):
        raise AssertionError(f"still running after {seconds} s: it hangs")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="session")
def quick(tmp_path_factory):
    """One ``mathdnn hw4 --quick`` run, shared by the report's tests (it takes a minute): its
    folder, exit status, output and the Report built."""
    import io

    import mathdnn.cli.hw4 as command
    from mathdnn.cli import main
    from mathdnn.report.build import build as report_build

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
