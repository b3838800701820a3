"""``mathdnn grade``: the template, one file (text, JSON, page), a folder (the table, the feedback
of each file), and one-line errors."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mathdnn.cli import main

SOLUTIONS = Path(__file__).parents[1] / "grade" / "solutions"
SIGN_FLIP = """

def finite_difference_filter():
    return -SEED_FILTER()
"""


def strict_json(path: Path):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_the_template_is_written_once_and_graded_as_it_is_scores_0(tmp_path, capsys):
    assert main(["grade", "--template", str(tmp_path)]) == 0
    template = tmp_path / "hw4_solution.py"
    assert f"wrote {template}" in capsys.readouterr().out
    text = template.read_text()
    assert text.count("\n    raise NotImplementedError\n") == 12
    compile(text, str(template), "exec")

    pytest.importorskip("ruff")
    ruff = [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache"]
    lint = subprocess.run(
        [*ruff, "--line-length=100", "--select=E,F,W,I", str(template)],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout  # a file a student's editor shows clean

    assert main(["grade", "--template", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"mathdnn grade: {template} exists already")

    assert main(["grade", str(template)]) == 1
    out, err = capsys.readouterr()
    assert out.count("not implemented: it raises NotImplementedError") == 12
    assert out.rstrip().endswith("score 0 / 7 (0 %)")
    assert "Traceback" not in out + err and err == ""


def test_one_file_prints_its_blocks_and_writes_json_and_a_page(tmp_path, capsys):
    results, page = tmp_path / "out" / "result.json", tmp_path / "feedback.html"
    seed = SOLUTIONS / "seed.py"
    code = main(["grade", str(seed), "--json", str(results), "--html", str(page)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count(": passed") >= 7 + 12
    assert out.rstrip().endswith("score 7 / 7 (100 %)")
    document = strict_json(results)
    assert document["grader"] == "mathdnn grade"
    (submission,) = document["submissions"]
    assert submission["passed"] and submission["percent"] == 100
    assert [p["status"] for p in submission["problems"]] == ["passed"] * 7
    html = page.read_text()
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")
    assert "Problem 7 · the C3 layer of LeNet-5" in html


def test_a_folder_gives_a_table_and_each_file_its_feedback(tmp_path, capsys):
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(SOLUTIONS / "seed.py", folder / "alice.py")
    seed = (SOLUTIONS / "seed.py").read_text()
    bob = seed.replace("def finite_difference_filter", "def SEED_FILTER") + SIGN_FLIP
    (folder / "bob.py").write_text(bob)
    (folder / "notes.txt").write_text("not a submission")
    shutil.copy(SOLUTIONS / "seed.py", folder / "=HYPERLINK(1).py")  # a name like a formula
    out_dir = tmp_path / "grades"
    assert main(["grade", str(folder), "-o", str(out_dir)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["submission", "score", "percent"]
    rows = list(csv.reader((out_dir / "grades.csv").open()))
    assert rows[0] == ["submission", "score", "percent", *(f"problem {k}" for k in range(1, 8))]
    assert rows[1] == ["'=HYPERLINK(1).py", "7", "100", *["passed"] * 7]  # not run as a formula
    assert rows[2] == ["alice.py", "7", "100", *["passed"] * 7]
    assert rows[3] == ["bob.py", "6", "86", "failed", *["passed"] * 6]  # both filters flipped
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "feedback-=HYPERLINK(1).html",
        "feedback-=HYPERLINK(1).txt",
        "feedback-alice.html",
        "feedback-alice.txt",
        "feedback-bob.html",
        "feedback-bob.txt",
        "grades.csv",
        "index.html",
        "results.json",
    ]
    assert "your Y[0, 0, 0] = 1" in (out_dir / "feedback-bob.txt").read_text()
    index = (out_dir / "index.html").read_text()
    assert 'href="#submission-3"' in index and "bob.py" in index
    assert len(strict_json(out_dir / "results.json")["submissions"]) == 3

    (folder / "bob.py").unlink()  # graded again: the earlier grading is replaced
    assert main(["grade", str(folder), "-o", str(out_dir)]) == 0
    assert not (out_dir / "feedback-bob.txt").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "give a solution file or a folder to grade, or --template"),
        (["nowhere.py"], "nowhere.py: no such file or folder"),
        (["EMPTY"], "holds no *.py file to grade"),
        (["EMPTY", "--json", "x.json"], "--json and --html are for one file"),
        (["--template", "x", "y.py"], "give either --template [DIR] or a PATH"),
        (["SEED", "--time-limit", "0"], "--time-limit must be between 0 and 3600 seconds"),
        (["SEED", "--memory-limit", "10"], "--memory-limit must be at least 256 MiB"),
        (["SEED", "--jobs", "0"], "--jobs must be a positive integer"),
        (["SEED", "--seed", "-1"], "--seed must be a non-negative integer"),
    ],
)
def test_a_bad_argument_is_one_line(tmp_path, monkeypatch, capsys, args, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "EMPTY").mkdir()
    args = [str(SOLUTIONS / "seed.py") if a == "SEED" else a for a in args]
    assert main(["grade", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mathdnn grade: ") and says in err and err.count("\n") == 1


def test_an_output_folder_that_is_not_a_grading_is_left_alone(tmp_path, capsys):
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(SOLUTIONS / "seed.py", folder)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    assert main(["grade", str(folder), "-o", str(mine)]) == 2
    assert "not an earlier mathdnn grade" in capsys.readouterr().err
    assert (mine / "thesis.tex").read_text() == "precious"


LEFT_NEIGHBOUR = """

def finite_difference_filter():
    w = np.zeros((2, 1, 3, 3))
    w[0, 0, 1, 1], w[0, 0, 2, 1] = -1, 1
    w[1, 0, 1, 1], w[1, 0, 1, 0] = -1, 1
    return w
"""


def test_the_readme_shows_what_the_grader_prints(tmp_path, capsys):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    students = readme[readme.index("### For students") :]
    example = students[students.index("```text\n") + 8 : students.index("```\n", 20)]
    solution = tmp_path / "hw4_solution.py"
    solution.write_text((SOLUTIONS / "seed.py").read_text() + LEFT_NEIGHBOUR)
    assert main(["grade", str(solution)]) == 1
    out = capsys.readouterr().out
    for line in example.splitlines():
        assert line in out.splitlines(), line
