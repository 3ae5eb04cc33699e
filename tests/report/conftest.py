"""Fixtures for the report tests: a sample document with every block type, and a headless
Chromium page (Debian's ``chromium`` driven by Playwright; never a downloaded browser)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))   # report_samples, report_pdftext

from report_samples import sample_document

from ketapain.report import Document


@pytest.fixture
def document() -> Document:
    return sample_document()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run on CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def chromium_page() -> Iterator[object]:
    """A Playwright page in headless Debian Chromium (``/usr/bin/chromium``).

    Skips with the reason when chromium or playwright is missing, unless the environment
    variable ``CI`` is set: then the test fails, so CI never silently loses the browser test.
    """
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("no 'chromium' executable on PATH (Debian package 'chromium')")
    if importlib.util.find_spec("playwright") is None:
        _unavailable("the Python package 'playwright' is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            yield page
            page.close()
        finally:
            browser.close()
