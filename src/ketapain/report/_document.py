"""The report's document model: a title, numbered sections of blocks, provenance, results.

A :class:`Document` is plain data: sections hold paragraphs, display tables, figures and
nested sections (at most three levels). The writers (HTML, PDF, CSV, SVG/PNG, JSON) only
read it; :func:`validate_document` checks everything they rely on before a file is written.

Tables and figures marked ``numbered`` are numbered when the document is rendered
(:func:`number_document`), in order of appearance, one sequence for tables and one for
figures: whatever subset a report shows, they read Table 1, 2, 3... Text refers to them by
key, ``{table:table2}`` or ``{figure:consort}``, and the reference becomes ``Table 2`` (the
number the block got) in every writer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from ketapain.errors import DataError

__all__ = [
    "Block",
    "DisplayTable",
    "Document",
    "FigureBlock",
    "MAX_SECTION_DEPTH",
    "Paragraph",
    "REFERENCE",
    "Section",
    "number_document",
    "section_ids",
    "validate_document",
    "walk",
]

MAX_SECTION_DEPTH = 3
"""Deepest allowed nesting of sections (a top-level section has depth 1)."""

KEY_PATTERN = re.compile(r"[a-z0-9_]+")
SECTION_KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
RESERVED_SECTION_KEY = "provenance"   # the provenance block's anchor
REFERENCE = re.compile(r"\{(table|figure):([a-z0-9_]+)\}")
"""A cross-reference in text: ``{table:<key>}`` or ``{figure:<key>}`` (see :func:`number_document`)."""


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A paragraph of plain text (the renderers escape it)."""

    text: str


@dataclass(frozen=True, slots=True)
class DisplayTable:
    """A formatted table with the tidy numbers behind it.

    Attributes
    ----------
    key : str
        ``[a-z0-9_]+``, unique among the document's tables: the file ``tables/<key>.csv``
        and the HTML id ``table-<key>``.
    title : str
        Shown as the caption, e.g. ``"Area under the curve of pain"`` (shown as ``"Table 2.
        Area under the curve of pain"`` when ``numbered``).
    header : tuple of str
        Column headings.
    rows : tuple of tuple of str
        Formatted cell text; every row has ``len(header)`` cells.
    data : DataFrame
        The tidy numeric data behind the table, written as ``tables/<key>.csv``.
    notes : tuple of str
        Footnotes shown under the table.
    group_rows : frozenset of int
        Indices of rows that are sub-headings: their first cell spans the row and their
        other cells must be empty.
    numbered : bool
        Numbered when rendered (:func:`number_document`): ``Table n.`` before the title.
    """

    key: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    data: pd.DataFrame
    notes: tuple[str, ...] = ()
    group_rows: frozenset[int] = field(default_factory=frozenset)
    numbered: bool = False


@dataclass(frozen=True, slots=True)
class FigureBlock:
    """A matplotlib figure with its title, caption and (optionally) the numbers behind it.

    Attributes
    ----------
    key : str
        ``[a-z0-9_]+``, unique among the document's figures: ``figures/<key>.svg`` and
        ``.png``, HTML id ``figure-<key>``; ``data`` goes to ``tables/figure_<key>.csv``.
    title, caption : str
        Shown above/under the figure.
    figure : matplotlib.figure.Figure
        The figure (drawn with the object API; see :mod:`ketapain.report._figures`).
    data : DataFrame or None
        The numbers the figure shows.
    numbered : bool
        Numbered when rendered (:func:`number_document`): ``Figure n.`` before the title.
    """

    key: str
    title: str
    caption: str
    figure: Figure
    data: pd.DataFrame | None = None
    numbered: bool = False


@dataclass(frozen=True, slots=True)
class Section:
    """A numbered section: a title and its blocks (sections nest at most three deep).

    ``key`` is the anchor id (``[a-z0-9][a-z0-9_-]*``); when empty it is derived from the
    title (lower case, runs of other characters replaced by ``-``).
    """

    title: str
    blocks: tuple[Block, ...]
    key: str = ""


Block = Paragraph | DisplayTable | FigureBlock | Section
"""Anything a section can hold."""


@dataclass(frozen=True, slots=True)
class Document:
    """A whole report.

    Attributes
    ----------
    title, subtitle : str
        Shown at the top (and on the PDF's title page).
    sections : tuple of Section
        The numbered top-level sections.
    provenance : Mapping[str, str]
        Shown as the provenance block (see :func:`ketapain.report.provenance`).
    results : Mapping[str, Any]
        JSON-safe (dicts with text keys, lists, text, finite numbers, booleans, None);
        written verbatim as ``results.json``.
    """

    title: str
    subtitle: str
    sections: tuple[Section, ...]
    provenance: Mapping[str, str]
    results: Mapping[str, Any]


def walk(sections: tuple[Section, ...]) -> Iterator[tuple[tuple[int, ...], Section]]:
    """Yield ``(number, section)`` depth-first; ``number`` is e.g. ``(2, 1)`` for 2.1."""

    def rec(items: tuple[Section, ...], prefix: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], Section]]:
        n = 0
        for item in items:
            if isinstance(item, Section):
                n += 1
                yield (*prefix, n), item
                yield from rec(tuple(b for b in item.blocks if isinstance(b, Section)), (*prefix, n))

    yield from rec(sections, ())


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug or "section"


def section_ids(sections: tuple[Section, ...]) -> dict[tuple[int, ...], str]:
    """HTML ids of the sections by number: ``section-<key>``, derived keys made unique."""
    explicit = {s.key for _, s in walk(sections) if s.key}
    used: set[str] = {RESERVED_SECTION_KEY}
    ids: dict[tuple[int, ...], str] = {}
    for number, section in walk(sections):
        key = section.key
        if not key:
            base = _slug(section.title)
            key, i = base, 2
            while key in used or key in explicit:
                key, i = f"{base}-{i}", i + 1
        used.add(key)
        ids[number] = f"section-{key}"
    return ids


def _numbers(sections: tuple[Section, ...]) -> dict[tuple[str, str], int]:
    """``{("table" | "figure", key): number}`` of the numbered blocks, in order of appearance."""
    numbers: dict[tuple[str, str], int] = {}
    counts = {"table": 0, "figure": 0}

    def rec(blocks: tuple[Any, ...]) -> None:
        for b in blocks:
            if isinstance(b, Section):
                rec(b.blocks)
            elif isinstance(b, DisplayTable | FigureBlock) and b.numbered:
                kind = "table" if isinstance(b, DisplayTable) else "figure"
                if (kind, b.key) not in numbers:
                    counts[kind] += 1
                    numbers[(kind, b.key)] = counts[kind]

    rec(sections)
    return numbers


def number_document(document: Document) -> Document:
    """The document as it is shown: numbered tables and figures titled ``Table n. <title>`` /
    ``Figure n. <title>`` (numbers in order of appearance, one sequence per kind) and every
    cross-reference ``{table:<key>}`` / ``{figure:<key>}`` in its text replaced by the label
    of that block. The renderers call it; the input is not changed.

    Raises
    ------
    DataError
        A cross-reference names a block that is not a numbered table or figure of the
        document (the message quotes the text).

    Examples
    --------
    >>> import pandas as pd
    >>> t = lambda key: DisplayTable(key=key, title=key.upper(), header=("a",), rows=(), data=pd.DataFrame(),
    ...                              numbered=True)
    >>> doc = Document(title="T", subtitle="", provenance={}, results={}, sections=(
    ...     Section("S", (Paragraph("See {table:t3}."), t("t2"), t("t3"))),))
    >>> shown = number_document(doc).sections[0].blocks
    >>> shown[0].text, shown[1].title, shown[2].title
    ('See Table 2.', 'Table 1. T2', 'Table 2. T3')
    """
    numbers = _numbers(document.sections)

    def ref(text: str) -> str:
        def label(m: re.Match[str]) -> str:
            number = numbers.get((m[1], m[2]))
            if number is None:
                raise DataError(f"{text!r} refers to {m[1]} {m[2]!r}, which is not a numbered {m[1]} of the document")
            return f"{m[1].capitalize()} {number}"

        return REFERENCE.sub(label, text)

    def title(kind: str, block: DisplayTable | FigureBlock) -> str:
        text = ref(block.title)
        return f"{kind} {numbers[(kind.lower(), block.key)]}. {text}" if block.numbered else text

    def block(b: Any) -> Any:
        if isinstance(b, Section):
            return replace(b, title=ref(b.title), blocks=tuple(block(x) for x in b.blocks))
        if isinstance(b, Paragraph):
            return Paragraph(ref(b.text))
        if isinstance(b, DisplayTable):
            return replace(b, title=title("Table", b), header=tuple(ref(h) for h in b.header),
                           rows=tuple(tuple(ref(c) for c in row) for row in b.rows), notes=tuple(ref(n) for n in b.notes))
        if isinstance(b, FigureBlock):
            return replace(b, title=title("Figure", b), caption=ref(b.caption))
        return b

    return replace(document, title=ref(document.title), subtitle=ref(document.subtitle),
                   sections=tuple(block(s) for s in document.sections))


def _text(value: object, where: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{where} must be text (str), got {type(value).__name__}: {value!r}")


def _check_key(key: object, where: str) -> None:
    _text(key, where)
    assert isinstance(key, str)
    if not KEY_PATTERN.fullmatch(key):
        raise DataError(f"{where}={key!r} is not allowed: use lower-case letters, digits and _ only ([a-z0-9_]+)")


def _check_table(table: DisplayTable, where: str) -> None:
    _check_key(table.key, f"{where}.key")
    _text(table.title, f"{where}.title")
    if not isinstance(table.header, tuple) or not table.header:
        raise DataError(f"{where} (table {table.key!r}): header must be a non-empty tuple of text")
    for j, h in enumerate(table.header):
        _text(h, f"{where} (table {table.key!r}) header[{j}]")
    if not isinstance(table.rows, tuple):
        raise TypeError(f"{where} (table {table.key!r}): rows must be a tuple of tuples, got {type(table.rows).__name__}")
    width = len(table.header)
    for i, row in enumerate(table.rows):
        if not isinstance(row, tuple):
            raise TypeError(f"{where} (table {table.key!r}) row {i}: must be a tuple of text, got {type(row).__name__}")
        if len(row) != width:
            raise DataError(f"{where} (table {table.key!r}) row {i}: has {len(row)} cells, the header has {width}")
        for j, cell in enumerate(row):
            _text(cell, f"{where} (table {table.key!r}) row {i} cell {j}")
    for g in sorted(table.group_rows, key=repr):
        if not isinstance(g, int) or isinstance(g, bool) or not 0 <= g < len(table.rows):
            raise DataError(f"{where} (table {table.key!r}): group row {g!r} is not a row index 0..{len(table.rows) - 1}")
        extra = [c for c in table.rows[g][1:] if c.strip()]
        if extra:
            raise DataError(
                f"{where} (table {table.key!r}) row {g}: a group row shows only its first cell; other cells must be empty, got {extra!r}"
            )
    for j, note in enumerate(table.notes):
        _text(note, f"{where} (table {table.key!r}) notes[{j}]")
    if not isinstance(table.numbered, bool):
        raise TypeError(f"{where} (table {table.key!r}).numbered must be True or False, got {table.numbered!r}")
    _check_frame(table.data, f"{where} (table {table.key!r}).data")


def _check_frame(frame: object, where: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{where} must be a pandas DataFrame, got {type(frame).__name__}")
    if frame.columns.duplicated().any():
        dup = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise DataError(f"{where}: duplicated column name(s) {dup}")


def _check_json(value: object, path: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int) and type(value) is int:
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DataError(f"{path}={value!r} is not JSON-safe: NaN and infinities are not allowed (use None for a missing value)")
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise DataError(f"{path}: key {k!r} is not text; JSON object keys must be str")
            _check_json(v, f"{path}[{k!r}]")
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_json(v, f"{path}[{i}]")
        return
    raise DataError(
        f"{path}={value!r} is not JSON-safe ({type(value).__name__}); allowed: dict with str keys, list, str, int, finite float, "
        f"bool, None (convert numpy scalars with .item())"
    )


class _BlockKeys:
    """Walks the sections of a document, checks every block and remembers the keys in use."""

    def __init__(self) -> None:
        self.tables: dict[str, str] = {}
        self.figures: dict[str, str] = {}
        self.sections: dict[str, str] = {}
        self.figure_data: set[str] = set()

    def walk(self, blocks: tuple[Any, ...], number: tuple[int, ...]) -> None:
        n_sub = 0
        for i, block in enumerate(blocks, start=1):
            where = f"section {'.'.join(map(str, number))} block {i}" if number else f"document.sections[{i - 1}]"
            if isinstance(block, Section):
                n_sub += 1
                self.section(block, (*number, n_sub))
            elif not number:
                raise TypeError(f"{where} must be a Section, got {type(block).__name__}")
            elif isinstance(block, Paragraph):
                _text(block.text, f"{where} (paragraph).text")
            elif isinstance(block, DisplayTable):
                self.table(block, where)
            elif isinstance(block, FigureBlock):
                self.figure(block, where)
            else:
                raise TypeError(f"{where} must be a Paragraph, DisplayTable, FigureBlock or Section, got {type(block).__name__}")

    def section(self, block: Section, sub: tuple[int, ...]) -> None:
        label = "section " + ".".join(map(str, sub))
        if len(sub) > MAX_SECTION_DEPTH:
            raise DataError(f"{label} ({block.title!r}) is nested {len(sub)} deep; at most {MAX_SECTION_DEPTH} levels are allowed")
        _text(block.title, f"{label}.title")
        _text(block.key, f"{label}.key")
        if block.key:
            if not SECTION_KEY_PATTERN.fullmatch(block.key):
                raise DataError(f"{label}.key={block.key!r} is not allowed: use [a-z0-9][a-z0-9_-]*")
            if block.key == RESERVED_SECTION_KEY:
                raise DataError(f"{label}.key={block.key!r} is reserved for the provenance block; use another key")
            if block.key in self.sections:
                raise DataError(f"{label}.key={block.key!r} is used twice (also by {self.sections[block.key]})")
            self.sections[block.key] = label
        if not isinstance(block.blocks, tuple):
            raise TypeError(f"{label}.blocks must be a tuple of blocks, got {type(block.blocks).__name__}")
        self.walk(block.blocks, sub)

    def table(self, block: DisplayTable, where: str) -> None:
        _check_table(block, where)
        if block.key in self.tables:
            raise DataError(f"{where}: table key {block.key!r} is used twice (also by {self.tables[block.key]})")
        self.tables[block.key] = where

    def figure(self, block: FigureBlock, where: str) -> None:
        _check_key(block.key, f"{where}.key")
        _text(block.title, f"{where} (figure {block.key!r}).title")
        _text(block.caption, f"{where} (figure {block.key!r}).caption")
        if not isinstance(block.numbered, bool):
            raise TypeError(f"{where} (figure {block.key!r}).numbered must be True or False, got {block.numbered!r}")
        if not isinstance(block.figure, Figure):
            raise TypeError(f"{where} (figure {block.key!r}).figure must be a matplotlib.figure.Figure, got {type(block.figure).__name__}")
        if block.data is not None:
            _check_frame(block.data, f"{where} (figure {block.key!r}).data")
        if block.key in self.figures:
            raise DataError(f"{where}: figure key {block.key!r} is used twice (also by {self.figures[block.key]})")
        self.figures[block.key] = where
        if block.data is not None:
            self.figure_data.add(block.key)


def validate_document(document: Document) -> None:
    """Check a document before anything is written.

    Raises
    ------
    TypeError
        A field of the wrong type (e.g. a block that is not a Paragraph, DisplayTable,
        FigureBlock or Section; a cell that is not text).
    DataError
        A bad or duplicated key, a row whose width differs from the header, a group row with
        text beyond its first cell, sections nested deeper than three, a provenance value
        that is not text, ``results`` that are not JSON-safe (NaN, infinity, numpy
        integers, non-text keys...), or a cross-reference to a block that is not a numbered
        table or figure (:func:`number_document`). The message names the block and the value.

    Examples
    --------
    >>> import pandas as pd
    >>> t = DisplayTable(key="t1", title="Table 1", header=("a",), rows=(("1", "2"),),
    ...                  data=pd.DataFrame())
    >>> doc = Document(title="T", subtitle="", sections=(Section("S", (t,)),),
    ...                provenance={}, results={})
    >>> validate_document(doc)
    Traceback (most recent call last):
    ...
    ketapain.errors.DataError: section 1 block 1 (table 't1') row 0: has 2 cells, the header has 1
    """
    if not isinstance(document, Document):
        raise TypeError(f"document must be a ketapain.report.Document, got {type(document).__name__}")
    _text(document.title, "document.title")
    _text(document.subtitle, "document.subtitle")
    if not isinstance(document.sections, tuple):
        raise TypeError(f"document.sections must be a tuple of Section, got {type(document.sections).__name__}")
    if not isinstance(document.provenance, Mapping):
        raise TypeError(f"document.provenance must be a mapping of text to text, got {type(document.provenance).__name__}")
    for k, v in document.provenance.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise DataError(f"document.provenance[{k!r}]={v!r}: keys and values must be text")
    if not isinstance(document.results, Mapping):
        raise TypeError(f"document.results must be a mapping, got {type(document.results).__name__}")
    _check_json(document.results, "document.results")

    keys = _BlockKeys()
    keys.walk(document.sections, ())
    clash = sorted(f"figure_{k}" for k in keys.figure_data if f"figure_{k}" in keys.tables)
    if clash:
        raise DataError(f"table key {clash[0]!r} clashes with the data file of figure {clash[0][7:]!r} (tables/{clash[0]}.csv); rename one")
    number_document(document)   # every cross-reference names a numbered block
