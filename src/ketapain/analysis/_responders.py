"""Responders per arm at the first and last AUC windows (days 7 and 35 in KETAPAIN).

Definitions (:data:`~ketapain.analysis._settings.RESPONDER_DEFINITIONS`, stated in
``settings.responder_definitions``; docs/responders.md), for a patient x period with window
``W`` of the average-pain endpoint:

* ``m`` = mean pain of the window's diary days: the AUC of days 1..W alone (first-diary-day
  axis, ``W - 1`` intervals, the endpoint's imputation) divided by ``W - 1``. The pre-infusion
  pain is not a point of this curve, so it is compared with the days after the infusion only
  (on the infusion axis the endpoint's AUC starts at the pre-infusion pain, and ``AUC_W / W``
  compared with it partly compared the pre-infusion score with itself: issue 19);
* ``paper_improved``: the paper's "improved (AUC decreased)": ``m`` below the period's
  pre-infusion pain, i.e. the AUC of the diary days below that of the pre-infusion pain held
  over the same days;
* ``immpact30`` / ``immpact50``: ``100 (pre - m) / (pre - floor) >= 30`` / ``>= 50`` (IMMPACT
  moderate and substantial improvement; ``floor`` is the diary scale's ``scale_min``, 0 on the
  NRS 0..10, so the reduction is a share of the pain above the scale's floor on any scale;
  undefined when the pre-infusion pain is at the floor).

Without any pre-infusion pain no responder is defined: the counts say so (``n_evaluable`` 0)
and no model is fitted (a ``not_analysed`` note instead of one separation warning per model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ketapain.protocol import Protocol
from ketapain.stats import diary_auc

from ._binary import BINARY_COLUMNS, logistic_vs_reference
from ._common import active_arms, protocol_order
from ._endpoints import model_order
from ._settings import RESPONDER_DEFINITIONS
from ._warnings import WarningLog

__all__ = ["ANY_ACTIVE", "responder_days", "responder_rows", "responders"]

#: Label of the "responder with at least one active arm" row.
ANY_ACTIVE = "any_active"
DEFINITIONS = tuple(d.name for d in RESPONDER_DEFINITIONS)


def responder_days(protocol: Protocol) -> tuple[tuple[int, str], ...]:
    """``((day, endpoint), ...)``: the first and last window of the primary endpoint's diary item."""
    item = protocol.primary_endpoint.value
    eps = sorted((e for e in protocol.endpoints if e.value == item), key=lambda e: e.window_day)
    chosen = [eps[0]] if len(eps) == 1 else [eps[0], eps[-1]]
    return tuple((e.window_day, e.name) for e in chosen)


def _diary_day_means(diary: pd.DataFrame, protocol: Protocol, days: tuple[tuple[int, str], ...],
                     log: WarningLog) -> pd.DataFrame:
    """``patient_id, period, endpoint, mean_pain``: mean pain of diary days 1..W per responder window
    (trapezoid AUC on the first-diary-day axis / (W - 1), with the endpoint's imputation)."""
    by_name = {e.name: e for e in protocol.endpoints}
    parts = []
    for day, endpoint in days:
        e = by_name[endpoint]
        with log.catch(section="responders", outcome=endpoint, day=day):
            auc = diary_auc(diary, value=e.value, windows=(day,), time_axis="first_diary_day", impute=e.impute,
                            scale=protocol.diary.scale)
        parts.append(auc.assign(endpoint=endpoint, mean_pain=auc["auc"] / (day - 1))[
            ["patient_id", "period", "endpoint", "mean_pain"]])
    return pd.concat(parts, ignore_index=True)


def responder_rows(aucs: pd.DataFrame, alloc: pd.DataFrame, diary: pd.DataFrame, protocol: Protocol,
                   log: WarningLog) -> pd.DataFrame:
    """One row per patient x period x responder window: its mean pain, pre-infusion pain,
    reduction (percent of the pain above the scale's floor) and each definition (module
    docstring); the ``responder_patients`` of :func:`responders`."""
    days = tuple((d, e) for d, e in responder_days(protocol) if d >= 2)   # a one-day window has no interval
    parts = []
    for day, endpoint in days:
        rows = aucs[aucs["endpoint"] == endpoint][["patient_id", "period", "treatment", "auc"]]
        parts.append(rows.assign(day=day, endpoint=endpoint))
    per = pd.concat(parts, ignore_index=True).merge(
        alloc[["patient_id", "period", "pre_infusion_pain"]], on=["patient_id", "period"], how="left")
    per = per.merge(_diary_day_means(diary, protocol, days, log), on=["patient_id", "period", "endpoint"], how="left")
    pre = per["pre_infusion_pain"]
    above = pre - float(protocol.diary.scale_min)  # pain above the scale's floor (the pain itself on an NRS 0..10)
    per["reduction_pct"] = np.where(above > 0, 100.0 * (pre - per["mean_pain"]) / above.where(above > 0, 1.0), np.nan)
    known = per["mean_pain"].notna() & pre.notna()
    known_pct = per["reduction_pct"].notna()
    for d in RESPONDER_DEFINITIONS:
        value, ok = ((per["mean_pain"] < pre, known) if d.min_reduction_pct is None
                     else (per["reduction_pct"] >= d.min_reduction_pct, known_pct))
        col = pd.array(value.to_numpy(bool), dtype="boolean")
        col[~ok.to_numpy()] = pd.NA
        per[d.name] = col
    return per[["patient_id", "period", "treatment", "day", "endpoint", "auc", "mean_pain", "pre_infusion_pain",
                "reduction_pct", *DEFINITIONS]]


def responders(aucs: pd.DataFrame, alloc: pd.DataFrame, diary: pd.DataFrame, protocol: Protocol,
               log: WarningLog) -> dict[str, pd.DataFrame]:
    """``responder_patients`` (:func:`responder_rows`), ``responders`` (counts) and
    ``responder_models`` (GLMM)."""
    days = tuple((d, e) for d, e in responder_days(protocol) if d >= 2)   # a one-day window has no interval
    per = responder_rows(aucs, alloc, diary, protocol, log)
    pre = per["pre_infusion_pain"]
    long = per.melt(id_vars=["patient_id", "period", "treatment", "day"], value_vars=list(DEFINITIONS),
                    var_name="definition", value_name="responder")
    long["responder"] = long["responder"].astype("boolean")
    n_patients = alloc["patient_id"].nunique()
    counts = long.groupby(["day", "definition", "treatment"], as_index=False).agg(
        n_responders=("responder", "sum"), n_evaluable=("responder", "count"))
    active = long[long["treatment"].isin(active_arms(protocol))]
    anyp = active.groupby(["day", "definition", "patient_id"], as_index=False).agg(
        any_true=("responder", "any"), n_known=("responder", "count"), n_rows=("responder", "size"))
    anyp["evaluable"] = anyp["any_true"] | (anyp["n_known"] == anyp["n_rows"])
    anyc = anyp.groupby(["day", "definition"], as_index=False).agg(
        n_responders=("any_true", "sum"), n_evaluable=("evaluable", "sum")).assign(treatment=ANY_ACTIVE)
    counts = pd.concat([counts, anyc], ignore_index=True)
    counts["n_responders"] = counts["n_responders"].astype("int64")
    counts["n_evaluable"] = counts["n_evaluable"].astype("int64")
    counts["n_patients"] = n_patients
    counts["pct"] = 100.0 * counts["n_responders"] / counts["n_evaluable"].where(counts["n_evaluable"] > 0)
    counts = protocol_order(counts, protocol, ("day", "definition", "treatment"))
    rank = {d: i for i, d in enumerate(DEFINITIONS)}
    counts = counts.assign(_d=counts["definition"].map(rank)).sort_values(["day", "_d"], kind="stable").drop(
        columns="_d").reset_index(drop=True)

    model_rows = []
    if pre.isna().all():  # e.g. an oral trial with no pain score before the first dose
        log.note("not_analysed", "responders not analysed: every definition compares the period's mean pain with "
                 "its pain before the period (allocation.pre_infusion_pain), blank on every row", section="responders")
        days = ()
    for day, _ in days:
        for definition in DEFINITIONS:
            sub = long[(long["day"] == day) & (long["definition"] == definition)].merge(
                alloc[["patient_id", "period", "sequence"]], on=["patient_id", "period"], how="left")
            for model in model_order(protocol):
                where = {"section": "responders", "outcome": definition, "day": day}
                for r in logistic_vs_reference(sub, outcome="responder", protocol=protocol, model=model,
                                               where=where, log=log):
                    model_rows.append({"day": day, "definition": definition, **r})
    models = pd.DataFrame(model_rows, columns=["day", "definition", *BINARY_COLUMNS])
    return {"responder_patients": per, "responders": counts, "responder_models": models}
