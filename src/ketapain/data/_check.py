"""Check a trial folder against its protocol: every problem, located and grouped by kind.

The table rules of ``docs/data-model.md`` (types, ranges, keys, references; :mod:`._validate`)
are one kind of problem, ``invalid_data``. The other kinds come from the protocol, handed in
as a :class:`DataContract` (this layer knows no protocol: :func:`ketapain.protocol.data_contract`
builds it): which diary items the diary holds and on what scale, the arms and the number of
periods, the visit names and the questionnaires each visit lists, the item keys of every
instrument (as ``ketapain instruments NAME`` lists them).

Each kind has a default severity (:data:`PROBLEM_KINDS`). Errors stop ``ketapain analyze``;
warnings are shown and recorded in the report. ``lenient`` turns the kinds the analysis can
step over (:data:`LENIENT_KINDS`) into warnings.

Row numbers are spreadsheet rows: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import FIRST_DATA_ROW, DataError
from ._coerce import display_value
from ._io import read_frames
from ._schema import REFERENCE_DIARY_ITEMS, SCHEMAS, TABLE_NAMES
from ._trial import TrialData
from ._validate import Problems, collect_problems

__all__ = [
    "CheckResult",
    "DataContract",
    "LENIENT_KINDS",
    "PROBLEM_KINDS",
    "Problem",
    "Severity",
    "check_trial",
    "template_columns",
]

Severity = Literal["error", "warning"]

PROBLEM_KINDS: Mapping[str, tuple[Severity, str]] = MappingProxyType({
    "unreadable": ("error", "the folder or a table file cannot be read"),
    "invalid_data": ("error", "a column, value, key or reference breaks the table rules (docs/data-model.md)"),
    "missing_diary_item": ("error", "a diary item of the protocol has no column in the diary"),
    "diary_value": ("error", "a diary value is not a number on the protocol's diary scale"),
    "diary_day": ("warning", "a diary day beyond the protocol's diary days per period"),
    "period_beyond_protocol": ("error", "an allocation period above the protocol's number of periods"),
    "no_auc_anchor": ("error", "the AUCs start at pre_infusion_pain, which is blank on every allocation row"),
    "no_allocation": ("error", "a patient without any allocation row"),
    "unknown_visit": ("error", "a questionnaire visit that is not a visit of the protocol"),
    "unknown_instrument": ("error", "a questionnaire that no visit of the protocol lists"),
    "unscheduled_instrument": ("warning", "a questionnaire of the protocol at a visit that does not list it"),
    "unknown_item": ("error", "an item key the instrument does not have (see ketapain instruments NAME)"),
    "empty_table": ("warning", "a table the analysis needs has no rows"),
})
"""Every kind of problem: its default severity and what it means, in listing order."""

LENIENT_KINDS: tuple[str, ...] = ("no_allocation", "unknown_instrument", "unknown_visit")
"""The error kinds ``lenient`` may turn into warnings, those the analysis steps over: it leaves
the rows of unknown visits and instruments out of the questionnaire analysis, and a patient
without allocation appears in Table 1 only."""

_KEEP = 50
"""How many problems of one kind are kept (all are counted)."""
_SHOW_ROWS = 5


@dataclass(frozen=True, slots=True)
class DataContract:
    """What a protocol asks of a trial's data (built by :func:`ketapain.protocol.data_contract`).

    Attributes
    ----------
    study : str
        The protocol's id, for messages.
    treatments : tuple of str
        Arm codes: the allowed ``allocation.treatment`` values.
    periods : int
        Number of periods; ``allocation.period`` is 1..periods.
    diary_items : tuple of str
        Columns the diary must have (the protocol's ``[diary] items``).
    scale_min, scale_max : float
        The diary scale; every diary item value, and ``allocation.pre_infusion_pain``, lies in
        it (inclusive).
    days_per_period : int
        Diary days of each period.
    visits : Mapping[str, tuple of str]
        Visit name -> the questionnaires (instrument names) filled in at it.
    instrument_items : Mapping[str, tuple of str]
        Instrument name -> its item keys, for every instrument a visit lists.
    auc_anchor : bool, default False
        The AUCs start on day 0 at ``allocation.pre_infusion_pain`` (the protocol's ``[auc]
        time_axis = "infusion"``); then a blank column on every allocation row leaves no AUC.
    """

    study: str
    treatments: tuple[str, ...]
    periods: int
    diary_items: tuple[str, ...]
    scale_min: float
    scale_max: float
    days_per_period: int
    visits: Mapping[str, tuple[str, ...]]
    instrument_items: Mapping[str, tuple[str, ...]]
    auc_anchor: bool = False

    @property
    def instruments(self) -> tuple[str, ...]:
        """Every instrument some visit lists, in visit order."""
        return tuple(dict.fromkeys(i for names in self.visits.values() for i in names))


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: its kind, where it is (file, rows, field, value) and what is allowed.

    ``rows`` holds the first few spreadsheet rows; ``n_rows`` counts them all (0: the problem
    is not about rows, e.g. a missing column).
    """

    kind: str
    detail: str
    source: str | None = None
    rows: tuple[int, ...] = ()
    n_rows: int = 0
    field: str | None = None
    value: object = None
    allowed: str | None = None

    def error(self) -> DataError:
        """The problem as a located :class:`~ketapain.errors.DataError` (not raised)."""
        if self.source is None:
            return DataError(self.detail, column=self.field, value=self.value, allowed=self.allowed)
        row = None if not self.rows else self.rows[0] if len(self.rows) == 1 else self.rows
        return DataError(self.detail, located=True, source=self.source, row=row, column=self.field, value=self.value,
                         allowed=self.allowed)

    def __str__(self) -> str:
        return str(self.error())


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Every problem of a trial folder, by kind; see :func:`check_trial`.

    Attributes
    ----------
    problems : tuple of Problem
        The problems kept (up to 50 per kind), in listing order of their kinds.
    counts : Mapping[str, int]
        Kind -> how many problems of that kind were found (all of them).
    lenient : frozenset of str
        The kinds turned into warnings.
    """

    problems: tuple[Problem, ...]
    counts: Mapping[str, int]
    lenient: frozenset[str] = field(default_factory=frozenset)

    def severity(self, kind: str) -> Severity:
        """``"error"`` or ``"warning"`` for ``kind``, after ``lenient``."""
        return "warning" if kind in self.lenient else PROBLEM_KINDS[kind][0]

    def kinds(self, severity: Severity | None = None) -> tuple[str, ...]:
        """The kinds found (of one severity, if given), in :data:`PROBLEM_KINDS` order."""
        return tuple(k for k in PROBLEM_KINDS if self.counts.get(k) and severity in (None, self.severity(k)))

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings may remain)."""
        return not self.kinds("error")

    def of_kind(self, kind: str) -> tuple[Problem, ...]:
        """The problems kept of ``kind``."""
        return tuple(p for p in self.problems if p.kind == kind)

    def warnings(self) -> tuple[Problem, ...]:
        """The problems kept whose kind is a warning."""
        return tuple(p for p in self.problems if self.severity(p.kind) == "warning")

    def listing(self, *, shown: int = 3, sources: Mapping[str, str] | None = None) -> list[str]:
        """Every kind found, as :meth:`kind_lines`, one after the other."""
        return [line for kind in self.kinds() for line in self.kind_lines(kind, shown=shown, sources=sources)]

    def kind_lines(self, kind: str, *, shown: int = 3, sources: Mapping[str, str] | None = None) -> list[str]:
        """One kind as lines: its head (kind, count, severity, meaning), then its first
        ``shown`` problems indented by two spaces; ``sources`` renames sources (label -> file)."""
        n = self.counts.get(kind, 0)
        noun = self.severity(kind) + ("s" if n > 1 else "")
        lines = [f"{kind}: {n} {noun} - {PROBLEM_KINDS[kind][1]}"]
        kept = self.of_kind(kind)[:shown]
        lines += [f"  {p.error().render(lambda name, value: name, sources=sources)}" for p in kept]
        if n > len(kept):
            lines.append(f"  ... and {n - len(kept)} more")
        return lines

    def raise_if_errors(self, where: str = "") -> None:
        """Raise one :class:`~ketapain.errors.DataError` listing every kind, if any is an error.

        Raises
        ------
        DataError
            If an error was found; the message is the :meth:`listing`, indented.
        """
        if self.ok:
            return
        n = sum(self.counts[k] for k in self.kinds("error"))
        head = f"the trial data{where} do not fit the protocol: {n} error{'s' if n > 1 else ''}"
        raise DataError("\n".join([head, *(f"  {line}" for line in self.listing())]))


class _Collector:
    """Keeps up to ``_KEEP`` problems per kind and counts them all."""

    def __init__(self) -> None:
        self.kept: dict[str, list[Problem]] = {}
        self.counts: dict[str, int] = {}

    def add(self, problem: Problem) -> None:
        self.counts[problem.kind] = self.counts.get(problem.kind, 0) + 1
        kept = self.kept.setdefault(problem.kind, [])
        if len(kept) < _KEEP:
            kept.append(problem)

    def result(self, lenient: frozenset[str]) -> CheckResult:
        problems = tuple(p for k in PROBLEM_KINDS for p in self.kept.get(k, ()))
        return CheckResult(problems, MappingProxyType(dict(self.counts)), lenient)


def check_trial(
    source: str | PathLike[str] | TrialData | Mapping[str, pd.DataFrame],
    contract: DataContract,
    *,
    lenient: Collection[str] = (),
) -> CheckResult:
    """Check a trial against the data contract of its protocol; report every problem.

    Parameters
    ----------
    source : path, TrialData or mapping of str to DataFrame
        A trial folder (its files are named in the problems), a TrialData, or raw tables by
        name (named by table).
    contract : DataContract
        What the protocol asks (:func:`ketapain.protocol.data_contract`).
    lenient : collection of str
        Kinds of :data:`LENIENT_KINDS` to report as warnings instead of errors.

    Returns
    -------
    CheckResult
        Never raises for bad data: a folder that cannot be read is an ``unreadable`` problem.
        :meth:`CheckResult.raise_if_errors` raises.

    Raises
    ------
    DataError
        If ``lenient`` names a kind that cannot be made lenient.

    Examples
    --------
    >>> contract = DataContract(study="demo", treatments=("A", "B"), periods=2,
    ...     diary_items=("avg_pain",), scale_min=0, scale_max=10, days_per_period=21,
    ...     visits={"inclusion": ("bpi",)}, instrument_items={"bpi": ("3", "4", "5", "6")})
    >>> q = pd.DataFrame({"patient_id": ["P1"], "visit": ["week_3"], "instrument": ["bpi"],
    ...     "item": ["3"], "value": [4.0]})
    >>> result = check_trial({"questionnaires": q}, contract)
    >>> result.ok, result.kinds()
    (False, ('invalid_data', 'unknown_visit', 'empty_table'))
    >>> str(result.of_kind("unknown_visit")[0])
    "questionnaires row 2: visit='week_3' is not a visit of protocol 'demo' (allowed: 'inclusion')"
    """
    chosen = frozenset(lenient)
    bad = sorted(chosen - set(LENIENT_KINDS))
    if bad:
        raise DataError(template="{@lenient=}: {kinds} cannot be made lenient; allowed: {allowed}",
                        params={"lenient": ",".join(sorted(chosen)), "kinds": ", ".join(bad),
                                "allowed": ", ".join(LENIENT_KINDS)},
                        value=bad, allowed=LENIENT_KINDS)
    out = _Collector()
    if isinstance(source, TrialData):
        frames: Mapping[str, pd.DataFrame] = source.to_tables()
        labels = {name: name for name in TABLE_NAMES}
    elif isinstance(source, Mapping):
        frames, labels = source, {name: name for name in TABLE_NAMES}
    else:
        try:
            frames, _meta, fmt = read_frames(Path(source))
        except DataError as exc:
            out.add(Problem("unreadable", str(exc)))
            return out.result(chosen)
        labels = {name: f"{name}.{fmt}" for name in TABLE_NAMES}
    _check_tables(frames, labels, contract, out)
    _check_contract(frames, labels, contract, out)
    return out.result(chosen)


def _check_tables(frames: Mapping[str, pd.DataFrame], labels: Mapping[str, str], contract: DataContract,
                  out: _Collector) -> None:
    """The table rules (``invalid_data``): one problem per message of :mod:`._validate`."""
    problems = Problems(limit=_KEEP)
    collect_problems(frames, labels=labels, treatments=contract.treatments, problems=problems,
                     diary_scale=(contract.scale_min, contract.scale_max))
    for message in problems.messages:
        out.add(Problem("invalid_data", message))
    if problems.total > len(problems.messages):  # counted, not kept
        out.counts["invalid_data"] += problems.total - len(problems.messages)


def _check_contract(frames: Mapping[str, pd.DataFrame], labels: Mapping[str, str], contract: DataContract,
                    out: _Collector) -> None:
    """The protocol's rules, on the raw tables (so they run even when the table rules fail)."""
    for name in ("patients", "allocation", "diary"):
        if frames.get(name) is None or frames[name].empty:
            out.add(Problem("empty_table", "has no rows; the analysis needs it", source=labels[name]))
    diary = frames.get("diary")
    if diary is not None:
        _check_diary(diary, labels["diary"], contract, out.add)
    allocation = frames.get("allocation")
    if allocation is not None and "period" in allocation.columns:
        period = pd.to_numeric(allocation["period"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        _by_value(out.add, "period_beyond_protocol", labels["allocation"], allocation["period"],
                  period > contract.periods,
                  lambda v: f"period={v} is above the {contract.periods} periods of protocol {contract.study!r}",
                  allowed=f"1..{contract.periods}")
    if contract.auc_anchor and allocation is not None and not allocation.empty:
        _check_anchor(allocation, labels["allocation"], contract, out.add)
    patients = frames.get("patients")
    if patients is not None and "patient_id" in patients.columns:
        allocated: pd.Series | list[str] = (_text(allocation["patient_id"]) if allocation is not None
                                            and "patient_id" in allocation.columns else [])
        ids = _text(patients["patient_id"])
        _by_value(out.add, "no_allocation", labels["patients"], patients["patient_id"],
                  (ids.notna() & ~ids.isin(allocated)).to_numpy(dtype=bool),
                  lambda v: f"patient_id={v} has no row in {labels['allocation']}")
    questionnaires = frames.get("questionnaires")
    if questionnaires is not None:
        _check_questionnaires(questionnaires, labels["questionnaires"], contract, out.add)


def _check_diary(diary: pd.DataFrame, label: str, contract: DataContract, add: Callable[[Problem], None]) -> None:
    """Every protocol item is a column holding numbers on the protocol's scale; days fit a period."""
    items = ", ".join(contract.diary_items)
    typed_here = set(SCHEMAS["diary"].names)
    for item in contract.diary_items:
        if item not in diary.columns:
            add(Problem("missing_diary_item", f"column {item!r} is missing; protocol {contract.study!r} has the "
                        f"diary items {items}", source=label, field=item, allowed=items))
        elif item not in typed_here:  # the table rules already check the schema's items
            raw = diary[item]
            x = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            scale = f"{contract.scale_min:g}..{contract.scale_max:g}"
            bad = (raw.notna().to_numpy(dtype=bool) & ~np.isfinite(x)) | (x < contract.scale_min) | (x > contract.scale_max)
            shown = pd.Series(np.where(np.isfinite(x), x, raw.to_numpy(dtype=object)), dtype=object)  # numbers as numbers
            _by_value(add, "diary_value", label, shown, bad, _says("{item}={value} is not a number in {scale} "
                                                                 "(the diary scale)", item=item, scale=scale),
                      field=item, allowed=scale)
    if "day" in diary.columns:
        day = pd.to_numeric(diary["day"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        _by_value(add, "diary_day", label, diary["day"], day > contract.days_per_period,
                  lambda v: f"day={v} is beyond the {contract.days_per_period} diary days of a period",
                  field="day", allowed=f"1..{contract.days_per_period}")


def _check_anchor(allocation: pd.DataFrame, label: str, contract: DataContract,
                  add: Callable[[Problem], None]) -> None:
    """With AUCs anchored at day 0, ``pre_infusion_pain`` is not blank on every row (else no
    AUC can be computed: every window starts at a missing point)."""
    column = "pre_infusion_pain"
    if column in allocation.columns and allocation[column].notna().any():
        return
    add(Problem("no_auc_anchor", f"{column} is blank on all {len(allocation)} rows, and protocol "
                f"{contract.study!r} starts every AUC on day 0 at it ([auc] time_axis = \"infusion\"), so no AUC "
                "can be computed: fill in the pain before the period's first dose or infusion, or set "
                "time_axis = \"first_diary_day\" (the AUC then starts at diary day 1)",
                source=label, field=column))


def _check_questionnaires(q: pd.DataFrame, label: str, contract: DataContract, add: Callable[[Problem], None]) -> None:
    """Visits are the protocol's; instruments are listed by a visit (that visit, as a warning);
    item keys are the instrument's."""
    if not {"visit", "instrument", "item"} <= set(q.columns):
        return  # reported by the table rules
    visit, inst, item = _text(q["visit"]), _text(q["instrument"]), _text(q["item"])
    visits = ", ".join(map(repr, contract.visits))
    known_visit = visit.isin(list(contract.visits)).to_numpy(dtype=bool)
    _by_value(add, "unknown_visit", label, q["visit"], visit.notna().to_numpy(dtype=bool) & ~known_visit,
              lambda v: f"visit={v} is not a visit of protocol {contract.study!r} (allowed: {visits})",
              field="visit", allowed=visits)
    listed = ", ".join(contract.instruments)
    known_inst = inst.isin(list(contract.instruments)).to_numpy(dtype=bool)
    _by_value(add, "unknown_instrument", label, q["instrument"], inst.notna().to_numpy(dtype=bool) & ~known_inst,
              lambda v: f"instrument={v} is not listed by any visit of protocol {contract.study!r} "
                        f"(allowed: {listed})", field="instrument", allowed=listed)
    pairs = {(v, i) for v, names in contract.visits.items() for i in names}
    scheduled = np.fromiter(((v, i) in pairs for v, i in zip(visit, inst, strict=True)), dtype=bool, count=len(q))
    where = pd.Series([f"instrument={i!r} at visit={v!r}" for v, i in zip(visit, inst, strict=True)], dtype="object")
    _by_value(add, "unscheduled_instrument", label, where, known_visit & known_inst & ~scheduled,
              _says("{value}: the protocol does not list it at that visit"), field="instrument", show=str)
    for name in contract.instruments:
        keys = contract.instrument_items.get(name, ())
        rows = (inst == name).to_numpy(dtype=bool)
        _by_value(add, "unknown_item", label, q["item"], rows & item.notna().to_numpy(dtype=bool) & ~item.isin(keys).to_numpy(dtype=bool),
                  _says("item={value} is not an item of {name} (items: {keys}; see ketapain instruments {name})",
                        name=name, keys=", ".join(keys)),
                  field="item", allowed=", ".join(keys))


def _says(template: str, **known: str) -> Callable[[str], str]:
    """A message maker for :func:`_by_value`: ``template`` with ``known`` and ``value`` filled in."""
    return lambda value: template.format(value=value, **known)


def _text(values: pd.Series) -> pd.Series:
    """Values as text (missing stays missing), with a fresh index."""
    return values.reset_index(drop=True).astype("string")


def _by_value(add: Callable[[Problem], None], kind: str, label: str, values: pd.Series, bad: np.ndarray,
              detail: Callable[[str], str], *, field: str | None = None, allowed: str | None = None,
              show: Callable[[object], str] = display_value) -> None:
    """One problem per distinct bad value of ``values`` (shown in ``detail`` by ``show``), with
    the rows holding it."""
    positions = np.flatnonzero(bad)
    if not len(positions):
        return
    column = values.reset_index(drop=True).iloc[positions]
    groups: dict[object, list[int]] = {}
    for pos, value in zip(positions, column, strict=True):
        groups.setdefault(value, []).append(int(pos))
    for value, where in groups.items():
        text = show(value)
        more = f"; {len(where)} rows in all" if len(where) > _SHOW_ROWS else ""
        add(Problem(kind, detail(text) + more, source=label, rows=tuple(p + FIRST_DATA_ROW for p in where[:_SHOW_ROWS]),
                    n_rows=len(where), field=field, value=value, allowed=allowed))


def template_columns(contract: DataContract) -> dict[str, tuple[str, ...]]:
    """The header of each table's template for a protocol: the schema's columns, with the
    protocol's diary items in place of the reference study's.

    Examples
    --------
    >>> contract = DataContract(study="demo", treatments=("A", "B"), periods=2,
    ...     diary_items=("avg_pain", "max_pain"), scale_min=0, scale_max=10, days_per_period=21,
    ...     visits={}, instrument_items={})
    >>> template_columns(contract)["diary"]
    ('patient_id', 'period', 'day', 'avg_pain', 'max_pain', 'extra_analgesics', 'extra_analgesics_detail')
    """
    out = {name: SCHEMAS[name].names for name in TABLE_NAMES}
    diary = [c for c in SCHEMAS["diary"].names if c not in REFERENCE_DIARY_ITEMS]
    key = list(SCHEMAS["diary"].key)
    out["diary"] = tuple(key + list(contract.diary_items) + [c for c in diary if c not in key])
    return out
