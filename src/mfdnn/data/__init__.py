"""Data for the course: MNIST (bundled 5k subset or full IDX files) and the IDX reader."""

from mfdnn.data.idx import read_idx
from mfdnn.data.mnist import (
    MNIST,
    binary_digits,
    flatten_scale,
    load_bundled_subset,
    load_mnist,
    mnist_dir_from_env,
)

__all__ = [
    "MNIST",
    "binary_digits",
    "flatten_scale",
    "load_bundled_subset",
    "load_mnist",
    "mnist_dir_from_env",
    "read_idx",
]
