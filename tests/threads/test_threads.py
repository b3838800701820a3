"""mathdnn's thread pool and its BLAS spans: results in order, errors raised in the caller, nested
calls, BLAS on one thread inside mathdnn's calls and its own count outside them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import mathdnn
from mathdnn import threads


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def num_threads():
    """Set mathdnn's thread count for one test, then restore it."""
    previous = mathdnn.get_num_threads()
    yield mathdnn.set_num_threads
    mathdnn.set_num_threads(previous)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("items", [0, 1, 2, 7])
def test_results_in_order(num_threads, n, items):
    num_threads(n)
    assert threads.parallel_map(lambda i: i * i, list(range(items))) == [
        i * i for i in range(items)
    ]


def test_items_run_on_several_threads(num_threads):
    num_threads(2)
    barrier = threading.Barrier(2, timeout=10)  # passes only if two threads wait at once
    names = threads.parallel_map(
        lambda _: (barrier.wait(), threading.current_thread().name)[1], [0, 1]
    )
    assert len(set(names)) == 2


@pytest.mark.parametrize("failing", [0, 1])
def test_an_error_is_raised_once_every_thread_has_stopped(num_threads, failing):
    """The item that fails waits for the other to start (a barrier), then fails while the other
    still runs: the call raises only after the other has finished, and the pool still works."""
    num_threads(2)
    started = threading.Barrier(2, timeout=10)
    finished = []

    def work(i):
        started.wait()
        if i == failing:
            raise ValueError(f"item {i} failed")
        time.sleep(0.05)
        finished.append(i)
        return i

    with pytest.raises(ValueError, match=f"item {failing} failed"):
        threads.parallel_map(work, [0, 1])
    assert finished == [1 - failing]
    assert threads.parallel_map(lambda i: i, [0, 1, 2]) == [0, 1, 2]


def test_after_an_error_no_new_item_starts(num_threads):
    num_threads(2)
    started = []

    def work(i):
        started.append(i)
        raise ValueError(f"item {i} failed")

    with pytest.raises(ValueError, match="failed"):
        threads.parallel_map(work, list(range(100)))
    assert len(started) <= 2  # at most one item per thread began


def test_a_late_thread_takes_fewer_items(num_threads):
    """Items are taken one at a time: while the pool thread sleeps in its first item, the
    calling thread takes every other item."""
    num_threads(2)
    by = {}

    def work(i):
        name = threading.current_thread().name
        if name != "MainThread" and name not in by.values():
            time.sleep(0.2)  # the pool thread's first item
        by[i] = name
        return i

    assert threads.parallel_map(work, list(range(20))) == list(range(20))
    assert sum(name == "MainThread" for name in by.values()) >= 10


def test_nested_calls_run_in_the_share(num_threads):
    num_threads(2)
    inner = threads.parallel_map(
        lambda i: threads.parallel_map(lambda j: i * 10 + j, [0, 1]), [1, 2]
    )
    assert inner == [[10, 11], [20, 21]]


def test_blas_on_one_thread_inside_and_its_count_after(num_threads):
    num_threads(2)
    before = blas_threads()
    seen = threads.parallel_map(lambda _: blas_threads(), [0, 1, 2, 3])
    assert all(counts == [1] * len(before) for counts in seen)
    assert blas_threads() == before
    with pytest.raises(RuntimeError), threads.single_threaded_blas():
        assert blas_threads() == [1] * len(before)
        raise RuntimeError("inside")
    assert blas_threads() == before


def test_overlapping_calls_from_two_threads_share_the_blas_span(num_threads):
    num_threads(2)
    before = blas_threads()
    barrier = threading.Barrier(2, timeout=10)
    seen = []

    def caller():
        seen.extend(threads.parallel_map(lambda _: (barrier.wait(), blas_threads())[1], [0]))

    callers = [threading.Thread(target=caller) for _ in range(2)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert seen == [[1] * len(before)] * 2
    assert blas_threads() == before


def test_shares_keep_the_callers_numpy_error_handling(num_threads):
    num_threads(2)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        threads.parallel_map(lambda _: np.float32(1e30) * np.float32(1e30), [0, 1])


def test_fewer_threads_stop_the_pool_threads(num_threads):
    num_threads(3)
    threads.parallel_map(lambda i: i, [0, 1, 2])
    assert sum(t.name.startswith("mathdnn-") for t in threading.enumerate()) >= 2
    num_threads(1)
    deadline = time.monotonic() + 10
    while any(t.name.startswith("mathdnn-") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "pool threads still running"
        time.sleep(0.01)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError, match=r"set_num_threads: n must be a positive int"):
        mathdnn.set_num_threads(bad)


@pytest.mark.parametrize(("value", "expected"), [("3", "3"), ("", None), ("zero", "error")])
def test_environment_variable(value, expected):
    code = "import mathdnn; print(mathdnn.get_num_threads())"
    env = {**os.environ, "MATHDNN_NUM_THREADS": value}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    if expected == "error":
        assert result.returncode != 0
        assert "$MATHDNN_NUM_THREADS must be a positive integer, got 'zero'" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert int(result.stdout) == (int(expected) if expected else len(os.sched_getaffinity(0)))


def test_a_blas_loaded_after_the_first_span_is_held_to_one_thread_too(num_threads):
    """scipy brings its own OpenBLAS: a span after ``import scipy.stats`` holds it too."""
    num_threads(2)
    with threads.single_threaded_blas():
        pass
    import scipy.stats  # noqa: F401

    before = blas_threads()
    with threads.single_threaded_blas():
        assert blas_threads() == [1] * len(before)
    assert blas_threads() == before
