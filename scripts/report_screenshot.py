"""The top of a report written by ``mathdnn hw4`` as a PNG, for the README (``docs/report.png``):
the title, the summary and the contents, 1200 px wide, as headless Chromium draws them.

Run: ``mathdnn hw4 -o /tmp/hw4-report && python scripts/report_screenshot.py /tmp/hw4-report
docs/report.png``. Needs the ``playwright`` package (the test extra) and Debian's ``chromium``.
"""

from __future__ import annotations

import argparse
import io
import shutil
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

WIDTH = 1200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="the folder mathdnn hw4 wrote")
    parser.add_argument("png", type=Path, help="the PNG to write")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
        page.goto((args.report / "index.html").resolve().as_uri(), wait_until="load")
        box = page.locator("nav.contents").bounding_box()
        png = page.screenshot(
            clip={"x": 0, "y": 0, "width": WIDTH, "height": box["y"] + box["height"] + 24}
        )
        browser.close()
    # A palette of 256 colours: the page is flat colour and text, so a few times smaller.
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(256)
    image.save(args.png, optimize=True)
    print(f"wrote {args.png} ({image.width}×{image.height}, {args.png.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
