"""Column types, value text and row order shared by the ODM, REDCap and FHIR converters.

Every converter writes a table cell as text and reads it back; this module is the one place
that says how (``kind`` is one of the five TrialData column types: int, float, str, bool,
date) so that an export -> import round trip gives the same values and dtypes, extra columns
included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ketapain.data import DEFAULT_DIARY_SCALE, PAIN_COLUMNS, SCHEMAS, TABLE_NAMES, DType, TrialData
from ketapain.errors import DataError

__all__ = ["canonical_order"]


def column_kinds(frame: pd.DataFrame, table: str) -> list[tuple[str, DType, bool]]:
    """``(column, kind, nullable)`` of every column of a TrialData table, extras included.

    Schema columns take their declared type; an extra column takes the type of its pandas
    dtype (``int64``/``Int64`` -> int, ``bool``/``boolean`` -> bool, floats -> float,
    datetimes -> date, anything else -> str) and is nullable unless its dtype cannot hold a
    missing value (``int64``, ``bool``).
    """
    schema = SCHEMAS[table]
    out = [(c.name, c.dtype, c.nullable) for c in schema.columns]
    known = {c.name for c in schema.columns}
    for name in frame.columns:
        if name in known:
            continue
        dtype = frame[name].dtype
        if pd.api.types.is_bool_dtype(dtype):
            out.append((name, "bool", str(dtype) != "bool"))
        elif pd.api.types.is_integer_dtype(dtype):
            out.append((name, "int", str(dtype) != "int64"))
        elif pd.api.types.is_float_dtype(dtype):
            out.append((name, "float", True))
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            out.append((name, "date", True))
        else:
            out.append((name, "str", True))
    return out


def to_text(series: pd.Series, kind: str) -> list[str | None]:
    """Cells as text (None = missing): ints bare, floats shortest round-trip, dates ISO,
    booleans ``true``/``false``."""
    values = series.astype(object).tolist()
    missing = series.isna().to_numpy()
    out: list[str | None] = []
    for v, na in zip(values, missing, strict=True):
        if na:
            out.append(None)
        elif kind == "int":
            out.append(str(int(v)))
        elif kind == "float":
            f = float(v)
            out.append(str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f))
        elif kind == "bool":
            out.append("true" if bool(v) else "false")
        elif kind == "date":
            out.append(pd.Timestamp(v).strftime("%Y-%m-%d"))
        else:
            out.append(str(v))
    return out


def from_text(values: Sequence[str | None], kind: str, nullable: bool) -> pd.Series:
    """Rebuild a typed column from text cells written by :func:`to_text` (values are valid)."""
    vals = list(values)
    if kind == "str":
        return pd.Series([np.nan if v is None else v for v in vals], dtype="str")
    if kind == "float":
        return pd.Series([np.nan if v is None else float(v) for v in vals], dtype="float64")
    if kind == "int":
        dtype = "Int64" if nullable else "int64"
        return pd.Series([pd.NA if v is None else int(float(v)) for v in vals], dtype=dtype)
    if kind == "bool":
        dtype = "boolean" if nullable else "bool"
        return pd.Series([pd.NA if v is None else v.strip().lower() in ("true", "1", "yes") for v in vals], dtype=dtype)
    return pd.Series(pd.to_datetime(pd.Series(list(vals), dtype=object), format="%Y-%m-%d"), dtype="datetime64[us]")


def form_dates(q: pd.DataFrame, export: str) -> dict[tuple[str, str, str], str]:
    """(patient_id, visit, instrument) -> the ``completed_date`` of that questionnaire form
    (ISO text), for forms that have one. ODM and REDCap hold one date per form (an item of
    its group, a date field of its form), so the rows of a form must agree: all the same
    date, or all missing.

    Raises
    ------
    DataError
        The rows of one form disagree; the message starts with ``<export> export:``.
    """
    keys = ["patient_id", "visit", "instrument"]
    if "completed_date" not in q.columns or not q["completed_date"].notna().any():
        return {}
    text = q["completed_date"].dt.strftime("%Y-%m-%d").astype(object).where(q["completed_date"].notna(), "")
    per_form = text.groupby([q[k] for k in keys], sort=False).agg(["nunique", "first"])
    mixed = per_form[per_form["nunique"] > 1]
    if len(mixed):
        pid, visit, inst = mixed.index[0]
        seen = sorted(set(text[(q["patient_id"] == pid) & (q["visit"] == visit) & (q["instrument"] == inst)]))
        raise DataError(
            f"{export} export: questionnaires of patient {pid!r}, visit {visit!r}, instrument {inst!r}: completed_date differs between "
            f"its items ({', '.join(s or 'missing' for s in seen)}); {export} holds one completion date per questionnaire form"
        )
    dated = per_form[per_form["first"] != ""]
    return {(str(p), str(v), str(i)): str(d) for (p, v, i), d in dated["first"].items()}


def visit_rank(visits: Iterable[str], order: Sequence[str]) -> dict[str, int]:
    """Visit name -> rank: ``order`` (the protocol's visits) first, then the others by name."""
    rank = {v: i for i, v in enumerate(order)}
    for v in sorted(set(visits) - set(rank)):
        rank[v] = len(rank)
    return rank


def canonical_order(data: TrialData) -> TrialData:
    """The same trial with every table's rows sorted by its key (text keys by name).

    The importers (:func:`from_odm`, :func:`read_redcap`, :func:`from_fhir_bundle`) return
    their tables in this order, whatever the order of the file, so an export -> import round
    trip gives ``canonical_order(data)`` back.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> from ketapain.simulate import simulate_trial
    >>> data = simulate_trial(load_protocol("ketapain"), n_patients=3, seed=1)
    >>> data.questionnaires["instrument"].head(3).tolist()   # the simulator writes by instrument
    ['dn4', 'dn4', 'dn4']
    >>> canonical_order(data).questionnaires[["patient_id", "visit", "instrument"]].iloc[0].tolist()
    ['P001', 'end_period_1', 'bpi']
    """
    tables = data.to_tables()
    for name in TABLE_NAMES:
        key = list(SCHEMAS[name].key)
        tables[name] = tables[name].sort_values(key, kind="stable").reset_index(drop=True)
    return from_named_tables(tables, meta=data.meta, diary_scale=_held_scale(tables))


def _held_scale(tables: Mapping[str, pd.DataFrame]) -> tuple[float, float]:
    """A diary scale holding every pain value of already validated tables (0..10 at least):
    re-sorting rows does not re-check what the TrialData was checked against (its protocol's
    scale, which a TrialData does not store)."""
    values = np.concatenate([tables[t][c].to_numpy(dtype="float64", na_value=np.nan) for t, c in PAIN_COLUMNS
                             if c in tables[t].columns] + [np.array(DEFAULT_DIARY_SCALE)])
    return float(np.nanmin(values)), float(np.nanmax(values))


def from_named_tables(tables: Mapping[str, pd.DataFrame], *, meta: Mapping[str, str],
                      diary_scale: tuple[float, float] | None = None) -> TrialData:
    """``TrialData.from_tables`` of the seven tables in ``tables`` (keyed by :data:`TABLE_NAMES`)."""
    return TrialData.from_tables(
        patients=tables["patients"], allocation=tables["allocation"], diary=tables["diary"],
        questionnaires=tables["questionnaires"], adverse_events=tables["adverse_events"],
        concomitant=tables["concomitant"], screening=tables["screening"], meta=meta, diary_scale=diary_scale,
    )
