"""Import a REDCap flat record export into a TrialData, through a field mapping."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import replace
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ketapain.data import FIRST_DATA_ROW, PAIN_COLUMNS, SCHEMAS, TABLE_NAMES, TrialData
from ketapain.errors import DataError
from ketapain.instruments import get_instrument
from ketapain.interop._odm_values import canonical_order, from_text
from ketapain.interop._redcap import REDCAP_ID_COLUMNS, load_mapping, redcap_mapping
from ketapain.protocol import Protocol

__all__ = ["read_redcap"]

_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_MAX = 20


def _kind(target: Mapping[str, Any]) -> tuple[str, bool]:
    table, col = target["table"], target.get("column")
    if table == "questionnaires" and "item" in target:
        return "float", True
    cols = {c.name: c for c in SCHEMAS[table].columns}
    if col in cols:
        return cols[col].dtype, cols[col].nullable
    return str(target.get("type", "str")), True


def read_redcap(records_csv: str | PathLike[str] | io.StringIO, *, protocol: Protocol,
                mapping: Mapping[str, Any] | str | PathLike[str] | None = None, max_errors: int = _MAX) -> TrialData:
    """Import a REDCap flat record export (CSV, raw values) into a TrialData.

    Parameters
    ----------
    records_csv
        The export: columns ``record_id, redcap_event_name, redcap_repeat_instrument,
        redcap_repeat_instance`` (the last two may be absent if nothing repeats), then the
        fields; a checkbox field as ``<field>___<code>`` columns (1 ticked, 0 or blank not);
        ``<form>_complete`` columns are ignored. Blank cells are missing values.
    protocol
        The study (default mapping, arm codes checked in ``allocation.treatment``).
    mapping
        A dict, or a ``.toml`` / ``.json`` file, shaped like :func:`redcap_mapping`'s result
        (the default, for a project built from :func:`redcap_dictionary`).
    max_errors
        How many problems the error lists.

    Returns
    -------
    TrialData
        Tables in :func:`canonical_order`; ``meta``: ``study``, ``protocol_id`` and
        ``source = "redcap-import"``. A record with demographics is a patient
        (``patient_id`` = ``record_id``); a questionnaire answer left blank gives no row.
        An export without any screening value (a project that keeps no screening log,
        with or without the screening fields) gives an empty ``screening`` table: screening not recorded, which the CONSORT flow
        reports as such.

    Raises
    ------
    DataError
        Listing every problem, nothing imported: unknown events, repeat instruments and
        columns (listed); values that do not fit their field, e.g.
        ``records.csv row 12 (record 7, event period_2_arm_1): field avg_pain = 11 is outside 0..10``;
        a value in a row of the wrong kind (a diary field outside a daily_diary instance);
        then the TrialData validation (duplicates, unknown patients...), prefixed with the file.
    """
    where = getattr(records_csv, "name", None) or (str(records_csv) if not isinstance(records_csv, io.StringIO) else "records")
    name = Path(where).name
    m = load_mapping(mapping) if mapping is not None else redcap_mapping(protocol)
    raw = _read_export(records_csv, name)
    problems: list[str] = []
    rows = pd.Series(np.arange(len(raw)) + FIRST_DATA_ROW, index=raw.index)

    def place(i: Any) -> str:
        return f"{name} row {rows[i]} (record {raw.at[i, 'record_id']!s}, event {raw.at[i, 'redcap_event_name']!s})"

    fields: dict[str, Mapping[str, Any]] = dict(m["fields"])
    checkbox, events, repeat_table = _check_structure(raw, m, name, rows, place, problems)
    values = _decode_fields(raw, m, repeat_table, place, problems, protocol.diary.scale)
    if problems:
        _fail(name, problems, max_errors)
    tables = _assemble(raw, values, checkbox, fields, events, repeat_table, place, problems)
    if problems:
        _fail(name, problems, max_errors)
    meta = {"study": protocol.study.title, "protocol_id": protocol.study.id, "source": "redcap-import"}
    try:
        data = TrialData.from_tables(**tables, meta=meta, treatments=protocol.arm_codes, max_errors=max_errors,
                                     diary_scale=protocol.diary.scale)
    except DataError as exc:
        raise DataError(f"{name}: the records do not form valid trial data:\n{exc}") from None
    return canonical_order(data)


def _read_export(records_csv: str | PathLike[str] | io.StringIO, name: str) -> pd.DataFrame:
    """The export as stripped text cells, with every id column (blank when absent)."""
    try:
        raw = pd.read_csv(records_csv, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False, encoding="utf-8-sig") \
            if not isinstance(records_csv, io.StringIO) else pd.read_csv(records_csv, dtype=str, keep_default_na=False, na_filter=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{name}: cannot read the REDCap export: {exc}") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    raw = raw.apply(lambda s: s.str.strip())
    if "record_id" not in raw.columns or "redcap_event_name" not in raw.columns:
        raise DataError(f"{name}: columns record_id and redcap_event_name are required (a longitudinal REDCap export); "
                        f"found {', '.join(raw.columns[:6])}")
    if not (raw != "").to_numpy().any():
        raise DataError(f"{name}: the REDCap export has a header but no records; export the project's records "
                        "(Data Exports: all records, raw values, CSV)", source=name, row=2)
    for col in REDCAP_ID_COLUMNS[2:]:
        if col not in raw.columns:
            raw[col] = ""
    return raw


def _check_structure(raw: pd.DataFrame, m: Mapping[str, Any], name: str, rows: pd.Series, place: Any,
                     problems: list[str]) -> tuple[dict[str, tuple[str, str]], pd.Series, pd.Series]:
    """Columns, events, record ids and repeat instruments against the mapping (problems
    appended); returns the checkbox columns (column -> (field, code)), each row's event
    (``screening``, ``period:2``, ``visit:<name>``...) and each row's repeating table."""
    fields = m["fields"]
    checkbox: dict[str, tuple[str, str]] = {}
    unknown: list[str] = []
    for col in raw.columns:
        if col in REDCAP_ID_COLUMNS or col in fields or col.endswith("_complete"):
            continue
        base, sep, code = col.partition("___")
        if sep and base in fields:
            checkbox[col] = (base, code)
        else:
            unknown.append(col)
    if unknown:
        problems.append(f"{name}: {len(unknown)} column(s) not in the mapping: {', '.join(unknown[:15])}"
                        + (" ..." if len(unknown) > 15 else ""))
    events = raw["redcap_event_name"].map(dict(m["events"]))
    bad = raw.index[events.isna()]
    if len(bad):
        names = sorted(set(raw.loc[bad, "redcap_event_name"]))
        problems.append(f"{name}: unknown event(s) {', '.join(map(repr, names))} in row(s) "
                        f"{', '.join(str(rows[i]) for i in bad[:5])}{' ...' if len(bad) > 5 else ''}; known: {', '.join(m['events'])}")
    blank = raw["record_id"] == ""
    for i in raw.index[blank][:5]:
        problems.append(f"{name} row {rows[i]}: record_id is blank")
    repeating = dict(m.get("repeating", {}))
    rep = raw["redcap_repeat_instrument"]
    bad = raw.index[(rep != "") & ~rep.isin(list(repeating))]
    for i in bad[:5]:
        problems.append(f"{place(i)}: repeat instrument {rep[i]!r} is not in the mapping (known: {', '.join(repeating)})")
    return checkbox, events, rep.map(repeating)


def _decode_fields(raw: pd.DataFrame, m: Mapping[str, Any], repeat_table: pd.Series, place: Any,
                   problems: list[str], scale: tuple[float, float]) -> dict[str, pd.Series]:
    """Field -> its column with codes decoded; every value checked against its field and its
    row's kind (vectorised per column; problems appended)."""
    codes = m.get("codes", {})
    repeating = dict(m.get("repeating", {}))
    rep = raw["redcap_repeat_instrument"]
    values: dict[str, pd.Series] = {}
    for field, target in m["fields"].items():
        if field not in raw.columns:
            continue
        col = raw[field].copy()
        if field in codes:
            known = {str(k): str(v) for k, v in codes[field].items()}
            miss = (col != "") & ~col.isin(list(known))
            for i in raw.index[miss][:5]:
                problems.append(f"{place(i)}: field {field} = {col[i]!r} is not one of the codes {', '.join(known)}")
            col = col.map(lambda v, k=known: k.get(v, v))
        values[field] = col
        _check_field(field, target, col, raw, place, problems, scale)
        table = target["table"]
        wrong = (col != "") & ((repeat_table != table) if table in repeating.values() else (rep != ""))
        for i in raw.index[wrong][:3]:
            problems.append(f"{place(i)}: field {field} has a value in a row that is not a "
                            + (f"{table} instance" if table in repeating.values() else "non-repeating row"))
    return values


def _fail(name: str, problems: list[str], max_errors: int) -> None:
    shown = problems[:max_errors]
    more = f"\n  ... and {len(problems) - max_errors} more (only the first {max_errors} are listed)" if len(problems) > max_errors else ""
    raise DataError(f"REDCap import of {name}: {len(problems)} problem{'s' * (len(problems) != 1)}\n  " + "\n  ".join(shown) + more)


def _check_field(field: str, target: Mapping[str, Any], col: pd.Series, raw: pd.DataFrame, place: Any, problems: list[str],
                 scale: tuple[float, float]) -> None:
    given = col != ""
    if not given.any():
        return
    table = target["table"]
    if table == "questionnaires" and "item" in target:
        item = get_instrument(target["instrument"]).item(str(target["item"]))
        if item.kind == "clock":
            hm = col.str.extract(_CLOCK).apply(pd.to_numeric, errors="coerce")
            bad = given & ~((hm[0] < 24) & (hm[1] < 60))
            for i in raw.index[bad][:5]:
                problems.append(f"{place(i)}: field {field} = {col[i]!r} is not a clock time HH:MM (00:00..23:59)")
            return
        num = pd.to_numeric(col.where(given), errors="coerce")
        lo, hi = item.minimum, item.maximum
        allowed = item.values
        bad = given & (num.isna() | (num < lo if lo is not None else False) | (num > hi if hi is not None else False)
                       | (~num.isin(list(allowed)) if allowed is not None else False))
        for i in raw.index[bad][:5]:
            problems.append(f"{place(i)}: field {field} = {col[i]} is not {item.allowed()}")
        return
    kind, _nullable = _kind(target)
    column = target.get("column")
    c = {x.name: x for x in SCHEMAS[table].columns}.get(column) if isinstance(column, str) else None
    if c is not None and (table, c.name) in PAIN_COLUMNS:  # on the protocol's diary scale
        c = replace(c, min=scale[0], max=scale[1])
    if kind in ("int", "float"):
        num = pd.to_numeric(col.where(given), errors="coerce")
        notnum = given & num.isna()
        for i in raw.index[notnum][:5]:
            problems.append(f"{place(i)}: field {field} = {col[i]!r} is not a number")
        if kind == "int":
            for i in raw.index[given & num.notna() & (num % 1 != 0)][:5]:
                problems.append(f"{place(i)}: field {field} = {col[i]} is not a whole number")
        if c is not None and (c.min is not None or c.max is not None):
            lo = -np.inf if c.min is None else c.min
            hi = np.inf if c.max is None else c.max
            for i in raw.index[given & num.notna() & ((num < lo) | (num > hi))][:5]:
                problems.append(f"{place(i)}: field {field} = {col[i]} is outside {c.rule}")
    elif kind == "bool":
        for i in raw.index[given & ~col.str.lower().isin(["1", "0", "true", "false", "yes", "no"])][:5]:
            problems.append(f"{place(i)}: field {field} = {col[i]!r} is not yes/no (1 or 0)")
    elif kind == "date":
        parsed = pd.to_datetime(col.where(given), format="%Y-%m-%d", errors="coerce")
        for i in raw.index[given & parsed.isna()][:5]:
            problems.append(f"{place(i)}: field {field} = {col[i]!r} is not a date YYYY-MM-DD")
    elif c is not None and c.allowed:
        for i in raw.index[given & ~col.isin(list(c.allowed))][:5]:
            problems.append(f"{place(i)}: field {field} = {col[i]!r} is not one of {', '.join(c.allowed)}")


def _assemble(raw: pd.DataFrame, values: Mapping[str, pd.Series], checkbox: Mapping[str, tuple[str, str]],
              fields: Mapping[str, Mapping[str, Any]], events: pd.Series, repeat_table: pd.Series, place: Any,
              problems: list[str]) -> dict[str, pd.DataFrame | None]:
    """The TrialData tables from the decoded fields (problems appended: data outside their
    kind of event)."""
    kind_of = events.fillna("").str.partition(":")[0]
    period = pd.to_numeric(events.fillna("").str.partition(":")[2].where(kind_of == "period"), errors="coerce")
    visit = events.fillna("").str.partition(":")[2].where(kind_of == "visit")
    out: dict[str, pd.DataFrame | None] = {}
    for table in ("patients", "screening", "allocation", "diary", "adverse_events"):
        idx, cols = _gather(raw, values, fields, repeat_table, table)
        if table == "screening" and not len(idx):
            continue  # no screening field, or none filled in: screening not recorded (an empty table)
        frame = pd.DataFrame(_typed(fields, table, idx, cols), index=range(len(idx)))
        if table in ("patients", "allocation", "diary", "adverse_events"):
            frame.insert(0, "patient_id", raw.loc[idx, "record_id"].to_numpy())
        if table in ("allocation", "diary"):
            p = period[idx]
            for i in idx[p.isna()][:5]:
                problems.append(f"{place(i)}: {table} data outside a period event")
            frame.insert(1, "period", p.to_numpy())
        out[table] = frame
    out["concomitant"] = _concomitant(raw, values, checkbox, fields, kind_of, period, place, problems)
    questionnaires = _questionnaires(raw, values, fields, visit, place, problems)
    if questionnaires is not None:
        out["questionnaires"] = questionnaires
    for t in TABLE_NAMES:
        out.setdefault(t, None)
    return out


def _gather(raw: pd.DataFrame, values: Mapping[str, pd.Series], fields: Mapping[str, Mapping[str, Any]],
            repeat_table: pd.Series, table: str) -> tuple[pd.Index, dict[str, pd.Series]]:
    """The rows holding ``table``'s data (a value, or an instance of its repeating form) and
    its columns (column -> decoded field)."""
    cols = {fields[f]["column"]: values[f] for f in values if fields[f]["table"] == table and "drug_class" not in fields[f]}
    if not cols:
        return raw.index[:0], {}
    frame = pd.DataFrame(cols)
    has = (frame != "").any(axis=1)
    if table in set(repeat_table.dropna()):
        has = has | (repeat_table == table)
    return raw.index[has], cols


def _typed(fields: Mapping[str, Mapping[str, Any]], table: str, idx: pd.Index,
           cols: Mapping[str, pd.Series]) -> dict[str, Any]:
    """The rows ``idx`` of ``table``'s columns: schema columns as text (yes/no as true/false),
    extra columns typed from the mapping."""
    res: dict[str, Any] = {}
    schema = {c.name for c in SCHEMAS[table].columns}
    for col, series in cols.items():
        s = series[idx]
        target = next(t for f, t in fields.items() if t["table"] == table and t.get("column") == col)
        kind, nullable = _kind(target)
        if col in schema:
            if kind == "bool":
                s = s.str.lower().map({"1": "true", "0": "false", "true": "true", "false": "false", "yes": "true", "no": "false", "": ""})
            res[col] = s.to_numpy(dtype=object)
        else:
            vals = [None if v == "" else v for v in s.tolist()]
            if kind == "bool":
                vals = [None if v is None else ("true" if v.lower() in ("1", "true", "yes") else "false") for v in vals]
            if kind == "int" and not any(v is None for v in vals):
                nullable = False
            if kind == "bool" and not any(v is None for v in vals):
                nullable = False
            res[col] = from_text(vals, kind, nullable).to_numpy()
    return res


def _concomitant(raw: pd.DataFrame, values: Mapping[str, pd.Series], checkbox: Mapping[str, tuple[str, str]],
                 fields: Mapping[str, Mapping[str, Any]], kind_of: pd.Series, period: pd.Series, place: Any,
                 problems: list[str]) -> pd.DataFrame:
    """Concomitant rows from the checkbox ticks (+ names); period from the event (0 at screening)."""
    cm_rows = []
    for col, (base, code) in checkbox.items():
        if fields[base]["table"] != "concomitant":
            continue
        ticked = raw[col].isin(["1"])
        cls = code  # an unknown class is reported by the TrialData validation
        name_field = next((f for f, t in fields.items() if t.get("drug_class") == cls), None)
        for i in raw.index[ticked]:
            ev = kind_of[i]
            per = 0 if ev == "screening" else period[i]
            if ev not in ("screening", "period"):
                problems.append(f"{place(i)}: concomitant drug class {cls} ticked outside the screening or a period event")
                continue
            name = values[name_field][i] if name_field is not None and name_field in values else ""
            cm_rows.append({"patient_id": raw.at[i, "record_id"], "period": int(per), "drug_class": cls,
                            "status": "baseline" if per == 0 else "added", "drug_name": name or None})
    return pd.DataFrame(cm_rows, columns=["patient_id", "period", "drug_class", "status", "drug_name"])


def _questionnaires(raw: pd.DataFrame, values: Mapping[str, pd.Series], fields: Mapping[str, Mapping[str, Any]],
                    visit: pd.Series, place: Any, problems: list[str]) -> pd.DataFrame | None:
    """One row per answered questionnaire item (clock answers as minutes after midnight), with
    its form's ``completed_date``; a dated form has a row for every item of its instrument
    (an item left blank: value missing). None when the export has no questionnaire field."""
    qf = [f for f in values if fields[f]["table"] == "questionnaires"]
    if not qf:
        return None
    wide = pd.DataFrame({f: values[f] for f in qf})
    wide["patient_id"] = raw["record_id"]
    wide["visit"] = visit
    wide["row"] = raw.index
    long = wide.melt(id_vars=["patient_id", "visit", "row"], var_name="field", value_name="raw")
    long = long[long["raw"] != ""]
    outside = long["visit"].isna()
    for i, f, v in long.loc[outside, ["row", "field", "raw"]].head(5).itertuples(index=False):
        problems.append(f"{place(i)}: questionnaire field {f} = {v!r} is outside a visit event (a questionnaire belongs to a visit)")
    long = long[~outside]
    long["instrument"] = long["field"].map(lambda f: fields[f]["instrument"])
    is_date = long["field"].map(lambda f: "item" not in fields[f]).astype(bool)
    keys = ["patient_id", "visit", "instrument"]
    dated = long.loc[is_date, [*keys, "raw"]].rename(columns={"raw": "completed_date"})
    long = long[~is_date].copy()
    long["item"] = long["field"].map(lambda f: str(fields[f]["item"]))
    clock = long["raw"].str.match(_CLOCK)
    hm = long.loc[clock, "raw"].str.extract(_CLOCK).astype(float)
    value = pd.to_numeric(long["raw"].where(~clock), errors="coerce")
    value[clock] = hm[0] * 60 + hm[1]
    long["value"] = value
    answers = long[[*keys, "item", "value"]]
    if len(dated):
        every_item = pd.DataFrame(
            [(inst, it.key) for inst in dated["instrument"].unique() for it in get_instrument(inst).items], columns=["instrument", "item"]
        )
        grid = dated[keys].merge(every_item, on="instrument")
        answers = grid.merge(answers, on=[*keys, "item"], how="outer")
        answers = answers.merge(dated, on=keys, how="left")
    else:
        answers = answers.assign(completed_date=None)
    return answers[["patient_id", "visit", "instrument", "item", "value", "completed_date"]].reset_index(drop=True)
