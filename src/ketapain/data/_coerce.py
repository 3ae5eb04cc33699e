"""Turn raw columns (CSV text, or whatever a caller put in a DataFrame) into typed columns.

Every function here is vectorised: it returns the typed column plus boolean masks of the
values that could not be converted, each with the reason, so that validation can report
them row by row without looping over rows.

Conventions
-----------
- Missing: NaN/None/NA/NaT, and (for text input) an empty or blank cell. ``"NA"`` or
  ``"nan"`` are *not* missing: they are text, and in a numeric column they are reported.
- Numbers: anything :func:`pandas.to_numeric` parses (``3``, ``3.0``, ``1e-2``; leading and
  trailing blanks ignored). ``inf`` parses but is rejected as not finite.
- Integers: a number with no fractional part (``3`` or ``3.0``), at most 2**53 in size.
- Booleans: ``true/false``, ``yes/no``, ``1/0`` in any case.
- Dates: ``YYYY-MM-DD`` text (a ``00:00:00`` time after it is tolerated), or date/datetime
  values, without a time of day.
- Text: kept exactly (no stripping); non-text values are converted with ``str``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from ._schema import Column

__all__ = ["Coerced", "coerce_column", "display_value"]

_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")
_BOOL_WORDS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}
_NA_WORDS = frozenset({"na", "n/a", "nan", "null", "none", "nat", ".", "-"})
_INT_LIMIT = 2.0**53
_DATE_UNIT: Final = "datetime64[us]"
# YYYY-MM-DD, optionally followed by a time (which must then be midnight).
_DATE_SHAPE = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"


@dataclass(frozen=True, slots=True)
class Coerced:
    """A converted column and the values that failed conversion.

    Attributes
    ----------
    values : pandas.Series
        The column in its validation dtype (nullable: ``Int64``, ``float64``, ``str``,
        ``boolean``, ``datetime64[us]``); failed values are missing here.
    failures : list of (numpy.ndarray, str)
        Boolean masks of failed rows, each with the reason to print after the value.
    """

    values: pd.Series
    failures: list[tuple[np.ndarray, str]]


def coerce_column(raw: pd.Series, column: Column) -> Coerced:
    """Convert ``raw`` to the type of ``column``, reporting what cannot be converted.

    Parameters
    ----------
    raw : pandas.Series
        The column as given (text from a CSV file, or any dtype from a DataFrame).
    column : Column
        The schema column it must become.

    Returns
    -------
    Coerced
        Converted values and failure masks with reasons.

    Examples
    --------
    >>> from ketapain.data import SCHEMAS
    >>> col = SCHEMAS["diary"].column("avg_pain")
    >>> out = coerce_column(pd.Series(["3", "", "x"], dtype="str"), col)
    >>> out.values.tolist()
    [3.0, nan, nan]
    >>> [(m.tolist(), why) for m, why in out.failures]
    [([False, False, True], 'is not a number (allowed: 0..10)')]
    """
    raw = raw.reset_index(drop=True)
    if column.dtype == "str":
        return _to_str(raw)
    if column.dtype in ("int", "float"):
        return _to_number(raw, column)
    if column.dtype == "bool":
        return _to_bool(raw)
    return _to_date(raw)


def display_value(value: object) -> str:
    """Show one raw value the way error messages do: text quoted, numbers bare.

    Examples
    --------
    >>> display_value("P01"), display_value(11.0), display_value(2.5), display_value(True)
    ("'P01'", '11', '2.5', 'true')
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else value.isoformat()
    return repr(value) if not isinstance(value, int) else str(value)


def _text(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Raw values as stripped text, and the mask of missing (NA or blank) values."""
    text = raw if raw.dtype == "str" else raw.astype("str")
    text = text.str.strip()
    missing = (text.isna() | (text == "")).to_numpy(dtype=bool)
    return text, missing


def _na_hint(text: pd.Series, mask: np.ndarray) -> np.ndarray:
    """Rows of ``mask`` whose text looks like someone's spelling of 'missing'."""
    return mask & text.str.lower().isin(_NA_WORDS).to_numpy(dtype=bool, na_value=False)


def _to_str(raw: pd.Series) -> Coerced:
    values = raw if raw.dtype == "str" else raw.astype("str")
    values = values.mask(values == "")
    return Coerced(values, [])


def _to_number(raw: pd.Series, column: Column) -> Coerced:
    word = "an integer" if column.dtype == "int" else "a number"
    allowed = f"(allowed: {column.rule})"
    failures: list[tuple[np.ndarray, str]] = []
    if pd.api.types.is_bool_dtype(raw.dtype):
        present = raw.notna().to_numpy(dtype=bool)
        x = np.full(len(raw), np.nan)
        failures.append((present, f"is not {word} {allowed}"))
    elif pd.api.types.is_numeric_dtype(raw.dtype):
        x = raw.to_numpy(dtype="float64", na_value=np.nan)
    else:
        text, missing = _text(raw)
        parsed = pd.to_numeric(text.mask(missing), errors="coerce")
        x = np.asarray(parsed, dtype="float64")
        unparsed = ~missing & np.isnan(x)
        hint = _na_hint(text, unparsed)
        if hint.any():
            failures.append((hint, f"is not {word} {allowed}; a missing value is an empty cell"))
        failures.append((unparsed & ~hint, f"is not {word} {allowed}"))
    with np.errstate(invalid="ignore"):
        infinite = np.isinf(x)
        failures.append((infinite, f"is not a finite number {allowed}"))
        x = np.where(infinite, np.nan, x)
        if column.dtype == "int":
            huge = np.abs(x) > _INT_LIMIT
            fraction = ~huge & (x != np.round(x)) & ~np.isnan(x)
            failures.append((huge, f"is too large {allowed}"))
            failures.append((fraction, f"is not {word} {allowed}"))
            x = np.where(huge | fraction, np.nan, x)
    failures = [(m, why) for m, why in failures if m.any()]
    values = pd.Series(x, dtype="float64")
    if column.dtype == "int":
        values = values.astype("Int64")
    return Coerced(values, failures)


def _to_bool(raw: pd.Series) -> Coerced:
    allowed = "(allowed: true/false, yes/no, 1/0)"
    if pd.api.types.is_bool_dtype(raw.dtype):
        return Coerced(raw.astype("boolean"), [])
    if pd.api.types.is_numeric_dtype(raw.dtype):
        x = raw.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isnan(x) & (x != 0) & (x != 1)
        values = pd.Series(np.where(bad, np.nan, x), dtype="float64").astype("boolean")
        return Coerced(values, [(bad, f"is not a boolean {allowed}")] if bad.any() else [])
    text, missing = _text(raw)
    values = text.str.lower().map(_BOOL_WORDS)
    bad = ~missing & values.isna().to_numpy(dtype=bool)
    values = values.astype("boolean")
    return Coerced(values, [(bad, f"is not a boolean {allowed}")] if bad.any() else [])


def _to_date(raw: pd.Series) -> Coerced:
    allowed = "(allowed: a date YYYY-MM-DD)"
    failures: list[tuple[np.ndarray, str]] = []
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        raw = raw.dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        values = raw.astype(_DATE_UNIT)
    elif raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) in (
        "date",
        "datetime",
        "datetime64",
    ):
        values = pd.to_datetime(raw, errors="coerce").astype(_DATE_UNIT)
        bad = raw.notna().to_numpy(dtype=bool) & values.isna().to_numpy(dtype=bool)
        failures.append((bad, f"is not a date {allowed}"))
    else:
        text, missing = _text(raw)
        shaped = text.str.fullmatch(_DATE_SHAPE).to_numpy(dtype=bool, na_value=False)
        values = pd.to_datetime(text.where(shaped), format="ISO8601", errors="coerce")
        values = values.astype(_DATE_UNIT)
        bad = ~missing & values.isna().to_numpy(dtype=bool)
        hint = _na_hint(text, bad)
        if hint.any():
            failures.append((hint, f"is not a date {allowed}; a missing value is an empty cell"))
        failures.append((bad & ~hint, f"is not a date {allowed}"))
    timed = (values.notna() & (values != values.dt.normalize())).to_numpy(dtype=bool)
    failures.append((timed, f"is not a date: it has a time of day {allowed}"))
    values = values.mask(timed)
    return Coerced(values, [(m, why) for m, why in failures if m.any()])
