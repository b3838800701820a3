"""One conv2d layer's training step in a fresh process: the rule's kernel against the formula,
on one thread and on two, with the page faults of each step.

    python benchmarks/bench_fresh_layer.py [--rounds 3] [--steps 30] [--quick]

In a process that has allocated little so far, glibc serves each large temporary with fresh pages
from the operating system, which fault and are zeroed when first written; in one that has, it may
reuse memory it kept. So a kernel's speed in a long benchmark process (``bench_kernels.py``) can
differ from its speed in a user's fresh ``mathdnn train``. Here every measurement is a new process:
the layer (LeNet-5's C1 in training: batch 100, 1→6 channels, 5×5, padding 2, no gradient for
the images), 5 warm-up steps, then ``--steps`` timed steps, forward and VJP; the fast path as the
rule picks it (``mathdnn.kernels.conv2d_kernel``), or the formula in its place (the same chunks and
threads, ``conv2d_formula`` as the kernel). The processes alternate in rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = """
import json, resource, sys, time
import numpy as np
import mathdnn, mathdnn.functional as F, mathdnn.kernels as kernels
from mathdnn.functional.conv import conv2d_formula
if sys.argv[1] == "formula":
    kernels.conv2d_unfold = conv2d_formula  # the rule's choice for this layer, replaced
rng = np.random.default_rng(0)
x = mathdnn.tensor(rng.standard_normal((100, 1, 28, 28), dtype=np.float32))
w = mathdnn.tensor(rng.standard_normal((6, 1, 5, 5), dtype=np.float32), requires_grad=True)
b = mathdnn.tensor(np.zeros(6, np.float32), requires_grad=True)
g = np.ones((100, 6, 28, 28), np.float32)
def step():
    F.conv2d(x, w, b, padding=2).backward(g)
for _ in range(5):
    step()
steps = int(sys.argv[2])
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
began = time.perf_counter()
for _ in range(steps):
    step()
seconds = (time.perf_counter() - began) / steps
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps
print(json.dumps({"ms": seconds * 1e3, "faults": faults}))
"""


def in_fresh_process(kernel: str, threads: int, steps: int) -> dict[str, float]:
    env = {**os.environ, "MATHDNN_NUM_THREADS": str(threads)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kernel, str(steps)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of fresh processes (3)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per process (30)")
    parser.add_argument("--quick", action="store_true", help="1 round of 3 steps: a smoke test")
    args = parser.parse_args()
    rounds, steps = (1, 3) if args.quick else (args.rounds, args.steps)
    print("LeNet C1 training step (batch 100), each measurement a fresh process")
    print(f"{'kernel':<28}{'threads':>8}{'ms a step':>22}{'faults a step':>16}")
    for threads in (1, 2):
        samples: dict[str, list[dict[str, float]]] = {"unfold (the rule's)": [], "formula": []}
        for _ in range(rounds):
            for kernel in samples:
                samples[kernel].append(in_fresh_process(kernel.split()[0], threads, steps))
        for kernel, runs in samples.items():
            ms = [r["ms"] for r in runs]
            faults = statistics.median(r["faults"] for r in runs)
            spread = f"{statistics.median(ms):.2f} ({min(ms):.2f}–{max(ms):.2f})"
            print(f"{kernel:<28}{threads:>8}{spread:>22}{faults:>16.0f}", flush=True)


if __name__ == "__main__":
    main()
