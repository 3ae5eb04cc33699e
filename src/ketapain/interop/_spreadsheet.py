"""Import spreadsheets (CSV or Excel ``.xlsx``) into a TrialData, through a mapping file.

The mapping (:mod:`ketapain.interop._spreadsheet_map`, docs/import-spreadsheets.md) says which
file and sheet hold each table and which column holds each value. Every cell is checked where
it is, and a problem names the file, the sheet, the row as the spreadsheet shows it (the
header row is row 1 unless ``header_row`` says otherwise), the column, the value and what is
allowed. Nothing is imported until every problem is fixed, and no row is left out silently:
only wholly blank rows are skipped, and they and the unmapped columns are counted in
:meth:`SpreadsheetImport.summary`.
"""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ketapain.data import PAIN_COLUMNS, SCHEMAS, Column, TrialData
from ketapain.errors import DataError
from ketapain.instruments import get_instrument
from ketapain.interop._spreadsheet_map import (
    DiaryMapping,
    QuestionnaireMapping,
    SheetSource,
    SpreadsheetMapping,
    TableMapping,
    load_spreadsheet_mapping,
)
from ketapain.protocol import Protocol

__all__ = ["SpreadsheetImport", "import_spreadsheet"]

_EXCEL = (".xlsx", ".xlsm")
_BOOL = {"true": "true", "yes": "true", "1": "true", "false": "false", "no": "false", "0": "false"}
_SHOWN = 20


@dataclass(frozen=True, slots=True)
class SpreadsheetImport:
    """What :func:`import_spreadsheet` made: the trial, and what it read and left aside.

    Attributes
    ----------
    data : TrialData
        The imported trial (``meta["source"] = "spreadsheet-import"``).
    sheets : tuple of (table, sheet label, rows imported, blank rows skipped)
        One entry per mapped section.
    ignored_columns : tuple of (sheet label, column names)
        Columns of the mapped sheets that the mapping does not name (not imported).
    blank_columns : tuple of str
        Required but nullable trial columns that no sheet column fills (``table.column``),
        blank on every row, e.g. ``allocation.pre_infusion_pain``.
    """

    data: TrialData
    sheets: tuple[tuple[str, str, int, int], ...]
    ignored_columns: tuple[tuple[str, tuple[str, ...]], ...]
    blank_columns: tuple[str, ...] = ()

    def summary(self) -> str:
        """What was imported from where, blank rows skipped and columns not imported."""
        lines = []
        for table, label, n, blank in self.sheets:
            lines.append(f"{table}: {n} row(s) from {label}" + (f" ({blank} blank row(s) skipped)" if blank else ""))
        if self.data.screening.empty:
            why = "its sheet has no rows" if any(t == "screening" for t, *_ in self.sheets) else "no [screening] section"
            lines.append(f"screening: not recorded ({why}); the CONSORT flow says so")
        if self.blank_columns:
            lines.append(f"blank on every row (no column mapped): {', '.join(self.blank_columns)}")
        for label, cols in self.ignored_columns:
            lines.append(f"not imported (not in the mapping): {label} column(s) {', '.join(map(repr, cols))}")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class _Sheet:
    """A sheet's data rows (blank rows dropped) as cells, and each row's sheet row number."""

    label: str
    cells: pd.DataFrame
    rows: np.ndarray
    blank: int


class _Problems:
    """Problems found so far, each with its place; raised together."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.items: list[tuple[str, int | None, str, str | None, Any, Any]] = []

    def add(self, label: str, row: int | None, detail: str, *, column: str | None = None, value: Any = None,
            allowed: Any = None) -> None:
        self.items.append((label, row, detail, column, value, allowed))

    def raise_if_any(self, max_errors: int) -> None:
        if not self.items:
            return
        if len(self.items) == 1:
            label, row, detail, column, value, allowed = self.items[0]
            raise DataError(detail, located=True, source=label, row=row, column=column, value=value, allowed=allowed)
        shown = [f"{label}{'' if row is None else f' row {row}'}: {detail}" for label, row, detail, *_ in self.items[:max_errors]]
        more = len(self.items) - len(shown)
        text = f"{len(self.items)} problems, nothing imported\n  " + "\n  ".join(shown)
        if more:
            text += f"\n  ... and {more} more (only the first {max_errors} are listed)"
        first = self.items[0]
        raise DataError(text, located=True, source=self.where, column=first[3], value=first[4], allowed=first[5])


def _cell(v: Any) -> str:
    """A cell as text: blank for empty; Excel dates as YYYY-MM-DD; whole numbers without ``.0``."""
    if v is None or v is pd.NaT:
        return ""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        f = float(v)
        if math.isnan(f):
            return ""
        return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)
    return str(v).strip()


def _pick_file(files: Mapping[str, Path], source: SheetSource, section: str, where: str) -> Path:
    if source.file is None:
        if len(files) != 1:
            raise DataError(f"{section}.file: several files are imported ({', '.join(files)}); name the one holding [{section}]",
                            located=True, source=where, column=f"{section}.file", allowed=tuple(files))
        return next(iter(files.values()))
    name = Path(source.file).name
    if name not in files:
        raise DataError(f"{section}.file: {source.file!r} is not one of the files imported ({', '.join(files)})",
                        located=True, source=where, column=f"{section}.file", value=source.file, allowed=tuple(files))
    return files[name]


def _read_raw(path: Path, source: SheetSource, section: str, where: str) -> tuple[pd.DataFrame, str]:
    """The whole sheet as cells (no header), and its label for messages."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        if source.sheet is not None:
            raise DataError(f"{section}.sheet: {path.name} is a CSV file, which has no sheets; remove 'sheet'",
                            located=True, source=where, column=f"{section}.sheet", value=source.sheet)
        try:
            raw = pd.read_csv(path, header=None, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False,
                              encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"cannot read the CSV file: {exc}", located=True, source=path.name) from None
        return raw, path.name
    if suffix not in _EXCEL:
        raise DataError(f"{suffix or 'no extension'}: only .csv and .xlsx files are read (save an .xls or .ods file as .xlsx)",
                        located=True, source=path.name, value=suffix, allowed=(".csv", *_EXCEL))
    try:
        with pd.ExcelFile(path, engine="openpyxl") as book:
            names = [str(n) for n in book.sheet_names]
            sheet = source.sheet if source.sheet is not None else names[0]
            if sheet not in names:
                raise DataError(f"{section}.sheet: {path.name} has no sheet {sheet!r}; its sheets: {', '.join(names)}",
                                located=True, source=where, column=f"{section}.sheet", value=sheet, allowed=tuple(names))
            raw = pd.read_excel(book, sheet_name=sheet, header=None, dtype=object, keep_default_na=False, na_filter=False)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"cannot read the Excel file: {exc}", located=True, source=path.name) from None
    return raw, f"{path.name} sheet {sheet}"


def _read_sheet(files: Mapping[str, Path], source: SheetSource, section: str, where: str) -> _Sheet:
    path = _pick_file(files, source, section, where)
    raw, label = _read_raw(path, source, section, where)
    if source.header_row > len(raw):
        raise DataError(f"no header row: the sheet has {len(raw)} row(s) and header_row = {source.header_row}",
                        located=True, source=label, row=source.header_row)
    text = raw.apply(lambda col: col.map(_cell)) if len(raw) else raw
    header = [str(h) for h in text.iloc[source.header_row - 1]]
    data = raw.iloc[source.header_row:].copy()
    data.columns = pd.Index(header)
    rows = np.arange(source.header_row, len(raw)) + 1
    keep = (text.iloc[source.header_row:] != "").any(axis=1).to_numpy(dtype=bool)
    return _Sheet(label=label, cells=data[keep].reset_index(drop=True), rows=rows[keep], blank=int((~keep).sum()))


def _columns_present(sheet: _Sheet, wanted: Mapping[str, str], section: str, problems: _Problems) -> bool:
    header = list(sheet.cells.columns)
    ok = True
    for role, col in wanted.items():
        n = header.count(col)
        if n == 0:
            problems.add(sheet.label, None, f"column {col!r} ({section}.{role}) is not in the sheet; its columns: "
                         + ", ".join(map(repr, [h for h in header if h][:30])), column=col, allowed=tuple(header))
            ok = False
        elif n > 1:
            problems.add(sheet.label, None, f"column {col!r} ({section}.{role}) appears {n} times in the header; rename one",
                         column=col)
            ok = False
    return ok


def _check_column(sheet: _Sheet, col: str, role: str, rule: Column, problems: _Problems, *, date_format: str | None,
                  codes: Mapping[str, str] | None = None, allowed: tuple[str, ...] | None = None) -> list[str | None]:
    """The column's values as checked text (None = blank); problems named by sheet row."""
    out: list[str | None] = []
    allowed = allowed if allowed is not None else rule.allowed
    for pos, raw in enumerate(sheet.cells[col].tolist()):
        row = int(sheet.rows[pos])
        v = _cell(raw)
        if codes:
            if v in codes:
                v = codes[v]
            elif v != "":
                problems.add(sheet.label, row, f"column {col!r} ({role}): {v!r} is not one of the codes {', '.join(codes)}",
                             column=col, value=v, allowed=tuple(codes))
                out.append(None)
                continue
        if v == "":
            if not rule.nullable:
                problems.add(sheet.label, row, f"column {col!r} ({role}) is blank; a value is required ({rule.rule})", column=col,
                             allowed=rule.rule)
            out.append(None)
            continue
        fixed, why = _typed_text(v, raw, rule, date_format, allowed)
        if why is not None:
            problems.add(sheet.label, row, f"column {col!r} ({role}): {v!r} {why}", column=col, value=v,
                         allowed=_rule_text(rule, allowed))
        out.append(fixed)
    return out


def _rule_text(rule: Column, allowed: tuple[str, ...] | None) -> str:
    text = ("one of " + ", ".join(map(repr, allowed))) if allowed is not None else rule.rule
    return text + (" or blank" if rule.nullable else "")


def _typed_text(v: str, raw: Any, rule: Column, date_format: str | None, allowed: tuple[str, ...] | None) -> tuple[str | None, str | None]:
    """(the value as the trial table's text, None) or (None, why it is not allowed)."""
    allowed_text = _rule_text(rule, allowed)
    if rule.dtype in ("int", "float"):
        try:
            x = float(v)
        except ValueError:
            return None, f"is not a number; allowed: {allowed_text}"
        if not math.isfinite(x):
            return None, f"is not a finite number; allowed: {allowed_text}"
        if rule.dtype == "int" and not x.is_integer():
            return None, f"is not a whole number; allowed: {allowed_text}"
        if (rule.min is not None and x < rule.min) or (rule.max is not None and x > rule.max):
            return None, f"is outside {rule.rule}; allowed: {allowed_text}"
        return (str(int(x)) if rule.dtype == "int" else v), None
    if rule.dtype == "bool":
        b = _BOOL.get(v.lower())
        return (b, None) if b is not None else (None, f"is not yes/no; allowed: true/false, yes/no, 1/0{' or blank' * rule.nullable}")
    if rule.dtype == "date":
        if isinstance(raw, dt.date):
            return (v, None) if len(v) == 10 else (None, "is a date with a time of day; allowed: a date")
        fmt = date_format or "%Y-%m-%d"
        try:
            return dt.datetime.strptime(v, fmt).date().isoformat(), None
        except ValueError:
            hint = "" if date_format else " (for another format set date_format in the mapping, e.g. \"%d/%m/%Y\")"
            return None, f"is not a date {fmt}{hint}"
    if allowed is not None and v not in allowed:
        return None, f"is not {allowed_text}"
    return v, None


def _duplicates(label: str, keys: pd.DataFrame, rows: np.ndarray, what: str, problems: _Problems) -> None:
    """Rows sharing a key: one problem per key, naming its rows."""
    dup = keys.duplicated(keep=False).to_numpy(dtype=bool) & keys.notna().all(axis=1).to_numpy(dtype=bool)
    if not dup.any():
        return
    groups = keys[dup].assign(_row=rows[dup]).groupby(list(keys.columns), sort=False)["_row"]
    for key, rs in list(groups)[:_SHOWN]:
        values = key if isinstance(key, tuple) else (key,)
        shown = ", ".join(f"{c} {v}" for c, v in zip(keys.columns, values, strict=True))
        problems.items.append((label, None, f"rows {', '.join(map(str, rs.tolist()))} have the same {shown} ({what}); keep one",
                               None, None, None))


def _long_table(files: Mapping[str, Path], m: TableMapping, protocol: Protocol, where: str,
                problems: _Problems) -> tuple[pd.DataFrame | None, _Sheet]:
    sheet = _read_sheet(files, m.source, m.table, where)
    if not _columns_present(sheet, m.columns, f"{m.table}.columns", problems):
        return None, sheet
    schema = SCHEMAS[m.table]
    frame = {}
    for col, sheet_col in m.columns.items():
        allowed = tuple(protocol.arm_codes) if (m.table, col) == ("allocation", "treatment") else None
        rule = schema.column(col)
        if (m.table, col) in PAIN_COLUMNS:  # on the protocol's diary scale
            rule = replace(rule, min=protocol.diary.scale[0], max=protocol.diary.scale[1])
        frame[col] = _check_column(sheet, sheet_col, f"{m.table}.{col}", rule, problems,
                                   date_format=m.source.date_format, codes=m.codes.get(col), allowed=allowed)
    out = pd.DataFrame(frame, columns=list(m.columns), dtype=object)
    for c in schema.columns:
        if c.required and c.name not in out.columns:  # nullable (the mapping checks): blank on every row
            out[c.name] = None
    _duplicates(sheet.label, out[list(schema.key)], sheet.rows, f"the key of {m.table}", problems)
    return out, sheet


def _diary_rule(protocol: Protocol, item: str) -> Column:
    d = protocol.diary
    if item in SCHEMAS["diary"].names and item not in protocol.diary.items:
        column = SCHEMAS["diary"].column(item)  # a pain item on the protocol's scale; another column as it is
        return replace(column, min=d.scale[0], max=d.scale[1]) if ("diary", item) in PAIN_COLUMNS else column
    return Column(item, "float", item, nullable=True, min=d.scale_min, max=d.scale_max)


def _place_study_days(sheet: _Sheet, m: DiaryMapping, study_day: list[str | None], protocol: Protocol,
                      problems: _Problems) -> tuple[list[int | None], list[int | None]]:
    """Period and day of each study day (1 = the day after the first infusion)."""
    design = protocol.design
    length = design.period_days + (design.washout_days or 0)
    periods: list[int | None] = []
    days: list[int | None] = []
    for pos, v in enumerate(study_day):
        p = d = None
        if v is not None:
            s = int(v)
            k, within = (s - 1) // length + 1, (s - 1) % length + 1
            why = None
            if s < 1:
                why = "is before the first infusion (study day 1 = the day after it); no period holds it"
            elif k > design.periods:
                why = f"is after the last period ({design.periods} periods of {length} days)"
            elif within > design.period_days:
                why = (f"falls in the washout after period {k} (its days {design.period_days + 1}..{length}); "
                       "the diary holds period days only")
            if why is None:
                p, d = k, within
            else:
                problems.add(sheet.label, int(sheet.rows[pos]), f"column {m.study_day!r} (diary.study_day): {v} {why}",
                             column=m.study_day, value=s, allowed=f"1..{design.periods * length} outside washouts")
        periods.append(p)
        days.append(d)
    return periods, days


def _place_dates(sheet: _Sheet, m: DiaryMapping, dates: list[str | None], patient: list[str | None],
                 allocation: pd.DataFrame, protocol: Protocol, problems: _Problems) -> tuple[list[int | None], list[int | None]]:
    """Period and day of each date: the period whose infusion is the latest before the date."""
    starts: dict[str, list[tuple[dt.date, int]]] = {}
    for pid, per, inf in zip(allocation["patient_id"], allocation["period"], allocation["infusion_date"], strict=True):
        if pid is not None and per is not None and inf is not None:
            starts.setdefault(pid, []).append((dt.date.fromisoformat(inf), int(per)))
    periods: list[int | None] = []
    days: list[int | None] = []
    span = protocol.design.period_days
    for pos, (v, pid) in enumerate(zip(dates, patient, strict=True)):
        p = d = None
        if v is not None and pid is not None:
            date = dt.date.fromisoformat(v)
            before = sorted(s for s in starts.get(pid, []) if s[0] < date)
            row = int(sheet.rows[pos])
            if not starts.get(pid):
                problems.add(sheet.label, row, f"column {m.date!r} (diary.date): patient {pid} has no infusion_date in the "
                             "allocation, so the date cannot be placed in a period", column=m.date, value=v)
            elif not before:
                first = min(starts[pid])[0]
                problems.add(sheet.label, row, f"column {m.date!r} (diary.date): {v} is not after {pid}'s first infusion "
                             f"({first}); day 1 is the day after it", column=m.date, value=v)
            else:
                start, k = before[-1]
                gap = (date - start).days
                if gap > span:
                    problems.add(sheet.label, row, f"column {m.date!r} (diary.date): {v} is {gap} days after {pid}'s period-{k} "
                                 f"infusion ({start}); a period lasts {span} days", column=m.date, value=v, allowed=f"1..{span} days")
                else:
                    p, d = k, gap
        periods.append(p)
        days.append(d)
    return periods, days


def _diary(files: Mapping[str, Path], m: DiaryMapping, protocol: Protocol, allocation: pd.DataFrame | None, where: str,
           problems: _Problems) -> tuple[pd.DataFrame | None, pd.DataFrame | None, _Sheet]:
    """The diary table, and the allocation built from its treatment column (None if not mapped)."""
    sheet = _read_sheet(files, m.source, "diary", where)
    if not _columns_present(sheet, m.columns(), "diary", problems):
        return None, None, sheet
    fmt = m.source.date_format
    schema = SCHEMAS["diary"]
    patient = _check_column(sheet, m.patient_id, "diary.patient_id", schema.column("patient_id"), problems, date_format=fmt)
    if m.layout == "patient-period-day":
        period_rule = Column("period", "int", "period", min=1, max=protocol.design.periods)
        period = [None if v is None else int(v) for v in _check_column(sheet, str(m.period), "diary.period", period_rule, problems,
                                                                         date_format=fmt)]
        day = [None if v is None else int(v) for v in _check_column(sheet, str(m.day), "diary.day", schema.column("day"), problems,
                                                                      date_format=fmt)]
    elif m.study_day is not None:
        rule = Column("study_day", "int", "study day")
        period, day = _place_study_days(sheet, m, _check_column(sheet, m.study_day, "diary.study_day", rule, problems,
                                                                date_format=fmt), protocol, problems)
    else:
        rule = Column("date", "date", "date")
        dates = _check_column(sheet, str(m.date), "diary.date", rule, problems, date_format=fmt)
        if allocation is None:  # its sheet could not be read: reported there
            return None, None, sheet
        period, day = _place_dates(sheet, m, dates, patient, allocation, protocol, problems)
    frame: dict[str, list[Any]] = {"patient_id": patient, "period": period, "day": day}
    for item, col in m.items.items():
        frame[item] = _check_column(sheet, col, f"diary.items.{item}", _diary_rule(protocol, item), problems, date_format=fmt)
    diary = pd.DataFrame(frame, dtype=object)
    _duplicates(sheet.label, diary[["patient_id", "period", "day"]], sheet.rows, "one row per patient, period and day", problems)
    built = _allocation_from_diary(sheet, m, patient, period, protocol, problems) if m.treatment is not None else None
    return diary, built, sheet


def _allocation_from_diary(sheet: _Sheet, m: DiaryMapping, patient: list[str | None], period: list[int | None], protocol: Protocol,
                           problems: _Problems) -> pd.DataFrame | None:
    """One allocation row per patient x period of the diary: its treatment (the same on every
    row), and its sequence (the sequence column, or the treatments of every period in order)."""
    treat_rule = Column("treatment", "str", "treatment", nullable=True)
    treatment = _check_column(sheet, str(m.treatment), "diary.treatment", treat_rule, problems, date_format=None,
                              allowed=tuple(protocol.arm_codes))
    sequence = (_check_column(sheet, m.sequence, "diary.sequence", Column("sequence", "str", "sequence", nullable=True), problems,
                              date_format=None) if m.sequence is not None else [None] * len(patient))
    long = pd.DataFrame({"patient_id": patient, "period": pd.array(period, dtype="Int64"), "treatment": treatment, "sequence": sequence,
                         "_row": sheet.rows}).dropna(subset=["patient_id", "period"])
    rows: list[dict[str, Any]] = []
    for key, g in long.groupby(["patient_id", "period"], sort=True):
        pid, per = str(key[0]), int(str(key[1]))
        codes = g["treatment"].dropna().unique().tolist()
        if len(codes) != 1:
            what = "no treatment on any row" if not codes else f"treatments {', '.join(map(repr, codes))}"
            problems.items.append((sheet.label, None, f"column {m.treatment!r} (diary.treatment): patient {pid}, period {per} has "
                                   f"{what} (rows {', '.join(map(str, g['_row'].tolist()[:10]))}); one treatment per period",
                                   m.treatment, codes, tuple(protocol.arm_codes)))
            continue
        rows.append({"patient_id": pid, "period": per, "treatment": codes[0]})
    out = pd.DataFrame(rows, columns=["patient_id", "period", "treatment"]).assign(pre_infusion_pain=None)
    if m.sequence is not None:
        seqs = long.dropna(subset=["sequence"]).groupby("patient_id")["sequence"].unique()
        for who, s in seqs.items():
            if len(s) > 1:
                problems.items.append((sheet.label, None, f"column {m.sequence!r} (diary.sequence): patient {who!s} has sequences "
                                       f"{', '.join(map(repr, s))}; one sequence per patient", m.sequence, list(s), None))
        out["sequence"] = out["patient_id"].map({p: s[0] for p, s in seqs.items()})
        for who in out.loc[out["sequence"].isna(), "patient_id"].unique():
            problems.items.append((sheet.label, None, f"column {m.sequence!r} (diary.sequence): patient {who!s} has no sequence on "
                                   "any row", m.sequence, None, None))
    else:
        n = protocol.design.periods
        seq: dict[str, str] = {}
        for who, g in out.groupby("patient_id", sort=False):
            if sorted(g["period"]) != list(range(1, n + 1)):
                problems.items.append((sheet.label, None, f"patient {who!s} has diary rows in period(s) "
                                       f"{', '.join(map(str, sorted(g['period'])))} only, so its sequence of {n} treatments is not "
                                       "known; map the sequence column (diary.sequence)", m.treatment, None, None))
                continue
            seq[str(who)] = "-".join(g.sort_values("period")["treatment"])
        out["sequence"] = out["patient_id"].map(seq)
    return out


def _questionnaires(files: Mapping[str, Path], i: int, m: QuestionnaireMapping, protocol: Protocol, where: str,
                    problems: _Problems) -> tuple[pd.DataFrame | None, _Sheet]:
    """One row per answered item of a wide questionnaire sheet (a blank answer gives no row;
    clock answers ``HH:MM`` as minutes after midnight)."""
    section = f"questionnaires[{i}]"
    sheet = _read_sheet(files, m.source, section, where)
    if not _columns_present(sheet, m.columns(), section, problems):
        return None, sheet
    text_rule = Column("text", "str", "text")
    patient = _check_column(sheet, m.patient_id, f"{section}.patient_id", text_rule, problems, date_format=None)
    visits = tuple(v.name for v in protocol.visits) or None
    if m.visit is not None:
        visit = _check_column(sheet, m.visit, f"{section}.visit", text_rule, problems, date_format=None, allowed=visits)
    else:
        visit = [m.visit_name] * len(patient)
    keys = pd.DataFrame({"patient_id": patient, "visit": visit})
    _duplicates(sheet.label, keys, sheet.rows, "one row per patient and visit", problems)
    out: list[dict[str, Any]] = []
    for (inst, key), col in m.items.items():
        item = get_instrument(inst).item(key)
        for pos, raw in enumerate(sheet.cells[col].tolist()):
            v = _cell(raw)
            if v == "":
                continue
            value = _answer(v, raw, item)
            if value is None:
                problems.add(sheet.label, int(sheet.rows[pos]), f"column {col!r} ({section}.items.{inst}.{key}): {v!r} is not "
                             f"{item.allowed()}", column=col, value=v, allowed=item.allowed())
                continue
            if patient[pos] is None or visit[pos] is None:  # reported above
                continue
            out.append({"patient_id": patient[pos], "visit": visit[pos], "instrument": inst, "item": key, "value": value})
    return pd.DataFrame(out, columns=["patient_id", "visit", "instrument", "item", "value"]), sheet


def _answer(v: str, raw: Any, item: Any) -> float | None:
    """The answer as a number (clock times in minutes after midnight), None if not allowed."""
    if item.kind == "clock":
        if isinstance(raw, dt.time):
            return float(raw.hour * 60 + raw.minute)
        hh, colon, mm = v.partition(":")
        if colon and hh.strip().isdigit() and mm.strip()[:2].isdigit() and int(hh) < 24 and int(mm.strip()[:2]) < 60:
            return float(int(hh) * 60 + int(mm.strip()[:2]))
        try:  # or minutes after midnight
            minutes = float(v)
        except ValueError:
            return None
        return minutes if 0 <= minutes < 1440 else None
    try:
        x = float(v)
    except ValueError:
        return None
    if not math.isfinite(x) or (item.kind == "integer" and not x.is_integer()):
        return None
    if item.values is not None:
        return x if x in item.values else None
    if (item.minimum is not None and x < item.minimum) or (item.maximum is not None and x > item.maximum):
        return None
    return x


def import_spreadsheet(
    files: Sequence[str | PathLike[str]] | str | PathLike[str],
    *,
    mapping: Mapping[str, Any] | str | PathLike[str],
    protocol: Protocol,
    max_errors: int = _SHOWN,
) -> SpreadsheetImport:
    """Import trial data from spreadsheets (CSV or Excel ``.xlsx``) through a mapping file.

    Parameters
    ----------
    files
        The file(s) to read: ``.csv`` or ``.xlsx``. Each mapping section names its file
        (``file``, by name) unless only one file is given.
    mapping
        A dict or a ``.toml`` file (format: docs/import-spreadsheets.md), checked by
        :func:`load_spreadsheet_mapping`.
    protocol
        The study: diary items and their scale, arm codes, periods and their length (to place
        the days of a ``patient-day`` diary).
    max_errors
        How many problems the error lists.

    Returns
    -------
    SpreadsheetImport
        ``.data`` is the TrialData (meta ``study``, ``protocol_id``, ``source =
        "spreadsheet-import"``), rows in the sheets' order; tables with no section are empty
        (no ``[screening]``: screening not recorded). ``.summary()`` says what came from where.

    Raises
    ------
    DataError
        Nothing is imported while any problem remains; each names the file, sheet, sheet row
        (as the spreadsheet shows it), column, value and what is allowed, e.g.
        ``trial.xlsx sheet Diary row 5: column 'Average pain' (diary.items.avg_pain): 'n/a' is
        not a number; allowed: 0..10 or blank``. Problems: the mapping's (see
        :func:`load_spreadsheet_mapping`); a file or sheet that cannot be read or is not named;
        a mapped column missing from its sheet; values of the wrong type, out of range, not
        one of the allowed values or codes, or blank where required; a diary day outside
        every period (before the first infusion, in a washout, after the last period);
        rows sharing a key; a patient x period with no or several treatments; a
        questionnaire answer its item does not allow or a visit not in the protocol; then the
        TrialData checks across tables (patients, periods, sequences).
    """
    paths = [Path(files)] if isinstance(files, str | PathLike) else [Path(f) for f in files]
    if not paths:
        raise DataError("no file to import", located=True, source="files")
    named: dict[str, Path] = {}
    for p in paths:
        if p.name in named:
            raise DataError(f"two files are called {p.name}; give files distinct names", located=True, source=p.name)
        named[p.name] = p
    m: SpreadsheetMapping = load_spreadsheet_mapping(mapping, protocol=protocol)
    problems = _Problems(", ".join(named))
    tables: dict[str, pd.DataFrame | None] = {}
    report: list[tuple[str, str, int, int]] = []
    ignored: list[tuple[str, tuple[str, ...]]] = []
    used: dict[str, set[str]] = {}
    sheets: dict[str, _Sheet] = {}
    for name, tm in m.tables.items():
        frame, sheet = _long_table(named, tm, protocol, m.where, problems)
        tables[name] = frame
        sheets[sheet.label] = sheet
        used.setdefault(sheet.label, set()).update(tm.columns.values())
        report.append((name, sheet.label, len(sheet.cells), sheet.blank))
    if m.diary is not None:
        diary, built, sheet = _diary(named, m.diary, protocol, tables.get("allocation"), m.where, problems)
        tables["diary"] = diary
        if built is not None:
            tables["allocation"] = built
        sheets[sheet.label] = sheet
        used.setdefault(sheet.label, set()).update(m.diary.columns().values())
        report.append(("diary", sheet.label, len(sheet.cells), sheet.blank))
    answers = []
    for i, qm in enumerate(m.questionnaires):
        frame, sheet = _questionnaires(named, i, qm, protocol, m.where, problems)
        answers.append(frame)
        sheets[sheet.label] = sheet
        used.setdefault(sheet.label, set()).update(qm.columns().values())
        report.append(("questionnaires", sheet.label, len(sheet.cells), sheet.blank))
    if answers and all(a is not None for a in answers):
        tables["questionnaires"] = pd.concat(answers, ignore_index=True)
    problems.raise_if_any(max_errors)
    for label, sheet in sheets.items():
        extra = tuple(c if c else f"(unnamed column {i + 1})" for i, c in enumerate(sheet.cells.columns)
                      if c not in used[label] and (c or (sheet.cells.iloc[:, i].map(_cell) != "").any()))
        if extra:
            ignored.append((label, extra))
    meta = {"study": protocol.study.title, "protocol_id": protocol.study.id, "source": "spreadsheet-import"}
    try:
        data = TrialData.from_tables(**{k: v for k, v in tables.items() if v is not None}, meta=meta, treatments=protocol.arm_codes,
                                     max_errors=max_errors, diary_scale=protocol.diary.scale)
    except DataError as exc:
        raise DataError(f"the imported tables do not form valid trial data (rows below count each table's imported rows, the "
                        f"first being row 2):\n{exc}", located=True, source=", ".join(named)) from None
    blank = tuple(f"{t}.{c.name}" for t, frame in tables.items() if frame is not None for c in SCHEMAS[t].columns
                  if c.required and c.name in frame.columns and frame[c.name].isna().all() and len(frame)
                  and not (t in m.tables and c.name in m.tables[t].columns))
    return SpreadsheetImport(data=data, sheets=tuple(report), ignored_columns=tuple(ignored), blank_columns=blank)
