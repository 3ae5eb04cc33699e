"""The mapping file of a spreadsheet import: which sheet and column holds which trial value.

A TOML file (docs/import-spreadsheets.md has the format and complete examples) with one
section per trial table it fills: ``[diary]`` (wide: one row per patient x period x day or per
patient x day, one column per diary item) and ``[patients]``, ``[allocation]``,
``[adverse_events]``, ``[concomitant]``, ``[screening]`` (one sheet row per table row, a
``columns`` table naming the sheet column of each trial column) and ``[[questionnaires]]``
(wide: one row per patient x visit, one column per ``instrument.item``). :func:`load_spreadsheet_mapping`
reads and checks it against the protocol; every problem is a :class:`~ketapain.errors.DataError`
naming the mapping file, the key and what is allowed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from ketapain.data import SCHEMAS
from ketapain.errors import DataError, InstrumentError
from ketapain.instruments import get_instrument
from ketapain.protocol import Protocol

__all__ = [
    "DIARY_LAYOUTS",
    "DiaryMapping",
    "QuestionnaireMapping",
    "SheetSource",
    "SpreadsheetMapping",
    "TableMapping",
    "load_spreadsheet_mapping",
]

DIARY_LAYOUTS = ("patient-period-day", "patient-day")
"""The two diary layouts: one sheet row per patient x period x day, or per patient x day."""

LONG_TABLES = ("patients", "allocation", "adverse_events", "concomitant", "screening")
"""Tables mapped one sheet row per table row, through a ``columns`` table."""

_SOURCE_KEYS = ("file", "sheet", "header_row", "date_format")
_DIARY_KEYS = (*_SOURCE_KEYS, "layout", "patient_id", "period", "day", "study_day", "date", "treatment", "sequence", "items")
_TABLE_KEYS = (*_SOURCE_KEYS, "columns", "codes")
_QUESTIONNAIRE_KEYS = (*_SOURCE_KEYS, "patient_id", "visit", "visit_name", "items")
_DIARY_EXTRA_ITEMS = ("extra_analgesics", "extra_analgesics_detail")


@dataclass(frozen=True, slots=True)
class SheetSource:
    """Where a section's rows are: ``file`` (a file name among those imported; None: the only
    one), ``sheet`` (an Excel sheet name; None: the first), ``header_row`` (the sheet row of
    the column names, 1 = the first) and ``date_format`` (a ``strptime`` format for dates
    written as text; None: ``YYYY-MM-DD``)."""

    file: str | None
    sheet: str | None
    header_row: int
    date_format: str | None


@dataclass(frozen=True, slots=True)
class DiaryMapping:
    """The ``[diary]`` section: layout, key columns, optional treatment/sequence columns and
    ``items`` (diary item -> sheet column)."""

    source: SheetSource
    layout: str
    patient_id: str
    period: str | None
    day: str | None
    study_day: str | None
    date: str | None
    treatment: str | None
    sequence: str | None
    items: Mapping[str, str]

    def columns(self) -> dict[str, str]:
        """Role (``patient_id``, ``period``, an item...) -> sheet column, for the roles mapped."""
        roles = {"patient_id": self.patient_id, "period": self.period, "day": self.day, "study_day": self.study_day,
                 "date": self.date, "treatment": self.treatment, "sequence": self.sequence}
        return {**{k: v for k, v in roles.items() if v is not None}, **self.items}


@dataclass(frozen=True, slots=True)
class TableMapping:
    """A one-row-per-row section: ``columns`` (trial column -> sheet column) and ``codes``
    (trial column -> sheet value -> trial value)."""

    table: str
    source: SheetSource
    columns: Mapping[str, str]
    codes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QuestionnaireMapping:
    """A ``[[questionnaires]]`` section: one sheet row per patient x visit, one column per item.
    ``visit`` is the sheet column naming the visit, or ``visit_name`` the one visit of every
    row; ``items`` maps ``(instrument, item key)`` to the sheet column."""

    source: SheetSource
    patient_id: str
    visit: str | None
    visit_name: str | None
    items: Mapping[tuple[str, str], str]

    def columns(self) -> dict[str, str]:
        """Role -> sheet column (``patient_id``, ``visit``, ``items.<instrument>.<item>``)."""
        roles = {"patient_id": self.patient_id, **({"visit": self.visit} if self.visit is not None else {})}
        return {**roles, **{f"items.{i}.{k}": c for (i, k), c in self.items.items()}}


@dataclass(frozen=True, slots=True)
class SpreadsheetMapping:
    """A checked mapping file: the diary section (or None), the other tables' sections and the
    questionnaire sections."""

    where: str
    diary: DiaryMapping | None
    tables: Mapping[str, TableMapping]
    questionnaires: tuple[QuestionnaireMapping, ...] = ()


def _fail(where: str, key: str, message: str, *, value: Any = None, allowed: Any = None) -> DataError:
    return DataError(f"{key}: {message}", located=True, source=where, column=key, value=value, allowed=allowed)


def _text(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, key, f"must be a column name (non-empty text), got {value!r}", value=value)
    return value.strip()


def _unknown(where: str, section: str, got: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    bad = [k for k in got if k not in allowed]
    if bad:
        raise _fail(where, f"[{section}]", f"unknown key(s) {', '.join(map(repr, bad))}; allowed: {', '.join(allowed)}",
                    value=bad, allowed=allowed)


def _source(where: str, section: str, raw: Mapping[str, Any]) -> SheetSource:
    file = raw.get("file")
    sheet = raw.get("sheet")
    header = raw.get("header_row", 1)
    fmt = raw.get("date_format")
    for key, value in (("file", file), ("sheet", sheet), ("date_format", fmt)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise _fail(where, f"{section}.{key}", f"must be non-empty text, got {value!r}", value=value)
    if not isinstance(header, int) or isinstance(header, bool) or header < 1:
        raise _fail(where, f"{section}.header_row", f"must be a whole number >= 1 (the sheet row of the column names), got {header!r}",
                    value=header, allowed=">= 1")
    if fmt is not None and "%" not in fmt:
        raise _fail(where, f"{section}.date_format", f"{fmt!r} is not a strptime format such as '%d/%m/%Y'", value=fmt)
    return SheetSource(file=file, sheet=sheet, header_row=header, date_format=fmt)


def _no_duplicates(where: str, section: str, columns: Mapping[str, str]) -> None:
    seen: dict[str, str] = {}
    for role, col in columns.items():
        if col in seen:
            raise _fail(where, f"{section}.{role}", f"sheet column {col!r} is already mapped to {seen[col]}; one column holds one value",
                        value=col)
        seen[col] = role


def _diary(where: str, raw: Any, protocol: Protocol) -> DiaryMapping:
    if not isinstance(raw, Mapping):
        raise _fail(where, "diary", "must be a table ([diary])")
    _unknown(where, "diary", raw, _DIARY_KEYS)
    layout = raw.get("layout")
    if layout not in DIARY_LAYOUTS:
        raise _fail(where, "diary.layout", f"{layout!r} is not one of {', '.join(DIARY_LAYOUTS)}", value=layout, allowed=DIARY_LAYOUTS)
    if "patient_id" not in raw:
        raise _fail(where, "diary.patient_id", "missing: name the sheet column holding the patient identifier")
    cols = {k: _text(where, f"diary.{k}", raw[k]) for k in ("patient_id", "period", "day", "study_day", "date", "treatment", "sequence")
            if k in raw}
    if layout == "patient-period-day":
        for k in ("period", "day"):
            if k not in cols:
                raise _fail(where, f"diary.{k}", "missing: layout 'patient-period-day' needs the period and day columns")
        for k in ("study_day", "date"):
            if k in cols:
                raise _fail(where, f"diary.{k}", "only for layout 'patient-day' (layout 'patient-period-day' gives period and day)")
    else:
        for k in ("period", "day"):
            if k in cols:
                raise _fail(where, f"diary.{k}", "not for layout 'patient-day': the period and day come from study_day or date")
        if ("study_day" in cols) == ("date" in cols):
            raise _fail(where, "diary", "layout 'patient-day' needs exactly one of study_day (1 = the day after the first infusion) "
                                        "or date (placed by each period's allocation.infusion_date)")
    items = raw.get("items")
    if not isinstance(items, Mapping) or not items:
        raise _fail(where, "diary.items", "missing or empty: a table of diary item -> sheet column ([diary.items])")
    allowed = (*protocol.diary.items, *_DIARY_EXTRA_ITEMS)
    for item in items:
        if item not in allowed:
            raise _fail(where, f"diary.items.{item}", f"{item!r} is not a diary item of protocol {protocol.study.id!r}; "
                        f"allowed: {', '.join(allowed)}", value=item, allowed=allowed)
    item_cols = {item: _text(where, f"diary.items.{item}", col) for item, col in items.items()}
    _no_duplicates(where, "diary", {**cols, **{f"items.{k}": v for k, v in item_cols.items()}})
    return DiaryMapping(source=_source(where, "diary", raw), layout=layout, patient_id=cols["patient_id"],
                        period=cols.get("period"), day=cols.get("day"), study_day=cols.get("study_day"), date=cols.get("date"),
                        treatment=cols.get("treatment"), sequence=cols.get("sequence"), items=item_cols)


def _table(where: str, name: str, raw: Any) -> TableMapping:
    if not isinstance(raw, Mapping):
        raise _fail(where, name, f"must be a table ([{name}])")
    _unknown(where, name, raw, _TABLE_KEYS)
    schema = SCHEMAS[name]
    columns = raw.get("columns")
    if not isinstance(columns, Mapping) or not columns:
        raise _fail(where, f"{name}.columns", f"missing or empty: a table of {name} column -> sheet column ([{name}.columns])")
    for col in columns:
        if col not in schema.names:
            raise _fail(where, f"{name}.columns.{col}", f"{col!r} is not a column of {name}; allowed: {', '.join(schema.names)}",
                        value=col, allowed=schema.names)
    mapped = {col: _text(where, f"{name}.columns.{col}", sheet_col) for col, sheet_col in columns.items()}
    missing = [c.name for c in schema.columns if c.required and not c.nullable and c.name not in mapped]
    if missing:
        raise _fail(where, f"{name}.columns", f"required column(s) {', '.join(missing)} not mapped (a value is needed on every row)",
                    value=missing)
    _no_duplicates(where, f"{name}.columns", mapped)
    codes_raw = raw.get("codes", {})
    if not isinstance(codes_raw, Mapping):
        raise _fail(where, f"{name}.codes", "must be a table of column -> {sheet value = trial value}")
    codes: dict[str, dict[str, str]] = {}
    for col, table in codes_raw.items():
        if col not in mapped:
            raise _fail(where, f"{name}.codes.{col}", f"{col!r} is not a mapped column of [{name}.columns]", value=col,
                        allowed=tuple(mapped))
        if not isinstance(table, Mapping) or not all(isinstance(v, str) for v in table.values()):
            raise _fail(where, f"{name}.codes.{col}", 'must be a table of sheet value -> trial value, e.g. "1" = "M"')
        codes[col] = {str(k).strip(): v for k, v in table.items()}
    return TableMapping(table=name, source=_source(where, name, raw), columns=mapped, codes=codes)


def _questionnaire(where: str, i: int, raw: Any, protocol: Protocol) -> QuestionnaireMapping:
    section = f"questionnaires[{i}]"
    if not isinstance(raw, Mapping):
        raise _fail(where, section, "must be a table ([[questionnaires]])")
    _unknown(where, section, raw, _QUESTIONNAIRE_KEYS)
    if "patient_id" not in raw:
        raise _fail(where, f"{section}.patient_id", "missing: name the sheet column holding the patient identifier")
    patient = _text(where, f"{section}.patient_id", raw["patient_id"])
    if ("visit" in raw) == ("visit_name" in raw):
        raise _fail(where, section, "needs exactly one of visit (the sheet column naming each row's visit) or visit_name "
                                    "(the one visit of every row)")
    visits = tuple(v.name for v in protocol.visits)
    visit = _text(where, f"{section}.visit", raw["visit"]) if "visit" in raw else None
    visit_name = _text(where, f"{section}.visit_name", raw["visit_name"]) if "visit_name" in raw else None
    if visit_name is not None and visits and visit_name not in visits:
        raise _fail(where, f"{section}.visit_name", f"{visit_name!r} is not a visit of protocol {protocol.study.id!r}; "
                    f"allowed: {', '.join(visits)}", value=visit_name, allowed=visits)
    items_raw = raw.get("items")
    if not isinstance(items_raw, Mapping) or not items_raw:
        raise _fail(where, f"{section}.items", 'missing or empty: a table of "instrument.item" -> sheet column, e.g. "bpi.5a" = "BPI 5a"')
    items: dict[tuple[str, str], str] = {}
    for name, col in items_raw.items():
        inst, dot, key = str(name).partition(".")
        if not dot or not inst or not key:
            raise _fail(where, f"{section}.items.{name}", f"{name!r} is not \"instrument.item\" (e.g. \"bpi.5a\")", value=name)
        try:
            instrument = get_instrument(inst)
            instrument.item(key)
        except InstrumentError as exc:
            raise _fail(where, f"{section}.items.{name}", str(exc), value=name, allowed=exc.allowed) from None
        items[(instrument.name, key)] = _text(where, f"{section}.items.{name}", col)
    m = QuestionnaireMapping(source=_source(where, section, raw), patient_id=patient, visit=visit, visit_name=visit_name,
                             items=items)
    _no_duplicates(where, section, m.columns())
    return m


def load_spreadsheet_mapping(mapping: Mapping[str, Any] | str | PathLike[str], *, protocol: Protocol) -> SpreadsheetMapping:
    """Read and check a spreadsheet mapping (a dict, or a ``.toml`` file).

    Parameters
    ----------
    mapping
        The mapping, as a dict or a TOML file (format: docs/import-spreadsheets.md).
    protocol
        The study: the allowed diary items (``diary.items``, plus ``extra_analgesics`` and
        ``extra_analgesics_detail``).

    Returns
    -------
    SpreadsheetMapping

    Raises
    ------
    DataError
        Naming the mapping file and key: a file that cannot be read or is not TOML; an
        unknown section or key; a diary layout not in :data:`DIARY_LAYOUTS` or without its
        key columns; a diary item not in the protocol; a trial column that the table does
        not have, or a required non-nullable one not mapped (a nullable one left out is
        blank on every row); a sheet column mapped twice in one section;
        a questionnaire item that is not ``instrument.item`` of a known instrument, a visit
        name not in the protocol, or both or neither of ``visit`` and ``visit_name``;
        no ``[patients]`` section; an allocation given twice (``[allocation]`` and
        ``diary.treatment``) or not at all beside a diary.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> m = load_spreadsheet_mapping({"patients": {"columns": {
    ...     "patient_id": "ID", "sex": "Sex", "age_years": "Age", "weight_kg": "Weight", "height_m": "Height",
    ...     "pain_type": "Pain", "pain_duration_years": "Years", "dn4_total": "DN4"}}},
    ...     protocol=load_protocol("ketapain"))
    >>> m.tables["patients"].columns["sex"], m.diary is None
    ('Sex', True)
    """
    if isinstance(mapping, Mapping):
        raw, where = dict(mapping), "mapping"
    else:
        path = Path(mapping)
        where = path.name
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DataError(f"cannot read the mapping file: {exc.strerror or exc}", located=True, source=where) from None
        except UnicodeDecodeError as exc:
            raise DataError(f"not UTF-8 text: {exc.reason}", located=True, source=where) from None
        except tomllib.TOMLDecodeError as exc:
            raise DataError(f"not valid TOML: {exc}", located=True, source=where) from None
    _unknown(where, "mapping", raw, ("diary", "questionnaires", *LONG_TABLES))
    diary = _diary(where, raw["diary"], protocol) if "diary" in raw else None
    tables = {name: _table(where, name, raw[name]) for name in LONG_TABLES if name in raw}
    qs_raw = raw.get("questionnaires", [])
    if not isinstance(qs_raw, list):
        raise _fail(where, "questionnaires", "must be an array of tables ([[questionnaires]], one per sheet)")
    questionnaires = tuple(_questionnaire(where, i, q, protocol) for i, q in enumerate(qs_raw))
    if "patients" not in tables:
        raise _fail(where, "patients", "missing: a [patients] section (every patient of the other sheets must be in patients)")
    if diary is not None:
        if diary.treatment is not None and "allocation" in tables:
            raise _fail(where, "diary.treatment", "the allocation is given twice: by [allocation] and by diary.treatment; keep one")
        if diary.treatment is None and "allocation" not in tables:
            raise _fail(where, "allocation", "missing: the diary needs an allocation (which treatment in which period): map an "
                                             "[allocation] sheet or the diary's treatment column (diary.treatment)")
        if diary.sequence is not None and diary.treatment is None:
            raise _fail(where, "diary.sequence", "only with diary.treatment (the allocation built from the diary sheet)")
        if diary.date is not None and "infusion_date" not in tables.get("allocation", TableMapping("allocation", diary.source, {})).columns:
            raise _fail(where, "diary.date", "diary days by date need each period's infusion date: map allocation.columns.infusion_date")
    return SpreadsheetMapping(where=where, diary=diary, tables=tables, questionnaires=questionnaires)
