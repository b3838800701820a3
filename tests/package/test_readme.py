"""The README's set-up commands are the ones CI runs, its first command is ``mathdnn hw4``, and the
screenshot it opens with is in the repository."""

import re
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = 'python3 -m venv .venv && .venv/bin/pip install ".[test]" && .venv/bin/pytest'
    assert test_command in readme
    assert test_command in ci


def test_the_first_command_writes_the_report():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", readme, re.DOTALL).group(1)
    assert first_block.strip() == (
        "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/mathdnn hw4"
    )


def test_the_readme_opens_with_a_screenshot_of_the_report():
    readme = (ROOT / "README.md").read_text()
    lines = [line for line in readme.splitlines() if line.strip()]
    assert lines[0].startswith("# ")
    image = re.fullmatch(r"!\[[^\]]+\]\(([^)]+)\)", lines[1])
    assert image, lines[1]
    with Image.open(ROOT / image.group(1)) as screenshot:
        assert screenshot.format == "PNG" and screenshot.width >= 1000
