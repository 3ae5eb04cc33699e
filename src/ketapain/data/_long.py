"""Long crossover data — one row per subject x period — read and checked in one place.

Every entry point that takes long data uses these two functions: ``ketapain fit`` (a CSV),
:func:`ketapain.stats.fit_crossover` and the batched engine (a data frame), so a broken design
is refused the same way everywhere (issue 14) instead of being turned into extra model terms.

:func:`read_long_csv` reads the file: UTF-8 (a byte-order mark is accepted; UTF-16 with a
byte-order mark too), the delimiter and decimal mark given or the comma and point checked
(a file that is plainly semicolon- or tab-separated is refused with the options to pass),
duplicate column names refused, blank lines skipped but counted, so a row number is the
spreadsheet's row number (header = row 1).

:func:`check_long` checks the design, not just the types:

========================  ==================================================================
kind                      refused when
========================  ==================================================================
missing column            a required column is absent (raised at once)
empty cell                a subject, period, sequence, treatment (or ``by``) cell is empty
not a number              an outcome cell is text other than empty (empty = missing)
not finite                an outcome is inf or -inf
not 0 or 1                ``binary`` and an outcome other than 0, 1 or empty
bad period                a period is not a whole number 1..P (P: the sequences' length, or
                          the number of distinct periods when the sequences cannot be read)
near-duplicate labels     two treatment or sequence labels differ only in case or spaces
                          (``k`` and ``K``), or two periods are the same number written
                          differently (``1`` and ``1.0``)
duplicate row             a subject has two rows for one period
two sequences             a subject is listed under more than one sequence
treatment vs sequence     the treatment at a period is not the sequence's: the sequence's
                          letter at that period, when every sequence label spells its
                          treatments (``ABC``, or ``P-KM-K`` with ``-``, ``/``, ``_`` or space
                          between them); otherwise the treatment most rows of that sequence
                          and period have
========================  ==================================================================

All problems are collected and raised as one :class:`~ketapain.errors.DataError` that lists
them grouped by kind (count and the first rows of each); its ``problems`` attribute holds
every one as a :class:`LongProblem` record, and its ``source``/``row``/``column``/``value``/
``allowed`` fields are those of the first.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import FIRST_DATA_ROW, DataError

__all__ = ["LONG_FACTORS", "LongProblem", "check_long", "is_checked_long", "read_long_csv"]

LONG_FACTORS: tuple[str, ...] = ("subject", "period", "sequence", "treatment")
"""The design columns of long crossover data, in their default names."""

ROWS_SHOWN = 3
"""How many rows of each kind of problem a message shows."""

_SEPARATORS = re.compile(r"\s*[-/_ |]\s*")
_NEAR = re.compile(r"\s+")
_BLOCK = 1 << 18
"""Outcome cells parsed per block."""
_CHUNK_ROWS = 1 << 18
"""CSV records parsed per chunk by :func:`read_long_csv`."""
_HEAD_BYTES = 1 << 20
"""Bytes of the file read for its header line."""
_BLOCK_BYTES = 1 << 24
"""Bytes per block of the UTF-8 check."""
_LINE_END = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
"""The line boundaries of ``str.splitlines``."""


@dataclass(frozen=True, slots=True)
class LongProblem:
    """One problem of long data: its kind (see the module's table), the row (spreadsheet row,
    header = 1; None for a whole-file problem), the column, the value and what is allowed."""

    kind: str
    message: str
    row: int | None = None
    column: str | None = None
    value: Any = None
    allowed: Any = None


def _problems_error(source: str, problems: Sequence[LongProblem]) -> DataError:
    """One DataError listing ``problems`` grouped by kind, in the order the kinds first occur."""
    first = problems[0]
    if len(problems) == 1:
        text = first.message
    else:
        kinds: dict[str, list[LongProblem]] = {}
        for p in problems:
            kinds.setdefault(p.kind, []).append(p)
        lines = [f"{len(problems)} problems"]
        for kind, group in kinds.items():
            unit = "" if group[0].row is None else " row" if len(group) == 1 else " rows"
            lines.append(f"  {kind} ({len(group)}{unit}):")
            lines += [f"    row {p.row}: {p.message}" if p.row is not None else f"    {p.message}" for p in group[:ROWS_SHOWN]]
            if len(group) > ROWS_SHOWN:
                lines.append(f"    ... and {len(group) - ROWS_SHOWN} more")
        text = "\n".join(lines)
    error = DataError(text, located=True, source=source, row=first.row if len(problems) == 1 else None,
                      column=first.column, value=first.value, allowed=first.allowed)
    error.problems = tuple(problems)  # type: ignore[attr-defined]  # an extra field of this error only
    return error


# -- reading ------------------------------------------------------------------------------


def _text_of(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}", source=path.name) from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path.name}: is not UTF-8 text (byte {exc.start} is {raw[exc.start:exc.start + 1]!r}); "
            "save it as CSV UTF-8",
            source=path.name,
        ) from None


def _check_delimiter(name: str, header_line: str, delimiter: str, columns: Sequence[str]) -> None:
    """Refuse a file that is plainly separated by another character than ``delimiter``."""
    fields = next(csv.reader([header_line], delimiter=delimiter), [])
    if all(c in fields for c in columns):
        return
    for other, flag in ((";", "--delimiter ';' --decimal ','"), ("\t", "--delimiter tab"), (",", "--delimiter ,")):
        if other == delimiter:
            continue
        split = next(csv.reader([header_line], delimiter=other), [])
        if len(split) > 1 and all(c in split for c in columns):
            shown = "tab" if other == "\t" else repr(other)
            raise DataError(
                f"{name}: this file uses {shown} as delimiter (header: {header_line.strip()[:80]!r}); "
                f"save it as comma-separated CSV or pass {flag}",
                source=name,
                row=1,
                value=other,
                allowed=delimiter,
            )


def read_long_csv(
    path: str | Path,
    *,
    columns: Sequence[str],
    numeric: Sequence[str] = (),
    delimiter: str = ",",
    decimal: str = ".",
) -> pd.DataFrame:
    """Read a long CSV into a frame of text columns, indexed by spreadsheet row (header =
    row 1, index name ``"row"``); :func:`check_long` then parses the numbers.

    ``columns`` must be present (others are kept). Blank lines are skipped but counted.
    ``decimal`` is the decimal mark of the ``numeric`` columns (``","`` for a European export,
    replaced by ``"."`` in them; ``delimiter`` must then differ).

    Raises
    ------
    DataError
        Unreadable or non-UTF-8 file, an empty file, a header only, a file plainly using
        another delimiter, duplicate or missing column names — naming the file.
    """
    path = Path(path)
    name = path.name
    if len(delimiter) != 1 or delimiter in ('"', "\n", "\r") or delimiter == decimal:
        raise DataError(f"delimiter={delimiter!r} is not one character other than a quote, a line end or the decimal mark")
    if decimal not in (".", ","):
        raise DataError(f"decimal={decimal!r} is not '.' or ','", value=decimal, allowed=(".", ","))
    source, first = _utf8_source(path)
    with source:
        end = _LINE_END.search(first)
        first_line = first[:end.start()] if end else first  # str.splitlines()[0] without splitting every line
        if not first_line.strip():
            raise DataError(f"{name}: is empty; row 1 must be the header ({', '.join(columns)})", source=name, row=1)
        _check_delimiter(name, first_line, delimiter, columns)
        header = next(csv.reader([first_line], delimiter=delimiter))
        dups = sorted({c for c in header if header.count(c) > 1})
        missing = [c for c in dict.fromkeys(columns) if c not in header]
        if dups or missing:
            parts = [f"column {c!r} appears {header.count(c)} times" for c in dups]
            if missing:
                parts.append(f"required column(s) {', '.join(map(repr, missing))} missing; columns present: {', '.join(header)}")
            raise DataError(f"{name}: {'; '.join(parts)}", source=name, row=1, column=(dups or missing)[0])
        frame = _parse_chunks(source, name, delimiter)
    if frame.empty:
        raise DataError(f"{name}: has a header but no data rows", source=name, row=FIRST_DATA_ROW)
    if decimal == ",":
        for col in dict.fromkeys(numeric):
            frame[col] = frame[col].str.replace(",", ".", regex=False)
    return frame


def _utf8_source(path: Path) -> tuple[io.BufferedIOBase, str]:
    """The file as a binary UTF-8 stream after any byte-order mark, and the text of its first
    :data:`_HEAD_BYTES` (for the header). A UTF-8 file is checked in blocks and read from disk
    as it is parsed (its text is never held whole); a UTF-16 one is decoded in memory."""
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
            if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                text = _text_of(path)
                return io.BytesIO(text.encode("utf-8")), text[:_HEAD_BYTES]
            decoder = codecs.getincrementaldecoder("utf-8")()
            block = head
            while block:
                decoder.decode(block)
                block = fh.read(_BLOCK_BYTES)
            decoder.decode(b"", final=True)
        stream = path.open("rb")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}", source=path.name) from None
    except UnicodeDecodeError:
        _text_of(path)  # raises the error naming the byte
        raise
    skip = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    stream.seek(skip)
    return stream, head[skip:].decode("utf-8", errors="ignore")


def _parse_chunks(source: io.BufferedIOBase, name: str, delimiter: str) -> pd.DataFrame:
    """The CSV as text columns, :data:`_CHUNK_ROWS` records at a time (pandas' parser holds a
    Python string per cell of the chunk it parses, not of the file); blank rows dropped, the
    index the spreadsheet row (header = 1)."""
    parts = []
    start = FIRST_DATA_ROW
    try:
        reader = pd.read_csv(
            source, encoding="utf-8", sep=delimiter, dtype=str, keep_default_na=False, na_values=[], skip_blank_lines=False,
            quoting=csv.QUOTE_MINIMAL, chunksize=_CHUNK_ROWS,
        )
        for chunk in reader:
            chunk.index = pd.RangeIndex(start, start + len(chunk), name="row")
            start += len(chunk)
            blank = np.ones(len(chunk), dtype=bool)  # every cell missing or blank; one column at a time
            for j in range(chunk.shape[1]):
                blank &= (chunk.iloc[:, j].fillna("").str.strip() == "").to_numpy()
            parts.append(pd.DataFrame(chunk.loc[~blank].fillna("")))
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{name}: cannot be read as CSV: {exc}", source=name) from None
    if not parts:
        return pd.DataFrame()
    frame = parts[0] if len(parts) == 1 else pd.concat(parts)
    frame.index.name = "row"
    return frame


# -- checking -----------------------------------------------------------------------------

_CHECKED: weakref.WeakValueDictionary[tuple[Any, ...], pd.DataFrame] = weakref.WeakValueDictionary()
"""Frames :func:`check_long` returned (without ``by``), by identity and column names."""


def is_checked_long(
    frame: pd.DataFrame, *, outcome: str, subject: str = "subject", period: str = "period", sequence: str = "sequence",
    treatment: str = "treatment",
) -> bool:
    """Whether ``frame`` is a frame :func:`check_long` returned for these columns (without
    ``by``): the same object, so a caller (``fit_crossover`` after the CLI's reader) need not
    check it again. Its cells must not have been changed in place since."""
    key = (id(frame), outcome, subject, period, sequence, treatment)
    return _CHECKED.get(key) is frame


def _rows(frame: pd.DataFrame) -> np.ndarray:
    """Spreadsheet row of every row: the index of a frame from :func:`read_long_csv`, else
    position + 2 (as a data frame saved to CSV would number it)."""
    if frame.index.name == "row" and pd.api.types.is_integer_dtype(frame.index):
        return frame.index.to_numpy(dtype=np.int64)
    return np.arange(FIRST_DATA_ROW, FIRST_DATA_ROW + len(frame), dtype=np.int64)


def _labels(values: pd.Series) -> pd.Series:
    """Factor cells as stripped text; missing and blank as ""; 1.0 as "1".

    Text columns are stripped in place (arrow compute); object columns are labelled cell by
    cell. Any other column (integers, floats, booleans, categories, dates) is factorized first
    and only its distinct values are turned into text (:func:`_cell_labels`), then spread back
    by code: the same labels, without a Python string per row (a 1.2 M-row integer column:
    ~0.4 s -> ~0.1 s)."""
    if isinstance(values.dtype, pd.StringDtype):  # text read from a file: stays a compact text column
        return values.fillna("").str.strip()
    if values.dtype == object:  # factorize would merge 1, 1.0 and True, whose labels differ: cell by cell
        return _cell_labels(values)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = _cell_labels(pd.Series(uniques))
    table = pd.concat([text, pd.Series([""], dtype=text.dtype)], ignore_index=True).array  # code -1 (missing) -> ""
    return pd.Series(table.take(np.where(codes < 0, len(uniques), codes)), index=values.index, name=values.name)


def _cell_labels(values: pd.Series) -> pd.Series:
    """:func:`_labels` of a column that is not text, cell by cell. A whole float is written as
    an integer (1.0 -> "1") only when it is one exactly (finite, below 2^63 in magnitude);
    ``inf`` stays "inf" and 1e20 "1e+20", so the checks name them (they were an
    ``IntCastingNaNError`` and a wrapped-around integer)."""
    if pd.api.types.is_float_dtype(values):
        x = values.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(x) & (np.mod(x, 1) == 0) & (np.abs(x) < 2.0**63)
        text = values.astype(object)
        text[whole] = x[whole].astype(np.int64)
        return text.where(values.notna(), "").astype(str).str.strip()
    return values.astype(object).where(values.notna(), "").astype(str).str.strip()


class _Collector:
    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        self.found: list[LongProblem] = []

    def add(
        self, kind: str, where: npt.NDArray[np.bool_], message: Callable[[int], str], *, column: str,
        values: Any, allowed: Any = None,
    ) -> None:
        """Record ``kind`` at every True position of ``where``; ``message(i)`` gives the text,
        ``values[i]`` (anything indexed by position: a list, an array, a pandas array) the value."""
        for i in np.flatnonzero(where):
            self.found.append(
                LongProblem(kind, message(int(i)), row=int(self.rows[i]), column=column, value=values[int(i)], allowed=allowed)
            )


class _Same:
    """The same value at every position (the values of a column of empty cells)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __getitem__(self, _i: int) -> Any:
        return self.value


def _constant(text: str) -> Callable[[int], str]:
    """A message that is the same for every row."""
    return lambda _i: text


def _near_duplicates(labels: pd.Series, column: str, key: Any) -> list[LongProblem]:
    """Distinct labels of ``column`` that ``key`` maps to one value (``k``/``K``, ``1``/``1.0``)."""
    levels = pd.Series(sorted(set(labels.unique()) - {""}), dtype=object)
    if levels.empty:
        return []
    keys = levels.map(key)
    out = []
    for _, group in levels.groupby(keys.to_numpy(), sort=True):
        if len(group) > 1:
            shown = ", ".join(map(repr, group))
            out.append(
                LongProblem(
                    "near-duplicate labels",
                    f"{column} labels {shown} differ only in case, spaces or number format; "
                    f"write one label for one {column}",
                    column=column,
                    value=tuple(group),
                )
            )
    return out


def _period_numbers(per: pd.Series) -> pd.Series:
    """The whole number of each period label (NaN where it is not a whole number); parsed once
    per distinct label."""
    codes, uniques = pd.factorize(per.array)
    distinct = pd.Series(uniques)
    number = pd.to_numeric(distinct.where(distinct != ""), errors="coerce")
    whole = number.where(np.mod(number.fillna(0.5), 1) == 0).to_numpy()
    return pd.Series(whole[codes], index=per.index)


def sequence_letters(seq: pd.Series, levels: set[str]) -> dict[str, tuple[str, ...]] | None:
    """Each sequence label spelt as its treatments, or None when some label cannot be read so."""
    spelt: dict[str, tuple[str, ...]] = {}
    for label in set(seq.unique()) - {""}:
        parts = tuple(p for p in _SEPARATORS.split(label) if p) if _SEPARATORS.search(label) else tuple(label)
        if not parts or not set(parts) <= levels:
            return None
        spelt[label] = parts
    return spelt if len({len(v) for v in spelt.values()}) == 1 else None


def check_long(
    frame: pd.DataFrame,
    *,
    outcome: str,
    subject: str = "subject",
    period: str = "period",
    sequence: str = "sequence",
    treatment: str = "treatment",
    by: str | Sequence[str] | None = None,
    binary: bool = False,
    source: str = "data",
) -> pd.DataFrame:
    """Check long crossover data (the module's table) and return it normalised: factor columns
    as stripped text, ``period`` as whole numbers (int64), ``outcome`` as float (NaN = missing);
    other columns and the index as they were. With ``by`` (a column or several), the design is
    checked per group.

    The frame returned (without ``by``) is remembered by identity (weakly): passed back, e.g.
    to :func:`ketapain.stats.fit_crossover`, it is not checked again
    (:func:`is_checked_long`) — change a copy of it, not its cells in place.

    Raises
    ------
    DataError
        Every problem found, grouped by kind (see the module docstring); ``problems`` holds
        them as :class:`LongProblem` records.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{source} must be a pandas DataFrame, got {type(frame).__name__}")
    by_cols = [by] if isinstance(by, str) else list(by or ())
    factors = [subject, period, sequence, treatment, *by_cols]
    needed = [*factors, outcome]
    missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    dups = sorted({str(c) for c in frame.columns if list(frame.columns).count(c) > 1})
    if missing or dups:
        parts = [f"column {c!r} appears more than once" for c in dups]
        if missing:
            present = ", ".join(map(str, frame.columns))
            parts.append(f"required column(s) {', '.join(map(repr, missing))} missing; columns present: {present}")
        raise DataError("; ".join(parts), located=True, source=source, column=(dups or missing)[0])
    if frame.empty:
        raise DataError("has no rows", located=True, source=source)
    found = _Collector(_rows(frame))
    labels = {c: _labels(frame[c]) for c in dict.fromkeys(factors)}
    for col, lab in labels.items():
        message = f"{col} is empty; every row needs a {col}"
        found.add("empty cell", (lab == "").to_numpy(), _constant(message), column=col, values=_Same(""))
    y = _outcome(frame[outcome], outcome, binary, found)
    per_number = _period_numbers(labels[period])
    groups = _group_codes([labels[c] for c in by_cols]) if by_cols else None
    _check_labels(labels, per_number, subject=subject, period=period, sequence=sequence, treatment=treatment, groups=groups,
                  found=found)
    if found.found:
        raise _problems_error(source, found.found)
    out = frame.copy()
    for col, lab in labels.items():
        out[col] = lab.array
    out[period] = per_number.to_numpy(dtype=np.int64)
    out[outcome] = y
    if not by_cols:
        _CHECKED[(id(out), outcome, subject, period, sequence, treatment)] = out
    return out


def _group_codes(columns: list[pd.Series]) -> np.ndarray:
    """The group of every row (codes 0..G-1 in order of first appearance) from the ``by``
    label columns: each column factorized, the codes combined in mixed radix and factorized
    again (as ``MultiIndex.factorize``, which builds a tuple per row)."""
    codes = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:
        c, uniques = pd.factorize(col)
        codes = pd.factorize(codes * len(uniques) + c)[0].astype(np.int64)  # re-coded each step: never overflows
    return codes


def _outcome(values: pd.Series, outcome: str, binary: bool, found: _Collector) -> np.ndarray:
    """The outcome as float; records text, infinities and (binary) values other than 0/1."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        y = values.to_numpy(dtype=float)
        text = np.zeros(len(values), dtype=bool)
    elif isinstance(values.dtype, pd.StringDtype):  # text read from a file
        cells = values.fillna("").str.strip()
        # In blocks: to_numeric makes a Python string of every cell it parses (~60 bytes each).
        y = np.concatenate([
            pd.to_numeric(block.where(block != ""), errors="coerce").to_numpy(dtype=float)
            for block in (cells.iloc[i:i + _BLOCK] for i in range(0, len(cells), _BLOCK))
        ])
        text = np.isnan(y) & (cells != "").to_numpy()
    else:
        raw = values.astype(object).where(values.notna(), "")
        cells = raw.map(lambda v: v.strip() if isinstance(v, str) else v)
        number = pd.to_numeric(cells.where(cells != ""), errors="coerce")
        y = number.to_numpy(dtype=float)
        text = (number.isna() & (cells != "")).to_numpy()
    shown = [_shown(v) for v in values.to_numpy()] if (text.any() or np.isinf(y).any() or binary) else values.array
    found.add("not a number", text, lambda i: f"{outcome}={shown[i]} is not a number (empty = missing)",
              column=outcome, values=shown, allowed="a number or empty")
    found.add("not finite", np.isinf(y), lambda i: f"{outcome}={shown[i]} is infinite; allowed: finite numbers or empty",
              column=outcome, values=shown, allowed="a finite number or empty")
    if binary:
        not01 = ~np.isnan(y) & ~np.isin(y, (0.0, 1.0))
        found.add("not 0 or 1", not01, lambda i: f"{outcome}={shown[i]} is not 0 or 1 (a binary outcome)",
                  column=outcome, values=shown, allowed=(0, 1))
    return y


def _shown(value: Any) -> str:
    """A cell as messages show it: text quoted (blanks show), numbers plain (``inf``, ``2.5``)."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return repr(value)


def _check_labels(
    labels: dict[str, pd.Series], per_number: pd.Series, *, subject: str, period: str, sequence: str, treatment: str,
    groups: np.ndarray | None, found: _Collector,
) -> None:
    """Labels and design: near duplicates, periods 1..P, duplicate rows, one sequence per
    subject, the treatment the sequence gives at each period."""
    subj, per, seq, trt = labels[subject], labels[period], labels[sequence], labels[treatment]
    found.found += _near_duplicates(trt, treatment, lambda s: _NEAR.sub("", s).casefold())
    found.found += _near_duplicates(seq, sequence, lambda s: _NEAR.sub("", s).casefold())
    found.found += _near_duplicates(per, period, _period_key)
    spelt = sequence_letters(seq, set(trt.unique()) - {""})
    n_periods = len(next(iter(spelt.values()))) if spelt else int(per_number.dropna().nunique())
    bad_period = (per != "").to_numpy() & ~(per_number.between(1, max(n_periods, 1))).to_numpy()
    per_values = per.array  # by position, no Python string per row
    found.add("bad period", bad_period, lambda i: f"{period}={per_values[i]!r} is not a whole number 1..{n_periods}",
              column=period, values=per_values, allowed=f"1..{n_periods}")
    usable = ((subj != "") & (seq != "") & (trt != "")).to_numpy() & ~bad_period & per_number.notna().to_numpy()
    rows_of = np.flatnonzero(usable)
    # Integer codes (text in code-point order), of the usable rows: no Python string per row.
    (s, _), (q, q_uni), (t, t_uni) = (_usable_codes(c, usable) for c in (subj, seq, trt))
    p = per_number.to_numpy()[usable].astype(np.int64)
    g = np.zeros(rows_of.size, dtype=np.int64) if groups is None else groups[usable].astype(np.int64)
    gs = s if groups is None else pd.factorize(g * (int(s.max(initial=0)) + 1) + s)[0]  # subject within group
    dup = _repeated(gs.astype(np.int64) * (int(p.max(initial=0)) + 1) + p)
    subj_values = subj.array
    found.add("duplicate row", _at(rows_of[dup], len(subj)),
              lambda i: f"{subject}={subj_values[i]!r} already has a row for {period}={per_values[i]!r}", column=period,
              values=per_values)
    first = np.full(int(gs.max(initial=0)) + 1, gs.size, dtype=np.intp)
    np.minimum.at(first, gs, np.arange(gs.size))  # each subject's first usable row
    two = q != q[first[gs]] if gs.size else np.zeros(0, dtype=bool)
    del s, gs, first
    seq_values = seq.array
    found.add("two sequences", _at(rows_of[two], len(subj)),
              lambda i: f"{subject}={subj_values[i]!r} is under {sequence}={seq_values[i]!r} here and another sequence elsewhere; "
              "one sequence per subject", column=sequence, values=seq_values)
    keep = ~dup  # a duplicate row is reported once, as a duplicate
    rows_of, g, q, p, t = rows_of[keep], g[keep], q[keep], p[keep], t[keep]
    expected = _expected_codes(g, q, p, t, spelt, q_uni, t_uni)
    exp_full = np.full(len(subj), -1, dtype=np.intp)
    exp_full[rows_of] = expected
    trt_values = trt.array
    how = "the sequence's letter" if spelt else "what most rows of that sequence and period have"
    found.add("treatment vs sequence", _at(rows_of[t != expected], len(subj)),
              lambda i: f"{treatment}={trt_values[i]!r} but {sequence}={seq_values[i]!r} gives {t_uni[exp_full[i]]!r} at "
              f"{period} {per_values[i]} ({how})", column=treatment, values=trt_values)


def _repeated(key: np.ndarray) -> np.ndarray:
    """True where ``key`` (non-negative integers) occurred at an earlier position (pandas'
    ``duplicated()``, by a table of first positions instead of a hash table)."""
    if not key.size:
        return np.zeros(0, dtype=bool)
    first = np.full(int(key.max()) + 1, key.size, dtype=np.intp)
    np.minimum.at(first, key, np.arange(key.size))
    out: np.ndarray = first[key] != np.arange(key.size)
    return out


def _usable_codes(labels: pd.Series, usable: np.ndarray) -> tuple[np.ndarray, Any]:
    """Codes of ``labels`` at the ``usable`` rows, and the labels of the codes (code-point order)."""
    codes, uniques = pd.factorize(labels.array, sort=True)
    return codes[usable], uniques


def _expected_codes(g: np.ndarray, q: np.ndarray, p: np.ndarray, t: np.ndarray, spelt: dict[str, tuple[str, ...]] | None,
                    q_uni: Any, t_uni: Any) -> np.ndarray:
    """:func:`expected_treatment` on integer codes (group ``g``, sequence ``q`` and treatment
    ``t`` codes into ``q_uni``, ``t_uni``, which are in label order; period ``p``): the
    treatment code expected at each row."""
    if spelt:
        n_per = len(next(iter(spelt.values())))
        table = np.full((len(q_uni), n_per + 1), -1, dtype=np.intp)
        t_index = pd.Index(t_uni)
        for code, label in enumerate(q_uni):
            if label in spelt:
                table[code, 1:] = t_index.get_indexer(list(spelt[label]))
        out: np.ndarray = table[q, p]
        return out
    keys = pd.DataFrame({"g": g, "q": q, "p": p, "t": t})
    counts = keys.groupby(["g", "q", "p", "t"]).size().rename("n").reset_index()
    counts = counts.sort_values(["g", "q", "p", "n", "t"], ascending=[True, True, True, False, True])
    mode = counts.drop_duplicates(["g", "q", "p"]).set_index(["g", "q", "p"])["t"]
    return mode.reindex(pd.MultiIndex.from_frame(keys[["g", "q", "p"]])).to_numpy(dtype=np.intp)


def _at(positions: np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[positions] = True
    return mask


def _period_key(label: str) -> str:
    try:
        number = float(label)
    except ValueError:
        return label.strip().casefold()
    return repr(number) if np.isfinite(number) else label


def expected_treatment(keys: pd.DataFrame, spelt: dict[str, tuple[str, ...]] | None) -> np.ndarray:
    """The treatment the sequence gives at each row's period: its letter when ``spelt``, else
    the most frequent treatment of that sequence and period (ties: the first in label order)."""
    if spelt:
        table = {(label, k + 1): letter for label, letters in spelt.items() for k, letter in enumerate(letters)}
        pairs = pd.MultiIndex.from_arrays([keys["q"], keys["p"].astype(np.int64)])
        lookup = pd.Series(list(table.values()), index=pd.MultiIndex.from_tuples(list(table), names=["q", "p"]))
        return lookup.reindex(pairs).to_numpy(dtype=object)
    counts = keys.groupby(["g", "q", "p", "t"]).size().rename("n").reset_index()
    counts = counts.sort_values(["g", "q", "p", "n", "t"], ascending=[True, True, True, False, True])
    mode = counts.drop_duplicates(["g", "q", "p"]).set_index(["g", "q", "p"])["t"]
    return mode.reindex(pd.MultiIndex.from_frame(keys[["g", "q", "p"]])).to_numpy(dtype=object)
