"""One LeNet-5 training epoch, mathdnn against PyTorch CPU: each framework in its own fresh process,
where each epoch's time goes, its page faults, and the figure measured the old way (both
frameworks in one process).

    python benchmarks/bench_lenet.py [--rounds 3] [--epochs 5] [--quick] [--c3 full original]

The epoch is the course's: 4,000 images, batch 100, SGD with lr 0.1, cross-entropy, for
``mathdnn.models.LeNet5(c3)`` and its PyTorch twin (``mathdnn.interop.to_torch``: the original C3
as the homework's hint, 16 convolutions on ``x[:, subset]``; mathdnn computes it as one masked
convolution).

**Fresh processes** (the headline). A user's script trains in a process of its own, so each
framework is timed in its own: a child process makes random images (uniform in [0, 1)) and
labels, builds the model, trains one epoch to warm up, then times ``--epochs`` epochs and counts
the page faults of each (``resource.getrusage``: every fresh page the allocator maps costs one).
The children run in rounds, mathdnn, mathdnn without its kernels' workspace
(``mathdnn.kernels.set_workspace_limit(0)``) and PyTorch one after the other, so that load from
elsewhere hits them alike; the median epoch of each child is one sample, and the ratio
mathdnn / PyTorch is taken within each round. In one process the two frameworks disturb each
other: the heap one leaves behind changes how often the other's allocations fault.

**Where the time goes**, also each in a fresh process: mathdnn's primitives are timed, forward and
VJP, by wrapping them for one epoch after the warm-up (what is left is the engine's own work and
the SGD update), with the page faults of each; PyTorch's operators by its profiler's self time.

**The old way**: both frameworks in one process, from the same parameters, on the bundled MNIST
digits (loaded first), their epochs alternating (``timing.py``). Their parameters after one epoch
(every one, C3's per-map biases too) are compared before anything is timed. Peak memory: how far
each child's resident memory rose above where it stood before its first epoch.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

BATCH, LR, IMAGES = 100, 0.1, 4000
PRIMITIVES = ("conv2d", "avg_pool2d", "tanh", "linear", "cross_entropy")
FRAMEWORKS = ("mathdnn", "mathdnn, no workspace", "torch")


# ----------------------------------------------------------------------------- the two epochs
def random_data(n: int = IMAGES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` random images (N, 1, 28, 28) in [0, 1), their random labels, and one batch order."""
    rng = np.random.default_rng(0)
    images = rng.random((n, 1, 28, 28), dtype=np.float32)
    return images, rng.integers(0, 10, n), rng.permutation(n)


def mathdnn_epoch(
    model: object, images: np.ndarray, labels: np.ndarray, order: np.ndarray
) -> Callable[[], None]:
    import mathdnn
    import mathdnn.functional as F
    import mathdnn.optim

    optimizer = mathdnn.optim.SGD(model.parameters(), lr=LR)

    def epoch() -> None:
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            loss = F.cross_entropy(model(mathdnn.from_numpy(images[batch])), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return epoch


def torch_epoch(
    twin: object, images: np.ndarray, labels: np.ndarray, order: np.ndarray
) -> Callable[[], None]:
    import torch

    optimizer = torch.optim.SGD(twin.parameters(), lr=LR)
    images_t, labels_t = torch.from_numpy(images), torch.from_numpy(labels)

    def epoch() -> None:
        for start in range(0, len(order), BATCH):
            batch = torch.from_numpy(order[start : start + BATCH])
            loss = torch.nn.functional.cross_entropy(twin(images_t[batch]), labels_t[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return epoch


def models(c3: str) -> tuple[object, object]:
    """``LeNet5(c3)`` from seed 0 and its PyTorch twin, from the same parameters."""
    from mathdnn.interop import to_torch
    from mathdnn.models import LeNet5

    model = LeNet5(c3, rng=0)
    return model, to_torch(model)


def epoch_of(framework: str, c3: str, data: tuple[np.ndarray, ...]) -> Callable[[], None]:
    model, twin = models(c3)
    if framework == "torch":
        return torch_epoch(twin, *data)
    if framework == "mathdnn, no workspace":
        import mathdnn.kernels

        mathdnn.kernels.set_workspace_limit(0)
    return mathdnn_epoch(model, *data)


# ----------------------------------------------------------------------- in a fresh process
def faults() -> int:
    """Page faults of this process so far (minor: a fresh page mapped; major: read from disk)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt + usage.ru_majflt


def memory_status(field: str) -> int:
    """A field of /proc/self/status in bytes: ``VmRSS`` (resident now), ``VmHWM`` (its peak)."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def child_epochs(framework: str, c3: str, epochs: int) -> dict:
    """Warm up one epoch, then time ``epochs`` epochs: seconds and page faults of each, and how
    far the resident memory rose above where it stood before the first epoch."""
    epoch = epoch_of(framework, c3, random_data())
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # Linux: the peak (VmHWM) starts again from the resident memory now
    baseline = memory_status("VmRSS")
    epoch()
    seconds, faulted = [], []
    for _ in range(epochs):
        before, start = faults(), time.perf_counter()
        epoch()
        seconds.append(time.perf_counter() - start)
        faulted.append(faults() - before)
    return {"seconds": seconds, "faults": faulted, "rise": memory_status("VmHWM") - baseline}


def child_breakdown(framework: str, c3: str) -> dict:
    """Seconds and page faults per epoch in each primitive, after one epoch of warm-up."""
    epoch = epoch_of(framework, c3, random_data())
    epoch()
    if framework == "torch":
        return {"seconds": torch_breakdown(epoch), "faults": {}}
    return mathdnn_breakdown(epoch)


def mathdnn_breakdown(epoch: Callable[[], None]) -> dict:
    """mathdnn's primitives wrapped, forward and VJP, for one epoch; the rest is "engine and
    SGD"."""
    import mathdnn.functional as F

    spent: dict[str, float] = collections.defaultdict(float)
    faulted: dict[str, int] = collections.defaultdict(int)
    originals = {name: getattr(F, name) for name in PRIMITIVES}

    def timed(name: str, primitive: Callable) -> Callable:
        def run(*args, **kwargs):
            before, start = faults(), time.perf_counter()
            out = primitive(*args, **kwargs)
            spent[name] += time.perf_counter() - start
            faulted[name] += faults() - before
            vjp = out._vjp
            if vjp is not None:

                def timed_vjp(g):
                    before, start = faults(), time.perf_counter()
                    grads = vjp(g)
                    spent[name] += time.perf_counter() - start
                    faulted[name] += faults() - before
                    return grads

                out._vjp = timed_vjp
            return out

        return run

    for name, primitive in originals.items():
        setattr(F, name, timed(name, primitive))
    try:
        before, start = faults(), time.perf_counter()
        epoch()
        total, total_faults = time.perf_counter() - start, faults() - before
    finally:
        for name, primitive in originals.items():
            setattr(F, name, primitive)
    spent["engine and SGD"] = total - sum(spent.values())
    faulted["engine and SGD"] = total_faults - sum(faulted.values())
    return {"seconds": dict(spent), "faults": dict(faulted)}


TORCH_GROUPS = {
    "conv2d": ("conv",),
    "avg_pool2d": ("avg_pool",),
    "tanh": ("tanh",),
    "linear": ("addmm", "mm", "linear", "matmul"),
    "cross_entropy": ("log_softmax", "nll_loss", "cross_entropy"),
}


def torch_breakdown(epoch: Callable[[], None]) -> dict[str, float]:
    """Seconds per epoch in each group of PyTorch operators (self CPU time, by its profiler)."""
    import torch

    with torch.autograd.profiler.profile() as profile:
        start = time.perf_counter()
        epoch()
        total = time.perf_counter() - start
    spent: dict[str, float] = collections.defaultdict(float)
    for event in profile.key_averages():
        name = event.key.lower()
        group = next((g for g, keys in TORCH_GROUPS.items() if any(k in name for k in keys)), None)
        if group is not None:
            spent[group] += event.self_cpu_time_total / 1e6
    spent["engine and SGD"] = max(0.0, total - sum(spent.values()))
    return dict(spent)


def in_fresh_process(what: str, framework: str, c3: str, epochs: int = 1) -> dict:
    """Run ``child_epochs`` or ``child_breakdown`` in a new Python process; its JSON result."""
    result = subprocess.run(
        [sys.executable, __file__, "--child", what, framework, c3, str(epochs)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"bench_lenet.py: the {framework} child failed:\n{result.stderr}")
    return json.loads(result.stdout.splitlines()[-1])


# --------------------------------------------------------------------------------- the old way
def check_agreement(c3: str) -> float:
    """The largest relative difference of the parameters after one epoch from the same start."""
    from mathdnn.interop import from_torch

    model, twin = models(c3)
    data = random_data(1000)
    mathdnn_epoch(model, *data)()
    torch_epoch(twin, *data)()
    theirs = dict(from_torch(twin).named_parameters())
    return max(
        float(np.max(np.abs(p.data - theirs[name].data)) / (np.max(np.abs(p.data)) + 1e-30))
        for name, p in model.named_parameters()
    )


def old_way(c3: str, repeats: int) -> dict[str, float]:
    """Both frameworks in this process on the bundled digits (loaded first), epochs alternating:
    median seconds of each."""
    from timing import time_alternately

    from mathdnn.data import load_mnist

    mnist = load_mnist()
    images = (mnist.train_images.astype(np.float32) / 255.0)[:, None]
    data = (images, mnist.train_labels, np.random.default_rng(0).permutation(len(images)))
    model, twin = models(c3)
    steps = {"mathdnn": mathdnn_epoch(model, *data), "torch": torch_epoch(twin, *data)}
    return time_alternately(steps, repeats, block=1)


# ----------------------------------------------------------------------------------- report
def spread(values: list[float], scale: float = 1.0, digits: int = 0) -> str:
    """``median (min–max)`` of ``values`` times ``scale``."""
    low, mid, high = (scale * v for v in (min(values), float(np.median(values)), max(values)))
    return f"{mid:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def fresh_processes(c3: str, rounds: int, epochs: int) -> None:
    samples: dict[str, list[dict]] = {f: [] for f in FRAMEWORKS}
    for _ in range(rounds):
        for framework in FRAMEWORKS:
            samples[framework].append(in_fresh_process("epochs", framework, c3, epochs))
    median = {f: [float(np.median(s["seconds"])) for s in samples[f]] for f in FRAMEWORKS}
    print(f"  fresh processes, {rounds} rounds of {epochs} warm epochs each:")
    print(f"  {'':<24} {'epoch ms':>20} {'faults per epoch':>22} {'memory rise MiB':>16}")
    for f in FRAMEWORKS:
        per_epoch = [float(np.median(s["faults"])) for s in samples[f]]
        rise = [s["rise"] / 2**20 for s in samples[f]]
        print(f"  {f:<24} {spread(median[f], 1e3):>20} {spread(per_epoch):>22} {spread(rise):>16}")
    for f in FRAMEWORKS[:2]:
        ratios = [a / b for a, b in zip(median[f], median["torch"], strict=True)]
        print(f"  ratio {f} / PyTorch: {spread(ratios, digits=2)}")


def breakdown(c3: str) -> None:
    ours = in_fresh_process("breakdown", "mathdnn", c3)
    theirs = in_fresh_process("breakdown", "torch", c3)["seconds"]
    print("  where an epoch goes (fresh processes; PyTorch by its profiler's self time):")
    print(f"  {'':<16} {'mathdnn ms':>10} {'PyTorch ms':>10} {'ratio':>6} {'mathdnn faults':>15}")
    for group in (*PRIMITIVES, "engine and SGD"):
        a, b = ours["seconds"].get(group, 0.0), theirs.get(group, 0.0)
        ratio = f"{a / b:.2f}" if b > 0 else "—"
        print(
            f"  {group:<16} {a * 1e3:>10.1f} {b * 1e3:>10.1f} {ratio:>6} "
            f"{ours['faults'].get(group, 0):>15,}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of fresh processes (3)")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per process (5)")
    parser.add_argument("--repeats", type=int, default=5, help="epochs of each the old way (5)")
    parser.add_argument("--quick", action="store_true", help="1 round, 1 epoch: a smoke test")
    parser.add_argument(
        "--c3", nargs="+", choices=("full", "original"), default=["full", "original"]
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, framework, c3, epochs = args.child
        run = child_epochs if what == "epochs" else child_breakdown
        result = run(framework, c3, int(epochs)) if what == "epochs" else run(framework, c3)
        print(json.dumps(result))
        return
    if args.quick:
        args.rounds = args.epochs = args.repeats = 1

    import torch

    import mathdnn

    print(
        f"mathdnn {mathdnn.__version__} ({mathdnn.get_num_threads()} threads), torch "
        f"{torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}; "
        f"{IMAGES:,} images, batch {BATCH}, SGD lr {LR}"
    )
    for c3 in args.c3:
        error = check_agreement(c3)
        if error > 1e-3:
            raise SystemExit(f"bench_lenet.py: c3={c3}: parameters differ after an epoch ({error})")
        print(f"\nC3 {c3} (parameters after one epoch agree to {error:.0e}):")
        fresh_processes(c3, args.rounds, args.epochs)
        breakdown(c3)
        t = old_way(c3, args.repeats)
        print(
            f"  the old way (one process, bundled digits): mathdnn {t['mathdnn'] * 1e3:.0f} ms, "
            f"PyTorch {t['torch'] * 1e3:.0f} ms, ratio {t['mathdnn'] / t['torch']:.2f}"
        )


if __name__ == "__main__":
    main()
