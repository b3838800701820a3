"""Minibatches: ``DataLoader`` cuts arrays of examples into batches, in a new order each epoch.

``for x, y in DataLoader(images, labels, batch_size=64, shuffle=True, generator=0)`` runs one
epoch of minibatch training: each ``iter()`` draws a permutation of the examples from the
loader's NumPy ``Generator`` (if ``shuffle``) and yields them ``batch_size`` at a time.
``state_dict()`` says where the next batch comes from, as a JSON-able dict; a loader given it by
``load_state_dict()`` yields the same batches from there on, so a training run resumed from a
checkpoint sees exactly the batches of one that never stopped.

``nchw_scale`` turns the uint8 digits of ``load_mnist()`` into the float32 ``(N, 1, 28, 28)``
images in [0, 1] a convolutional network takes.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from mathdnn.functional._checks import positive_int


class DataLoader:
    """Batches ``(x, y)`` of ``(images, labels)``, like ``torch.utils.data.DataLoader``.

    ``images`` and ``labels``: arrays with the same first dimension N (the examples).
    ``len(loader)`` is the number of batches per epoch, ``⌈N / batch_size⌉``, or
    ``⌊N / batch_size⌋`` with ``drop_last`` (which leaves out the last, short batch).
    ``shuffle``: a new random order at each ``iter()``, drawn from ``generator`` (a NumPy
    ``Generator``, used and advanced in place, or an int seed; None: seeded from the OS).
    Each batch is a new array (``images[indices]``), never a view of ``images``.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: np.random.Generator | int | None = None,
    ) -> None:
        fn = "DataLoader"
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim == 0 or labels.ndim == 0 or len(images) != len(labels):
            raise ValueError(
                f"{fn}: images and labels must be arrays with one entry per example, got shapes "
                f"{images.shape} and {labels.shape}"
            )
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, bool):
                raise TypeError(f"{fn}: {name} must be True or False, got {flag!r}")
        if not (
            generator is None
            or isinstance(generator, np.random.Generator)
            or (isinstance(generator, numbers.Integral) and not isinstance(generator, bool))
        ):
            raise TypeError(
                f"{fn}: generator must be a numpy.random.Generator, an int seed or None, got "
                f"{type(generator).__name__}"
            )
        if isinstance(generator, numbers.Integral) and generator < 0:
            raise ValueError(f"{fn}: generator seed must be non-negative, got {generator}")
        self.images, self.labels = images, labels
        self.batch_size = positive_int(fn, "batch_size", batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.generator = np.random.default_rng(generator)
        # The epoch under way: the generator's state before its order was drawn (None between
        # epochs), and the batch it yields next.
        self._epoch_start: dict[str, Any] | None = None
        self._next_batch = 0

    def __len__(self) -> int:
        n, b = len(self.images), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch; after ``load_state_dict`` it starts at the saved batch."""
        first = self._next_batch if self._epoch_start is None else 0
        self._epoch_start = copy.deepcopy(self.generator.bit_generator.state)
        n = len(self.images)
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        self._next_batch = first
        return self._batches(order, first)

    def _batches(self, order: np.ndarray, first: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        b = self.batch_size
        for k in range(first, len(self)):
            self._next_batch = k + 1
            indices = order[k * b : (k + 1) * b]
            yield self.images[indices], self.labels[indices]
        self._epoch_start, self._next_batch = None, 0

    def state_dict(self) -> dict[str, Any]:
        """Where the next batch comes from: ``{"generator": state, "next_batch": k}``.

        During an epoch: the generator's state (``bit_generator.state``) before that epoch's
        order was drawn, and the number of its batches already yielded; between epochs: the
        generator's state now, and 0. JSON-able for NumPy's default bit generator (PCG64).
        """
        if self._epoch_start is None:
            return {
                "generator": copy.deepcopy(self.generator.bit_generator.state),
                "next_batch": self._next_batch,
            }
        return {"generator": copy.deepcopy(self._epoch_start), "next_batch": self._next_batch}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Make the next ``iter()`` continue from ``state_dict`` (from ``state_dict()`` of a
        loader over the same data with the same ``batch_size``, ``shuffle``, ``drop_last``)."""
        fn = "DataLoader.load_state_dict"
        if not isinstance(state_dict, Mapping) or set(state_dict) != {"generator", "next_batch"}:
            raise ValueError(
                f"{fn}: state_dict must be a dict with the keys 'generator' and 'next_batch', "
                f"got {state_dict!r}"
            )
        k = state_dict["next_batch"]
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k <= len(self):
            raise ValueError(
                f"{fn}: next_batch must be an int in [0, {len(self)}] (the batches per epoch), "
                f"got {k!r}"
            )
        try:
            self.generator.bit_generator.state = copy.deepcopy(state_dict["generator"])
        except (TypeError, ValueError, KeyError, OverflowError) as err:
            raise ValueError(
                f"{fn}: generator is not a state of this loader's "
                f"{type(self.generator.bit_generator).__name__} bit generator: {err}"
            ) from None
        self._epoch_start, self._next_batch = None, int(k)


def nchw_scale(images: np.ndarray) -> np.ndarray:
    """uint8 images ``(n, h, w)`` as float32 ``(n, 1, h, w)`` in [0, 1] (``x / 255``): the layout
    ``(N, C, H, W)`` of ``conv2d``, one channel. ``flatten_scale`` gives rows ``(n, h·w)``."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"nchw_scale: expected uint8 images of shape (n, h, w), got dtype {images.dtype} and "
            f"shape {images.shape}"
        )
    x = images[:, np.newaxis].astype(np.float32)
    x /= np.float32(255.0)
    return x
