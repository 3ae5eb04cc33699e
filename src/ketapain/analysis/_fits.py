"""One crossover fit as the plan runs it: the protocol's options, the residual-normality
check and the log-transform rule, flattened into tidy rows (models, contrasts, effect sizes).

Every model-based comparison of the plan (pain before each period, Table 2, Table 3) goes
through :func:`fit_rows`, so the three share one set of columns (see docs/analysis.md). Every
fit is checked by :func:`ketapain.stats.check_crossover_fit` (the verdict goes to
``log.check``); a fit that is not estimable keeps its row, with NaN numbers and the reason in
``notes``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ketapain.errors import ModelError
from ketapain.stats import CrossoverFit, ModelCheck, check_crossover_fit, fit_crossover

from ._warnings import WarningLog

__all__ = ["CONTRAST_COLUMNS", "EFFECT_COLUMNS", "FitRows", "HEADLINE_EFFECT", "MODEL_COLUMNS", "fit_rows", "frames"]

#: The effect-size definition shown first in the report (the others are kept alongside): the
#: model-based standardised difference, whose CI excludes 0 exactly when the model's does.
HEADLINE_EFFECT = "d_model"
#: Numbers blanked (NaN) in the rows of a fit that is not estimable.
_MODEL_NUMBERS = ("treatment_stat", "treatment_df_num", "treatment_df_den", "treatment_p", "icc", "variance_subject",
                  "variance_residual", "loglik", "aic", "bic")
_CONTRAST_NUMBERS = ("estimate", "se", "df", "statistic", "p_value", "p_sidak", "ci_low", "ci_high", "ci_sidak_low",
                     "ci_sidak_high", "ratio", "ratio_ci_low", "ratio_ci_high")

MODEL_COLUMNS = (
    "section", "outcome", "model", "scale", "used", "formula", "n_obs", "n_subjects", "df_method",
    "treatment_stat", "treatment_df_num", "treatment_df_den", "treatment_p", "significant",
    "icc", "variance_subject", "variance_residual", "residual_shapiro_w", "residual_shapiro_p",
    "log_rule_triggered", "carryover_stat", "carryover_df_num", "carryover_df_den", "carryover_p",
    "carryover_kept", "seq_by_treatment_stat", "seq_by_treatment_df_num", "seq_by_treatment_df_den",
    "seq_by_treatment_p", "singular", "loglik", "aic", "bic", "notes",
)
CONTRAST_COLUMNS = (
    "section", "outcome", "model", "scale", "used", "a", "b", "estimate", "se", "df", "statistic",
    "p_value", "p_sidak", "ci_low", "ci_high", "ci_sidak_low", "ci_sidak_high", "ratio",
    "ratio_ci_low", "ratio_ci_high", "shown",
)
EFFECT_COLUMNS = (
    "section", "outcome", "model", "scale", "used", "a", "b", "kind", "estimate", "ci_low", "ci_high",
    "conf_level", "n", "headline",
)


@dataclass(frozen=True, slots=True)
class FitRows:
    """Rows of one outcome x model: each fitted scale (identity, and log when the rule fired)."""

    models: list[dict[str, Any]] = field(default_factory=list)
    contrasts: list[dict[str, Any]] = field(default_factory=list)
    effects: list[dict[str, Any]] = field(default_factory=list)
    fits: dict[str, CrossoverFit] = field(default_factory=dict)


def _f(x: Any) -> float:
    return math.nan if x is None else float(x)


def _test(prefix: str, t: Any) -> dict[str, float]:
    if t is None:
        return {f"{prefix}_stat": math.nan, f"{prefix}_df_num": math.nan, f"{prefix}_df_den": math.nan, f"{prefix}_p": math.nan}
    return {f"{prefix}_stat": float(t.statistic), f"{prefix}_df_num": float(t.df_num),
            f"{prefix}_df_den": float(t.df_den), f"{prefix}_p": float(t.p_value)}


def _rows(fit: CrossoverFit, key: Mapping[str, Any], *, scale: str, used: bool, alpha: float,
          triggered: bool, extra_notes: tuple[str, ...]) -> tuple[dict, list[dict], list[dict]]:
    base = {**key, "scale": scale, "used": used}
    p = float(fit.treatment_test.p_value)
    model = {
        **base,
        "formula": fit.formula, "n_obs": fit.n_obs, "n_subjects": fit.n_subjects, "df_method": fit.df_method,
        "treatment_stat": float(fit.treatment_test.statistic), "treatment_df_num": float(fit.treatment_test.df_num),
        "treatment_df_den": float(fit.treatment_test.df_den), "treatment_p": p, "significant": bool(p < alpha),
        "icc": float(fit.icc), "variance_subject": float(fit.variance_subject),
        "variance_residual": _f(fit.variance_residual),
        "residual_shapiro_w": _f(None if fit.residual_normality is None else fit.residual_normality[0]),
        "residual_shapiro_p": _f(None if fit.residual_normality is None else fit.residual_normality[1]),
        "log_rule_triggered": triggered,
        **_test("carryover", fit.carryover_test),
        "carryover_kept": any(t.startswith("carryover") for t in fit.terms),
        **_test("seq_by_treatment", fit.sequence_by_treatment),
        "singular": bool(fit.singular), "loglik": float(fit.loglik), "aic": float(fit.aic), "bic": float(fit.bic),
        "notes": "; ".join((*fit.notes, *extra_notes)),
    }
    contrasts = [
        {**base, "a": c.a, "b": c.b, "estimate": c.estimate, "se": c.se, "df": c.df, "statistic": c.statistic,
         "p_value": c.p_value, "p_sidak": c.p_sidak, "ci_low": c.ci_low, "ci_high": c.ci_high,
         "ci_sidak_low": c.ci_sidak_low, "ci_sidak_high": c.ci_sidak_high, "ratio": _f(c.ratio),
         "ratio_ci_low": _f(c.ratio_ci_low), "ratio_ci_high": _f(c.ratio_ci_high), "shown": bool(p < alpha)}
        for c in fit.contrasts
    ]
    effects = [
        {**base, "a": e.a, "b": e.b, "kind": e.kind, "estimate": e.estimate, "ci_low": e.ci_low,
         "ci_high": e.ci_high, "conf_level": e.conf_level, "n": e.n, "headline": e.kind == HEADLINE_EFFECT}
        for e in fit.effect_sizes
    ]
    return model, contrasts, effects


def _blank(check: ModelCheck, model: dict, contrasts: list[dict], effects: list[dict]) -> None:
    """NaN for every number of a fit that is not estimable; the reason joins the notes."""
    model.update(dict.fromkeys(_MODEL_NUMBERS, math.nan), significant=False)
    model["notes"] = "; ".join(n for n in (f"not estimable: {check.reason}", model["notes"]) if n)
    for c in contrasts:
        c.update(dict.fromkeys(_CONTRAST_NUMBERS, math.nan), shown=False)
    for e in effects:
        e.update(estimate=math.nan, ci_low=math.nan, ci_high=math.nan)


def fit_rows(
    frame: pd.DataFrame,
    *,
    section: str,
    outcome: str,
    column: str,
    model: str,
    options: Mapping[str, Any],
    alpha: float,
    ref: str,
    log_rule: bool,
    log: WarningLog,
) -> FitRows:
    """Fit ``column`` of ``frame`` (patient_id, period, sequence, treatment) with the plan's rules.

    ``options`` are :meth:`ketapain.protocol.Analysis.fit_options` (``model`` is replaced by
    ``model``). When ``log_rule`` is on and Shapiro-Wilk rejects normality of the conditional
    residuals (P < ``alpha``), the model is refitted on ``log(column)``; both fits are kept
    and ``used`` marks the log one. Values <= 0 make the log refit impossible: the identity
    fit stays ``used`` and the reason is a note. A fit that fails is a note in ``log`` and no
    row (never a crash); a fit that the degenerate-fit rules find not estimable keeps its rows
    with NaN numbers and the reason in ``notes``. Warnings raised by the fits and the model
    check of every fit go to ``log``.
    """
    out = FitRows()
    where: dict[str, Any] = {"section": section, "outcome": outcome, "model": model}
    kwargs = {**options, "model": model}
    try:
        with log.catch(**where, scale="identity"):
            fit = fit_crossover(frame, outcome=column, subject="patient_id", ref=ref, **kwargs)
    except ModelError as exc:
        log.note("not_fitted", f"not fitted: {exc}", **where)
        log.check(ModelCheck("not_estimable", (str(exc),)), **where, scale="identity")
        return out
    normality = fit.residual_normality
    p_normal = normality[1] if normality is not None else None
    triggered = bool(log_rule and p_normal is not None and p_normal < alpha)
    log_fit: CrossoverFit | None = None
    notes: tuple[str, ...] = ()
    if triggered:
        values = pd.to_numeric(frame[column], errors="coerce")
        if (values.dropna() <= 0).any():
            notes = (f"residual normality rejected (Shapiro-Wilk P = {p_normal:.4g}) but {column} has "
                     "values <= 0: the log refit is impossible, the identity scale is used",)
            log.note("log_refit_impossible", notes[0], **where)
        else:
            try:
                with log.catch(**where, scale="log"):
                    log_fit = fit_crossover(frame, outcome=column, subject="patient_id", ref=ref, log=True, **kwargs)
            except ModelError as exc:
                notes = (f"log refit failed: {exc}",)
                log.note("log_refit_failed", notes[0], **where)
                log.check(ModelCheck("not_estimable", (str(exc),)), **where, scale="log")
    key = {"section": section, "outcome": outcome, "model": model}
    for scale, f, used in (("identity", fit, log_fit is None), ("log", log_fit, log_fit is not None)):
        if f is None:
            continue
        m, c, e = _rows(f, key, scale=scale, used=used, alpha=alpha, triggered=triggered,
                        extra_notes=notes if scale == "identity" else ())
        check = check_crossover_fit(f)
        log.check(check, **where, scale=scale)
        if not check.estimable:
            _blank(check, m, c, e)
            log.note("not_estimable", f"not estimable (degenerate fit): {check.reason}", **where, scale=scale)
        out.models.append(m)
        out.contrasts.extend(c)
        out.effects.extend(e)
        out.fits[f"{section}/{outcome}/{model}/{scale}"] = f
    return out


def frames(parts: list[FitRows]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Concatenate many :class:`FitRows` into the models, contrasts and effect-size frames."""
    models = pd.DataFrame([r for p in parts for r in p.models], columns=list(MODEL_COLUMNS))
    contrasts = pd.DataFrame([r for p in parts for r in p.contrasts], columns=list(CONTRAST_COLUMNS))
    effects = pd.DataFrame([r for p in parts for r in p.effects], columns=list(EFFECT_COLUMNS))
    for frame, ints in ((models, ("n_obs", "n_subjects")), (effects, ("n",))):
        for col in ints:
            frame[col] = frame[col].astype("int64")
    for frame, bools in ((models, ("used", "significant", "log_rule_triggered", "carryover_kept", "singular")),
                         (contrasts, ("used", "shown")), (effects, ("used", "headline"))):
        for col in bools:
            frame[col] = frame[col].astype(bool)
    return models, contrasts, effects

