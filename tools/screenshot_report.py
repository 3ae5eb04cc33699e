"""Screenshot a report's index.html with Debian's Chromium (Playwright), for the README.

Usage: python tools/screenshot_report.py REPORT_DIR/index.html OUT.png [--anchor table-table2] [--height 1400]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("html", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--anchor", default="", help="element id to scroll to before the shot")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1400)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium not found (Debian: apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(args.html.resolve().as_uri())
        if args.anchor:
            page.locator(f"#{args.anchor}").evaluate("el => el.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(args.out))
        browser.close()


if __name__ == "__main__":
    main()
