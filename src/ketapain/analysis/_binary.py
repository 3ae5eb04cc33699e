"""Logistic mixed model of a binary patient x period outcome, each arm against the reference.

Used for responders and for treatment-related adverse events. ``logit P(y = 1) = intercept +
fixed effects + random intercept per patient`` by adaptive Gauss-Hermite quadrature
(:func:`ketapain.stats.fit_logistic_glmm`), with the fixed effects of the linear model of the
same name (``CROSSOVER_MODELS``: paper = treatment + sequence, standard = treatment + period +
sequence), as the reference study states its GLMMs used "the same effects".

When the model cannot be estimated (an arm with no event or only events, separation, too few
patients) or its fit is degenerate (:func:`ketapain.stats.check_logistic_fit`: a diverging
odds ratio, SE or patient variance, a near-singular Hessian) the rows carry a ``note`` and NaN
numbers instead: never a crash, never a silent drop, never a diverged number. Every fit's
verdict is recorded with ``log.check`` (``results.model_checks``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ketapain.errors import ModelError
from ketapain.protocol import Protocol
from ketapain.stats import ModelCheck, check_logistic_fit, fit_logistic_glmm, fixed_effect_separation

from ._common import reference_arm
from ._settings import CROSSOVER_MODELS
from ._warnings import WarningLog

__all__ = ["BINARY_COLUMNS", "NAGQ", "binary_frame", "glmm_columns", "logistic_vs_reference"]

#: Gauss-Hermite points per patient (docs/glmm.md: prefer >= 5 when reporting).
NAGQ = 5
BINARY_COLUMNS = (
    "model", "treatment", "reference", "n_obs", "n_subjects", "n_events", "log_odds_ratio", "se", "statistic",
    "p_value", "odds_ratio", "or_ci_low", "or_ci_high", "conf_level", "singular", "note",
)


def glmm_columns(work: pd.DataFrame, *, model: str, arms: list[str]) -> dict[str, np.ndarray]:
    """Columns of the GLMM's design: intercept, ``treatment[arm]`` per non-reference arm, then
    the other fixed effects of ``CROSSOVER_MODELS[model]`` (``period[p]``, ``sequence[s]``),
    treatment-coded with the first level (sorted, as R's factor) as reference.

    A column that is a linear combination of the ones before it (a sequence or period absent
    from ``work``, or aliased in incomplete data) is left out, as R's ``glm``/``lme4`` drop
    aliased columns; treatment columns come first, so they are never the ones dropped.
    """
    columns: dict[str, np.ndarray] = {"(Intercept)": np.ones(len(work))}
    for a in arms:
        columns[f"treatment[{a}]"] = (work["treatment"] == a).to_numpy(float)
    for term in CROSSOVER_MODELS[model].fixed:
        if term == "treatment":
            continue
        values = work[term].astype(str) if term == "sequence" else work[term]
        for level in sorted(values.unique())[1:]:
            candidate = (values == level).to_numpy(float)
            basis = np.column_stack([*columns.values(), candidate])
            if np.linalg.matrix_rank(basis) == basis.shape[1]:
                columns[f"{term}[{level}]"] = candidate
    return columns


def _nuisance_separation(
    work: pd.DataFrame, y: np.ndarray, *, model: str, arms: list[str]
) -> tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray], str]:
    """Leave out the rows that period or sequence alone predict perfectly (e.g. every patient of
    one sequence without an event), until no such separation remains.

    Along such a direction the nuisance coefficient diverges while the treatment estimates
    converge: leaving the perfectly predicted rows out gives that limit (their likelihood
    contribution tends to 1), the fit R's glmer approaches with a huge sequence coefficient.
    A separating direction that involves a treatment term is left for the fit to refuse.
    Returns the rows kept, their outcome, the design columns and a note ('' when none left out).
    """
    dropped = 0
    terms: set[str] = set()
    while True:
        columns = glmm_columns(work, model=model, arms=arms)
        X = np.column_stack(list(columns.values()))
        sep = fixed_effect_separation(X, y, term_names=list(columns))
        nuisance = [t for t in sep.terms if t != "(Intercept)"] if sep is not None else []
        if (sep is None or not nuisance or any(t.startswith("treatment[") for t in sep.terms)
                or sep.rows.all()):
            break
        dropped += int(sep.rows.sum())
        terms.update(nuisance)
        keep = ~sep.rows
        work, y = work[keep], y[keep]
    note = (f"{dropped} observation(s) perfectly predicted by {', '.join(sorted(terms))} left out (the limit of the "
            "maximum-likelihood fit as that coefficient diverges; not a treatment effect)") if dropped else ""
    return work, y, columns, note


def logistic_vs_reference(
    frame: pd.DataFrame, *, outcome: str, protocol: Protocol, model: str, where: Mapping[str, Any], log: WarningLog
) -> list[dict[str, Any]]:
    """One row per non-reference arm (``BINARY_COLUMNS``); ``frame`` has patient_id, period,
    sequence, treatment and the 0/1 (or boolean, NA = left out) ``outcome``. ``where``
    (section, outcome, day) places the warnings, notes and the model check in ``log``."""
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
        log.check(ModelCheck("not_estimable", tuple(problems)), **where, model=model)
        for r in rows:
            r["note"] = note
        return rows
    work, y, columns, left_out = _nuisance_separation(work, y, model=model, arms=arms)
    if left_out:
        log.note("rows_left_out", left_out, **where, model=model)
        for r in rows:
            r.update(note=left_out, n_obs=len(work), n_subjects=int(work["patient_id"].nunique()),
                     n_events=int(y.sum()))
    X = np.column_stack(list(columns.values()))
    groups = work["patient_id"].to_numpy()
    try:
        with log.catch(**where, model=model):
            fit = fit_logistic_glmm(X, y, groups, term_names=list(columns), nagq=NAGQ, conf_level=conf)
    except ModelError as exc:
        note = f"not estimable: {exc}"
        log.note("not_estimable", note, **where, model=model)
        log.check(ModelCheck("not_estimable", (str(exc),)), **where, model=model)
        for r in rows:
            r["note"] = note
        return rows
    check = check_logistic_fit(fit, terms=[f"treatment[{a}]" for a in arms], X=X, y=y, groups=groups)
    log.check(check, **where, model=model)
    if not check.estimable:
        note = f"not estimable (degenerate fit): {check.reason}"
        log.note("not_estimable", note, **where, model=model)
        for r in rows:
            r.update(note=note, singular=bool(fit.singular))
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

