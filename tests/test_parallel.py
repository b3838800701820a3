"""The worker threads and scratch buffers of the chunked kernels: same answers with one thread or
several, nothing returned that a later call overwrites, and bad settings rejected."""

from __future__ import annotations

import threading
import time
from unittest import mock

import numpy as np
import pytest
from conftest import randn
from test_conv_kernels import chunk_bytes

import mfdnn
import mfdnn.functional as F
from mfdnn.functional import _parallel, conv

CASES = [
    ((5, 3, 9, 8), (4, 3, 3, 3), {"padding": 1}),  # stride 1, groups 1: banded (few channels)
    ((5, 6, 9, 12), (4, 6, 5, 5), {"padding": 1}),  # stride 1, groups 1: per-row banded
    ((5, 16, 9, 20), (8, 16, 3, 3), {"padding": 1}),  # stride 1, groups 1: rows (more channels)
    ((5, 4, 9, 8), (4, 1, 3, 3), {"padding": 1, "groups": 4}),  # depthwise, banded
]
IDS = ["stride 1 banded", "stride 1 per_row", "stride 1 rows", "depthwise"]


def conv_results(x_shape, w_shape, kwargs, seed=0):
    x, w = randn(seed, x_shape, np.float64), randn(seed + 1, w_shape, np.float64)
    xt, wt = mfdnn.tensor(x, requires_grad=True), mfdnn.tensor(w, requires_grad=True)
    y = F.conv2d(xt, wt, **kwargs)
    y.backward(randn(seed + 2, y.shape, np.float64))
    return y.data, xt.grad, wt.grad


@pytest.fixture
def threads():
    """Restore the thread count after the test."""
    saved = mfdnn.get_num_threads()
    yield
    mfdnn.set_num_threads(saved)


@pytest.mark.parametrize(("x_shape", "w_shape", "kwargs"), CASES, ids=IDS)
def test_threads_give_the_same_results(threads, x_shape, w_shape, kwargs):
    if "groups" not in kwargs:  # the stride-1 cases take the kernel they are named after
        wo = x_shape[3] + 2 * kwargs["padding"] - w_shape[3] + 1
        route = conv._stride1_kernel(x_shape[1], w_shape[0], wo, w_shape[2:], (1, 1))
        assert f"stride 1 {route}" == IDS[CASES.index((x_shape, w_shape, kwargs))]
    results = {}
    for n in (1, 2, 3):
        mfdnn.set_num_threads(n)
        with chunk_bytes(1):  # one image per chunk: every worker gets some
            results[n] = conv_results(x_shape, w_shape, kwargs)
    for n in (2, 3):
        for ours, sequential in zip(results[n], results[1], strict=True):
            np.testing.assert_allclose(ours, sequential, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(("x_shape", "w_shape", "kwargs"), CASES, ids=IDS)
def test_results_do_not_share_scratch_memory(x_shape, w_shape, kwargs):
    """A later call with other shapes reuses the scratch buffers; earlier results must not move."""
    first = conv_results(x_shape, w_shape, kwargs)
    kept = [a.copy() for a in first]
    conv_results((3, w_shape[1] * 2, 7, 11), (w_shape[1] * 2, 1, 2, 2), {"groups": w_shape[1] * 2})
    conv_results((2, 2, 6, 6), (3, 2, 3, 3), {})
    for now, then in zip(first, kept, strict=True):
        np.testing.assert_array_equal(now, then)


def test_parallel_map_keeps_order_and_runs_nested_calls_inline(threads):
    mfdnn.set_num_threads(2)
    names = set()

    def inner(i):
        names.add(threading.current_thread().name)
        return i * i

    def outer(i):
        return _parallel.parallel_map(inner, [i, i + 1])

    assert _parallel.parallel_map(outer, list(range(5))) == [
        [i * i, (i + 1) ** 2] for i in range(5)
    ]
    # The caller takes one share and the pool thread the other; nested calls add no threads.
    caller = threading.current_thread().name
    pool_threads = {name for name in names if name.startswith("mfdnn")}
    assert caller in names and len(pool_threads) == 1 and names == {caller} | pool_threads


def test_no_share_outlives_a_failure_in_the_callers_share(threads):
    """The caller's own share raises at once; the call returns only after the pool's share ends."""
    mfdnn.set_num_threads(2)
    finished = []

    def work(i):
        if i == 0:  # the caller's share: items 0, 2, ...
            raise ValueError("zero")
        time.sleep(0.05)
        finished.append(i)
        return i

    with pytest.raises(ValueError, match="zero"):
        _parallel.parallel_map(work, [0, 1])
    assert finished == [1]


def test_parallel_map_passes_on_a_workers_exception(threads):
    mfdnn.set_num_threads(2)

    def fail_on_three(i):
        if i == 3:
            raise ValueError("three")
        return i

    with pytest.raises(ValueError, match="three"):
        _parallel.parallel_map(fail_on_three, list(range(6)))


@pytest.mark.parametrize("fail", [False, True], ids=["returns", "raises"])
def test_parallel_map_limits_blas_to_one_thread_and_restores_it(threads, fail):
    """Inside the shares BLAS runs single-threaded; afterwards it has its threads back."""
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    mfdnn.set_num_threads(2)
    before = blas_threads()

    def work(i):
        if fail and i == 1:
            raise ValueError("one")
        return blas_threads()

    if fail:
        with pytest.raises(ValueError, match="one"):
            _parallel.parallel_map(work, [0, 1])
    else:
        assert _parallel.parallel_map(work, [0, 1]) == [[1] * len(before)] * 2
    assert blas_threads() == before


def test_parallel_map_from_two_threads_at_once_restores_blas_after_both(threads):
    """Two callers overlap, one of them not the main thread (which set BLAS's threads before, in
    the other tests): BLAS stays single-threaded until the last one ends."""
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    mfdnn.set_num_threads(2)
    before = blas_threads()
    both_inside = threading.Barrier(2, timeout=10)
    seen = []

    def work(i):
        if i == 0:  # each caller's own share
            both_inside.wait()
            time.sleep(0.02)
        seen.append(blas_threads())
        return i * i

    results = []
    other = threading.Thread(target=lambda: results.append(_parallel.parallel_map(work, [0, 1])))
    other.start()
    results.append(_parallel.parallel_map(work, [0, 1]))
    other.join()
    assert results == [[0, 1], [0, 1]]
    assert all(counts == [1] * len(before) for counts in seen)
    assert blas_threads() == before


def test_set_num_threads_stops_the_old_pool_threads(threads):
    mfdnn.set_num_threads(3)
    _parallel.parallel_map(lambda i: i, [0, 1, 2])
    old = [t for t in threading.enumerate() if t.name.startswith("mfdnn")]
    assert len(old) == 2
    mfdnn.set_num_threads(2)
    assert not any(t.is_alive() for t in old)


def test_scratch_reuses_a_buffer_and_grows_it():
    a = _parallel.scratch("test", (4, 5), np.float32)
    b = _parallel.scratch("test", (2, 3), np.float32)
    assert np.shares_memory(a, b)
    c = _parallel.scratch("test", (10, 10), np.float32)
    assert c.shape == (10, 10) and not np.shares_memory(a, c)
    assert not np.shares_memory(c, _parallel.scratch("test", (3,), np.float64))


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_set_num_threads_rejects_bad_values(bad):
    with pytest.raises(ValueError, match=r"set_num_threads: n must be a positive int, got"):
        mfdnn.set_num_threads(bad)


def test_default_thread_count_follows_the_environment(monkeypatch):
    monkeypatch.setenv("MFDNN_NUM_THREADS", "3")
    assert _parallel._default_threads() == 3
    monkeypatch.setenv("MFDNN_NUM_THREADS", "zero")
    assert _parallel._default_threads() >= 1


def test_empty_output_allocates_without_huge_pages_and_restores_numpys_setting():
    """The arrays a kernel returns skip NumPy's huge-page request; NumPy's own setting is kept."""
    switch = _parallel._set_madvise_hugepage
    if switch is None:
        pytest.skip("this NumPy has no huge-page switch")
    calls = []

    def spy(enabled):
        calls.append(enabled)
        return switch(enabled)

    before = switch(True)
    try:
        with mock.patch.object(_parallel, "_set_madvise_hugepage", spy):
            a = _parallel.empty_output((1 << 21,), np.float32)  # 8 MB: NumPy would ask
        assert a.shape == (1 << 21,) and a.dtype == np.float32
        assert calls == [False, True]
    finally:
        switch(before)
