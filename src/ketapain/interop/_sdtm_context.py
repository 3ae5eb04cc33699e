"""What every SDTM domain needs from a trial: the context (dates, arms, visits, USUBJID) and
the SDTM conventions for dates, study days and --SEQ numbers.

The bottom of the SDTM modules: :mod:`._sdtm` (DM, EX, AE, CM, SE, TA, TE, TV) and
:mod:`._sdtm_qs` (QS) both build on it, and neither imports the other's helpers.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import cached_property

import numpy as np
import pandas as pd

from ketapain.analysis import visit_periods
from ketapain.data import TrialData
from ketapain.errors import ConformanceWarning
from ketapain.protocol import Protocol

from ._sdtm_terms import epoch_label

__all__ = ["SdtmContext", "column_or_blank", "iso_dates", "seq_numbers", "study_day", "visit_label", "warn_blank"]

_SHOWN = 10


def column_or_blank(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]``, or a column of missing values when the optional column is absent."""
    if name in frame.columns:
        return frame[name]
    return pd.Series(pd.NA, index=frame.index, dtype="object")


def warn_blank(variable: str, where: Sequence[str], why: str, *, records: int | None = None) -> None:
    """Warn (:class:`~ketapain.errors.ConformanceWarning`) that ``variable`` (``"DM.COUNTRY"``)
    is blank in the records ``where`` describes (``"USUBJID=KETAPAIN-P001"``, ...), and why;
    ``records`` counts the records when one description covers several."""
    if not len(where):
        return
    shown = ", ".join(where[:_SHOWN]) + (f" and {len(where) - _SHOWN} more" if len(where) > _SHOWN else "")
    n = len(where) if records is None else records
    warnings.warn(f"{variable} is blank in {n} record(s) ({shown}): {why}; left blank, not invented",
                  ConformanceWarning, stacklevel=3)


def study_day(dates: pd.Series, reference: pd.Series) -> pd.Series:
    """SDTM study day: ``date - reference + 1`` on or after the reference date, else
    ``date - reference`` (there is no day 0). Missing when either date is missing.

    >>> d = pd.Series(pd.to_datetime(["2016-01-01", "2016-01-05", "2015-12-31"]))
    >>> study_day(d, pd.Series([d[0]] * 3)).tolist()
    [1.0, 5.0, -1.0]
    """
    diff = (pd.to_datetime(dates) - pd.to_datetime(reference)).dt.days.astype("float64")
    return diff.where(diff < 0, diff + 1)


def iso_dates(dates: pd.Series) -> pd.Series:
    """ISO 8601 dates (``YYYY-MM-DD``), blank when missing."""
    d = pd.to_datetime(pd.Series(dates))
    return d.dt.strftime("%Y-%m-%d").where(d.notna(), "")


def seq_numbers(frame: pd.DataFrame, usubjid: str = "USUBJID") -> np.ndarray:
    """--SEQ: 1, 2, ... within each subject in the frame's order."""
    return frame.groupby(usubjid, sort=False).cumcount().to_numpy() + 1


class SdtmContext:
    """The trial, its protocol and what every domain needs (dates, epochs, arms)."""

    def __init__(self, data: TrialData, protocol: Protocol, study_id: str) -> None:
        self.data = data
        self.protocol = protocol
        self.study_id = study_id
        self.patients = data.patients
        self.alloc = data.allocation.sort_values(["patient_id", "period"], kind="stable").reset_index(drop=True)
        self.usubjid = lambda ids: (study_id + "-" + pd.Series(ids, dtype="str")).to_numpy(dtype=object)
        first = self.alloc.groupby("patient_id")["infusion_date"].min()
        self.rfstdtc = first  # patient_id -> first infusion date
        self.arm_names = {a.code: a.name for a in protocol.arms}
        self.period_days = protocol.design.period_days
        self.washout = protocol.design.washout_days or 0

    def ref_date(self, ids: pd.Series) -> pd.Series:
        return pd.Series(ids).map(self.rfstdtc)

    @cached_property
    def elements(self) -> pd.DataFrame:
        """The subject elements (one row per patient x element, in order): ``patient_id, ETCD,
        start, end, EPOCH, TAETORD, order``. Screening runs from the screening date to the first
        infusion; treatment element k from infusion k to the next infusion (the last one
        ``period_days`` after its infusion; with a washout, to the end of the period, then a
        WASH element to the next infusion). The end of an element is the start of the next
        (SDTMIG 3.4 section 5.3.1, SE: element boundaries are shared)."""
        alloc = self.alloc
        next_date = alloc.groupby("patient_id")["infusion_date"].shift(-1)
        end = next_date.where(next_date.notna(), alloc["infusion_date"] + pd.Timedelta(days=self.period_days))
        if self.washout:
            end = alloc["infusion_date"] + pd.Timedelta(days=self.period_days)
        treat = pd.DataFrame({"patient_id": alloc["patient_id"], "ETCD": alloc["treatment"],
                              "start": alloc["infusion_date"], "end": end, "EPOCH": alloc["period"].map(epoch_label),
                              "TAETORD": _taetord(alloc["period"], self.washout), "order": alloc["period"] * 2})
        screening = self.data.screening
        scr_date = screening.dropna(subset=["patient_id"]).set_index("patient_id")["screening_date"]
        first = alloc.drop_duplicates("patient_id")
        # screening not recorded (an empty log): no screening dates (mapping through an empty
        # datetime Series fails in pandas, so the column is built directly)
        start = first["patient_id"].map(scr_date) if len(scr_date) else pd.Series(pd.NaT, index=first.index,
                                                                                  dtype=scr_date.dtype)
        scr = pd.DataFrame({"patient_id": first["patient_id"], "ETCD": "SCRN", "start": start,
                            "end": first["infusion_date"], "EPOCH": "SCREENING", "TAETORD": 1.0, "order": 0})
        parts = [scr, treat]
        if self.washout:
            wo = alloc[alloc["period"] < self.protocol.design.periods]
            wstart = wo["infusion_date"] + pd.Timedelta(days=self.period_days)
            parts.append(pd.DataFrame({"patient_id": wo["patient_id"], "ETCD": "WASH", "start": wstart,
                                       "end": next_date[wo.index], "EPOCH": "WASHOUT " + wo["period"].astype(str),
                                       "TAETORD": _taetord(wo["period"], self.washout) + 1,
                                       "order": wo["period"] * 2 + 1}))
        se = pd.concat(parts, ignore_index=True).sort_values(["patient_id", "order"], kind="stable")
        for col in ("start", "end"):
            se[col] = pd.to_datetime(se[col]).astype("datetime64[ns]")
        return se.reset_index(drop=True)

    def epoch_at(self, ids: pd.Series, dates: pd.Series, fallback: pd.Series) -> pd.Series:
        """EPOCH of records from SE (SDTMIG 3.4 section 4.1.3.1: the epoch of the element the
        record's date falls in). A date on an element boundary belongs to the element that
        starts that day (the diary of the day of the next infusion is in the next period's
        epoch); a date after the end of the last element or before the first has no epoch
        (blank). A record without a date keeps ``fallback`` (the epoch of its period or visit)."""
        el = self.elements
        starts = el["start"].fillna(pd.Timestamp.min.ceil("D"))
        right = pd.DataFrame({"patient_id": el["patient_id"].astype(str).to_numpy(), "start": starts.to_numpy(),
                              "end": el["end"].to_numpy(), "EPOCH": el["EPOCH"].to_numpy(),
                              "order": el["order"].to_numpy()}).sort_values(["start", "order"], kind="stable")
        last_end = right.groupby("patient_id")["end"].max()
        when = pd.to_datetime(pd.Series(dates).reset_index(drop=True)).astype("datetime64[ns]")
        left = pd.DataFrame({"patient_id": pd.Series(ids).astype(str).to_numpy(), "date": when.to_numpy(),
                             "_i": np.arange(len(when))})
        dated = left[left["date"].notna()].sort_values("date", kind="stable")
        out = pd.Series(fallback).astype("object").reset_index(drop=True).copy()
        if len(dated):
            hit = pd.merge_asof(dated, right, left_on="date", right_on="start", by="patient_id", direction="backward")
            after = hit["date"] > hit["patient_id"].map(last_end)
            epoch = hit["EPOCH"].where(hit["EPOCH"].notna() & ~after, "")
            out.iloc[hit["_i"].to_numpy()] = epoch.to_numpy()
        return out.set_axis(pd.Series(ids).index)

    def describe(self, seq: object) -> str:
        """``"P-K-KM"`` -> ``"placebo, then ketamine, then ketamine/magnesium"``."""
        if not isinstance(seq, str):
            return ""
        return ", then ".join(self.arm_names.get(c, c) for c in seq.split("-"))

    def visits(self) -> tuple[dict[str, float], dict[str, str], dict[str, float], dict[str, str]]:
        """Visit name -> VISITNUM, VISIT, VISITDY and EPOCH."""
        visits = sorted(self.protocol.visits, key=lambda v: v.day)
        _, ends = visit_periods(self.protocol)
        num = {v.name: float(i) for i, v in enumerate(visits, start=1)}
        label = {v.name: visit_label(v.name) for v in visits}
        day = {v.name: float(v.day + 1 if v.day >= 0 else v.day) for v in visits}
        epoch = {v.name: ("SCREENING" if v.day <= 0 else epoch_label(ends.get(v.name, 0)) if v.name in ends else "")
                 for v in visits}
        return num, label, day, epoch


def visit_label(name: str) -> str:
    """``"end_period_1"`` -> ``"END PERIOD 1"``."""
    return name.replace("_", " ").upper()


def _taetord(period: pd.Series, washout: int) -> pd.Series:
    """Planned order of the treatment element of ``period`` in its arm (screening is 1)."""
    step = 2 if washout else 1
    return (1 + 1 + (period - 1) * step).astype("float64")
