"""``mathdnn hw4 --quick`` end to end: the folder it writes, ``results.json`` (strict JSON, the same
checks as ``mathdnn verify``), ``index.html`` (self-contained, a section and a verification table
per problem, failing rows in red, data escaped, formulas as MathML), and the page rendered in a
real browser (headless Chromium: every image loads, no console error; at 1280 px nothing
overflows and every figure's text is at least 10 px as displayed; at 420 px the page does not
scroll sideways, wide tables and formulas scroll in their own box)."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import shutil
from html.parser import HTMLParser

import pytest
from markupsafe import escape
from PIL import Image

from mathdnn.check import Check
from mathdnn.hw4.figures import SMALLEST_TEXT
from mathdnn.hw4.registry import PROBLEMS
from mathdnn.report.build import statement
from mathdnn.report.render import prose, render
from mathdnn.verify import run_all

SECTIONS = [f"problem-{k}" for k in range(1, 8)] + ["engine"]


class Page(HTMLParser):
    """What a test needs of the page: the sections (by id) with the rows of their verification
    tables (their classes and texts), every image's ``src``, every ``href``, and the tags used."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: dict[str, list[tuple[str, str]]] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self.tags: set[str] = set()
        self._section: str | None = None
        self._in_checks = False
        self._row: list[str] | None = None
        self._row_class = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "section" and a.get("id") in SECTIONS:
            self._section = a["id"]
            self.sections[self._section] = []
        elif tag == "table" and a.get("class") == "checks":
            self._in_checks = True
        elif tag == "tr" and self._in_checks and self._section:
            self._row, self._row_class = [], a.get("class", "")
        elif tag == "img":
            self.images.append(a.get("src", ""))
        if "href" in a:
            self.links.append(a["href"])

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_checks = False
        elif tag == "tr" and self._row is not None:
            if self._row_class:  # the header row has no class
                self.sections[self._section].append((self._row_class, "".join(self._row)))
            self._row = None

    def handle_data(self, data):
        if self._row is not None:
            self._row.append(data)


def _refuse(constant):
    raise AssertionError(f"results.json is not strict JSON: it holds {constant}")


def test_the_folder_holds_the_page_the_numbers_and_each_figure(quick):
    out, report = quick["out"], quick["report"]
    assert quick["status"] == 0
    figures = sorted(report.figures)
    assert len(figures) >= 10
    assert sorted(p.name for p in out.iterdir()) == sorted(["index.html", "results.json", *figures])
    for name in figures:
        assert (out / name).read_bytes() == report.figures[name]
        with Image.open(out / name) as image:
            assert image.format == "PNG" and min(image.size) > 100
    assert [p.name for p in out.parent.iterdir()] == ["report"]  # no temporary left
    printed = quick["stdout"]
    for k in range(1, 8):
        assert f"Problem {k} " in printed
    counts = report.counts()  # without PyTorch its rows are skipped, neither passed nor failed
    assert counts["failed"] == 0 and counts["passed"] + counts["skipped"] == counts["checks"]
    assert f"{counts['checks']} checks: {counts['passed']} passed, 0 failed" in printed


def test_results_json_is_strict_and_holds_the_checks_of_mathdnn_verify(quick):
    doc = json.loads((quick["out"] / "results.json").read_text(), parse_constant=_refuse)
    assert doc["report"] == "mathdnn hw4" and doc["options"]["quick"] is True
    assert list(doc["problems"]) == ["1", "2", "3", "4", "5", "6", "7", "engine"]
    checks = [c for p in doc["problems"].values() for c in p["checks"]]
    verify = run_all(0)
    assert sorted((c["problem"], c["name"], c["reference"]) for c in checks) == sorted(
        (c.problem, c.name, c.reference) for c in verify
    )
    skipped = sum(c.skipped for c in verify)  # PyTorch's rows, where PyTorch is missing
    assert doc["summary"] == {
        "checks": len(verify),
        "passed": len(verify) - skipped,
        "failed": 0,
        "skipped": skipped,
    }
    assert all(c["passed"] for c in checks)
    assert doc["figures"] == sorted(quick["report"].figures)
    # The numbers behind the page: Problem 7's counts, Problem 5's seeds, Problem 4's timings.
    counts = doc["problems"]["7"]["parameters"]
    assert counts["full"]["network_from_model"] == 61_706
    assert counts["original"]["network_from_model"] == 60_806
    assert doc["problems"]["5"]["config"]["seeds"] == doc["options"]["seeds"] == 2
    assert len(doc["problems"]["5"]["kl"]["test_accuracy"]) == 2
    rewrite = doc["problems"]["4"]["rewrite"]
    assert rewrite["evaluations_per_image"] == {"before": 18816, "after": 4704, "ratio": 4.0}
    for timing in rewrite["seconds"].values():
        assert len(timing["before"]) == len(timing["after"]) == rewrite["repeats"]
        assert timing["best_before"] == min(timing["before"])
        assert timing["saving"] == pytest.approx(1 - timing["best_after"] / timing["best_before"])


def test_the_page_is_self_contained_with_a_checked_section_per_problem(quick):
    text = (quick["out"] / "index.html").read_text()
    page = Page(text)
    assert list(page.sections) == SECTIONS
    report = quick["report"]
    for section in report.sections:
        rows = page.sections[
            "engine" if section.problem == "engine" else f"problem-{section.problem}"
        ]
        assert len(rows) == len(section.checks) > 0
        assert all(cls in ("pass", "xfail", "skip") for cls, _ in rows)
    # Every figure embedded, nothing fetched: no script, no stylesheet link, only local anchors.
    prefix = "data:image/png;base64,"
    assert len(page.images) == len(report.figures)
    embedded = sorted(base64.b64decode(src.removeprefix(prefix)) for src in page.images)
    assert all(src.startswith(prefix) for src in page.images)
    assert embedded == sorted(report.figures.values())
    assert {"script", "link", "iframe"}.isdisjoint(page.tags)
    assert all(href.startswith("#") for href in page.links)
    assert "@import" not in text and "url(" not in text
    # The question and answer are each problem's docstring; the formulas are MathML.
    for problem in PROBLEMS:
        for paragraph in statement(problem):
            for kind, value in prose(paragraph):
                assert kind in ("text", "code") and str(escape(value)) in text
    assert text.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">') > 10
    counts = report.counts()
    if counts["skipped"]:  # without PyTorch
        assert f"✓ {counts['passed']} checks passed, {counts['skipped']} skipped" in text
    else:
        assert f"All {len(report.checks)} checks passed" in text


def test_a_failing_check_is_red_named_at_the_top_and_escaped(quick):
    report = quick["report"]
    bad = Check("1", "<script>alert(1)</script> identity", "formula & loop", 0.5, 1e-12)
    first = dataclasses.replace(report.sections[0], checks=[*report.sections[0].checks, bad])
    failing = dataclasses.replace(report, sections=[first, *report.sections[1:]])
    text = render(failing)
    page = Page(text)
    rows = page.sections["problem-1"]
    assert rows[-1][0] == "fail" and "✗ FAIL" in rows[-1][1]
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "formula &amp; loop" in text
    assert f"1 of {len(report.checks) + 1} checks FAILED" in text
    assert '<section class="summary bad"' in text


# ------------------------------------------------------------------------- in a real browser
def _browser():
    """Playwright and Debian's Chromium, or the reason to skip."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install '.[test]' in the mathdnn checkout)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium; .ci/run does)")
    return sync_playwright, chromium


# Per figure on the page: its width as drawn and as displayed, and the PNG it shows.
FIGURES = """Array.from(document.images, i => [i.complete ? i.naturalWidth : 0, i.clientWidth,
                                          i.src])"""


def _open(browser, index, width: int, errors: list[str]):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(index.resolve().as_uri(), wait_until="load")
    return page


def test_the_page_in_headless_chromium(quick, tmp_path, capsys):
    sync_playwright, chromium = _browser()
    index = quick["out"] / "index.html"
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = _open(browser, index, 1280, errors)
            figures = page.evaluate(FIGURES)
            sections = page.evaluate(
                "Array.from(document.querySelectorAll('section.problem'), s => "
                "[s.id, s.querySelectorAll('table.checks tbody tr').length])"
            )
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            formulas = page.evaluate("document.querySelectorAll('math').length")
            page.screenshot(path=str(tmp_path / "hw4-report-1280.png"), full_page=True)
            narrow = _open(browser, index, 420, errors)
            narrow_overflow = narrow.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            # What is wider than the window scrolls inside its own box.
            boxes = narrow.evaluate(
                "Array.from(document.querySelectorAll('.scroll, .formula'), b => "
                "[b.scrollWidth > b.clientWidth, getComputedStyle(b).overflowX])"
            )
            narrow.screenshot(path=str(tmp_path / "hw4-report-420.png"), full_page=True)
        finally:
            browser.close()
    with capsys.disabled():
        print(f"\nscreenshots of the report: {tmp_path}/hw4-report-{{1280,420}}.png")
    assert errors == []
    report = quick["report"]
    assert len(figures) == len(report.figures) and all(w > 0 for w, _, _ in figures)
    expected = {
        ("engine" if s.problem == "engine" else f"problem-{s.problem}"): len(s.checks)
        for s in report.sections
    }
    assert dict(sections) == expected
    assert overflow <= 0  # no table or figure wider than the page
    assert formulas > 20
    # Every figure's smallest text, as recorded in its PNG, is at least 10 px as displayed.
    prefix = "data:image/png;base64,"
    for natural, shown, src in figures:
        with Image.open(io.BytesIO(base64.b64decode(src.removeprefix(prefix)))) as png:
            smallest = float(png.text[SMALLEST_TEXT])
        assert smallest * shown / natural >= 10, (smallest, shown, natural)
    assert narrow_overflow <= 0
    assert any(wide for wide, _ in boxes)  # some table or formula is wider than 420 px ...
    assert all(style == "auto" for wide, style in boxes if wide)  # ... and scrolls in its box
    with Image.open(tmp_path / "hw4-report-1280.png") as image:
        assert image.width == 1280 and image.height > 5000
    with Image.open(tmp_path / "hw4-report-420.png") as image:
        assert image.width == 420


def test_skipped_checks_are_counted_apart_with_their_reason(quick):
    report = quick["report"]
    note = (
        "PyTorch is not installed (pip install '.[test]' in the mathdnn checkout to run this check)"
    )
    skipped = Check(
        "1", "against <torch>", "PyTorch", float("nan"), 1e-10, detail=note, skipped=True
    )
    first = dataclasses.replace(report.sections[0], checks=[*report.sections[0].checks, skipped])
    text = render(dataclasses.replace(report, sections=[first, *report.sections[1:]]))
    counts = report.counts()
    assert f"✓ {counts['passed']} checks passed, {counts['skipped'] + 1} skipped" in text
    assert (
        "Skipped: PyTorch is not installed (pip install &#39;.[test]&#39; in the mathdnn checkout"
        in text
    )
    rows = Page(text).sections["problem-1"]
    assert rows[-1][0] == "skip" and "—" in rows[-1][1]
    assert '<section class="summary ok"' in text
