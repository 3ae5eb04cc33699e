"""Render a :class:`Document` as one self-contained HTML file (inline CSS and SVG)."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

import matplotlib as mpl
from jinja2 import Environment, StrictUndefined, select_autoescape
from markupsafe import Markup
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

import ketapain

from ._document import (
    DisplayTable,
    Document,
    FigureBlock,
    Paragraph,
    Section,
    number_document,
    section_ids,
)

__all__ = ["figure_png", "figure_svg", "inline_svg", "is_numeric_cell", "render_html"]

PNG_DPI = 150
"""Resolution of the PNG figures (dots per inch)."""

_NUMERIC = re.compile(r"[\s<>≤≥=~≈+\-−–±0-9.,;:%()\[\]/×·*†‡^ⁱ]*[0-9][\s<>≤≥=~≈+\-−–±0-9.,;:%()\[\]/×·*eE†‡^]*")
_EMPTY_LIKE = {"", "—", "–", "-", "NA", "n/a", "NE", ".", "not estimable"}
"""Cells that stand for a missing number: a column of numbers and these is still numeric."""


def is_numeric_cell(text: str) -> bool:
    """True if a formatted cell holds a number (``"12.3 (4.5)"``, ``"<0.001"``, ``"−1.2 [−2; 0]"``).

    Examples
    --------
    >>> [is_numeric_cell(s) for s in ("12.3 (4.5)", "<0.001", "−1.2 [−2.0; 0.3]", "Female", "14 (70%)")]
    [True, True, True, False, True]
    """
    return bool(_NUMERIC.fullmatch(text.strip()))


def _numeric_columns(table: DisplayTable) -> list[bool]:
    """A column is numeric (right-aligned) if each of its body cells is a number, a dash or
    "not estimable" (a fit without a number, issue 19)."""
    body = [row for i, row in enumerate(table.rows) if i not in table.group_rows]
    out = []
    for j in range(len(table.header)):
        cells = [row[j].strip() for row in body]
        filled = [c for c in cells if c not in _EMPTY_LIKE]
        out.append(j > 0 and bool(filled) and all(is_numeric_cell(c) for c in filled))
    return out


_RC: dict[RcKeyType, Any] = {"svg.fonttype": "path", "svg.hashsalt": "ketapain", "svg.image_inline": True}


def figure_svg(figure: Figure, *, key: str) -> str:
    """The figure as SVG text: glyphs as paths (no font needed), no date, deterministic ids.

    Element ids are salted with ``key``, so several figures inlined in one HTML page never
    share an id with different content.
    """
    buffer = io.StringIO()
    rc: dict[RcKeyType, Any] = {**_RC, "svg.hashsalt": f"ketapain-{key}"}
    with mpl.rc_context(rc):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buffer.getvalue()


def figure_png(figure: Figure) -> bytes:
    """The figure as PNG bytes at :data:`PNG_DPI` (no software/time metadata)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PNG_DPI, metadata={"Software": None}, bbox_inches="tight")
    return buffer.getvalue()


_DROP = [
    re.compile(r"<\?xml[^>]*\?>\s*"),
    re.compile(r"<!DOCTYPE[^>]*>\s*", re.IGNORECASE),
    re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL),
    re.compile(r"<!--.*?-->\s*", re.DOTALL),
]


def inline_svg(svg: str) -> str:
    """SVG text made fit for inlining in HTML: no XML prolog, doctype, metadata or comments."""
    for pattern in _DROP:
        svg = pattern.sub("", svg)
    return svg.strip()


def _css() -> str:
    return resources.files("ketapain.report").joinpath("static/report.css").read_text(encoding="utf-8")


def _template_source() -> str:
    return resources.files("ketapain.report").joinpath("templates/report.html.j2").read_text(encoding="utf-8")


def _environment() -> Environment:
    return Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                       undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=False,
                       keep_trailing_newline=True)


def _context(document: Document, svgs: Mapping[str, str]) -> dict[str, Any]:
    ids = section_ids(document.sections)

    def section(s: Section, number: tuple[int, ...]) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = []
        n_sub = 0
        for b in s.blocks:
            if isinstance(b, Paragraph):
                blocks.append({"kind": "paragraph", "text": b.text})
            elif isinstance(b, DisplayTable):
                blocks.append({
                    "kind": "table", "key": b.key, "title": b.title, "header": b.header,
                    "rows": [{"group": i in b.group_rows, "cells": row} for i, row in enumerate(b.rows)],
                    "notes": b.notes, "numeric": _numeric_columns(b),
                })
            elif isinstance(b, FigureBlock):
                blocks.append({"kind": "figure", "key": b.key, "title": b.title, "caption": b.caption,
                               "svg": Markup(inline_svg(svgs[b.key]))})
            else:
                n_sub += 1
                blocks.append({"kind": "section", **section(b, (*number, n_sub))})
        return {"id": ids[number], "number": ".".join(map(str, number)), "level": len(number),
                "title": s.title, "blocks": blocks,
                "children": [blk for blk in blocks if blk["kind"] == "section"]}

    sections = [section(s, (i,)) for i, s in enumerate(document.sections, start=1)]
    return {"doc": document, "sections": sections, "css": Markup(_css()),
            "provenance": list(document.provenance.items()), "version": ketapain.__version__}


def render_html(document: Document, svgs: Mapping[str, str]) -> str:
    """The report as one HTML page.

    Parameters
    ----------
    document : Document
        A validated document (see :func:`validate_document`).
    svgs : mapping of str to str
        The SVG text of every figure, by figure key (from :func:`figure_svg`).

    Returns
    -------
    str
        HTML5 text: inline CSS, figures as inline SVG, no external resource; all document
        text escaped; tables and figures numbered and cross-references resolved
        (:func:`number_document`). The same document and SVGs give the same text.
    """
    template = _environment().from_string(_template_source())
    return template.render(**_context(number_document(document), svgs))
