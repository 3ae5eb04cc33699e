"""The HTML report in a real browser (headless Debian Chromium via Playwright), offline."""

from __future__ import annotations

from pathlib import Path

from report_samples import sample_document

from ketapain.report import write_report


def test_report_in_chromium(chromium_page, tmp_path: Path) -> None:
    files = write_report(sample_document(), tmp_path / "report", pdf=False)
    url = files.html.resolve().as_uri()
    requests: list[str] = []

    def route(r) -> None:   # let the report itself load; record and block anything else
        requests.append(r.request.url)
        if r.request.url == url:
            r.continue_()
        else:
            r.abort()

    page = chromium_page
    page.route("**/*", route)
    page.goto(url)
    page.wait_for_load_state("load")
    table = page.locator("table", has=page.locator("caption", has_text="Table 2. Area under the curve"))
    assert table.count() == 1 and table.get_attribute("id") == "table-table2"
    # second body row (the first is the "Average pain" group row), second cell
    assert table.locator("tbody tr").nth(1).locator("td").nth(1).inner_text() == "182.5 ± 27.1"
    assert table.locator("tbody tr.group th").first.inner_text() == "Average pain"
    svg = page.locator("#figure-auc_day35 svg")
    assert svg.is_visible()
    box = svg.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    assert page.locator("#provenance dt").first.inner_text() == "ketapain"
    assert requests == [url]          # the page itself and nothing else (no CDN, font, image...)
