"""The CONSORT flow of a crossover trial, counted from the screening log and the allocation.

Definitions (one place; also in docs/operations.md):

* **screened**: rows of the screening log (one per screened person); when the trial kept no
  screening log (``screening=None``, or an empty log with an allocation) the screening
  counts are None, "not recorded", and **randomised** is the number of patients in the
  allocation;
* **not eligible / refused / other**: ``outcome`` = ``not_eligible`` / ``refused`` /
  ``other``, with the ``reason`` text counted (an empty reason counts as "not stated");
* **randomised**: ``outcome`` = ``randomised``;
* per period *p*: **allocated** = randomised patients with an allocation row for *p*;
  **received** = those rows with an ``infusion_date`` (every allocation row when the table
  has no ``infusion_date`` column, e.g. simulated data); **completed** = received and at
  least one non-missing ``avg_pain`` in the diary for that patient and period;
  **analysed** = completed, unless the analysed patient x period pairs are given;
* overall: **completed** = randomised patients who completed every period; **analysed** =
  randomised patients analysed in at least one period (intention to treat: a crossover mixed
  model uses every period a patient contributes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ketapain._options import Number, check_option
from ketapain.errors import FIRST_DATA_ROW, DataError

__all__ = ["ConsortFlow", "PeriodFlow", "consort_flow"]

OUTCOMES = ("randomised", "refused", "not_eligible", "other")
_TRUE = {"true", "yes", "1", "t", "y"}
_FALSE = {"false", "no", "0", "f", "n"}
NOT_STATED = "not stated"


@dataclass(frozen=True, slots=True)
class PeriodFlow:
    """Counts for one period (None = not known: no diary given)."""

    period: int
    allocated: int
    received: int
    completed: int | None
    analysed: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"period": self.period, "allocated": self.allocated, "received": self.received,
                "completed": self.completed, "analysed": self.analysed}


@dataclass(frozen=True, slots=True)
class ConsortFlow:
    """The CONSORT flow counts (definitions in :mod:`ketapain.operations._consort`).

    ``n_screened``, ``n_not_eligible``, ``n_refused`` and ``n_other`` are None when
    screening was not recorded (see :attr:`screening_recorded`)."""

    n_screened: int | None
    n_not_eligible: int | None
    not_eligible_reasons: tuple[tuple[str, int], ...]
    n_refused: int | None
    refused_reasons: tuple[tuple[str, int], ...]
    n_other: int | None
    other_reasons: tuple[tuple[str, int], ...]
    n_randomised: int
    periods: tuple[PeriodFlow, ...] = field(default=())
    n_completed: int | None = None
    n_analysed: int | None = None
    sequences: tuple[tuple[str, int], ...] = field(default=())
    """Patients randomised to each sequence (allocation's ``sequence`` column), in order of
    first appearance; empty when the allocation has no sequence column."""

    @property
    def screening_recorded(self) -> bool:
        """False when the trial kept no screening log: the screening counts are unknown."""
        return self.n_screened is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; reasons as ``{reason: count}`` objects, periods as a list; the
        screening counts are null when screening was not recorded."""
        return {
            "n_screened": self.n_screened,
            "n_not_eligible": self.n_not_eligible,
            "not_eligible_reasons": dict(self.not_eligible_reasons),
            "n_refused": self.n_refused,
            "refused_reasons": dict(self.refused_reasons),
            "n_other": self.n_other,
            "other_reasons": dict(self.other_reasons),
            "n_randomised": self.n_randomised,
            "periods": [p.to_dict() for p in self.periods],
            "n_completed": self.n_completed,
            "n_analysed": self.n_analysed,
            "sequences": dict(self.sequences),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per period: ``period, allocated, received, completed, analysed`` (nullable ints)."""
        frame = pd.DataFrame([p.to_dict() for p in self.periods], columns=["period", "allocated", "received", "completed", "analysed"])
        return frame.astype(dict.fromkeys(frame.columns, "Int64"))

    def summary(self) -> str:
        """The flow as indented text, top to bottom."""
        def na(x: int | None) -> str:
            return "n/a" if x is None else str(x)

        def reasons(items: tuple[tuple[str, int], ...]) -> list[str]:
            return [f"      - {r}: {n}" for r, n in items]

        if self.screening_recorded:
            lines = [f"Screened: {self.n_screened}"]
            lines.append(f"  Not eligible: {self.n_not_eligible}")
            lines += reasons(self.not_eligible_reasons)
            lines.append(f"  Refused: {self.n_refused}")
            lines += reasons(self.refused_reasons)
            if self.n_other:
                lines.append(f"  Other: {self.n_other}")
                lines += reasons(self.other_reasons)
        else:
            lines = ["Screened: not recorded", "  Not eligible, refused, other: not recorded"]
        lines.append(f"Randomised: {self.n_randomised}")
        lines += [f"  Sequence {seq}: {n}" for seq, n in self.sequences]
        for p in self.periods:
            lines.append(f"  Period {p.period}: allocated {p.allocated}, received {p.received}, "
                         f"completed {na(p.completed)}, analysed {na(p.analysed)}")
        lines.append(f"Completed every period: {na(self.n_completed)}")
        lines.append(f"Analysed (at least one period): {na(self.n_analysed)}")
        return "\n".join(lines)


def _reasons(reason: pd.Series) -> tuple[tuple[str, int], ...]:
    texts = [NOT_STATED if _missing(r) else str(r).strip() for r in reason]
    counts = Counter(texts)
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _as_bool(values: pd.Series, label: str) -> pd.Series:
    out: list[bool | None] = []
    for pos, v in enumerate(values):
        if isinstance(v, bool | np.bool_):
            out.append(bool(v))
        elif _missing(v):
            out.append(None)
        elif str(v).strip().lower() in _TRUE:
            out.append(True)
        elif str(v).strip().lower() in _FALSE:
            out.append(False)
        else:
            raise DataError(f"eligible={v!r} is not a boolean (allowed: true/false, yes/no, 1/0)",
                            located=True, source=label, row=int(pos + FIRST_DATA_ROW))
    return pd.Series(out, index=values.index, dtype=object)


def _need(frame: pd.DataFrame, label: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"required column(s) {', '.join(map(repr, missing))} missing; columns present: {', '.join(map(str, frame.columns))}",
            located=True, source=label
        )


def _missing(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return value is None or value.strip() == ""
    return bool(pd.isna(value))


def _text(series: pd.Series) -> pd.Series:
    """Cells as stripped text; empty, None, NaN, NA and NaT as None."""
    return series.astype(object).map(lambda v: None if _missing(v) else str(v).strip())


def _periods(frame: pd.DataFrame, label: str) -> np.ndarray:
    period = pd.to_numeric(frame["period"], errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(period) | (period < 1) | (period != np.floor(period))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"period={frame['period'].iloc[i]!r} is not an integer >= 1",
                        located=True, source=label, row=int(i + FIRST_DATA_ROW))
    return period.astype(np.int64)


def _screening_outcomes(screening: pd.DataFrame) -> tuple[pd.Series, dict[str, np.ndarray], set[str] | None]:
    """Checked outcomes of the screening log, a mask per outcome, and the randomised patient ids
    (None when the log has no ``patient_id``)."""
    if not isinstance(screening, pd.DataFrame):
        raise TypeError(f"screening must be a pandas DataFrame, got {type(screening).__name__}")
    _need(screening, "screening", ("screening_id", "outcome"))
    outcome = _text(screening["outcome"])
    bad = ~outcome.isin(OUTCOMES).to_numpy(dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"outcome={screening['outcome'].iloc[i]!r} is not one of {', '.join(OUTCOMES)}",
                        located=True, source="screening", row=int(i + FIRST_DATA_ROW))
    ids = _text(screening["screening_id"])
    dup = ids.duplicated().to_numpy(dtype=bool) | ids.isna().to_numpy(dtype=bool)
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataError(
            f"screening_id={screening['screening_id'].iloc[i]!r} is empty or appears more than once",
            located=True, source="screening", row=int(i + FIRST_DATA_ROW)
        )
    if "eligible" in screening.columns:
        eligible = _as_bool(screening["eligible"], "screening")
        for pos, (o, e) in enumerate(zip(outcome, eligible, strict=True)):
            if o == "randomised" and e is False:
                raise DataError(
                    "outcome='randomised' but eligible=false; only an eligible person is randomised",
                    located=True, source="screening", row=int(pos + FIRST_DATA_ROW)
                )
            if o == "not_eligible" and e is True:
                raise DataError("outcome='not_eligible' but eligible=true", located=True, source="screening", row=int(pos + FIRST_DATA_ROW))
    is_ = {o: (outcome == o).to_numpy(dtype=bool) for o in OUTCOMES}
    randomised_ids: set[str] | None = None
    if "patient_id" in screening.columns:
        pid = _text(screening["patient_id"])
        randomised_ids = set(pid[is_["randomised"]].dropna())
    return outcome, is_, randomised_ids


def _period_flows(
    allocation: pd.DataFrame,
    diary: pd.DataFrame | None,
    periods: int | None,
    analysed: Collection[tuple[str, int]] | None,
    randomised_ids: set[str] | None,
) -> tuple[list[PeriodFlow], int | None, int | None]:
    """Per period: allocated, received, completed and analysed; patients who completed every
    period and patients analysed (None when not known)."""
    _need(allocation, "allocation", ("patient_id", "period"))
    apid = _text(allocation["patient_id"])
    aper = _periods(allocation, "allocation")
    if randomised_ids is not None:
        unknown = sorted(set(apid.dropna()) - randomised_ids)
        if unknown:
            raise DataError(
                f"patient_id {', '.join(map(repr, unknown[:5]))} not randomised in the screening log (outcome "
                f"'randomised' with that patient_id)", located=True, source="allocation"
            )
    n_periods = periods if periods is not None else (int(aper.max()) if len(aper) else 0)
    if len(aper) and aper.max() > n_periods:
        raise DataError(template="period {top} is above {@periods=}", params={"top": int(aper.max()), "periods": n_periods},
                        located=True, source="allocation")
    if "infusion_date" in allocation.columns:
        got = _text(allocation["infusion_date"]).notna().to_numpy(dtype=bool)
    else:
        got = np.ones(len(allocation), dtype=bool)
    alloc_pairs = set(zip(apid, aper.tolist(), strict=True))
    received = {pair for pair, g in zip(zip(apid, aper.tolist(), strict=True), got, strict=True) if g}
    completed: set[tuple[str, int]] | None = None
    if diary is not None:
        _need(diary, "diary", ("patient_id", "period", "avg_pain"))
        dper = _periods(diary, "diary")
        pain = pd.to_numeric(diary["avg_pain"], errors="coerce").notna().to_numpy(dtype=bool)
        with_diary = {(p, int(q)) for p, q, ok in zip(_text(diary["patient_id"]), dper, pain, strict=True) if ok}
        completed = received & with_diary
    done = set(analysed) if analysed is not None else completed
    if done is not None:
        done = {(str(p), int(q)) for p, q in done}
    flows = [
        PeriodFlow(
            period=p,
            allocated=sum(1 for _, q in alloc_pairs if q == p),
            received=sum(1 for _, q in received if q == p),
            completed=None if completed is None else sum(1 for _, q in completed if q == p),
            analysed=None if done is None else sum(1 for _, q in done if q == p),
        )
        for p in range(1, n_periods + 1)
    ]
    patients = set(apid.dropna())
    n_completed = n_analysed = None
    if completed is not None:
        n_completed = sum(all((pt, p) in completed for p in range(1, n_periods + 1)) for pt in patients)
    if done is not None:
        n_analysed = len({pt for pt, _ in done if pt in patients})
    return flows, n_completed, n_analysed


def consort_flow(
    screening: pd.DataFrame | None,
    allocation: pd.DataFrame | None = None,
    *,
    diary: pd.DataFrame | None = None,
    periods: int | None = None,
    analysed: Collection[tuple[str, int]] | None = None,
) -> ConsortFlow:
    """Count the CONSORT flow: screened, not eligible (reasons), refused, randomised, per period.

    Parameters
    ----------
    screening
        The screening log: ``screening_id``, ``outcome`` (randomised, refused, not_eligible,
        other); optional ``eligible`` (checked against the outcome), ``reason`` and
        ``patient_id`` (of the randomised; checked against the allocation). None, or an
        empty log when an allocation is given, means screening was not recorded: the
        screening counts are None and the randomised are the allocation's patients.
    allocation
        Patient x period rows (``patient_id``, ``period``; optional ``infusion_date``).
        Without it there are no period counts.
    diary
        Patient x period x day rows with ``avg_pain``; without it ``completed`` and
        ``analysed`` are None (not known), unless ``analysed`` is given.
    periods
        Number of periods (default: the largest period in ``allocation``).
    analysed
        The ``(patient_id, period)`` pairs in the analysis, when the analysis excluded
        periods that have diary data; default: the completed ones.

    Returns
    -------
    ConsortFlow

    Raises
    ------
    DataError
        A required column missing; an outcome not in the four allowed; an inconsistent row
        (``randomised`` but ``eligible`` false, ``not_eligible`` but eligible true); a
        duplicated screening_id; allocation patients that the screening log does not list as
        randomised (when it has ``patient_id``); a period above ``periods``; neither a
        screening log nor an allocation.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"screening_id": ["S1", "S2", "S3"],
    ...                     "outcome": ["randomised", "refused", "not_eligible"],
    ...                     "reason": [None, "travel", "DN4 < 4"], "patient_id": ["P01", None, None]})
    >>> alloc = pd.DataFrame({"patient_id": ["P01", "P01"], "period": [1, 2],
    ...                       "infusion_date": ["2016-01-04", None]})
    >>> flow = consort_flow(log, alloc)
    >>> flow.n_screened, flow.n_randomised, flow.not_eligible_reasons
    (3, 1, (('DN4 < 4', 1),))
    >>> [(p.period, p.allocated, p.received, p.completed) for p in flow.periods]
    [(1, 1, 1, None), (2, 1, 0, None)]
    """
    if screening is not None and len(screening) == 0 and allocation is not None:
        screening = None  # an empty log beside an allocation: nobody's screening was recorded
    if periods is not None:
        check_option("periods", periods, Number(low=1, integer=True), error=DataError)
    period_flows: list[PeriodFlow] = []
    n_completed = n_analysed = None
    sequences: tuple[tuple[str, int], ...] = ()
    if allocation is not None and "sequence" in allocation.columns:
        per_patient = allocation[["patient_id", "sequence"]].dropna().drop_duplicates("patient_id")
        counts = per_patient["sequence"].astype(str).value_counts(sort=False)
        sequences = tuple((str(k), int(v)) for k, v in counts.items())
    if screening is None:
        if allocation is None:
            raise DataError("neither a screening log nor an allocation: there is nothing to count; give at least the allocation")
        period_flows, n_completed, n_analysed = _period_flows(allocation, diary, periods, analysed, None)
        return ConsortFlow(n_screened=None, n_not_eligible=None, not_eligible_reasons=(), n_refused=None,
                           refused_reasons=(), n_other=None, other_reasons=(),
                           n_randomised=int(_text(allocation["patient_id"]).nunique()), periods=tuple(period_flows),
                           n_completed=n_completed, n_analysed=n_analysed, sequences=sequences)
    _, is_, randomised_ids = _screening_outcomes(screening)
    reason = screening["reason"] if "reason" in screening.columns else pd.Series([None] * len(screening), index=screening.index)
    if allocation is not None:
        period_flows, n_completed, n_analysed = _period_flows(allocation, diary, periods, analysed, randomised_ids)
    return ConsortFlow(
        n_screened=len(screening),
        n_not_eligible=int(is_["not_eligible"].sum()),
        not_eligible_reasons=_reasons(reason[is_["not_eligible"]]),
        n_refused=int(is_["refused"].sum()),
        refused_reasons=_reasons(reason[is_["refused"]]),
        n_other=int(is_["other"].sum()),
        other_reasons=_reasons(reason[is_["other"]]),
        n_randomised=int(is_["randomised"].sum()),
        periods=tuple(period_flows),
        n_completed=n_completed,
        n_analysed=n_analysed,
        sequences=sequences,
    )
