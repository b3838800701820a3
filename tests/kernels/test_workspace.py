"""The kernels' workspace: an array is handed out again only when nothing refers to it any more,
never to two users at once (threads included), within its limit, and released on request; and
every fast path gives the same bits with the workspace, without it, and from arrays left full of
NaN bytes by earlier calls."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mathdnn
import mathdnn.functional as F
from mathdnn import kernels
from mathdnn.kernels import workspace
from mathdnn.models import LeNet5

SHAPE = (64, 1024)  # 256 KiB of float32: large enough for the workspace


@pytest.fixture(autouse=True)
def fresh_workspace():
    """Each test starts from an empty workspace with the default limit, and leaves one."""
    workspace.set_workspace_limit(workspace.DEFAULT_LIMIT)
    yield
    workspace.set_workspace_limit(workspace.DEFAULT_LIMIT)


def address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_an_array_nothing_refers_to_is_handed_out_again():
    a = workspace.empty(SHAPE, np.float32)
    assert a.shape == SHAPE and a.dtype == np.float32
    where = address(a)
    del a
    assert address(workspace.empty(SHAPE, np.float32)) == where
    assert workspace.workspace_bytes() == np.prod(SHAPE) * 4


@pytest.mark.parametrize(
    "keep",
    [
        lambda a: a,
        lambda a: a[3:, ::2],
        lambda a: a.reshape(-1),
        lambda a: a.T,
        lambda a: memoryview(a),
        lambda a: [a],
    ],
    ids=["itself", "a slice", "a reshape", "a transpose", "a memoryview", "a list"],
)
def test_an_array_in_use_is_not_handed_out(keep):
    a = workspace.empty(SHAPE, np.float32)
    a.fill(1.0)
    kept = keep(a)
    del a
    b = workspace.empty(SHAPE, np.float32)
    b.fill(2.0)
    assert np.all(np.asarray(kept[0] if isinstance(kept, list) else kept) == 1.0)


def test_zeros_is_zero_even_in_a_used_array():
    a = workspace.empty(SHAPE, np.float32)
    a.fill(7.0)
    del a
    assert not workspace.zeros(SHAPE, np.float32).any()


def test_shapes_and_dtypes_are_kept_apart():
    a = workspace.empty(SHAPE, np.float32)
    del a
    b = workspace.empty(SHAPE, np.float64)
    c = workspace.empty(SHAPE[::-1], np.float32)
    assert b.dtype == np.float64 and c.shape == SHAPE[::-1]
    assert workspace.workspace_bytes() == np.prod(SHAPE) * (4 + 8 + 4)


def test_small_arrays_are_not_kept():
    a = workspace.empty(10, np.float32)
    assert a.shape == (10,) and workspace.workspace_bytes() == 0


def test_the_limit_bounds_what_is_kept_forgetting_the_least_recently_used_shape():
    size = int(np.prod(SHAPE)) * 4
    share = workspace.KEPT_SHARE
    workspace.set_workspace_limit(share * size)
    first = workspace.empty(SHAPE, np.float32)
    others = [workspace.empty((SHAPE[0] * k, SHAPE[1] // k), np.float32) for k in (2, 4, 8)]
    assert share == 4 and workspace.workspace_bytes() == share * size
    one_more = workspace.empty((SHAPE[0] // 2, SHAPE[1] * 2), np.float32)  # forgets `first`
    assert workspace.workspace_bytes() == share * size
    first.fill(3.0)  # still its holder's: only the workspace forgot it
    del others, one_more
    assert np.all(first == 3.0)


def test_an_array_over_its_share_of_the_limit_is_not_kept():
    """One large photograph's columns would hold that memory long after the call."""
    size = int(np.prod(SHAPE)) * 4
    workspace.set_workspace_limit(workspace.KEPT_SHARE * size - 1)
    a = workspace.empty(SHAPE, np.float32)
    assert a.shape == SHAPE and workspace.workspace_bytes() == 0


def test_limit_zero_keeps_nothing():
    workspace.set_workspace_limit(0)
    a = workspace.empty(SHAPE, np.float32)
    assert a.shape == SHAPE and workspace.workspace_bytes() == 0


def test_clear_workspace_forgets_every_array():
    a = workspace.empty(SHAPE, np.float32)
    b = workspace.empty(SHAPE, np.float32)
    del b
    assert workspace.workspace_bytes() == 2 * np.prod(SHAPE) * 4
    kernels.clear_workspace()
    assert workspace.workspace_bytes() == 0
    a.fill(1.0)  # its holder keeps it


@pytest.mark.parametrize("bad", [-1, 1.5, "64", True, None])
def test_set_workspace_limit_refuses_a_bad_size(bad):
    with pytest.raises(ValueError, match=r"set_workspace_limit: nbytes must be an int >= 0"):
        kernels.set_workspace_limit(bad)


def test_threads_never_share_an_array():
    """Eight threads take, fill, check and drop arrays of the same shape many times: none ever
    sees another thread's values in the array it holds."""
    errors = []

    def work(k: int) -> None:
        for _ in range(200):
            a = workspace.empty(SHAPE, np.float32)
            a.fill(k)
            if not np.all(a == k):
                errors.append(k)
            del a

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert workspace.workspace_bytes() <= 8 * np.prod(SHAPE) * 4


# ------------------------------------------------------- the same bits with and without it
def poison() -> None:
    """Fill every free array of the workspace with NaN bytes (0xFF), so that a fast path that
    read an entry before writing it would give other bits."""
    for arrays in workspace._arrays.values():
        for a in arrays:
            if sys.getrefcount(a) == 3:  # the list's, the loop's, getrefcount's: free
                a.view(np.uint8).fill(0xFF)


def lenet_step(c3: str, seed: int, batch: int) -> list[np.ndarray]:
    """Loss, logits and every gradient of one LeNet-5 step on random digits, copied out."""
    model = LeNet5(c3, rng=seed)
    rng = np.random.default_rng(seed)
    x = mathdnn.from_numpy(rng.random((batch, 1, 28, 28), dtype=np.float32))
    logits = model(x)
    loss = F.cross_entropy(logits, rng.integers(0, 10, batch))
    loss.backward()
    return [loss.data.copy(), logits.data.copy()] + [p.grad.copy() for p in model.parameters()]


@pytest.mark.parametrize("c3", ["full", "original"])
def test_a_lenet_step_has_the_same_bits_with_and_without_the_workspace(c3):
    workspace.set_workspace_limit(0)
    without = lenet_step(c3, 0, 100)
    workspace.set_workspace_limit(workspace.DEFAULT_LIMIT)
    first = lenet_step(c3, 0, 100)  # fresh arrays
    poison()
    again = lenet_step(c3, 0, 100)  # the arrays of the first step, full of NaN bytes
    assert workspace.workspace_bytes() > 0
    for a, b, c in zip(without, first, again, strict=True):
        assert a.tobytes() == b.tobytes() == c.tobytes()


@given(
    shapes=st.tuples(st.integers(1, 9), st.integers(1, 4), st.integers(5, 30), st.integers(5, 30)),
    out_channels=st.integers(1, 8),
    kernel=st.integers(1, 5),
    padding=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40)
def test_every_fast_path_gives_the_same_bits_from_a_poisoned_workspace(
    shapes, out_channels, kernel, padding, seed
):
    """conv2d (whichever kernel the rule picks, in chunks), tanh and both pools, forward and
    VJP, in float32: with the workspace off, and twice with it, the second time after poisoning."""
    _, c, h, w = shapes
    assume(h + 2 * padding >= kernel and w + 2 * padding >= kernel)
    rng = np.random.default_rng(seed)
    arrays = [
        rng.standard_normal(shapes, dtype=np.float32) * 64,  # large enough for the workspace
        rng.standard_normal((out_channels, c, kernel, kernel), dtype=np.float32),
        rng.standard_normal(out_channels, dtype=np.float32),
    ]

    def run() -> list[np.ndarray]:
        x, weight, bias = (mathdnn.tensor(a, requires_grad=True) for a in arrays)
        y = F.conv2d(x, weight, bias, padding=padding)
        z = F.max_pool2d(F.tanh(y), 2) if min(y.shape[2:]) >= 2 else F.tanh(y)
        z = F.avg_pool2d(z, 1)
        z.backward(np.ones(z.shape, dtype=np.float32))
        return [y.data.copy(), z.data.copy(), x.grad.copy(), weight.grad.copy(), bias.grad.copy()]

    workspace.set_workspace_limit(0)
    without = run()
    workspace.set_workspace_limit(workspace.DEFAULT_LIMIT)
    workspace.MIN_BYTES, saved = 0, workspace.MIN_BYTES  # every array through the workspace
    try:
        first = run()
        poison()
        again = run()
    finally:
        workspace.MIN_BYTES = saved
    for a, b, c in zip(without, first, again, strict=True):
        assert a.tobytes() == b.tobytes() == c.tobytes()
