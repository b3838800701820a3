"""``mathdnn grade``: a student's Homework 4 checked problem by problem, with a counterexample
for every mistake; a teacher's folder of submissions graded into one table.

``mathdnn grade --template [DIR]`` writes ``DIR/hw4_solution.py`` (default: here), every function
a stub. ``mathdnn grade FILE`` grades one file: one block per problem on stdout, then the score;
``--json PATH`` and ``--html PATH`` write the same as strict JSON and as a page.
``mathdnn grade DIR`` grades every ``*.py`` in DIR and writes OUTDIR (``-o``, default
``hw4-grades/``): ``grades.csv`` (one row per submission, one column per problem), ``index.html``
(the table and every submission's feedback), ``results.json``, and each submission's feedback as
``feedback-NAME.txt`` and ``feedback-NAME.html``. Submissions run in child processes
(``mathdnn.grade``), never in this one. The exit status is 0 only when everything passes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mathdnn import __version__
from mathdnn.command import Command, CommandError, positive_int, seed
from mathdnn.grade import feedback, page
from mathdnn.grade.run import Settings, SubmissionResult, exercises, grade_files
from mathdnn.grade.sandbox import Limits
from mathdnn.grade.template import FILE_NAME, write_template
from mathdnn.io import atomic_write, check_writable, write_folder, write_json

DEFAULT_OUTPUT = "hw4-grades"
# results.json names its maker, so an earlier grading is known from any other folder.
MAKER = "mathdnn grade"


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="a solution file, or a folder of them (every *.py in it)",
    )
    parser.add_argument(
        "--template",
        nargs="?",
        const=".",
        metavar="DIR",
        help=f"write {FILE_NAME}, every function a stub to fill in, into DIR (default: here)",
    )
    parser.add_argument("--json", metavar="PATH", help="write the result of one file as JSON")
    parser.add_argument("--html", metavar="PATH", help="write the feedback on one file as a page")
    parser.add_argument(
        "-o",
        "--output",
        default=DEFAULT_OUTPUT,
        metavar="OUTDIR",
        help=f"with a folder: where the table and the feedback go (default {DEFAULT_OUTPUT}); an "
        "earlier grading there is replaced",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=Limits.time,
        metavar="SECONDS",
        help=f"seconds each function may take, all its calls together (default {Limits.time:g})",
    )
    parser.add_argument(
        "--memory-limit",
        type=int,
        default=Limits.memory // 2**20,
        metavar="MIB",
        help=f"memory of a submission's process in MiB (default {Limits.memory // 2**20})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs tried (default 0)")
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="problems graded at the same time (default: the number of processors)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    if not 0 < args.time_limit <= 3600:
        raise CommandError(
            f"--time-limit must be between 0 and 3600 seconds, got {args.time_limit}"
        )
    memory = positive_int("--memory-limit", args.memory_limit)
    if memory < 256:
        raise CommandError(f"--memory-limit must be at least 256 MiB, got {memory}")
    limits = Limits(time=args.time_limit, memory=memory * 2**20)
    return Settings(limits=limits, seed=seed("--seed", args.seed))


def document(results: list[SubmissionResult], settings: Settings) -> dict[str, Any]:
    """The whole result as one JSON document."""
    limits = settings.limits
    return {
        "grader": MAKER,
        "mathdnn": __version__,
        "seed": settings.seed,
        "limits": {
            "seconds_per_function": limits.time,
            "memory_bytes": limits.memory,
            "output_bytes": limits.output,
            "answer_bytes": limits.answer,
        },
        "submissions": [r.to_json() for r in results],
    }


def is_grading(folder: Path) -> bool:
    """Whether ``folder`` holds an earlier grading of this command (its results.json says so)."""
    try:
        earlier = json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(earlier, dict) and earlier.get("grader") == MAKER


def _check_output(value: str) -> Path:
    out = Path(value)
    if out.exists() and not out.is_dir():
        raise CommandError(f"-o: {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not is_grading(out):
        raise CommandError(
            f"-o: {out} is a folder, not an earlier mathdnn grade, and it is not empty; give a "
            "new folder (only an earlier grading is replaced)"
        )
    return check_writable(out)


def _grade(paths: list[Path], settings: Settings, jobs: int | None) -> list[SubmissionResult]:
    total = len(paths) * len(exercises())
    with tqdm(total=total, unit=" problem", disable=not sys.stderr.isatty(), leave=False) as bar:
        return grade_files(paths, settings, jobs, done=lambda: bar.update(1))


def _one_file(path: Path, args: argparse.Namespace, settings: Settings, jobs: int | None) -> int:
    for value in (args.json, args.html):
        if value is not None:
            check_writable(value)
    (result,) = _grade([path], settings, jobs)
    print(feedback.text(result), end="")
    if args.json is not None:
        write_json(args.json, document([result], settings))
    if args.html is not None:
        html = page.render([result], settings).encode()
        atomic_write(args.html, lambda f: f.write(html))
    return 0 if result.passed else 1


def _folder(folder: Path, args: argparse.Namespace, settings: Settings, jobs: int | None) -> int:
    if args.json is not None or args.html is not None:
        raise CommandError(
            "--json and --html are for one file; a folder's results go to -o OUTDIR "
            "(results.json, index.html)"
        )
    paths = sorted(p for p in folder.glob("*.py") if p.is_file())
    if not paths:
        raise CommandError(f"{folder} holds no *.py file to grade")
    out = _check_output(args.output)
    results = _grade(paths, settings, jobs)
    files = {
        "grades.csv": feedback.csv_text(results).encode(),
        "results.json": (
            json.dumps(document(results, settings), indent=2, allow_nan=False) + "\n"
        ).encode(),
        "index.html": page.render(results, settings).encode(),
    }
    for result in results:
        stem = Path(result.name).stem
        files[f"feedback-{stem}.txt"] = feedback.text(result).encode()
        files[f"feedback-{stem}.html"] = page.render([result], settings).encode()
    write_folder(out, files)
    print(feedback.table_text(results), end="")
    print(f"wrote {out / 'grades.csv'}, index.html, results.json and the feedback of each file")
    return 0 if all(r.passed for r in results) else 1


def run(args: argparse.Namespace) -> int:
    jobs = None if args.jobs is None else positive_int("--jobs", args.jobs)
    if args.template is not None:
        if args.path is not None:
            raise CommandError("give either --template [DIR] or a PATH to grade, not both")
        path = write_template(args.template, exercises())
        print(f"wrote {path}: fill in its functions, then run: mathdnn grade {path}")
        return 0
    if args.path is None:
        raise CommandError("give a solution file or a folder to grade, or --template")
    settings = _settings(args)
    path = Path(args.path)
    if path.is_dir():
        return _folder(path, args, settings, jobs)
    if not path.is_file():
        raise CommandError(f"{path}: no such file or folder")
    return _one_file(path, args, settings, jobs)


COMMAND = Command(
    "grade",
    help="grade a Homework 4 solution file (or a folder of them), with a counterexample for "
    "every mistake",
    description="Grade hw4_solution.py, a student's Homework 4: each function is called in a "
    "child process on many inputs and checked against the problem's identity; a mistake "
    "comes back as the smallest input on which it fails. With a folder, grade every *.py in "
    "it into one table. Exit status 0 only when everything passes.",
    arguments=arguments,
    run=run,
)
