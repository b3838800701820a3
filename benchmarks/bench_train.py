"""A full-MNIST-sized epoch of ``mathdnn train lenet`` against the same training loop in PyTorch,
each in its own fresh process.

    python benchmarks/bench_train.py [--rounds 3] [--epochs 2] [--images 60000] [--quick]

The data are random digits of MNIST's sizes (``--images`` training images, 10,000 test images,
uniform uint8 pixels and labels), written as the four IDX files into a temporary directory, so
the benchmark needs no download. mathdnn's side is the command itself,
``mathdnn train lenet --mnist-dir DIR --epochs E``, run as a user runs it; its epoch time is the
training time ``results.json`` records for each epoch (the test evaluation after it excluded).
PyTorch's side is the loop a PyTorch user writes for the same run: the images scaled to [0, 1]
as ``mathdnn.data.nchw_scale`` does, a new shuffled order each epoch, batches of 100, SGD with
lr 0.1, cross-entropy, on ``mathdnn.interop.to_torch`` of the same initial LeNet-5; its epoch
time is the training loop's alone too. The two run one after the other in rounds; the first epoch
of each process is a warm-up, and the ratio is that of the medians of the other epochs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BATCH, LR, TEST_IMAGES = 100, 0.1, 10_000


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` (uint8) as an IDX file: magic 0x0000 0x08 ndim, the sizes big-endian, the bytes."""
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return head + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_random_mnist(directory: Path, n_train: int) -> None:
    rng = np.random.default_rng(0)
    for name, n in (("train", n_train), ("t10k", TEST_IMAGES)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        (directory / f"{name}-images-idx3-ubyte").write_bytes(idx_bytes(images))
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        (directory / f"{name}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))


def mathdnn_run(data: Path, epochs: int, c3: str) -> list[float]:
    """``mathdnn train lenet`` in a fresh process; the training seconds of each epoch."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "mathdnn.cli", "train", "lenet", "--mnist-dir", str(data)]
        command += ["--epochs", str(epochs), "--c3", c3, "-o", out, "--quiet"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"bench_train.py: mathdnn train failed:\n{result.stderr}")
        results = json.loads((Path(out) / "results.json").read_text())
    return results["per_epoch"]["seconds"]


def torch_child(data: Path, epochs: int, c3: str) -> list[float]:
    """The PyTorch loop (run in a fresh process): the training seconds of each epoch."""
    import torch

    from mathdnn.data import load_mnist, nchw_scale
    from mathdnn.interop import to_torch
    from mathdnn.models import LeNet5

    mnist = load_mnist(data)
    images = torch.from_numpy(nchw_scale(mnist.train_images))
    labels = torch.from_numpy(mnist.train_labels.astype(np.int64))
    twin = to_torch(LeNet5(c3, rng=np.random.default_rng(0)))
    optimizer = torch.optim.SGD(twin.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(0)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(labels), generator=generator)
        for first in range(0, len(labels), BATCH):
            batch = order[first : first + BATCH]
            loss = torch.nn.functional.cross_entropy(twin(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    return seconds


def torch_run(data: Path, epochs: int, c3: str) -> list[float]:
    command = [sys.executable, __file__, "--torch-child", str(data), str(epochs), c3]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"bench_train.py: the PyTorch loop failed:\n{result.stderr}")
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the two processes (3)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per process (2)")
    parser.add_argument("--images", type=int, default=60_000, help="training images (60,000)")
    parser.add_argument("--c3", choices=("full", "original"), default="full")
    parser.add_argument("--quick", action="store_true", help="1 round of 2 epochs on 2,000 images")
    parser.add_argument("--torch-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_child:
        data, epochs, c3 = args.torch_child
        print(json.dumps(torch_child(Path(data), int(epochs), c3)))
        return
    if args.quick:
        args.rounds, args.epochs, args.images = 1, 2, 2000
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first is a warm-up)")
    import torch

    import mathdnn

    print(
        f"mathdnn {mathdnn.__version__} ({mathdnn.get_num_threads()} threads), torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}; "
        f"{args.images:,} random training images, batch {BATCH}, SGD lr {LR}, C3 {args.c3}"
    )
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as directory:
        data = Path(directory)
        write_random_mnist(data, args.images)
        for _ in range(args.rounds):
            ours += mathdnn_run(data, args.epochs, args.c3)[1:]
            theirs += torch_run(data, args.epochs, args.c3)[1:]
    a, b = float(np.median(ours)), float(np.median(theirs))
    print(
        f"epoch (after each process's first): mathdnn train {a:.2f} s "
        f"({min(ours):.2f}–{max(ours):.2f}), PyTorch loop {b:.2f} s ({min(theirs):.2f}–"
        f"{max(theirs):.2f}), ratio {a / b:.2f}"
    )


if __name__ == "__main__":
    main()
