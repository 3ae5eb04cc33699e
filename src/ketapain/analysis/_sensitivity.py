"""Missing-data sensitivity analyses of the AUC endpoints that the plan imputes by LOCF.

docs/reference-study.md ("Missing data"): LOCF for the day-35 AUCs, and "a likelihood-based analysis
valid under missing-at-random (Verbeke & Molenberghs)" as sensitivity analysis. For every
endpoint whose protocol imputation is ``locf`` this section runs:

1. the **likelihood-based MAR analysis** of the daily data
   (:func:`ketapain.stats.fit_daily_model`: daily pain ~ treatment x day + period/sequence,
   random patient and patient x period intercepts, REML; AUC contrasts are linear
   combinations of the fitted daily means, Satterthwaite df);
2. **multiple imputation** under the same daily model
   (:func:`ketapain.stats.multiple_imputation_auc`, :data:`N_IMPUTATIONS` imputations,
   re-analysed with the protocol's crossover model and df method, Rubin's rules with
   Barnard-Rubin df, D1 omnibus);
and, for the primary endpoint only,
3. a **delta-adjusted tipping-point analysis** (:func:`ketapain.stats.tipping_point_auc`):
   imputed days of the active arms are shifted by delta pain points over
   :data:`TIPPING_DELTAS`; the tipping deltas are where the Sidak-adjusted conclusion changes.

Contrasts are oriented as the report shows them (active arm minus reference arm; between two
active arms, the statistics core's order), so they read like Table 2's pairwise rows.

BLAS threading is limited to one thread here: the daily model works on many small matrices,
for which a multithreaded BLAS on two cores is 2-10 times slower (measured: 0.16 s vs 0.37 s
to 2.4 s for 20 patients, depending on the machine's load).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ketapain.data import TrialData
from ketapain.errors import KetapainWarning, ModelError
from ketapain.protocol import Protocol
from ketapain.stats import fit_daily_model, multiple_imputation_auc, tipping_point_auc

from ._common import active_arms, reference_arm
from ._settings import AnalysisSettings, ModelTerms, SensitivitySettings

__all__ = ["N_IMPUTATIONS", "TIPPING_DELTAS", "sensitivity_settings"]

N_IMPUTATIONS = 50
"""Imputations per multiple-imputation analysis (also the tipping-point analysis)."""

TIPPING_DELTAS = tuple(float(d) for d in np.round(np.arange(-3.0, 3.0001, 0.5), 10))
"""Shifts (NRS points) added to imputed days of the active arms in the tipping-point analysis."""

_DAILY_DF = "satterthwaite"
_DAILY_RANDOM = ("patient", "patient:period")
_IMPUTATION_MODEL = "standard"


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
        tipping_deltas=TIPPING_DELTAS, tipping_shift_arms=active_arms(protocol),
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


def _sensitivity_section(
    data: TrialData, protocol: Protocol, settings: AnalysisSettings, seed: int
) -> dict[str, pd.DataFrame]:
    """Run the section; returns named frames (see ``docs/analysis.md``, section Sensitivity)."""
    ref = reference_arm(protocol)
    diary, allocation = data.diary, data.allocation
    model = protocol.analysis.model
    common = {"ref": ref, "subject": "patient_id"}
    daily_rows, means_rows, mi_rows, omni_rows, missing_rows, notes = [], [], [], [], [], []
    tipping: pd.DataFrame | None = None
    tipping_summary: pd.DataFrame | None = None
    streams = np.random.SeedSequence(seed).spawn(len(protocol.endpoints) + 1)
    with threadpool_limits(limits=1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", KetapainWarning)
        for k, endpoint in enumerate(protocol.endpoints):
            if endpoint.impute != "locf":
                continue
            label = {"endpoint": endpoint.name, "value": endpoint.value, "window_day": endpoint.window_day}
            window = endpoint.window_day
            days = diary[diary["day"] <= window]
            observed = days.merge(allocation[["patient_id", "period", "treatment"]], on=["patient_id", "period"])
            per_arm = allocation.groupby("treatment", sort=False).size() * window
            got = observed[observed[endpoint.value].notna()].groupby("treatment").size()
            for arm in (a.code for a in protocol.arms):
                expected = int(per_arm.get(arm, 0))
                missing = expected - int(got.get(arm, 0))
                missing_rows.append({**label, "treatment": arm, "n_days": expected, "n_missing_days": missing,
                                     "pct_missing": 100.0 * missing / expected if expected else np.nan})
            try:
                fit = fit_daily_model(diary, allocation, value=endpoint.value, window=window, model=model,
                                      df_method=_DAILY_DF, conf_level=protocol.analysis.conf_level, **common)
            except ModelError as exc:
                notes.append({**label, "analysis": "mar_daily_model", "note": str(exc)})
            else:
                daily_rows.append(_orient(fit.auc_contrasts(), ref).assign(**label))
                means_rows.append(fit.auc_means().assign(**label))
                om = fit.omnibus
                omni_rows.append({**label, "analysis": "mar_daily_model", "statistic": om.statistic,
                                  "df_num": om.df_num, "df_den": om.df_den, "p_value": om.p_value})
            try:
                mi = multiple_imputation_auc(
                    diary, allocation, value=endpoint.value, window=window, n_imputations=N_IMPUTATIONS,
                    seed=np.random.default_rng(streams[k]), model=_IMPUTATION_MODEL, analysis_model=model,
                    conf_level=protocol.analysis.conf_level, df_method=protocol.analysis.df_method, **common)
            except ModelError as exc:
                notes.append({**label, "analysis": "multiple_imputation", "note": str(exc)})
            else:
                mi_rows.append(_orient(mi.to_frame(), ref).assign(n_imputations=N_IMPUTATIONS, **label))
                om = mi.omnibus
                omni_rows.append({**label, "analysis": "multiple_imputation", "statistic": om.statistic,
                                  "df_num": om.df_num, "df_den": om.df_den, "p_value": om.p_value})
                notes.extend({**label, "analysis": "multiple_imputation", "note": n} for n in mi.notes)
            if endpoint.name == protocol.primary_endpoint.name and active_arms(protocol):
                try:
                    tp = tipping_point_auc(
                        diary, allocation, value=endpoint.value, window=window, deltas=np.array(TIPPING_DELTAS),
                        shift_arms=list(active_arms(protocol)), n_imputations=N_IMPUTATIONS,
                        seed=np.random.default_rng(streams[k]), model=_IMPUTATION_MODEL, analysis_model=model,
                        alpha=protocol.analysis.alpha, conf_level=protocol.analysis.conf_level,
                        df_method=protocol.analysis.df_method, **common)
                except ModelError as exc:
                    notes.append({**label, "analysis": "tipping_point", "note": str(exc)})
                else:
                    tipping = _orient(tp.to_frame(), ref).assign(**label)
                    tipping_summary = _orient(tp.tipping_frame(), ref, flip_cols=()).assign(
                        shift_arms=", ".join(tp.shift_arms), **label)
    for w in caught:
        notes.append({"endpoint": "", "value": "", "window_day": np.nan, "analysis": "warning", "note": str(w.message)})
    out: dict[str, pd.DataFrame] = {"missing_days": pd.DataFrame(missing_rows)}
    if daily_rows:
        out["mar_daily_model"] = _front(pd.concat(daily_rows, ignore_index=True))
        out["mar_daily_means"] = _front(pd.concat(means_rows, ignore_index=True))
    if mi_rows:
        out["multiple_imputation"] = _front(pd.concat(mi_rows, ignore_index=True))
    if omni_rows:
        out["omnibus"] = pd.DataFrame(omni_rows)
    if tipping is not None and tipping_summary is not None:
        out["tipping_point"] = _front(tipping)
        out["tipping_summary"] = _front(tipping_summary)
    if notes:
        out["notes"] = pd.DataFrame(notes)
    return out


def _front(frame: pd.DataFrame) -> pd.DataFrame:
    """Endpoint columns first."""
    first = ["endpoint", "value", "window_day"]
    return frame[first + [c for c in frame.columns if c not in first]]
