"""The kernel switch: its modes, the context manager, the environment variable and bad values."""

import os
import subprocess
import sys

import pytest

import mathdnn.kernels as kernels


def test_default_is_fast_and_use_switches_and_restores():
    assert kernels.mode() == "fast"
    with kernels.use("reference") as switch:
        assert kernels.mode() == "reference" and not kernels.fast()
        assert switch.previous == "fast"
        with kernels.use("fast"):
            assert kernels.fast()
        assert kernels.mode() == "reference"
    assert kernels.mode() == "fast"


def test_use_without_with_sets_it_until_changed():
    kernels.use("reference")
    try:
        assert kernels.mode() == "reference"
    finally:
        kernels.use("fast")
    assert kernels.mode() == "fast"


def test_restored_after_an_error():
    with pytest.raises(RuntimeError), kernels.use("reference"):
        raise RuntimeError("inside")
    assert kernels.mode() == "fast"


@pytest.mark.parametrize("bad", ["Fast", "", None, 1])
def test_bad_mode_named(bad):
    message = r"mathdnn.kernels.use: mode must be 'reference' or 'fast'"
    with pytest.raises(ValueError, match=message):
        kernels.use(bad)
    assert kernels.mode() == "fast"


def _mode_in_child(value: str) -> subprocess.CompletedProcess:
    code = "import mathdnn.kernels as k; print(k.mode())"
    env = {**os.environ, "MATHDNN_KERNELS": value}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_environment_variable_sets_the_default():
    assert _mode_in_child("reference").stdout.strip() == "reference"


def test_bad_environment_variable_named():
    result = _mode_in_child("turbo")
    assert result.returncode != 0
    assert "$MATHDNN_KERNELS must be 'reference' or 'fast', got 'turbo'" in result.stderr
