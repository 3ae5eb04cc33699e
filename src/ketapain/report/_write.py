"""Write a :class:`Document` to a report folder, atomically.

Layout of the folder::

    out_dir/
        index.html                 self-contained HTML (inline CSS and SVG)
        report.pdf                 when pdf=True
        results.json               Document.results, verbatim
        tables/<key>.csv           DisplayTable.data of each table
        tables/figure_<key>.csv    FigureBlock.data of each figure that has data
        figures/<key>.svg          each figure as SVG (glyphs as paths)
        figures/<key>.png          and as PNG (150 dpi)

Everything is built in a temporary folder next to ``out_dir``; only when all files are
written are the report entries of ``out_dir`` (the five names above) swapped for the new
ones by renames (:func:`ketapain._atomic.entries_write`); on any error or interruption the old
report is restored. Other files in ``out_dir`` are left alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ketapain._atomic import entries_write
from ketapain.errors import DataError

from ._document import DisplayTable, Document, FigureBlock, Section, validate_document
from ._format import format_count
from ._html import figure_png, figure_svg, render_html
from ._pdf import render_pdf

__all__ = ["REPORT_ENTRIES", "ReportFiles", "write_report"]

REPORT_ENTRIES: tuple[str, ...] = ("index.html", "report.pdf", "results.json", "tables", "figures")
"""The names in a report folder that :func:`write_report` owns (and replaces)."""


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """Where a report was written.

    Attributes
    ----------
    out_dir : Path
        The report folder.
    html : Path
        ``index.html``.
    pdf : Path or None
        ``report.pdf`` (None when written with ``pdf=False``).
    results : Path
        ``results.json``.
    tables : Mapping[str, Path]
        CSV file per table key (and ``figure_<key>`` per figure with data).
    figures : Mapping[str, tuple[Path, Path]]
        ``(svg, png)`` per figure key.
    """

    out_dir: Path
    html: Path
    pdf: Path | None
    results: Path
    tables: Mapping[str, Path]
    figures: Mapping[str, tuple[Path, Path]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the paths (as text)."""
        return {
            "out_dir": str(self.out_dir), "html": str(self.html),
            "pdf": None if self.pdf is None else str(self.pdf), "results": str(self.results),
            "tables": {k: str(v) for k, v in self.tables.items()},
            "figures": {k: [str(s), str(p)] for k, (s, p) in self.figures.items()},
        }

    def summary(self) -> str:
        """A few lines saying what was written where."""
        lines = [f"Report written to {self.out_dir}", f"  HTML:    {self.html}"]
        if self.pdf is not None:
            lines.append(f"  PDF:     {self.pdf}")
        lines += [f"  results: {self.results}", f"  tables:  {format_count(len(self.tables), 'CSV file')} in {self.out_dir / 'tables'}",
                  f"  figures: {len(self.figures)} SVG + PNG in {self.out_dir / 'figures'}"]
        return "\n".join(lines)


def _blocks(sections: tuple[Section, ...]) -> Iterator[Any]:
    for s in sections:
        for b in s.blocks:
            if isinstance(b, Section):
                yield from _blocks((b,))
            else:
                yield b


def _build(document: Document, folder: Path, *, pdf: bool, step: Callable[[str], None]) -> None:
    """Write every report file into ``folder`` (which exists and is empty)."""
    blocks = list(_blocks(document.sections))
    tables = [b for b in blocks if isinstance(b, DisplayTable)]
    figures = [b for b in blocks if isinstance(b, FigureBlock)]
    (folder / "tables").mkdir()
    (folder / "figures").mkdir()
    step(f"figures ({len(figures)})")
    svgs: dict[str, str] = {}
    pngs: dict[str, bytes] = {}
    for f in figures:
        svgs[f.key] = figure_svg(f.figure, key=f.key)
        pngs[f.key] = figure_png(f.figure)
        (folder / "figures" / f"{f.key}.svg").write_text(svgs[f.key], encoding="utf-8", newline="\n")
        (folder / "figures" / f"{f.key}.png").write_bytes(pngs[f.key])
    step(f"tables ({len(tables)} CSV)")
    for t in tables:
        t.data.to_csv(folder / "tables" / f"{t.key}.csv", index=False, lineterminator="\n")
    for f in figures:
        if f.data is not None:
            f.data.to_csv(folder / "tables" / f"figure_{f.key}.csv", index=False, lineterminator="\n")
    step("results.json")
    text = json.dumps(document.results, indent=2, ensure_ascii=False, allow_nan=False)
    (folder / "results.json").write_text(text + "\n", encoding="utf-8", newline="\n")
    step("index.html")
    (folder / "index.html").write_text(render_html(document, svgs), encoding="utf-8", newline="\n")
    if pdf:
        step("report.pdf")
        (folder / "report.pdf").write_bytes(render_pdf(document, pngs))


def write_report(
    document: Document,
    out_dir: str | os.PathLike[str],
    *,
    pdf: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> ReportFiles:
    """Write a report folder (HTML, PDF, CSV tables, SVG/PNG figures, results.json).

    Parameters
    ----------
    document : Document
        The report. It is validated first (:func:`validate_document`); nothing is
        written when it is invalid.
    out_dir : str or path-like
        The report folder; created with its parents if needed. If it already holds a
        report, its report entries (``index.html``, ``report.pdf``, ``results.json``,
        ``tables/``, ``figures/``) are replaced; other files there are kept.
    pdf : bool, default True
        Also write ``report.pdf`` (an old ``report.pdf`` is removed when False).
    on_step : callable, optional
        Called with a short description before each step (for progress display).

    Returns
    -------
    ReportFiles

    Raises
    ------
    DataError
        The document is invalid (see :func:`validate_document`) or ``out_dir`` is a file.
    TypeError
        A document field has the wrong type.
    OSError
        A file could not be written; the old report, if any, is left as it was.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from ketapain.report import Document, Section, Paragraph, DisplayTable
    >>> table = DisplayTable(key="counts", title="Table 1. Counts", header=("Arm", "n"),
    ...     rows=(("Placebo", "10"),), data=pd.DataFrame({"arm": ["P"], "n": [10]}))
    >>> doc = Document(title="Demo", subtitle="", provenance={"seed": "1"}, results={"n": 10},
    ...     sections=(Section("Results", (Paragraph("Ten patients."), table)),))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     files = write_report(doc, f"{tmp}/report", pdf=False)
    ...     print(files.tables["counts"].read_text())
    arm,n
    P,10
    <BLANKLINE>
    """
    validate_document(document)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder; write_report needs a folder for the report")
    step = on_step if on_step is not None else (lambda _msg: None)
    with entries_write(out, REPORT_ENTRIES) as tmp:
        _build(document, tmp, pdf=pdf, step=step)
        step("replacing the report")
    blocks = list(_blocks(document.sections))
    tables = {b.key: out / "tables" / f"{b.key}.csv" for b in blocks if isinstance(b, DisplayTable)}
    tables |= {f"figure_{b.key}": out / "tables" / f"figure_{b.key}.csv"
               for b in blocks if isinstance(b, FigureBlock) and b.data is not None}
    figures = {b.key: (out / "figures" / f"{b.key}.svg", out / "figures" / f"{b.key}.png")
               for b in blocks if isinstance(b, FigureBlock)}
    return ReportFiles(out_dir=out, html=out / "index.html", pdf=out / "report.pdf" if pdf else None,
                       results=out / "results.json", tables=MappingProxyType(tables),
                       figures=MappingProxyType(figures))
