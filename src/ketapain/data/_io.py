"""The files of a trial folder: one file per table plus ``meta.json`` (the tables as raw
frames; :mod:`ketapain.data._trial` validates them into a ``TrialData``).

Layout::

    folder/
        meta.json              {"format_version": 1, "meta": {"study": ..., ...}}
        patients.csv           or patients.parquet
        allocation.csv
        diary.csv
        questionnaires.csv
        adverse_events.csv
        concomitant.csv
        screening.csv
        protocol.toml          optional companions (``ketapain init`` writes them): kept as
        README.md              they are when the tables are written again

All tables of a folder share one format. CSV files are UTF-8 (a byte-order mark is
accepted when reading), comma-separated, with a header row, written RFC 4180 style (CRLF
line ends; a field holding a comma, quote or line break is quoted; any line ends are
accepted when reading); an empty cell is a missing value; dates are
``YYYY-MM-DD``; booleans are written ``True``/``False``; floats are written with the
shortest text that reads back to the same number, so a CSV round trip is exact. An extra
(non-schema) column is read as text, except one whose every given cell is ``true`` or
``false`` (any case), which is read as booleans (``bool``, or ``boolean`` when a cell is
empty), and one whose every given cell is a decimal number written without leading zeros
(``12``, ``-3``, ``0.5``, ``1e-07``), which is read as integers (``int64``, ``Int64`` with an
empty cell) when no cell has a point or exponent, else as floats. Codes like ``007`` stay
text, so no leading zero is lost.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from ketapain._atomic import check_destination, entries_write

from ..errors import DataError
from ._schema import SCHEMAS, TABLE_NAMES

__all__ = ["FORMATS", "META_FILE", "read_frames", "read_meta", "write_frames"]

FORMATS: tuple[str, ...] = ("csv", "parquet")
"""File formats of a trial folder."""

META_FILE = "meta.json"
"""Name of the file holding ``TrialData.meta``."""

_FORMAT_VERSION = 1
_OUR_FILES = frozenset(
    {f"{name}.{fmt}" for name in TABLE_NAMES for fmt in FORMATS} | {META_FILE}
)
COMPANION_FILES = ("protocol.toml", "README.md")
"""Files a trial folder may hold beside its tables (the protocol and the README that
``ketapain init`` writes): never read as data, kept when the tables are written again."""


def read_frames(folder: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str], str]:
    """The raw tables of a trial folder (only those with a file), its meta and its format
    (``"csv"`` or ``"parquet"``); nothing is validated beyond the files' syntax. Every table
    that cannot be read is reported, in one :class:`DataError`."""
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    fmt = _detect_format(folder)
    meta = _read_meta(folder / META_FILE)
    frames: dict[str, pd.DataFrame] = {}
    errors: list[str] = []
    for name in TABLE_NAMES:
        file = folder / f"{name}.{fmt}"
        if not file.exists():
            continue
        try:
            frames[name] = _read_csv(file) if fmt == "csv" else _read_parquet(file)
        except DataError as exc:
            errors.append(str(exc))
    if errors:
        raise DataError(f"cannot read the trial in {folder}:\n" + "\n".join(f"  {e}" for e in errors))
    return frames, meta, fmt


def read_meta(folder: str | PathLike[str]) -> dict[str, str]:
    """The meta of a trial folder (``meta.json``; empty without one), tables not read.

    Raises
    ------
    DataError
        If ``meta.json`` is not a valid meta file.
    """
    return _read_meta(Path(folder) / META_FILE)


def write_frames(
    tables: Mapping[str, pd.DataFrame], meta: Mapping[str, str], folder: Path, *, format: str, overwrite: bool
) -> None:
    """Write the seven tables and ``meta.json`` to ``folder`` through a temporary sibling that
    is renamed at the end (nothing half-written is left behind); see :func:`write_trial`.
    Only the trial files are replaced: :data:`COMPANION_FILES` in ``folder`` stay."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    _check_destination(folder, overwrite=overwrite)
    with entries_write(folder, sorted(_OUR_FILES)) as tmp:
        for name in TABLE_NAMES:
            file = tmp / f"{name}.{format}"
            try:
                if format == "csv":
                    _write_csv(tables[name], file)
                else:
                    tables[name].to_parquet(file, index=False)
            except (ValueError, TypeError, NotImplementedError) as exc:
                # data the format cannot hold (pyarrow's errors subclass these);
                # OSError (disk full, no permission) propagates as it is
                raise DataError(f"{file.name}: cannot be written: {exc}") from exc
        text = json.dumps({"format_version": _FORMAT_VERSION, "meta": dict(meta)}, indent=2, ensure_ascii=False)
        (tmp / META_FILE).write_text(text + "\n", encoding="utf-8")


def _check_destination(path: Path, *, overwrite: bool) -> None:
    check_destination(path, overwrite=overwrite, ours=lambda name: name in _OUR_FILES or name in COMPANION_FILES,
                      what="trial files")




def _write_csv(frame: pd.DataFrame, file: Path) -> None:
    """Write one table: dates as YYYY-MM-DD, floats exactly, missing as empty cells."""
    out = frame.copy()
    schema = SCHEMAS[file.stem]
    for col in schema.columns:
        if col.dtype == "date":
            out[col.name] = out[col.name].dt.strftime("%Y-%m-%d")
    # CRLF line ends (RFC 4180) make the csv module quote any field holding "\r" or "\n";
    # with "\n" alone a lone "\r" (from a browser textarea, say) would go out unquoted.
    out.to_csv(file, index=False, lineterminator="\r\n", encoding="utf-8")


def _detect_format(path: Path) -> str:
    found: dict[str, list[str]] = {fmt: [] for fmt in FORMATS}
    unknown: list[str] = []
    for p in sorted(path.iterdir()):
        fmt = p.suffix.lstrip(".").lower()
        if fmt not in FORMATS or not p.is_file():
            continue
        if p.name in _OUR_FILES:
            found[fmt].append(p.name)
        else:
            unknown.append(p.name)
    if unknown:
        expected = ", ".join(f"{n}.csv" for n in TABLE_NAMES)
        raise DataError(f"{path}: {', '.join(unknown)} is not a trial table file name; "
                        f"the tables are {expected} (or .parquet)")
    if found["csv"] and found["parquet"]:
        raise DataError(f"{path}: mixes CSV ({', '.join(found['csv'])}) and Parquet "
                        f"({', '.join(found['parquet'])}) files; use one format")
    if not found["csv"] and not found["parquet"]:
        raise DataError(f"{path}: no trial table files (expected patients.csv ... "
                        "screening.csv, or .parquet)")
    return "csv" if found["csv"] else "parquet"


def _read_meta(file: Path) -> dict[str, str]:
    if not file.exists():
        return {}
    try:
        content = json.loads(file.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{file.name}: is not valid JSON: {exc}") from exc
    if not isinstance(content, dict) or not isinstance(content.get("meta"), dict):
        raise DataError(f'{file.name}: expected {{"format_version": 1, "meta": {{...}}}}')
    version = content.get("format_version")
    if version != _FORMAT_VERSION:
        raise DataError(f"{file.name}: format_version={version!r} is not supported "
                        f"(allowed: {_FORMAT_VERSION})")
    meta: dict[str, str] = content["meta"]  # JSON object keys are str; values checked below
    for k, v in meta.items():
        if not isinstance(v, str):
            raise DataError(f"{file.name}: meta[{k!r}]={v!r} is not text")
    return meta


def _read_csv(file: Path) -> pd.DataFrame:
    """Read one CSV table; only empty cells are missing."""
    try:
        with file.open(newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), None)
    except UnicodeDecodeError as exc:
        raise DataError(f"{file.name}: is not UTF-8 text ({exc.reason} at byte "
                        f"{exc.start})") from exc
    except csv.Error as exc:
        raise DataError(f"{file.name}: cannot read the header row: {exc}") from exc
    if not header:
        raise DataError(f"{file.name}: is empty; row 1 must be the header")
    problems = []
    for i, name in enumerate(header, start=1):
        if not name.strip():
            problems.append(f"{file.name}: column {i} of the header (row 1) has no name")
    dups = sorted({n for n in header if header.count(n) > 1 and n.strip()})
    problems += [f"{file.name}: column {n!r} appears more than once" for n in dups]
    if problems:
        raise DataError("\n  ".join(problems))
    # Text columns are read as text. Number and boolean columns are left to the parser's
    # (exact) type inference, which is much faster than parsing text later; a column with
    # a value it cannot parse stays text and validation then reports that value.
    schema = SCHEMAS[file.stem]
    typed = {c.name for c in schema.columns if c.dtype in ("int", "float", "bool")}
    dtypes = {name: "str" for name in header if name not in typed}
    try:
        frame = pd.read_csv(file, dtype=dtypes, keep_default_na=False, na_values=[""],
                            encoding="utf-8-sig", skip_blank_lines=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{file.name}: cannot be read as CSV: {exc}") from exc
    return _type_extra_columns(frame, [n for n in header if n not in schema.names])


_INTEGER = r"-?(?:0|[1-9][0-9]{0,17})"  # at most 18 digits: always an int64
_DECIMAL = _INTEGER + r"(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"


def _type_extra_columns(frame: pd.DataFrame, extras: list[str]) -> pd.DataFrame:
    """Extra (non-schema) columns whose every given cell (surrounding spaces ignored; at least
    one cell given) is ``true``/``false`` (any case) become booleans (``bool`` without a
    missing cell, ``boolean`` with one); whose every given cell is a decimal integer without
    leading zeros become integers (``int64`` / ``Int64``); whose every given cell is such a
    decimal number with a point or an exponent, floats. Every other extra column stays text."""
    for name in extras:
        col = frame[name]
        given = col.notna()
        if not given.any():
            continue
        text = col[given].astype(str).str.strip()
        low = text.str.lower()
        if low.isin(("true", "false")).all():
            flags = pd.Series(pd.NA, index=frame.index, dtype="boolean")
            flags[given] = low.eq("true")
            frame[name] = flags.astype(bool) if given.all() else flags
        elif text.str.fullmatch(_INTEGER).all():
            ints = pd.Series(pd.NA, index=frame.index, dtype="Int64")
            ints[given] = text.astype("int64")
            frame[name] = ints.astype("int64") if given.all() else ints
        elif text.str.fullmatch(_DECIMAL).all():
            floats = pd.Series(np.nan, index=frame.index, dtype="float64")
            floats[given] = text.astype("float64")
            frame[name] = floats
    return frame


def _read_parquet(file: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises many unrelated types for a bad file
        raise DataError(f"{file.name}: cannot be read as Parquet: {exc}") from exc
