"""What every SDTM domain needs from a trial: the context (dates, arms, visits, USUBJID) and
the SDTM conventions for dates, study days and --SEQ numbers.

The bottom of the SDTM modules: :mod:`._sdtm` (DM, EX, AE, CM, SE, TA, TE, TV) and
:mod:`._sdtm_qs` (QS) both build on it, and neither imports the other's helpers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ketapain.analysis import visit_periods
from ketapain.data import TrialData
from ketapain.protocol import Protocol

from ._sdtm_terms import epoch_label

__all__ = ["SdtmContext", "iso_dates", "seq_numbers", "study_day", "visit_label"]


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
