"""Logistic mixed model of a binary patient x period outcome, each arm against the reference.

Used for responders and for treatment-related adverse events. ``logit P(y = 1) = intercept +
treatment (+ period, standard model) + random intercept per patient`` by adaptive
Gauss-Hermite quadrature (:func:`ketapain.stats.fit_logistic_glmm`). When the model cannot be
estimated (an arm with no event or only events, i.e. separation; too few patients) the rows
carry a ``note`` and NaN numbers instead: never a crash, never a silent drop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ketapain.errors import ModelError
from ketapain.protocol import Protocol
from ketapain.stats import fit_logistic_glmm

from ._common import reference_arm
from ._warnings import WarningLog

__all__ = ["BINARY_COLUMNS", "NAGQ", "binary_frame", "logistic_vs_reference"]

#: Gauss-Hermite points per patient (docs/glmm.md: prefer >= 5 when reporting).
NAGQ = 5
BINARY_COLUMNS = (
    "model", "treatment", "reference", "n_obs", "n_subjects", "n_events", "log_odds_ratio", "se", "statistic",
    "p_value", "odds_ratio", "or_ci_low", "or_ci_high", "conf_level", "singular", "note",
)


def logistic_vs_reference(
    frame: pd.DataFrame, *, outcome: str, protocol: Protocol, model: str, where: Mapping[str, Any], log: WarningLog
) -> list[dict[str, Any]]:
    """One row per non-reference arm (``BINARY_COLUMNS``); ``frame`` has patient_id, period,
    treatment and the 0/1 (or boolean, NA = left out) ``outcome``. ``where`` (section,
    outcome, day) places the warnings and notes in ``log``."""
    ref = reference_arm(protocol)
    conf = protocol.analysis.conf_level
    work = frame.dropna(subset=[outcome])
    y = work[outcome].astype("float64").to_numpy()
    arms = [a for a in protocol.arm_codes if a != ref]
    rows = [{"model": model, "treatment": a, "reference": ref, "n_obs": len(work),
             "n_subjects": int(work["patient_id"].nunique()), "n_events": int(y.sum()), "log_odds_ratio": math.nan,
             "se": math.nan, "statistic": math.nan, "p_value": math.nan, "odds_ratio": math.nan,
             "or_ci_low": math.nan, "or_ci_high": math.nan, "conf_level": conf, "singular": False, "note": ""}
            for a in arms]
    events = work.assign(_y=y).groupby("treatment")["_y"].agg(["sum", "count"])
    problems = []
    n_by_arm = {str(k): int(v) for k, v in events["count"].items()}
    events_by_arm = {str(k): float(v) for k, v in events["sum"].items()}
    for arm in (ref, *arms):
        n_obs = n_by_arm.get(arm, 0)
        n_events = events_by_arm.get(arm, 0.0)
        if n_obs == 0:
            problems.append(f"no observation in arm {arm}")
        elif n_events == 0:
            problems.append(f"no event in arm {arm}")
        elif n_events == n_obs:
            problems.append(f"every observation is an event in arm {arm}")
    if problems:
        note = "not estimable (separation): " + "; ".join(problems)
        log.note("separation", note, **where, model=model)
        for r in rows:
            r["note"] = note
        return rows
    columns: dict[str, np.ndarray] = {"(Intercept)": np.ones(len(work))}
    for a in arms:
        columns[f"treatment[{a}]"] = (work["treatment"] == a).to_numpy(float)
    if model == "standard":
        periods = sorted(work["period"].unique())
        for p in periods[1:]:
            columns[f"period[{p}]"] = (work["period"] == p).to_numpy(float)
    X = np.column_stack(list(columns.values()))
    try:
        with log.catch(**where, model=model):
            fit = fit_logistic_glmm(X, y, work["patient_id"].to_numpy(), term_names=list(columns), nagq=NAGQ,
                                    conf_level=conf)
    except ModelError as exc:
        note = f"not estimable: {exc}"
        log.note("not_estimable", note, **where, model=model)
        for r in rows:
            r["note"] = note
        return rows
    names = list(fit.term_names)
    for r, a in zip(rows, arms, strict=True):
        j = names.index(f"treatment[{a}]")
        r.update(log_odds_ratio=float(fit.estimates[j]), se=float(fit.se[j]), statistic=float(fit.statistic[j]),
                 p_value=float(fit.p_values[j]), odds_ratio=float(fit.odds_ratios[j]),
                 or_ci_low=float(fit.or_ci_low[j]), or_ci_high=float(fit.or_ci_high[j]), singular=bool(fit.singular))
    return rows


def binary_frame(rows: list[dict[str, Any]], keys: dict[str, Any] | None = None) -> pd.DataFrame:
    """Rows of :func:`logistic_vs_reference` as a frame with the ``keys`` columns first."""
    frame = pd.DataFrame(rows, columns=list(BINARY_COLUMNS))
    for k, v in reversed(list((keys or {}).items())):
        frame.insert(0, k, v)
    return frame

