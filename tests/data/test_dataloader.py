"""DataLoader: batches cover each epoch once, reshuffled per epoch from a seeded generator, and a
run resumed from ``state_dict()`` (through JSON) sees the same batches; ``nchw_scale``."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mathdnn.data import DataLoader, flatten_scale, nchw_scale


def dataset(n):
    """Images whose first pixel is their index, and labels 10·index: a batch shows which
    examples it holds and that images and labels stay paired."""
    images = np.zeros((n, 2, 3), np.float32)
    images[:, 0, 0] = np.arange(n)
    return images, 10 * np.arange(n)


def indices(batches):
    out = []
    for x, y in batches:
        assert x.shape[1:] == (2, 3) and len(x) == len(y)
        np.testing.assert_array_equal(10 * x[:, 0, 0], y)
        out.append(y // 10)
    return out


@given(
    n=st.integers(0, 40),
    batch_size=st.integers(1, 12),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_an_epoch_is_a_permutation_in_batches(n, batch_size, shuffle, drop_last, seed):
    loader = DataLoader(*dataset(n), batch_size, shuffle, drop_last, generator=seed)
    for _ in range(2):
        batches = indices(loader)
        assert len(batches) == len(loader)
        assert len(loader) == (n // batch_size if drop_last else -(-n // batch_size))
        assert all(len(b) == batch_size for b in batches[:-1])
        if batches:
            assert len(batches[-1]) == (
                batch_size if drop_last else n - batch_size * (len(loader) - 1)
            )
        seen = np.concatenate([np.zeros(0, int), *batches])
        assert len(set(seen)) == len(seen)
        if not drop_last:
            np.testing.assert_array_equal(np.sort(seen), np.arange(n))
        if not shuffle:
            np.testing.assert_array_equal(seen, np.arange(len(seen)))


def test_shuffling_is_seeded_and_new_each_epoch():
    images, labels = dataset(50)
    a = DataLoader(images, labels, 8, shuffle=True, generator=3)
    b = DataLoader(images, labels, 8, shuffle=True, generator=np.random.default_rng(3))
    epochs_a = [np.concatenate(indices(a)) for _ in range(3)]
    epochs_b = [np.concatenate(indices(b)) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b, strict=True):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(epochs_a[0], epochs_a[1])
    assert not np.array_equal(epochs_a[0], np.arange(50))
    # the permutation is the generator's: an independent draw with the same seed
    np.testing.assert_array_equal(epochs_a[0], np.random.default_rng(3).permutation(50))
    other = DataLoader(images, labels, 8, shuffle=True, generator=4)
    assert not np.array_equal(np.concatenate(indices(other)), epochs_a[0])


def test_a_given_generator_is_advanced_in_place():
    rng = np.random.default_rng(0)
    loader = DataLoader(*dataset(5), shuffle=True, generator=rng)
    assert loader.generator is rng
    list(loader)
    assert rng.bit_generator.state != np.random.default_rng(0).bit_generator.state


def test_batches_are_copies():
    images, labels = dataset(6)
    for x, y in DataLoader(images, labels, 4):
        x[...] = -1
        y[...] = -1
    np.testing.assert_array_equal(dataset(6)[0], images)
    np.testing.assert_array_equal(dataset(6)[1], labels)


@given(
    n=st.integers(0, 30),
    batch_size=st.integers(1, 8),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    epochs_before=st.integers(0, 2),
    data=st.data(),
)
def test_resuming_from_state_dict_gives_the_same_batches(
    n, batch_size, shuffle, drop_last, epochs_before, data
):
    """Stop after ``epochs_before`` epochs and ``k`` batches, save the state through JSON, and a
    new loader over the same data continues with exactly the batches the first one yields."""
    images, labels = dataset(n)
    first = DataLoader(images, labels, batch_size, shuffle, drop_last, generator=11)
    k = data.draw(st.integers(0, len(first)))
    for _ in range(epochs_before):
        list(first)
    epoch = iter(first)
    for _ in range(k):
        next(epoch)
    saved = json.loads(json.dumps(first.state_dict()))
    assert saved["next_batch"] == k
    rest = indices(epoch) + indices(first) + indices(first)

    resumed = DataLoader(images, labels, batch_size, shuffle, drop_last, generator=999)
    resumed.load_state_dict(saved)
    assert resumed.state_dict() == saved
    again = indices(resumed) + indices(resumed) + indices(resumed)
    assert len(again) == len(rest)
    for a, b in zip(rest, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_state_between_epochs_is_the_generators():
    loader = DataLoader(*dataset(10), 3, shuffle=True, generator=5)
    state = loader.state_dict()
    assert state == {"generator": np.random.default_rng(5).bit_generator.state, "next_batch": 0}
    list(loader)
    assert loader.state_dict()["next_batch"] == 0
    assert loader.state_dict()["generator"] == loader.generator.bit_generator.state


def test_nchw_scale():
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    x = nchw_scale(images)
    assert x.shape == (4, 1, 28, 28) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1
    np.testing.assert_array_equal(x.reshape(4, -1), flatten_scale(images))
    np.testing.assert_array_equal(x[:, 0] * np.float32(255), images.astype(np.float32))
    assert nchw_scale(np.zeros((0, 5, 7), np.uint8)).shape == (0, 1, 5, 7)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: DataLoader(np.ones((3, 2)), np.ones(2)), ValueError, r"DataLoader: images and "
         r"labels must be arrays with one entry per example, got shapes \(3, 2\) and \(2,\)"),
        (lambda: DataLoader(np.float32(1), np.ones(1)), ValueError, r"DataLoader: images and"),
        (lambda: DataLoader(np.ones(3), np.ones(3), 0), ValueError,
         r"DataLoader: batch_size must be positive, got 0"),
        (lambda: DataLoader(np.ones(3), np.ones(3), 1.5), TypeError,
         r"DataLoader: batch_size must be an int, got 1.5"),
        (lambda: DataLoader(np.ones(3), np.ones(3), True), TypeError, r"DataLoader: batch_size"),
        (lambda: DataLoader(np.ones(3), np.ones(3), shuffle="yes"), TypeError,
         r"DataLoader: shuffle must be True or False, got 'yes'"),
        (lambda: DataLoader(np.ones(3), np.ones(3), drop_last=1), TypeError,
         r"DataLoader: drop_last must be True or False"),
        (lambda: DataLoader(np.ones(3), np.ones(3), generator="0"), TypeError,
         r"DataLoader: generator must be a numpy.random.Generator, an int seed or None, got str"),
        (lambda: DataLoader(np.ones(3), np.ones(3), generator=np.random.RandomState(0)),
         TypeError, r"DataLoader: generator must be .* got RandomState"),
        (lambda: DataLoader(np.ones(3), np.ones(3), generator=-1), ValueError,
         r"DataLoader: generator seed must be non-negative, got -1"),
        (lambda: nchw_scale(np.ones((2, 4, 4))), ValueError,
         r"nchw_scale: expected uint8 images of shape \(n, h, w\), got dtype float64"),
        (lambda: nchw_scale(np.ones((2, 1, 4, 4), np.uint8)), ValueError,
         r"nchw_scale: .* shape \(2, 1, 4, 4\)"),
    ],
)  # fmt: skip
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"next_batch": 0}, r"state_dict must be a dict with the keys 'generator' and 'next_b"),
        ([1], r"state_dict must be a dict"),
        ({"generator": None, "next_batch": 5}, r"next_batch must be an int in \[0, 4\] .* got 5"),
        ({"generator": None, "next_batch": -1}, r"next_batch must be an int in \[0, 4\]"),
        ({"generator": None, "next_batch": 1.0}, r"next_batch must be an int"),
        ({"generator": np.random.MT19937(0).state, "next_batch": 0},
         r"generator is not a state of this loader's PCG64 bit generator"),
        ({"generator": {"bit_generator": "PCG64"}, "next_batch": 0},
         r"generator is not a state of this loader's PCG64"),
        ({"generator": {**np.random.PCG64(0).state, "state": {"state": 10**400, "inc": 1}},
          "next_batch": 0},
         r"generator is not a state of this loader's PCG64 .*too large"),
    ],
)  # fmt: skip
def test_bad_state_dicts_are_refused_and_change_nothing(state, message):
    loader = DataLoader(*dataset(10), 3, shuffle=True, generator=0)
    epoch = iter(loader)
    next(epoch)
    before = loader.state_dict()
    with pytest.raises(ValueError, match=r"DataLoader.load_state_dict: " + message):
        loader.load_state_dict(state)
    assert loader.state_dict() == before
