"""One epoch of Problem 5's SGD training: mathdnn time / PyTorch CPU time, measured in one run.

    python benchmarks/bench_losses_epoch.py [--repeats 21] [--digits 4 9] [--torch-threads N]

Both frameworks train ``z = X a + b`` on the bundled MNIST digits (800 training images for 4 vs
9, batch 64, lr 0.01) from the same initial ``a, b`` through the same batch order, for each loss.
PyTorch runs the same loop: autograd for the gradient, then a manual SGD update under
``torch.no_grad()``. Before timing, the parameters after one epoch are compared, so the benchmark
never times a wrong answer. The two are timed alternately, repeat after repeat, so load from
elsewhere hits both alike; the median of each is reported.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from mathdnn.data import DataLoader, binary_digits, load_mnist
from mathdnn.engine import Tensor
from mathdnn.hw4.p5_losses import LOSSES, Model
from mathdnn.optim import SGD
from mathdnn.training import train_epoch

LR = 0.01
BATCH = 64


def torch_loss(name: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The same formulas in PyTorch: ``log(1 + e^{−yz})`` and ``2σ(−yz)²``, batch means."""
    if name == "kl":
        return torch.nn.functional.softplus(-y * z).mean()
    return (2 * torch.sigmoid(-y * z) ** 2).mean()


def make_epochs(
    name: str, X: np.ndarray, y: np.ndarray, a0: np.ndarray, b0: np.ndarray, order: np.ndarray
) -> tuple[Callable[[], np.ndarray], Callable[[], np.ndarray]]:
    """(mathdnn_epoch, torch_epoch): each trains from ``(a0, b0)`` and returns the final ``a``."""
    # The same batches as torch's: the examples in ``order``, cut in turn.
    loader = DataLoader(X[order], y[order], BATCH)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    order_t = torch.from_numpy(order)

    def mathdnn_epoch() -> np.ndarray:
        model = Model(Tensor(a0.copy(), requires_grad=True), Tensor(b0.copy(), requires_grad=True))
        train_epoch(model, LOSSES[name], SGD(model.parameters(), lr=LR), loader)
        return model.a.data

    def torch_epoch() -> np.ndarray:
        a = torch.tensor(a0, requires_grad=True)
        b = torch.tensor(b0, requires_grad=True)
        total = 0.0
        for start in range(0, len(order), BATCH):
            batch = order_t[start : start + BATCH]
            value = torch_loss(name, X_t[batch] @ a + b, y_t[batch])
            value.backward()
            with torch.no_grad():
                for p in (a, b):
                    p -= LR * p.grad
                    p.grad = None
            total += value.item()
        return a.detach().numpy()

    return mathdnn_epoch, torch_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--digits", type=int, nargs=2, default=(4, 9))
    parser.add_argument(
        "--torch-threads",
        type=int,
        help="torch.set_num_threads (default: torch's own; on a busy machine its idle threads "
        "spin against the load and 1 thread is the fairer baseline)",
    )
    args = parser.parse_args()
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)

    mnist = load_mnist()
    X, y = binary_digits(mnist.train_images, mnist.train_labels, *args.digits)
    rng = np.random.default_rng(0)
    model = Model.init(X.shape[1], rng)
    a0, b0 = model.a.data, model.b.data
    order = rng.permutation(len(X))
    steps = -(-len(X) // BATCH)
    print(
        f"one epoch: {len(X)} images x 784, batch {BATCH} ({steps} steps), float32; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(
        f"{'loss':<6} {'mathdnn ms':>9} {'torch ms':>9} {'mathdnn us/step':>14} "
        f"{'torch us/step':>14} {'mathdnn/torch':>12}"
    )
    for name in LOSSES:
        ours, theirs = make_epochs(name, X, y, a0, b0, order)
        np.testing.assert_allclose(ours(), theirs(), rtol=1e-4, atol=1e-6)
        times: dict[str, list[float]] = {"mathdnn": [], "torch": []}
        for _ in range(args.repeats):
            for key, epoch in (("mathdnn", ours), ("torch", theirs)):
                start = time.perf_counter()
                epoch()
                times[key].append(time.perf_counter() - start)
        t_ours, t_theirs = np.median(times["mathdnn"]), np.median(times["torch"])
        print(
            f"{name:<6} {t_ours * 1e3:>9.2f} {t_theirs * 1e3:>9.2f} {t_ours / steps * 1e6:>14.1f} "
            f"{t_theirs / steps * 1e6:>14.1f} {t_ours / t_theirs:>12.2f}"
        )


if __name__ == "__main__":
    main()
