"""Validate the seven trial tables, one by one and against each other.

All checks are vectorised (boolean masks, ``duplicated``, ``isin``); Python loops run only
over the (capped) list of messages to format. Every problem is collected, then one
:class:`~ketapain.errors.DataError` lists up to ``max_errors`` of them.

Row numbers follow the spreadsheet convention: the header is row 1, so the first data row
(position 0 of the DataFrame) is row 2.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from .._options import check_scale
from ..errors import FIRST_DATA_ROW, DataError  # FIRST_DATA_ROW: one definition for the package
from ._coerce import coerce_column, display_value
from ._long import expected_treatment, sequence_letters
from ._schema import PAIN_COLUMNS, SCHEMAS, TABLE_NAMES, Column, TableSchema

__all__ = ["FIRST_DATA_ROW", "Problems", "check_diary_scale", "collect_problems", "empty_table", "format_rows",
           "validate_tables"]

_SHOW_ROWS = 5


class Problems:
    """Collects problem messages up to a cap while counting all of them.

    Parameters
    ----------
    limit : int
        How many messages to keep; the rest are only counted.

    Examples
    --------
    >>> p = Problems(limit=1)
    >>> p.add("a.csv row 2: x is missing")
    >>> p.extend(3, iter(["b", "c", "d"]))
    >>> p.total, p.messages
    (4, ['a.csv row 2: x is missing'])
    """

    def __init__(self, *, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"max_errors must be >= 1, got {limit}")
        self.limit = limit
        self.messages: list[str] = []
        self.total = 0

    @property
    def room(self) -> int:
        """How many more messages will be kept."""
        return self.limit - len(self.messages)

    def add(self, message: str) -> None:
        """Record one problem."""
        self.extend(1, iter([message]))

    def extend(self, count: int, messages: Iterator[str]) -> None:
        """Record ``count`` problems whose messages ``messages`` yields lazily, in order."""
        self.total += count
        for _ in range(min(count, self.room)):
            self.messages.append(next(messages))

    def raise_if_any(self, where: str = "") -> None:
        """Raise one DataError listing the kept messages, if any problem was recorded.

        Raises
        ------
        DataError
            If at least one problem was recorded.
        """
        if not self.total:
            return
        noun = "problem" if self.total == 1 else "problems"
        head = f"invalid trial data{where}: {self.total} {noun}"
        lines = [head, *(f"  {m}" for m in self.messages)]
        if self.total > len(self.messages):
            lines.append(
                f"  ... and {self.total - len(self.messages)} more "
                f"(only the first {len(self.messages)} are listed)"
            )
        raise DataError("\n".join(lines))


def format_rows(positions: Sequence[int] | np.ndarray) -> str:
    """Spreadsheet row numbers of 0-based ``positions``, in words.

    Examples
    --------
    >>> format_rows([2]), format_rows([2, 7]), format_rows([0, 1, 2])
    ('row 4', 'rows 4 and 9', 'rows 2, 3 and 4')
    >>> format_rows(range(10))
    'rows 2, 3, 4, 5, 6 and 5 more'
    """
    rows = [int(p) + FIRST_DATA_ROW for p in positions[: _SHOW_ROWS + 1]]
    n = len(positions)
    if n == 1:
        return f"row {rows[0]}"
    if n <= _SHOW_ROWS:
        return "rows " + ", ".join(map(str, rows[:-1])) + f" and {rows[-1]}"
    return "rows " + ", ".join(map(str, rows[:_SHOW_ROWS])) + f" and {n - _SHOW_ROWS} more"


def empty_table(schema: TableSchema) -> pd.DataFrame:
    """An empty frame with the columns and dtypes of ``schema``.

    Examples
    --------
    >>> empty_table(SCHEMAS["diary"]).dtypes["avg_pain"]
    dtype('float64')
    """
    return pd.DataFrame(
        {c.name: pd.Series([], dtype=c.pandas_dtype) for c in schema.columns}
    )


def validate_tables(
    frames: Mapping[str, pd.DataFrame | None],
    *,
    labels: Mapping[str, str],
    treatments: Collection[str] | None,
    max_errors: int,
    where: str = "",
    diary_scale: tuple[float, float] | None = None,
) -> dict[str, pd.DataFrame]:
    """Check and type all seven tables; return them in canonical form.

    Parameters
    ----------
    frames : mapping of str to DataFrame or None
        Raw tables by name; a missing name or None means an empty table.
    labels : mapping of str to str
        How to name each table in messages (``"diary.csv"``, or ``"diary"``).
    treatments : collection of str or None
        Allowed ``allocation.treatment`` codes (None: any text).
    max_errors : int
        How many problems to list in the error message.
    where : str
        Text added after "invalid trial data" in the message (e.g. " in /path").
    diary_scale : (float, float) or None
        The inclusive bounds of the pain columns (:data:`~ketapain.data.PAIN_COLUMNS`), the
        protocol's diary scale; None: the schema's 0..10.

    Returns
    -------
    dict of str to DataFrame
        Typed tables in canonical column order (schema columns, then extra ones), with a
        fresh RangeIndex.

    Raises
    ------
    DataError
        Listing every problem found (up to ``max_errors``).
    """
    problems = Problems(limit=max_errors)
    typed = collect_problems(frames, labels=labels, treatments=treatments, problems=problems,
                             diary_scale=diary_scale)
    problems.raise_if_any(where)
    return {name: _finalise(SCHEMAS[name], frame) for name, frame in typed.items()}


def collect_problems(
    frames: Mapping[str, pd.DataFrame | None],
    *,
    labels: Mapping[str, str],
    treatments: Collection[str] | None,
    problems: Problems,
    diary_scale: tuple[float, float] | None = None,
) -> dict[str, pd.DataFrame]:
    """The checks of :func:`validate_tables`, recording every problem in ``problems``
    instead of raising; returns the typed (nullable) tables, not yet in canonical dtypes.

    Raises
    ------
    DataError
        If ``frames`` names a table that does not exist, or ``diary_scale`` is not
        ``(low, high)`` with finite ``low < high``.
    """
    scaled = _scaled_columns(diary_scale)
    unknown = sorted(set(frames) - set(TABLE_NAMES))
    if unknown:
        raise DataError(f"unknown table(s) {unknown}; the tables are {list(TABLE_NAMES)}")
    allowed: dict[tuple[str, str], tuple[str, ...]] = {}
    if treatments is not None:
        allowed[("allocation", "treatment")] = tuple(treatments)
    typed: dict[str, pd.DataFrame] = {}
    unusable: set[tuple[str, str]] = set()
    for name in TABLE_NAMES:
        frame = frames.get(name)
        schema = SCHEMAS[name]
        if frame is None:
            typed[name] = empty_table(schema)
            continue
        typed[name] = _check_table(
            schema, frame, labels.get(name, name), problems, allowed, unusable, scaled
        )
    _check_references(typed, labels, problems, unusable)
    return typed


def _check_table(
    schema: TableSchema,
    frame: pd.DataFrame,
    label: str,
    problems: Problems,
    allowed_sets: Mapping[tuple[str, str], tuple[str, ...]],
    unusable: set[tuple[str, str]],
    scaled: Mapping[tuple[str, str], Column] | None = None,
) -> pd.DataFrame:
    """Type one table and report its own problems; returns the typed (nullable) frame.

    ``allowed_sets`` gives allowed values for (table, column) pairs beyond the schema's
    (the protocol's treatment codes); ``scaled`` replaces the schema's pain columns by the
    same columns bounded by the protocol's diary scale.

    Columns that are absent (or the whole table, when its header is unusable) are added
    to ``unusable`` as (table, column) so that reference checks against them are skipped
    instead of reporting every row again.
    """
    if not isinstance(frame, pd.DataFrame):
        kind = type(frame).__name__
        raise TypeError(f"{schema.name}: expected a pandas DataFrame, got {kind}")
    columns = list(frame.columns)
    for c in columns:
        if not isinstance(c, str):
            problems.add(f"{label}: column name {c!r} is not text")
    seen = pd.Index(columns)
    for c in seen[seen.duplicated()].unique():
        problems.add(f"{label}: column {c!r} appears more than once")
    if seen.duplicated().any():
        unusable.update((schema.name, c) for c in schema.names)
        return empty_table(schema)
    n = len(frame)
    out: dict[str, pd.Series] = {}
    for col in [(scaled or {}).get((schema.name, c.name), c) for c in schema.columns]:
        if col.name in frame.columns:
            allowed = allowed_sets.get((schema.name, col.name), col.allowed)
            raw = frame[col.name].reset_index(drop=True)
            out[col.name] = _check_column(raw, col, allowed, label, problems)
            continue
        if col.required:
            problems.add(f"{label}: required column {col.name!r} is missing")
            unusable.add((schema.name, col.name))
        dtype = _nullable(col.pandas_dtype)
        out[col.name] = pd.Series(None, index=pd.RangeIndex(n), dtype=dtype)
    extras = [c for c in columns if c not in schema.names]
    typed = pd.DataFrame(out)
    if extras:
        typed = pd.concat([typed, frame[extras].reset_index(drop=True)], axis=1)
    if all(k in frame.columns for k in schema.key):
        _check_duplicates(typed, schema.key, label, problems)
    if schema.name == "allocation":
        _check_one_sequence(typed, label, problems)
        _check_sequence_treatment(typed, label, problems, allowed_sets.get(("allocation", "treatment")))
    elif schema.name == "concomitant":
        _check_concomitant_status(typed, label, problems)
    elif schema.name == "screening":
        _check_screening(typed, label, problems)
    return typed


def check_diary_scale(diary_scale: object) -> tuple[float, float] | None:
    """``diary_scale`` as ``(low, high)`` floats (None stays None: the schema's 0..10).

    Raises
    ------
    DataError
        Unless it is None or two finite numbers with ``low < high``.

    Examples
    --------
    >>> check_diary_scale((0, 100))
    (0.0, 100.0)
    >>> check_diary_scale((5, 5))
    Traceback (most recent call last):
    ...
    ketapain.errors.DataError: diary_scale=(5, 5) must be (low, high): two finite numbers with low < high
    """
    return None if diary_scale is None else check_scale("diary_scale", diary_scale, error=DataError)


def _scaled_columns(diary_scale: object) -> dict[tuple[str, str], Column]:
    """The pain columns bounded by ``diary_scale`` (none when it is None: the schema's bounds hold)."""
    scale = check_diary_scale(diary_scale)
    if scale is None:
        return {}
    return {(t, c): replace(SCHEMAS[t].column(c), min=scale[0], max=scale[1]) for t, c in PAIN_COLUMNS}


def _check_column(
    raw: pd.Series,
    col: Column,
    allowed: tuple[str, ...] | None,
    label: str,
    problems: Problems,
) -> pd.Series:
    """Convert one column and report its unparseable, missing and disallowed values."""
    name = col.name
    coerced = coerce_column(raw, col)
    unparsed = np.zeros(len(raw), dtype=bool)
    for mask, why in coerced.failures:
        unparsed |= mask

        def unparsed_message(p: int, why: str = why) -> str:
            return f"{name}={display_value(raw.iloc[p])} {why}"

        _report_rows(problems, label, mask, unparsed_message)
    values = coerced.values
    present = values.notna().to_numpy(dtype=bool)
    if not col.nullable:
        _report_rows(problems, label, ~present & ~unparsed,
                     lambda p: f"{name} is missing; a value is required")
    if allowed is not None:
        outside = present & ~values.isin(allowed).to_numpy(dtype=bool)
        rule = "one of " + ", ".join(repr(v) for v in allowed)
        _report_rows(problems, label, outside,
                     lambda p: f"{name}={display_value(values.iloc[p])} is not {rule}")
    if col.pattern is not None:
        regex, meaning = col.pattern
        text = values.astype("object").where(values.notna(), "")
        mismatch = present & ~text.astype(str).str.fullmatch(regex).to_numpy(dtype=bool)
        _report_rows(problems, label, mismatch,
                     lambda p: f"{name}={display_value(values.iloc[p])} is not {meaning}")
    if col.min is not None or col.max is not None:
        x = values.to_numpy(dtype="float64", na_value=np.nan)
        outside = np.zeros(len(x), dtype=bool)
        with np.errstate(invalid="ignore"):
            if col.min is not None:
                outside |= x < col.min
            if col.max is not None:
                outside |= x > col.max
        both = col.min is not None and col.max is not None
        verb = "is outside" if both else "is not"
        _report_rows(problems, label, outside,
                     lambda p: f"{name}={display_value(float(x[p]))} {verb} {col.rule}")
    return values


def _nullable(dtype: str) -> str:
    return {"int64": "Int64", "bool": "boolean"}.get(dtype, dtype)


def _report_rows(
    problems: Problems, label: str, mask: np.ndarray, message: Callable[[int], str]
) -> None:
    """One problem per row of ``mask``: ``<label> row <n>: <message(position)>``."""
    positions = np.flatnonzero(mask)
    if not len(positions):
        return
    problems.extend(
        len(positions),
        (f"{label} {format_rows([p])}: {message(p)}" for p in positions[: problems.room]),
    )


def _groups(
    keys: pd.DataFrame, positions: np.ndarray
) -> tuple[int, Iterator[tuple[tuple[object, ...], np.ndarray]]]:
    """Group ``positions`` by the rows of ``keys`` (same length), in order of appearance.

    Returns the number of groups and a lazy iterator of (key values, positions).
    """
    codes = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy()
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    first = np.unique(codes, return_index=True)[1]

    def gen() -> Iterator[tuple[tuple[object, ...], np.ndarray]]:
        for g in range(n_groups):
            row = keys.iloc[first[g]]
            yield tuple(row.tolist()), positions[codes == g]

    return n_groups, gen()


def _key_text(names: Sequence[str], values: Sequence[object]) -> str:
    return ", ".join(f"{n}={display_value(v)}" for n, v in zip(names, values, strict=True))


def _check_duplicates(
    typed: pd.DataFrame, key: tuple[str, ...], label: str, problems: Problems
) -> None:
    complete = typed[list(key)].notna().all(axis=1).to_numpy(dtype=bool)
    dup = typed[list(key)].duplicated(keep=False).to_numpy(dtype=bool) & complete
    if not dup.any():
        return
    positions = np.flatnonzero(dup)
    n, groups = _groups(typed.loc[dup, list(key)].reset_index(drop=True), positions)
    problems.extend(n, (
        f"{label} {format_rows(pos)}: duplicate key ({_key_text(key, vals)})"
        for vals, pos in groups
    ))


def _check_one_sequence(typed: pd.DataFrame, label: str, problems: Problems) -> None:
    ok = typed[["patient_id", "sequence"]].notna().all(axis=1)
    sub = typed.loc[ok, ["patient_id", "sequence"]]
    counts = sub.groupby("patient_id", sort=False)["sequence"].transform("nunique")
    bad = np.zeros(len(typed), dtype=bool)
    bad[np.flatnonzero(ok.to_numpy(dtype=bool))[(counts > 1).to_numpy(dtype=bool)]] = True
    if not bad.any():
        return
    positions = np.flatnonzero(bad)
    n, groups = _groups(typed.loc[bad, ["patient_id"]].reset_index(drop=True), positions)

    def messages() -> Iterator[str]:
        for (pid,), pos in groups:
            seqs = ", ".join(display_value(s) for s in pd.unique(typed["sequence"].iloc[pos]))
            yield (
                f"{label} {format_rows(pos)}: patient_id={display_value(pid)} has more than "
                f"one sequence ({seqs}); a patient keeps one sequence in every period"
            )

    problems.extend(n, messages())


def _check_sequence_treatment(typed: pd.DataFrame, label: str, problems: Problems, allowed: Sequence[str] | None) -> None:
    """The treatment at each period is the one the patient's sequence gives: its letter when
    every sequence label spells its treatments (``P-KM-K``, ``ABC``), else what most patients
    of that sequence have at that period (as :func:`ketapain.data.check_long`)."""
    cols = ["patient_id", "period", "sequence", "treatment"]
    ok = typed[cols].notna().all(axis=1).to_numpy(dtype=bool).copy()
    # a row already reported (a treatment outside the allowed set, a second row for a patient
    # and period, a patient with two sequences) is not reported again here
    if allowed is not None:
        ok &= typed["treatment"].isin(allowed).to_numpy(dtype=bool)
    ok &= ~typed.duplicated(["patient_id", "period"]).to_numpy(dtype=bool)
    ok &= (typed.groupby("patient_id", dropna=False)["sequence"].transform("nunique") <= 1).to_numpy(dtype=bool)
    if not ok.any():
        return
    sub = typed.loc[ok, cols].astype(str)
    keys = pd.DataFrame({"g": 0, "s": sub["patient_id"], "p": typed.loc[ok, "period"].astype("int64"),
                         "q": sub["sequence"], "t": sub["treatment"]})
    spelt = sequence_letters(keys["q"], set(keys["t"]))
    expected = expected_treatment(keys, spelt)
    wrong = keys["t"].to_numpy() != expected
    if not wrong.any():
        return
    positions = np.flatnonzero(ok)[wrong]
    how = "the sequence's letter" if spelt else "what most patients of that sequence have"

    def messages() -> Iterator[str]:
        for k, pos in enumerate(positions):
            yield (
                f"{label} {format_rows([pos])}: treatment={display_value(sub['treatment'].iloc[np.flatnonzero(wrong)[k]])} "
                f"but sequence={display_value(typed['sequence'].iloc[pos])} gives {expected[wrong][k]!r} at period "
                f"{typed['period'].iloc[pos]} ({how})"
            )

    problems.extend(len(positions), messages())


def _check_concomitant_status(typed: pd.DataFrame, label: str, problems: Problems) -> None:
    period = typed["period"].to_numpy(dtype="float64", na_value=np.nan)
    status = typed["status"]
    baseline = (status == "baseline").to_numpy(dtype=bool, na_value=False)
    added = (status == "added").to_numpy(dtype=bool, na_value=False)
    bad = (baseline & (period > 0)) | (added & (period == 0))
    _report_rows(problems, label, bad, lambda p: (
        f"status={display_value(status.iloc[p])} does not match "
        f"period={display_value(float(period[p]))}; 'baseline' goes with period 0 and "
        "'added' with periods >= 1"
    ))


def _check_screening(typed: pd.DataFrame, label: str, problems: Problems) -> None:
    outcome = typed["outcome"]
    randomised = (outcome == "randomised").to_numpy(dtype=bool, na_value=False)
    not_eligible = (outcome == "not_eligible").to_numpy(dtype=bool, na_value=False)
    eligible = typed["eligible"]
    is_true = (eligible == True).to_numpy(dtype=bool, na_value=False)  # noqa: E712
    is_false = (eligible == False).to_numpy(dtype=bool, na_value=False)  # noqa: E712
    has_id = typed["patient_id"].notna().to_numpy(dtype=bool)
    _report_rows(problems, label, has_id & ~randomised & outcome.notna().to_numpy(dtype=bool),
                 lambda p: (
                     f"patient_id={display_value(typed['patient_id'].iloc[p])} is set but "
                     f"outcome={display_value(outcome.iloc[p])}; only a randomised person "
                     "has a patient_id"
                 ))
    _report_rows(problems, label, randomised & is_false, lambda p: (
        "outcome='randomised' but eligible=false; only an eligible person is randomised"
    ))
    _report_rows(problems, label, not_eligible & is_true, lambda p: (
        "outcome='not_eligible' but eligible=true"
    ))
    ids = typed["patient_id"]
    dup = ids.duplicated(keep=False).to_numpy(dtype=bool) & has_id
    if dup.any():
        positions = np.flatnonzero(dup)
        n, groups = _groups(typed.loc[dup, ["patient_id"]].reset_index(drop=True), positions)
        problems.extend(n, (
            f"{label} {format_rows(pos)}: patient_id={display_value(vals[0])} appears more "
            "than once; a patient is screened once"
            for vals, pos in groups
        ))


def _check_references(
    typed: Mapping[str, pd.DataFrame],
    labels: Mapping[str, str],
    problems: Problems,
    unusable: set[tuple[str, str]],
) -> None:
    """Cross-table rules: every reference points at an existing row.

    A check is skipped when a column it needs is missing (already reported).
    """
    patients = typed["patients"]["patient_id"]
    allocation = typed["allocation"][["patient_id", "period"]]
    plabel = labels.get("patients", "patients")
    alabel = labels.get("allocation", "allocation")
    for name in ("allocation", "diary", "questionnaires", "adverse_events", "concomitant",
                 "screening"):
        child = typed[name]
        label = labels.get(name, name)
        ids = child["patient_id"]
        present = ids.notna().to_numpy(dtype=bool)
        if ("patients", "patient_id") in unusable:
            continue
        known = ids.isin(patients.dropna()).to_numpy(dtype=bool)
        _missing(problems, label, child[["patient_id"]], present & ~known, f"is not in {plabel}")
        if {("allocation", "patient_id"), ("allocation", "period")} & unusable:
            continue
        if name in ("diary", "adverse_events", "concomitant"):
            period = child["period"].to_numpy(dtype="float64", na_value=np.nan)
            check = present & known & (period >= 1)
            if not check.any():
                continue
            keys = pd.MultiIndex.from_frame(child.loc[check, ["patient_id", "period"]])
            found = keys.isin(pd.MultiIndex.from_frame(allocation.dropna()))
            bad = np.zeros(len(child), dtype=bool)
            bad[np.flatnonzero(check)[~found]] = True
            _missing(problems, label, child[["patient_id", "period"]], bad,
                     f"is not in {alabel}")


def _missing(
    problems: Problems, label: str, keys: pd.DataFrame, bad: np.ndarray, what: str
) -> None:
    """One problem per distinct unknown key, listing the rows that use it."""
    if not bad.any():
        return
    positions = np.flatnonzero(bad)
    n, groups = _groups(keys.loc[bad].reset_index(drop=True), positions)
    names = list(keys.columns)

    def messages() -> Iterator[str]:
        for vals, pos in groups:
            key = _key_text(names, vals)
            key = key if len(names) == 1 else f"({key})"
            yield f"{label} {format_rows(pos)}: {key} {what}"

    problems.extend(n, messages())


def _finalise(schema: TableSchema, typed: pd.DataFrame) -> pd.DataFrame:
    """Cast a valid table to its canonical dtypes (non-nullable ints and bools)."""
    out = typed.copy()
    for col in schema.columns:
        if out[col.name].dtype != col.pandas_dtype:
            out[col.name] = out[col.name].astype(col.pandas_dtype)
    return out.reset_index(drop=True)
