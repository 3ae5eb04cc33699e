"""Daily mean pain curves per diary item and arm (day 0 = the pre-infusion pain)."""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketapain.data import TrialData
from ketapain.protocol import Protocol

from ._common import protocol_order

__all__ = ["DAILY_COLUMNS", "daily_curves"]

DAILY_COLUMNS = ("item", "treatment", "day", "n", "mean", "sd", "ci_low", "ci_high", "conf_level")


def daily_curves(data: TrialData, protocol: Protocol) -> pd.DataFrame:
    """Mean daily score per item x arm x day 0..period_days with a t-based CI.

    Day 0 (infusion axis only) is the period's ``pre_infusion_pain``, the value that anchors
    the AUC, for every item. ``ci = mean -/+ t(n - 1) sd / sqrt(n)`` at the protocol's level;
    NaN when n < 2. Missing days are left out (no imputation).
    """
    alloc = data.allocation
    items = [i for i in protocol.diary.items if i in data.diary.columns]
    last = protocol.design.period_days
    diary = data.diary
    long = diary[diary["day"] <= last].melt(id_vars=["patient_id", "period", "day"], value_vars=items,
                                           var_name="item", value_name="value")
    if protocol.auc.time_axis == "infusion":
        day0 = pd.concat([alloc[["patient_id", "period", "pre_infusion_pain"]].rename(
            columns={"pre_infusion_pain": "value"}).assign(day=0, item=i) for i in items], ignore_index=True)
        long = pd.concat([day0[long.columns], long], ignore_index=True)
    long = long.merge(alloc[["patient_id", "period", "treatment"]], on=["patient_id", "period"])
    long["value"] = long["value"].astype("float64")
    # named aggregation gives a DataFrame (pandas-stubs types it as a Series)
    out = cast(pd.DataFrame, long.groupby(["item", "treatment", "day"], as_index=False)["value"].agg(n="count", mean="mean", sd="std"))
    conf = protocol.analysis.conf_level
    n = out["n"].to_numpy(float)
    q = sps.t.ppf(0.5 + conf / 2, np.where(n > 1, n - 1, 1.0))
    half = np.where(n > 1, q * out["sd"].to_numpy() / np.sqrt(np.maximum(n, 1)), np.nan)
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    out["conf_level"] = conf
    out["n"] = out["n"].astype("int64")
    return protocol_order(out, protocol, ("item", "treatment", "day"))[list(DAILY_COLUMNS)]
