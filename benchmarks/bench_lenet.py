"""One LeNet-5 training epoch: mathdnn time / PyTorch CPU time, measured in one run; where each
framework's epoch goes; and the peak memory of each.

    python benchmarks/bench_lenet.py [--repeats 5] [--quick] [--c3 full original]

The epoch is the course's: the bundled 4,000 MNIST training digits, batch 100, SGD with lr 0.1,
cross-entropy, for ``mathdnn.models.LeNet5(c3)`` and its PyTorch twin (``mathdnn.interop.to_torch``:
the original C3 as the homework's hint, 16 convolutions on ``x[:, subset]``; mathdnn computes it as
one masked convolution). Both start from the same parameters and see the same batches, and their
parameters after one epoch (every one, C3's per-map biases too) are compared before anything is
timed. The epochs of the two are timed
alternately (``timing.py``); the median of each is reported.

Where the time goes: mathdnn's primitives are timed, forward and VJP, by wrapping them for one extra
epoch (what is left is the engine's own work and the SGD update); PyTorch's operators by its
profiler. Peak memory: each framework trains one epoch in a fresh process, which reports how far
its resident memory rose above where it stood after loading the data.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
from timing import time_alternately

import mathdnn
import mathdnn.functional as F
import mathdnn.optim
from mathdnn.data import load_mnist
from mathdnn.interop import from_torch, to_torch
from mathdnn.models import LeNet5

BATCH, LR = 100, 0.1
TF = torch.nn.functional


def training_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bundled training images (N, 1, 28, 28) in [0, 1], their labels, and one batch order."""
    mnist = load_mnist()
    images = (mnist.train_images.astype(np.float32) / 255.0)[:, None]
    order = np.random.default_rng(0).permutation(len(images))
    return images, mnist.train_labels, order


def mathdnn_epoch(model: LeNet5, images: np.ndarray, labels: np.ndarray, order: np.ndarray) -> None:
    optimizer = mathdnn.optim.SGD(model.parameters(), lr=LR)
    for start in range(0, len(order), BATCH):
        batch = order[start : start + BATCH]
        loss = F.cross_entropy(model(mathdnn.from_numpy(images[batch])), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def torch_epoch(
    twin: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, order: np.ndarray
) -> None:
    optimizer = torch.optim.SGD(twin.parameters(), lr=LR)
    for start in range(0, len(order), BATCH):
        batch = torch.from_numpy(order[start : start + BATCH])
        loss = TF.cross_entropy(twin(images[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def epochs(c3: str) -> dict[str, Callable[[], None]]:
    images, labels, order = training_data()
    model = LeNet5(c3, rng=0)
    twin = to_torch(model)  # the original C3 as the homework's hint in PyTorch
    images_t, labels_t = torch.from_numpy(images), torch.from_numpy(labels)
    steps = {
        "mathdnn": lambda: mathdnn_epoch(model, images, labels, order),
        "torch": lambda: torch_epoch(twin, images_t, labels_t, order),
        "model": model,
        "twin": twin,
    }
    if c3 == "original":  # the homework's hint in mathdnn too: 16 small convolutions
        hint = LeNet5(c3, "hint", rng=0)
        steps["mathdnn, hint form"] = lambda: mathdnn_epoch(hint, images, labels, order)
    return steps


def check_agreement(c3: str) -> float:
    """The largest relative difference of the parameters after one epoch from the same start."""
    steps = epochs(c3)
    steps["mathdnn"]()
    steps["torch"]()
    theirs = dict(from_torch(steps["twin"]).named_parameters())
    return max(
        float(np.max(np.abs(p.data - theirs[name].data)) / (np.max(np.abs(p.data)) + 1e-30))
        for name, p in steps["model"].named_parameters()
    )


# ------------------------------------------------------------------------- where the time goes
PRIMITIVES = ("conv2d", "avg_pool2d", "tanh", "linear", "cross_entropy")


def mathdnn_breakdown(c3: str) -> dict[str, float]:
    """Seconds per epoch in each primitive (forward + VJP), and the rest ("engine and SGD")."""
    spent: dict[str, float] = collections.defaultdict(float)
    originals = {name: getattr(F, name) for name in PRIMITIVES}

    def timed(name: str, primitive: Callable) -> Callable:
        def run(*args, **kwargs):
            start = time.perf_counter()
            out = primitive(*args, **kwargs)
            spent[name] += time.perf_counter() - start
            vjp = out._vjp
            if vjp is not None:

                def timed_vjp(g):
                    start = time.perf_counter()
                    grads = vjp(g)
                    spent[name] += time.perf_counter() - start
                    return grads

                out._vjp = timed_vjp
            return out

        return run

    steps = epochs(c3)
    steps["mathdnn"]()  # warm up
    for name, primitive in originals.items():
        setattr(F, name, timed(name, primitive))
    try:
        start = time.perf_counter()
        steps["mathdnn"]()
        total = time.perf_counter() - start
    finally:
        for name, primitive in originals.items():
            setattr(F, name, primitive)
    spent["engine and SGD"] = total - sum(spent.values())
    return dict(spent)


TORCH_GROUPS = {
    "conv2d": ("conv",),
    "avg_pool2d": ("avg_pool",),
    "tanh": ("tanh",),
    "linear": ("addmm", "mm", "linear", "matmul"),
    "cross_entropy": ("log_softmax", "nll_loss", "cross_entropy"),
}


def torch_breakdown(c3: str) -> dict[str, float]:
    """Seconds per epoch in each group of PyTorch operators (self CPU time, by its profiler)."""
    steps = epochs(c3)
    steps["torch"]()
    with torch.autograd.profiler.profile() as profile:
        start = time.perf_counter()
        steps["torch"]()
        total = time.perf_counter() - start
    spent: dict[str, float] = collections.defaultdict(float)
    for event in profile.key_averages():
        name = event.key.lower()
        group = next((g for g, keys in TORCH_GROUPS.items() if any(k in name for k in keys)), None)
        if group is not None:
            spent[group] += event.self_cpu_time_total / 1e6
    spent["engine and SGD"] = max(0.0, total - sum(spent.values()))
    return dict(spent)


# ------------------------------------------------------------------------------- peak memory
def memory_status(field: str) -> int:
    """A field of /proc/self/status in bytes: ``VmRSS`` (resident now), ``VmHWM`` (its peak)."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def peak_memory_child(framework: str, c3: str) -> None:
    """In a fresh process: train one epoch, print how far the resident memory rose (bytes)."""
    steps = epochs(c3)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # Linux: the peak (VmHWM) starts again from the resident memory now
    baseline = memory_status("VmRSS")
    steps[framework]()
    print(json.dumps({"rise": memory_status("VmHWM") - baseline}))


def peak_memory(framework: str, c3: str) -> int:
    result = subprocess.run(
        [sys.executable, __file__, "--peak-memory-of", framework, "--c3", c3],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.splitlines()[-1])["rise"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs of each (default 5)")
    parser.add_argument("--quick", action="store_true", help="1 repeat: a smoke test")
    parser.add_argument(
        "--c3", nargs="+", choices=("full", "original"), default=["full", "original"]
    )
    parser.add_argument("--peak-memory-of", choices=("mathdnn", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_memory_of:
        peak_memory_child(args.peak_memory_of, args.c3[0])
        return
    repeats = 1 if args.quick else args.repeats
    print(
        f"mathdnn {mathdnn.__version__} ({mathdnn.get_num_threads()} threads), torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}; "
        f"4,000 images, batch {BATCH}, SGD lr {LR}"
    )
    for c3 in args.c3:
        error = check_agreement(c3)
        if error > 1e-3:
            raise SystemExit(f"bench_lenet.py: c3={c3}: parameters differ after an epoch ({error})")
        steps = epochs(c3)
        timed = [k for k in ("mathdnn", "torch", "mathdnn, hint form") if k in steps]
        t = time_alternately({k: steps[k] for k in timed}, repeats, block=1)
        print(
            f"\nC3 {c3}: epoch mathdnn {t['mathdnn'] * 1e3:.0f} ms, "
            f"PyTorch {t['torch'] * 1e3:.0f} ms, ratio {t['mathdnn'] / t['torch']:.2f} "
            f"(parameters after one epoch agree to {error:.0e})"
        )
        if "mathdnn, hint form" in t:
            hint = t["mathdnn, hint form"] * 1e3
            print(f"  mathdnn with the hint's 16 convolutions: {hint:.0f} ms")
        ours, theirs = mathdnn_breakdown(c3), torch_breakdown(c3)
        print(f"  {'where (ms per epoch)':<22} {'mathdnn':>8} {'PyTorch':>8}")
        for group in (*PRIMITIVES, "engine and SGD"):
            print(
                f"  {group:<22} {ours.get(group, 0) * 1e3:>8.0f} {theirs.get(group, 0) * 1e3:>8.0f}"
            )
        print(
            f"  peak memory rise: mathdnn {peak_memory('mathdnn', c3) / 2**20:.0f} MiB, PyTorch "
            f"{peak_memory('torch', c3) / 2**20:.0f} MiB"
        )


if __name__ == "__main__":
    main()
