"""write_report: files, HTML content and self-containment, escaping, determinism, CSV, JSON,
atomic replacement, PDF text."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from report_pdftext import page_count, pdf_text
from report_samples import sample_auc, sample_document, table2

import ketapain.report._write as write_module
from ketapain.report import Document, Paragraph, Section, write_report


class _Collect(HTMLParser):
    """Tags with their attributes, text by element id, and inline <style> text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.styles if self._in_style else self.text).append(data)


def _parse(html: str) -> _Collect:
    parser = _Collect()
    parser.feed(html)
    return parser


@pytest.fixture
def written(tmp_path: Path, document: Document):
    return write_report(document, tmp_path / "report")


def test_files_written(written, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert written.html == out / "index.html" and written.pdf == out / "report.pdf"
    assert set(written.tables) == {"table1", "table2", "figure_auc_day35"}
    svg, png = written.figures["auc_day35"]
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # 150 dpi: the PNG's pixel width is the figure's width in inches x 150 (bbox tight: close)
    width_px = int.from_bytes(png.read_bytes()[16:20], "big")
    assert 0.8 * 6.4 * 150 < width_px < 1.1 * 6.4 * 150
    assert sorted(p.name for p in out.iterdir()) == ["figures", "index.html", "report.pdf", "results.json", "tables"]
    assert [p.name for p in tmp_path.iterdir()] == ["report"]     # no temporary folder left
    assert json.loads(json.dumps(written.to_dict()))["pdf"] == str(out / "report.pdf")
    assert "index.html" in written.summary()


def test_every_block_type_round_trips_to_html(written, document: Document) -> None:
    html = written.html.read_text(encoding="utf-8")
    parsed = _parse(html)
    ids = {a.get("id") for _, a in parsed.tags}
    assert {"table-table1", "table-table2", "figure-auc_day35", "provenance", "section-methods",
            "section-statistical-analysis", "section-results", "section-primary-endpoint",
            "section-per-patient"} <= ids
    # numbered headings, nested three deep
    assert re.search(r'<h4><span class="secnum">2\.1\.1</span>Per patient</h4>', html)
    # the table: caption, thead, tbody, group rows as a spanning th
    t2 = html[html.index('id="table-table2"'):html.index("</table>", html.index('id="table-table2"'))]
    assert "<caption>Table 2. Area under the curve of pain (0–10 × days), mean ± SD</caption>" in t2
    assert t2.count('<th scope="colgroup" colspan="4">') == 2
    assert '<td class="num">182.5 ± 27.1</td>' in t2 and "<td>Day 35</td>" in t2
    assert "<li>LOCF at day 35.</li>" in html
    # paragraphs, figure title + caption, inline SVG, provenance
    assert "<p>Randomised, double-blind, three-period crossover.</p>" in html
    assert "<strong>Figure 2. AUC per patient, day 35</strong> Grey lines join" in html
    assert html.count("<svg") == 1 and "<?xml" not in html and "<metadata" not in html
    assert "<dt>data_sha256</dt><dd>" + "ab" * 32 + "</dd>" in html
    # table of contents links to every section
    hrefs = [a["href"] for t, a in parsed.tags if t == "a"]
    assert hrefs == ["#section-methods", "#section-statistical-analysis", "#section-results",
                     "#section-primary-endpoint", "#section-per-patient"]


def test_html_is_self_contained(written) -> None:
    html = written.html.read_text(encoding="utf-8")
    parsed = _parse(html)
    for tag, attrs in parsed.tags:
        assert tag not in {"link", "script", "iframe", "img", "object", "embed"}, tag
        for name, value in attrs.items():
            if name in {"src", "href", "xlink:href", "action", "srcset", "poster"}:
                assert value is not None and (value.startswith(("#", "data:"))), (tag, name, value)
    css = "".join(parsed.styles)
    assert "@media print" in css and "tabular-nums" in css
    assert not re.search(r"url\(|@import", css)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", html, re.IGNORECASE)
    assert "https://" not in html and "http://matplotlib" not in html


def test_text_is_escaped(tmp_path: Path) -> None:
    evil = "<script>alert('x')</script> & \"quotes\""
    doc = sample_document(title=evil)
    doc = dataclasses.replace(doc, sections=(Section(evil, (Paragraph(evil), dataclasses.replace(
        table2(), title=evil, notes=(evil,), rows=(("<b>bold</b>", "", "", ""), *table2().rows[1:])))),))
    files = write_report(doc, tmp_path / "r", pdf=False)
    html = files.html.read_text(encoding="utf-8")
    assert "<script>" not in html and "<b>bold</b>" not in html
    assert html.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;quotes&#34;") >= 6
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_html_is_deterministic(tmp_path: Path) -> None:
    a = write_report(sample_document(), tmp_path / "a", pdf=False).html.read_bytes()
    b = write_report(sample_document(), tmp_path / "b", pdf=False).html.read_bytes()
    assert a == b
    svg_a = (tmp_path / "a" / "figures" / "auc_day35.svg").read_bytes()
    assert svg_a == (tmp_path / "b" / "figures" / "auc_day35.svg").read_bytes()
    assert b"<dc:date>" not in svg_a


def test_csv_equals_data(written, document: Document) -> None:
    back = pd.read_csv(written.tables["table2"])
    pd.testing.assert_frame_equal(back, table2().data)
    fig = pd.read_csv(written.tables["figure_auc_day35"])
    pd.testing.assert_frame_equal(fig, sample_auc())
    assert written.tables["table2"].read_text().splitlines()[0] == "endpoint,treatment,mean,sd"


def test_results_json_verbatim(written, document: Document) -> None:
    assert json.loads(written.results.read_text(encoding="utf-8")) == document.results
    assert list(json.loads(written.results.read_text())["table2"]) == ["p", "n", "missing", "arms"]


def test_existing_report_is_replaced_and_other_files_kept(tmp_path: Path) -> None:
    out = tmp_path / "report"
    write_report(sample_document(title="First"), out)
    (out / "notes.txt").write_text("mine")
    (out / "tables" / "stale.csv").write_text("old")
    steps: list[str] = []
    files = write_report(sample_document(title="Second"), out, pdf=False, on_step=steps.append)
    html = files.html.read_text(encoding="utf-8")
    assert "<h1>Second</h1>" in html and "First" not in html
    assert not (out / "report.pdf").exists() and files.pdf is None      # old PDF would be stale
    assert not (out / "tables" / "stale.csv").exists()                   # tables/ replaced whole
    assert (out / "notes.txt").read_text() == "mine"
    assert steps == ["figures (1)", "tables (2 CSV)", "results.json", "index.html", "replacing the report"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_failure_leaves_old_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report"
    write_report(sample_document(title="Old"), out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(*args: object, **kwargs: object) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(write_module, "render_pdf", broken)
    with pytest.raises(OSError, match="disk full"):
        write_report(sample_document(title="New"), out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_failure_during_swap_restores_old_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report"
    write_report(sample_document(title="Old"), out, pdf=False)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real_rename = os.rename
    calls = {"n": 0}

    def flaky(source: Path, target: Path) -> None:
        calls["n"] += 1
        source = Path(source)
        if source.name == "tables" and source.parent.name.endswith(".tmp"):   # moving the new tables/ in
            raise OSError("interrupted")
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", flaky)
    with pytest.raises(OSError, match="interrupted"):
        write_report(sample_document(title="New"), out, pdf=False)
    monkeypatch.undo()
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before and calls["n"] > 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_out_dir_that_is_a_file(tmp_path: Path) -> None:
    from ketapain.errors import DataError

    (tmp_path / "report").write_text("x")
    with pytest.raises(DataError, match="exists and is not a folder"):
        write_report(sample_document(), tmp_path / "report")


def test_pdf_contains_every_title(written, document: Document) -> None:
    pdf = written.pdf.read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert page_count(pdf) == 3    # title page + one per top-level section
    text = pdf_text(pdf)
    for needle in ("KETAPAIN in silico report", document.subtitle, "1 Methods", "1.1 Statistical analysis",
                   "2.1.1 Per patient", "Table 1. Patients",
                   "Table 2. Area under the curve of pain (0–10 × days), mean ± SD",
                   "Figure 2. AUC per patient, day 35", "182.5 ± 27.1", "≥ 0.05",
                   "café-au-lait note é", "data_sha256 " + "ab" * 32, "page 3 of 3"):
        assert needle in text, needle


def test_pdf_wide_and_long_table(tmp_path: Path) -> None:
    n_cols, n_rows = 14, 120
    header = tuple(f"Column heading {j}" for j in range(n_cols))
    rows = tuple(tuple(f"{i}.{j} (−{j}.5 to {j}.9)" for j in range(n_cols)) for i in range(n_rows))
    table = dataclasses.replace(table2(), key="wide", title="Table 9. A wide, long table", header=header,
                                rows=rows, group_rows=frozenset(), notes=())
    doc = Document(title="Wide", subtitle="", provenance={}, results={},
                   sections=(Section("Wide", (Paragraph("Before."), table, Paragraph("After the wide table."))),))
    pdf = write_report(doc, tmp_path / "r").pdf.read_bytes()
    text = pdf_text(pdf)
    # the header repeats on every page the table spans
    pages = page_count(pdf)
    assert pages >= 5
    assert text.count("Column heading 13") >= pages - 3
    assert "119.13 (−13.5 to 13.9)" in text and "After the wide table." in text
    assert re.search(rb"/MediaBox \[0 0 841.89 595.28\]", pdf)   # a landscape A4 page
    assert re.search(rb"/MediaBox \[0 0 595.28 841.89\]", pdf)   # and portrait pages
