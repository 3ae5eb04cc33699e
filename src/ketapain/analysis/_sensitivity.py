"""Missing-data sensitivity analyses of the AUC endpoints that the plan imputes by LOCF.

docs/reference-study.md ("Missing data"): LOCF for the day-35 AUCs, and "a likelihood-based analysis
valid under missing-at-random (Verbeke & Molenberghs)" as sensitivity analysis. For every
endpoint whose protocol imputation is ``locf`` this section runs:

1. the **likelihood-based MAR analysis** of the daily data
   (:func:`ketapain.stats.fit_daily_model`: daily pain ~ treatment x day + period/sequence,
   random patient and patient x period intercepts, REML; AUC contrasts are linear
   combinations of the fitted daily means, Satterthwaite df), checked by
   :func:`ketapain.stats.check_daily_fit` (``model_checks``: endpoint, analysis, status,
   reason; a fit that is not estimable gives a note and no contrast rows);
2. **multiple imputation** under the same daily model
   (:func:`ketapain.stats.multiple_imputation_auc`, :data:`N_IMPUTATIONS` imputations,
   re-analysed with the protocol's crossover model and df method, Rubin's rules with
   Barnard-Rubin df, D1 omnibus); every imputation's fit is checked by the linear
   degenerate-fit rules (one ``model_checks`` row; not estimable: a note and no rows);
and, for the primary endpoint only,
3. a **delta-adjusted tipping-point analysis** (:func:`ketapain.stats.tipping_point_auc`):
   imputed days of the active arms are shifted by delta pain points over
   :func:`tipping_deltas` (:data:`TIPPING_DELTAS`, -3 to +3 NRS points, rescaled to the
   protocol's diary scale); the tipping deltas are where the Sidak-adjusted conclusion changes
   (one ``model_checks`` row; a delta whose fits are not estimable is NaN and ends the search).

Every analysis works on the protocol's diary scale (``[diary] scale_min``, ``scale_max``): the
scores are checked against it and imputed values are clipped to it (never to the NRS 0..10 of
the reference study when the protocol says otherwise).

Contrasts are oriented as the report shows them (active arm minus reference arm; between two
active arms, the statistics core's order), so they read like Table 2's pairwise rows.

BLAS threading is limited to one thread here: the daily model works on many small matrices,
for which a multithreaded BLAS on two cores is 2-10 times slower (measured: 0.16 s vs 0.37 s
to 2.4 s for 20 patients, depending on the machine's load).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ketapain.data import TrialData
from ketapain.errors import KetapainWarning, ModelError
from ketapain.protocol import Endpoint, Protocol
from ketapain.stats import check_daily_fit, fit_daily_model, multiple_imputation_auc, tipping_point_auc

from ._common import active_arms, reference_arm
from ._settings import AnalysisSettings, ModelTerms, SensitivitySettings

__all__ = ["N_IMPUTATIONS", "TIPPING_DELTAS", "sensitivity_settings", "tipping_deltas"]

N_IMPUTATIONS = 50
"""Imputations per multiple-imputation analysis (also the tipping-point analysis)."""

TIPPING_DELTAS = tuple(float(d) for d in np.round(np.arange(-3.0, 3.0001, 0.5), 10))
"""Shifts (NRS points, on a 0..10 scale) added to imputed days of the active arms in the
tipping-point analysis; :func:`tipping_deltas` rescales them to a protocol's diary scale."""

_NRS_RANGE = 10.0
"""The range of the scale :data:`TIPPING_DELTAS` are written in (NRS 0..10)."""


def tipping_deltas(protocol: Protocol) -> tuple[float, ...]:
    """The tipping-point shifts of ``protocol``, in its diary scale's points: :data:`TIPPING_DELTAS`
    times ``(scale_max - scale_min) / 10``, the same fractions of the scale's range (-30% to +30%
    by 5%). On the NRS 0..10 the factor is exactly 1: the deltas are :data:`TIPPING_DELTAS`.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> tipping_deltas(load_protocol("ketapain")) == TIPPING_DELTAS
    True
    >>> p = load_protocol("ketapain")
    >>> vas = p.model_copy(update={"diary": p.diary.model_copy(update={"scale_max": 100})})
    >>> tipping_deltas(vas)[:3], tipping_deltas(vas)[-1]
    ((-30.0, -25.0, -20.0), 30.0)
    """
    lo, hi = protocol.diary.scale
    factor = (hi - lo) / _NRS_RANGE
    return tuple(float(d * factor) for d in TIPPING_DELTAS)

_DAILY_DF: Literal["satterthwaite", "normal"] = "satterthwaite"
_DAILY_RANDOM = ("patient", "patient:period")
_IMPUTATION_MODEL: Literal["standard", "paper"] = "standard"


def sensitivity_settings(protocol: Protocol) -> SensitivitySettings:
    """The settings of this section (``results.settings.sensitivity``).

    The MAR daily model has the protocol model's period (standard) or sequence (paper) term;
    the imputation model always has period. Both have a random intercept per patient and per
    patient x period; ``pooling`` = ``rubin`` (Rubin's rules, Barnard-Rubin df, D1 omnibus).
    """
    term = "period" if protocol.analysis.model == "standard" else "sequence"
    return SensitivitySettings(
        endpoints=tuple(e.name for e in protocol.endpoints if e.impute == "locf"),
        mar_model=ModelTerms(("treatment x day", term), _DAILY_RANDOM), mar_estimation="REML",
        mar_df_method=_DAILY_DF, imputation_model=ModelTerms(("treatment x day", "period"), _DAILY_RANDOM),
        n_imputations=N_IMPUTATIONS, analysis_model=protocol.analysis.model,
        analysis_df_method=protocol.analysis.df_method, pooling="rubin",
        tipping_endpoint=protocol.primary_endpoint.name if protocol.primary_endpoint.impute == "locf" else None,
        tipping_deltas=tipping_deltas(protocol), tipping_shift_arms=active_arms(protocol),
    )


def _orient(frame: pd.DataFrame, ref: str, *, flip_cols: tuple[str, ...] = ("estimate", "statistic")) -> pd.DataFrame:
    """Rewrite contrasts ``ref - X`` as ``X - ref`` (estimate, statistic and CI negated/swapped)."""
    out = frame.copy()
    parts = out["contrast"].str.split(" - ", n=1, expand=True)
    flip = (parts[0] == ref).to_numpy()
    out["contrast"] = np.where(flip, parts[1] + " - " + parts[0], out["contrast"])
    for col in flip_cols:
        if col in out:
            out[col] = np.where(flip, -out[col], out[col])
    if {"ci_low", "ci_high"} <= set(out.columns):
        low, high = out["ci_low"].to_numpy(), out["ci_high"].to_numpy()
        out["ci_low"], out["ci_high"] = np.where(flip, -high, low), np.where(flip, -low, high)
    if "conclusion" in out:
        out["conclusion"] = np.where(flip, -out["conclusion"], out["conclusion"])
    return out


@dataclass
class _Rows:
    """What the section collects, endpoint after endpoint (frames are built at the end)."""

    missing: list[dict[str, Any]] = field(default_factory=list)
    daily: list[pd.DataFrame] = field(default_factory=list)
    means: list[pd.DataFrame] = field(default_factory=list)
    mi: list[pd.DataFrame] = field(default_factory=list)
    omnibus: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    tipping: pd.DataFrame | None = None
    tipping_summary: pd.DataFrame | None = None


@dataclass(frozen=True)
class _Run:
    """One LOCF endpoint's analyses: the data, the protocol's choices and the endpoint's stream."""

    data: TrialData
    protocol: Protocol
    endpoint: Endpoint
    stream: np.random.SeedSequence

    @property
    def label(self) -> dict[str, Any]:
        e = self.endpoint
        return {"endpoint": e.name, "value": e.value, "window_day": e.window_day}

    @property
    def common(self) -> dict[str, Any]:
        return {"ref": reference_arm(self.protocol), "subject": "patient_id", "value": self.endpoint.value,
                "window": self.endpoint.window_day, "scale": self.protocol.diary.scale}


def _missing_days(run: _Run, rows: _Rows) -> None:
    diary, allocation, window = run.data.diary, run.data.allocation, run.endpoint.window_day
    observed = diary[diary["day"] <= window].merge(allocation[["patient_id", "period", "treatment"]],
                                                   on=["patient_id", "period"])
    per_arm = allocation.groupby("treatment", sort=False).size() * window
    got = observed[observed[run.endpoint.value].notna()].groupby("treatment").size()
    for arm in (a.code for a in run.protocol.arms):
        expected = int(per_arm.get(arm, 0))
        missing = expected - int(got.get(arm, 0))
        rows.missing.append({**run.label, "treatment": arm, "n_days": expected, "n_missing_days": missing,
                             "pct_missing": 100.0 * missing / expected if expected else np.nan})


def _omnibus(run: _Run, analysis: str, om: Any) -> dict[str, Any]:
    return {**run.label, "analysis": analysis, "statistic": om.statistic, "df_num": om.df_num, "df_den": om.df_den,
            "p_value": om.p_value}


def _mar_daily_model(run: _Run, rows: _Rows) -> None:
    a = run.protocol.analysis
    try:
        fit = fit_daily_model(run.data.diary, run.data.allocation, model=a.model, df_method=_DAILY_DF,
                              conf_level=a.conf_level, **run.common)
    except ModelError as exc:
        rows.notes.append({**run.label, "analysis": "mar_daily_model", "note": str(exc)})
        rows.checks.append({**run.label, "analysis": "mar_daily_model", "model": "daily", "status": "not_estimable", "reason": str(exc)})
        return
    check = check_daily_fit(fit)
    rows.checks.append({**run.label, "analysis": "mar_daily_model", "model": "daily", **check.to_dict()})
    if not check.estimable:
        rows.notes.append({**run.label, "analysis": "mar_daily_model", "note": f"not estimable: {check.reason}"})
        return
    rows.daily.append(_orient(fit.auc_contrasts(), run.common["ref"]).assign(**run.label))
    rows.means.append(fit.auc_means().assign(**run.label))
    rows.omnibus.append(_omnibus(run, "mar_daily_model", fit.omnibus))


def _multiple_imputation(run: _Run, rows: _Rows) -> None:
    a = run.protocol.analysis
    try:
        mi = multiple_imputation_auc(
            run.data.diary, run.data.allocation, n_imputations=N_IMPUTATIONS, seed=np.random.default_rng(run.stream),
            model=_IMPUTATION_MODEL, analysis_model=a.model, conf_level=a.conf_level, df_method=a.df_method,
            clip=run.protocol.diary.scale, **run.common)
    except ModelError as exc:
        rows.notes.append({**run.label, "analysis": "multiple_imputation", "note": str(exc)})
        rows.checks.append({**run.label, "analysis": "multiple_imputation", "model": "per_imputation", "status": "not_estimable",
                            "reason": str(exc)})
        return
    rows.checks.append({**run.label, "analysis": "multiple_imputation", "model": "per_imputation", **mi.check.to_dict()})
    if not mi.check.estimable:
        rows.notes.append({**run.label, "analysis": "multiple_imputation", "note": f"not estimable: {mi.check.reason}"})
        return
    rows.mi.append(_orient(mi.to_frame(), run.common["ref"]).assign(n_imputations=N_IMPUTATIONS, **run.label))
    rows.omnibus.append(_omnibus(run, "multiple_imputation", mi.omnibus))
    rows.notes.extend({**run.label, "analysis": "multiple_imputation", "note": n} for n in mi.notes)


def _tipping_point(run: _Run, rows: _Rows) -> None:
    a, ref = run.protocol.analysis, run.common["ref"]
    try:
        tp = tipping_point_auc(
            run.data.diary, run.data.allocation, deltas=np.array(tipping_deltas(run.protocol)),
            shift_arms=list(active_arms(run.protocol)), n_imputations=N_IMPUTATIONS,
            seed=np.random.default_rng(run.stream), model=_IMPUTATION_MODEL, analysis_model=a.model, alpha=a.alpha,
            conf_level=a.conf_level, df_method=a.df_method, clip=run.protocol.diary.scale, **run.common)
    except ModelError as exc:
        rows.notes.append({**run.label, "analysis": "tipping_point", "note": str(exc)})
        rows.checks.append({**run.label, "analysis": "tipping_point", "model": "per_imputation", "status": "not_estimable",
                            "reason": str(exc)})
        return
    rows.checks.append({**run.label, "analysis": "tipping_point", "model": "per_imputation", **tp.check.to_dict()})
    if not tp.check.estimable:
        rows.notes.append({**run.label, "analysis": "tipping_point",
                           "note": f"not estimable at some deltas (NaN there; the search for a tipping point "
                                   f"stops at them): {tp.check.reason}"})
    rows.tipping = _orient(tp.to_frame(), ref).assign(**run.label)
    rows.tipping_summary = _orient(tp.tipping_frame(), ref, flip_cols=()).assign(
        shift_arms=", ".join(tp.shift_arms), **run.label)


def _frames(rows: _Rows) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {"missing_days": pd.DataFrame(rows.missing)}
    if rows.daily:
        out["mar_daily_model"] = _front(pd.concat(rows.daily, ignore_index=True))
        out["mar_daily_means"] = _front(pd.concat(rows.means, ignore_index=True))
    if rows.mi:
        out["multiple_imputation"] = _front(pd.concat(rows.mi, ignore_index=True))
    if rows.omnibus:
        out["omnibus"] = pd.DataFrame(rows.omnibus)
    if rows.tipping is not None and rows.tipping_summary is not None:
        out["tipping_point"] = _front(rows.tipping)
        out["tipping_summary"] = _front(rows.tipping_summary)
    if rows.notes:
        out["notes"] = pd.DataFrame(rows.notes)
    if rows.checks:
        out["model_checks"] = pd.DataFrame(rows.checks)
    return out


def _sensitivity_section(
    data: TrialData, protocol: Protocol, settings: AnalysisSettings, seed: int
) -> dict[str, pd.DataFrame]:
    """Run the section; returns named frames (see ``docs/analysis.md``, section Sensitivity).

    Per LOCF endpoint, in protocol order: the missing days, the MAR daily model, multiple
    imputation and (primary endpoint, with active arms) the tipping point; endpoint ``k`` uses
    child ``k`` of ``SeedSequence(seed)`` for its imputations. Warnings of the statistics
    become rows of ``notes`` (analysis ``warning``).
    """
    rows = _Rows()
    streams = np.random.SeedSequence(seed).spawn(len(protocol.endpoints) + 1)
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", KetapainWarning)
        for k, endpoint in enumerate(protocol.endpoints):
            if endpoint.impute != "locf":
                continue
            run = _Run(data, protocol, endpoint, streams[k])
            _missing_days(run, rows)
            _mar_daily_model(run, rows)
            _multiple_imputation(run, rows)
            if endpoint.name == protocol.primary_endpoint.name and active_arms(protocol):
                _tipping_point(run, rows)
    for w in caught:
        rows.notes.append({"endpoint": "", "value": "", "window_day": np.nan, "analysis": "warning",
                           "note": str(w.message)})
    return _frames(rows)


def _front(frame: pd.DataFrame) -> pd.DataFrame:
    """Endpoint columns first."""
    first = ["endpoint", "value", "window_day"]
    return frame[first + [c for c in frame.columns if c not in first]]
