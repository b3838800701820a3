"""Data for the course: MNIST (bundled 5k subset or full IDX files), the IDX reader, and
``DataLoader``, which cuts arrays into (shuffled) minibatches."""

from mathdnn.data.idx import read_idx
from mathdnn.data.loader import DataLoader, nchw_scale
from mathdnn.data.mnist import (
    MNIST,
    binary_digits,
    flatten_scale,
    load_bundled_subset,
    load_mnist,
    mnist_dir_from_env,
)

__all__ = [
    "MNIST",
    "DataLoader",
    "binary_digits",
    "flatten_scale",
    "load_bundled_subset",
    "load_mnist",
    "mnist_dir_from_env",
    "nchw_scale",
    "read_idx",
]
