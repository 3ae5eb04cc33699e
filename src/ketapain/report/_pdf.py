"""Render a :class:`Document` as a PDF with fpdf2 (pure Python; no browser).

Layout: a title page (title, subtitle, provenance), then the numbered sections with their
paragraphs, tables (fpdf2's table API; the header repeats on every page a table spans; a
table too wide for a portrait page gets a landscape page and, if needed, a smaller font)
and figures (the PNGs), and a PDF outline (bookmarks) of the sections. Text is set in
DejaVu Sans (shipped with matplotlib), so ±, −, ≥, × and accented letters print.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import matplotlib
from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout, TableCellFillMode, XPos, YPos

import ketapain

from ._document import DisplayTable, Document, FigureBlock, Paragraph, Section, number_document
from ._html import PNG_DPI, _numeric_columns

__all__ = ["render_pdf"]

_FONT = "DejaVu"
_INK = (28, 37, 48)
_MUTED = (91, 103, 118)
_ACCENT = (11, 92, 173)
_ZEBRA = (245, 247, 250)
_GROUP = (232, 238, 246)
_BODY_SIZE = 10.0
_TABLE_SIZES = (8.0, 7.0, 6.0)
_CELL_PAD = 1.2          # mm, left and right padding of a table cell
_MAX_TEXT_COLUMN = 60.0  # mm: a wider cell text wraps within this width


def _font_dir() -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _ReportPDF(FPDF):
    """FPDF with the report's fonts and a page-number footer."""

    def __init__(self, title: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        fonts = _font_dir()
        self.add_font(_FONT, "", str(fonts / "DejaVuSans.ttf"))
        self.add_font(_FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
        self.add_font(_FONT, "I", str(fonts / "DejaVuSans-Oblique.ttf"))
        self.add_font(_FONT, "BI", str(fonts / "DejaVuSans-BoldOblique.ttf"))
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(title)
        self.set_creator(f"ketapain {ketapain.__version__}")
        self.report_title = title

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_FONT, "", 7.5)
        self.set_text_color(*_MUTED)
        self.cell(0, 5, f"{self.report_title}   ·   page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(*_INK)


def _portrait(pdf: _ReportPDF) -> None:
    """Start a portrait page if the current page is landscape (after a wide table).

    fpdf2's ``cur_orientation`` is a ``PageOrientation`` enum that does not compare equal to
    ``"L"`` (2.8.9): compare its ``value``."""
    if pdf.cur_orientation.value == "L":
        pdf.add_page(orientation="portrait")


_HEADING_SIZES = {1: 15.0, 2: 12.5, 3: 11.0}


def _heading_height(level: int) -> float:
    """Height (mm) a heading takes: space above, one line, space below."""
    return (3 if level > 1 else 5) + _HEADING_SIZES[level] * 0.5 + 1.5


def _portrait_epw(pdf: _ReportPDF) -> float:
    return min(pdf.w, pdf.h) - pdf.l_margin - pdf.r_margin


def _first_needs(pdf: _ReportPDF, blocks: tuple[object, ...], pngs: Mapping[str, bytes], level: int) -> tuple[str, float]:
    """The orientation (``"P"`` or ``"L"``) and height (mm) that the first block of a section needs
    on the page of its heading: a table's title and first rows, a figure whole, two lines of a
    paragraph, or a subsection's heading and its own first block."""
    if not blocks:
        return "P", 0.0
    b = blocks[0]
    if isinstance(b, DisplayTable):
        wide = sum(_natural_widths(pdf, b, _TABLE_SIZES[0])) > _portrait_epw(pdf)
        return ("L" if wide else "P"), 30.0
    if isinstance(b, FigureBlock):
        w_px, h_px = _png_size(pngs[b.key])
        w_mm, h_mm = w_px / PNG_DPI * 25.4, h_px / PNG_DPI * 25.4
        scale = min(1.0, _portrait_epw(pdf) / w_mm, (pdf.eph - 30) / h_mm)
        return "P", h_mm * scale + 12
    if isinstance(b, Section):
        orientation, height = _first_needs(pdf, b.blocks, pngs, level + 1)
        return orientation, _heading_height(level + 1) + height
    return "P", 12.0


def _keep_with_next(pdf: _ReportPDF, s: Section, level: int, pngs: Mapping[str, bytes], new_page: bool) -> None:
    """Start the page a heading needs so that it is never left alone at the bottom of a page:
    on a page of the orientation its first block needs, with room for the heading and that block's
    start (a new page when ``new_page``, as every top-level section gets)."""
    orientation, height = _first_needs(pdf, s.blocks, pngs, level)
    if new_page or orientation != pdf.cur_orientation.value or pdf.will_page_break(_heading_height(level) + height):
        pdf.add_page(orientation=orientation)


def _heading(pdf: _ReportPDF, number: str, title: str, level: int) -> None:
    size = _HEADING_SIZES[level]
    if pdf.will_page_break(size * 1.6):
        pdf.add_page(orientation=pdf.cur_orientation.value)
    pdf.ln(3 if level > 1 else 5)
    pdf.start_section(f"{number} {title}", level=level - 1)
    pdf.set_font(_FONT, "B", size)
    pdf.set_text_color(*_ACCENT)
    pdf.multi_cell(0, size * 0.5, f"{number}  {title}", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*_INK)
    pdf.ln(1.5)


def _paragraph(pdf: _ReportPDF, text: str) -> None:
    pdf.set_font(_FONT, "", _BODY_SIZE)
    pdf.multi_cell(0, 5.0, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def _natural_widths(pdf: _ReportPDF, table: DisplayTable, size: float) -> list[float]:
    """Column widths (mm) that fit each body cell on one line and each header word; a column
    of long texts (notes, reasons) is held to :data:`_MAX_TEXT_COLUMN` and wraps. Without the
    cap one long note made its column most of the page, and fpdf2, scaling every column to the
    page, left the others narrower than a character (an FPDFException in the demo report)."""
    widths = []
    for j, head in enumerate(table.header):
        pdf.set_font(_FONT, "B", size)
        w_head = max((pdf.get_string_width(word) for word in head.split()), default=0.0)
        pdf.set_font(_FONT, "", size)
        cells = [row[j] for i, row in enumerate(table.rows) if i not in table.group_rows]
        w_body = max((pdf.get_string_width(c) for c in cells), default=0.0)
        widths.append(max(w_head, min(w_body, _MAX_TEXT_COLUMN), 4.0) + 2 * _CELL_PAD + 0.5)
    return widths


def _fit_widths(widths: list[float], room: float) -> list[float]:
    """``widths`` capped at one width so that they fill ``room``: the narrow columns keep their
    natural width, the widest (long texts, such as a model check's reason) wrap. Scaling every
    column instead squeezed short columns until their words broke.

    Examples
    --------
    >>> _fit_widths([10.0, 20.0, 200.0], 100.0)
    [10.0, 20.0, 70.0]
    >>> _fit_widths([10.0, 20.0], 100.0)
    [10.0, 20.0]
    """
    if sum(widths) <= room:
        return widths
    left, cap = room, room / len(widths)
    for i, w in enumerate(sorted(widths)):
        if w * (len(widths) - i) > left:
            cap = left / (len(widths) - i)
            break
        left -= w
    return [min(w, cap) for w in widths]


def _table(pdf: _ReportPDF, table: DisplayTable) -> None:
    """Draw a table (on a landscape page of its own when too wide for a portrait page)."""
    size = _TABLE_SIZES[0]
    widths = _natural_widths(pdf, table, size)
    # judged against a portrait page's width, as _first_needs judges it (on a landscape page
    # pdf.epw is the landscape width: a table between the two widths would turn back to a
    # portrait page and leave its heading alone at the bottom of the landscape one)
    if sum(widths) > _portrait_epw(pdf):
        landscape_epw = max(pdf.w, pdf.h) - pdf.l_margin - pdf.r_margin   # width of a turned page
        for size in _TABLE_SIZES:
            widths = _natural_widths(pdf, table, size)
            if sum(widths) <= landscape_epw:
                break
        if pdf.cur_orientation.value != "L":
            pdf.add_page(orientation="landscape")
    else:
        _portrait(pdf)
    widths = _fit_widths(widths, pdf.epw)
    total = min(sum(widths), pdf.epw)
    numeric = _numeric_columns(table)
    # title with room for a few rows below it, else start a new page
    pdf.set_font(_FONT, "B", 10)
    if pdf.will_page_break(30):
        pdf.add_page(orientation=pdf.cur_orientation.value)
    pdf.multi_cell(0, 5, table.title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.set_font(_FONT, "", size)
    line = size * 0.5
    with pdf.table(
        width=total,
        col_widths=tuple(widths),
        align="LEFT",
        text_align=tuple("RIGHT" if n else "LEFT" for n in numeric),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        cell_fill_color=_ZEBRA,
        cell_fill_mode=TableCellFillMode.EVEN_ROWS,
        headings_style=FontFace(emphasis="BOLD", size_pt=size),
        line_height=line,
        padding=(0.9, _CELL_PAD),
        repeat_headings=1,
    ) as out:
        out.row(table.header)
        for i, cells in enumerate(table.rows):
            row = out.row()
            if i in table.group_rows:
                row.cell(cells[0], colspan=len(table.header), align="LEFT",
                         style=FontFace(emphasis="BOLD", fill_color=_GROUP, size_pt=size))
            else:
                for c in cells:
                    row.cell(c)
    if table.notes:
        pdf.ln(1)
        pdf.set_font(_FONT, "", 7.5)
        pdf.set_text_color(*_MUTED)
        for note in table.notes:
            pdf.multi_cell(0, 3.8, note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(*_INK)
    pdf.ln(4)


def _figure(pdf: _ReportPDF, block: FigureBlock, png: bytes, size_px: tuple[int, int]) -> None:
    w_mm = size_px[0] / PNG_DPI * 25.4
    h_mm = size_px[1] / PNG_DPI * 25.4
    scale = min(1.0, pdf.epw / w_mm, (pdf.eph - 30) / h_mm)
    w, h = w_mm * scale, h_mm * scale
    pdf.set_font(_FONT, "B", 10)
    if pdf.will_page_break(h + 12):
        pdf.add_page(orientation=pdf.cur_orientation.value)
    pdf.multi_cell(0, 5, block.title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.image(io.BytesIO(png), x=pdf.l_margin + (pdf.epw - w) / 2, w=w, h=h)
    if block.caption:
        pdf.set_font(_FONT, "", 8.5)
        pdf.set_text_color(*_MUTED)
        pdf.multi_cell(0, 4.2, block.caption, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(*_INK)
    pdf.ln(4)


def _png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _provenance(pdf: _ReportPDF, provenance: Mapping[str, str]) -> None:
    if not provenance:
        return
    pdf.set_font(_FONT, "B", 11)
    pdf.cell(0, 7, "Provenance", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, "", 8)
    with pdf.table(col_widths=(1, 3), first_row_as_headings=False, text_align="LEFT",
                   borders_layout=TableBordersLayout.HORIZONTAL_LINES, line_height=4,
                   padding=(0.8, _CELL_PAD)) as out:
        for k, v in provenance.items():
            row = out.row()
            row.cell(k, style=FontFace(emphasis="BOLD"))
            row.cell(v)


def render_pdf(document: Document, pngs: Mapping[str, bytes]) -> bytes:
    """The report as PDF bytes.

    Parameters
    ----------
    document : Document
        A validated document.
    pngs : mapping of str to bytes
        The PNG of every figure, by figure key (from :func:`figure_png`).

    Returns
    -------
    bytes
        A PDF (A4): title page with the provenance, then the sections; tables and figures
        numbered and cross-references resolved (:func:`number_document`).
    """
    document = number_document(document)
    pdf = _ReportPDF(document.title)
    pdf.add_page()
    pdf.ln(30)
    pdf.set_font(_FONT, "B", 22)
    pdf.multi_cell(0, 10, document.title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if document.subtitle:
        pdf.ln(2)
        pdf.set_font(_FONT, "", 13)
        pdf.set_text_color(*_MUTED)
        pdf.multi_cell(0, 6.5, document.subtitle, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(*_INK)
    pdf.ln(12)
    _provenance(pdf, document.provenance)

    def section(s: Section, number: tuple[int, ...]) -> None:
        _keep_with_next(pdf, s, len(number), pngs, new_page=len(number) == 1)
        _heading(pdf, ".".join(map(str, number)), s.title, len(number))
        n_sub = 0
        for b in s.blocks:
            if isinstance(b, Paragraph):
                _portrait(pdf)
                _paragraph(pdf, b.text)
            elif isinstance(b, DisplayTable):
                _table(pdf, b)
            elif isinstance(b, FigureBlock):
                _portrait(pdf)
                _figure(pdf, b, pngs[b.key], _png_size(pngs[b.key]))
            else:
                n_sub += 1
                section(b, (*number, n_sub))

    for i, s in enumerate(document.sections, start=1):
        section(s, (i,))
    return bytes(pdf.output())
