"""``mathdnn hw4``: all of Homework 4 in one folder a student can open, read and share.

Runs every problem of ``mathdnn.hw4.registry`` (``mathdnn.report.build``) and writes OUTDIR
(default ``hw4-report/``): ``index.html``, one self-contained page (``mathdnn.report.render``),
``results.json`` with every
number it shows, and the figures as PNG files. Every argument and input is checked before any
work; the folder is built in memory, written into a temporary folder beside OUTDIR and renamed
into place (``mathdnn.io.write_folder``), so it appears whole or not at all, also on Ctrl-C. An
earlier report at OUTDIR is replaced; any other folder there is left alone. Exit status 0 only
when every check passes; a failing check is named on stderr (and shown in red on the page).
"""

from __future__ import annotations

import argparse
import json
import sys
import webbrowser
from pathlib import Path

from tqdm import tqdm

from mathdnn.command import Command, CommandError, add_mnist_dir, mnist_data, positive_int
from mathdnn.command.images import DEFAULT_MAX_PIXELS, describe
from mathdnn.command.memory import (
    DEFAULT_MAX_MEMORY_GIB,
    add_max_memory,
    check_max_memory,
    check_memory,
)
from mathdnn.hw4.registry import PROBLEMS
from mathdnn.images import image_header
from mathdnn.io import check_writable, write_folder
from mathdnn.report.build import Progress, Report, Section, build, options, prepare, tally
from mathdnn.report.render import render

DEFAULT_OUTPUT = "hw4-report"
# results.json names its maker, so an earlier report is known from any other folder.
MAKER = "mathdnn hw4"


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        default=DEFAULT_OUTPUT,
        metavar="OUTDIR",
        help=f"the report folder (default {DEFAULT_OUTPUT}); an earlier report there is replaced",
    )
    add_mnist_dir(parser)
    parser.add_argument(
        "--image",
        metavar="PATH",
        help="the photograph the problems on images draw on, a PNG or JPEG (default: "
        "matplotlib's sample photograph)",
    )
    add_max_memory(parser, DEFAULT_MAX_MEMORY_GIB, "an --image whose figures")
    for option in options():  # the settings the problems declare
        parser.add_argument(
            f"--{option.name}",
            type=int,
            metavar="N",
            help=f"{option.help} (default {option.full}, or {option.quick} with --quick)",
        )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller experiments (fewer epochs, seeds, timed runs), in a fraction of the time",
    )
    parser.add_argument(
        "--open", action="store_true", help="open the page in the web browser when it is written"
    )


def is_report(folder: Path) -> bool:
    """Whether ``folder`` holds a report of this command (its ``results.json`` says so)."""
    try:
        document = json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("report") == MAKER


def _check_output(value: str) -> Path:
    out = Path(value)
    if out.exists() and not out.is_dir():
        raise CommandError(f"-o: {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not is_report(out):
        raise CommandError(
            f"-o: {out} is a folder, not an mathdnn hw4 report, and it is not empty; give a new "
            "folder (only an earlier report is replaced)"
        )
    return check_writable(out)


def _check_image(value: str | None, max_memory: float) -> Path | None:
    """``--image``, refused from its header when it is too large to process: the problems that
    draw on the photograph (those with an ``image_bytes(header)``, the memory their figures need)
    draw one after the other."""
    if value is None:
        return None
    path = Path(value)
    header = image_header(path)
    if header.pixels > DEFAULT_MAX_PIXELS:
        raise CommandError(
            f"--image: {path.name} is {header.width}×{header.height} = {header.pixels:,} "
            f"pixels, more than {DEFAULT_MAX_PIXELS:,}; give a smaller image"
        )
    drawn = [problem.image_bytes(header) for problem in PROBLEMS if hasattr(problem, "image_bytes")]
    need = max(drawn, default=0)
    check_memory(need, max_memory, f"--image {describe(path.name, header)}", "give a smaller image")
    return path


class _Bar(Progress):
    """A line per problem on stdout, and on a terminal a progress bar on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.bar = tqdm(
            unit=" problem",
            disable=not enabled,
            leave=False,
            bar_format="{desc}: {n_fmt}/{total_fmt} |{bar:20}| {elapsed} {postfix}",
        )

    def step(self, title: str, number: int, total: int) -> None:
        self.bar.total = total
        self.bar.set_description_str(title.partition(":")[0])
        self.bar.set_postfix_str("")

    def note(self, text: str) -> None:
        self.bar.set_postfix_str(text)

    def done(self, section: Section) -> None:
        t = tally(section.checks)
        name = "engine" if section.problem == "engine" else f"Problem {section.problem}"
        checks = f"{t['passed']}/{t['checks']} checks passed"
        checks += f", {t['skipped']} skipped" if t["skipped"] else ""
        tqdm.write(
            f"{name:<10} {checks:<31} {section.seconds:5.1f} s  {section.title}", file=sys.stdout
        )
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def files(report: Report) -> dict[str, bytes]:
    """The folder's content: the page, the numbers, the figures."""
    document = json.dumps(report.document(), indent=2, allow_nan=False) + "\n"
    return {
        "index.html": render(report).encode(),
        "results.json": document.encode(),
        **report.figures,
    }


def run(args: argparse.Namespace) -> int:
    settings = {
        option.name: positive_int(f"--{option.name}", value)
        for option in options()
        if (value := getattr(args, option.name)) is not None
    }
    out = _check_output(args.output)
    image = _check_image(args.image, check_max_memory(args.max_memory))
    inputs = prepare(image, mnist_data(args), args.quick, **settings)

    progress = _Bar(enabled=sys.stderr.isatty())
    try:
        report = build(inputs, progress)
    finally:
        progress.close()
    content = files(report)
    write_folder(out, content)

    counts = report.counts()
    print(
        f"{counts['checks']} checks: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped; {report.seconds:.1f} s"
    )
    print(f"wrote {out / 'index.html'}, results.json and {len(report.figures)} figures")
    for c in report.failed:
        where = "the engine" if c.problem == "engine" else f"Problem {c.problem}"
        print(
            f"mathdnn hw4: check failed: {where}: {c.name} (against {c.reference}: "
            f"max error {c.max_error:.3g}, tolerance {c.tolerance:.3g}, {c.status})",
            file=sys.stderr,
        )
    if args.open:
        webbrowser.open((out / "index.html").resolve().as_uri())
    return 1 if report.failed else 0


COMMAND = Command(
    "hw4",
    help="every problem of Homework 4: run, check, and write a report you can open",
    description="Run every problem of Homework 4 on the sample photograph and the bundled "
    "MNIST subset (no network needed) and write OUTDIR/index.html, one page with each "
    "problem's construction, figures, numbers and checks; OUTDIR/results.json with every "
    "number; and the figures as PNGs. Exit status 0 only if every check passes.",
    arguments=arguments,
    run=run,
)
