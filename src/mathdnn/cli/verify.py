"""``mathdnn verify``: run every self-check and print a table; exit 0 only if all pass."""

from __future__ import annotations

import argparse

from mathdnn.command import Command, seed
from mathdnn.verify import run_all


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the random test tensors (default 0)"
    )


def run(args: argparse.Namespace) -> int:
    checks = run_all(seed("--seed", args.seed))
    width = max(len(c.name) for c in checks)
    against = max(len(c.reference) for c in checks)
    print(
        f"{'problem':<10} {'check':<{width}} {'reference':<{against}} {'max error':>10} "
        f"{'tolerance':>10}  status"
    )
    for c in checks:
        error = "-" if c.skipped else f"{c.max_error:.2e}"
        print(
            f"{c.problem:<10} {c.name:<{width}} {c.reference:<{against}} {error:>10} "
            f"{c.tolerance:>10.1e}  {c.status}"
        )
        if c.detail:
            print(f"{'':<10} {c.detail}")
    failed = sum(not c.passed for c in checks)
    skipped = sum(c.skipped for c in checks)
    print(f"{len(checks) - failed - skipped} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


COMMAND = Command(
    "verify",
    help="check every identity two independent ways and print a table",
    description="Run mathdnn's self-checks (the engine's fast paths against its formulas, the "
    "formulas against loop references, finite differences and PyTorch, and the homework's "
    "identities) and print problem, check, reference, max error and pass/fail. Exit status "
    "0 only if every check passes.",
    arguments=arguments,
    run=run,
)
