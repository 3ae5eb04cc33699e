"""Result records of the crossover model engine, apart from the numerics that fill them.

``CrossoverFit`` (with its ``Contrast`` and ``EffectSize`` entries and the ``FTest``/``TTest``
records of the tests) is what :func:`ketapain.stats.fit_crossover` returns for either model
backend, linear or logistic; ``LogisticGLMMFit``, ``WaldTest`` and ``ContrastEstimate`` are the
results of :func:`ketapain.stats.fit_logistic_glmm` and its tests. Every record is a frozen
dataclass; the fitted-model classes render as a table (``to_frame``), as text (``summary``)
and as JSON-safe Python (``to_dict``). This module imports no model code, so the engines
(``_crossover``, ``_crossover_lmm``, ``_crossover_binary``, ``_glmm``, ``_ddf``...) all import
their results from here and never from each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ketapain._json import json_number
from ketapain.stats._tables import fixed_effects_frame

__all__ = [
    "Contrast",
    "ContrastEstimate",
    "CrossoverFit",
    "EffectSize",
    "FTest",
    "LogisticGLMMFit",
    "TTest",
    "WaldTest",
]


# ------------------------------------------------------------------------- test records


@dataclass(frozen=True, slots=True)
class TTest:
    """One linear combination ``l'beta``: estimate, SE, df (``inf`` for normal), t/z, p."""

    estimate: float
    se: float
    df: float
    statistic: float
    p_value: float


@dataclass(frozen=True, slots=True)
class FTest:
    """Joint test of ``L beta = 0``: F (or chi-square for normal), numerator/denominator df, p.

    ``df_den`` is ``inf`` for the normal (Wald chi-square) method, and ``statistic`` is then the
    chi-square statistic, not F.
    """

    statistic: float
    df_num: int
    df_den: float
    p_value: float



@dataclass(frozen=True, slots=True)
class EffectSize:
    """One standardised effect size ``kind`` for ``a`` vs ``b`` with its CI."""

    a: str
    b: str
    kind: str
    estimate: float
    ci_low: float
    ci_high: float
    conf_level: float
    n: int

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict: ``a, b, kind, estimate, ci=[low, high], conf_level, n``."""
        return {
            "a": self.a,
            "b": self.b,
            "kind": self.kind,
            "estimate": self.estimate,
            "ci": [self.ci_low, self.ci_high],
            "conf_level": self.conf_level,
            "n": self.n,
        }



# ------------------------------------------------------------------------ crossover fit


@dataclass(frozen=True, slots=True)
class Contrast:
    """Pairwise treatment contrast ``mean(a) - mean(b)`` (log odds ratio for binary outcomes).

    ``df`` is ``inf`` for normal (z) inference. ``ratio*`` are filled only for log-scale fits
    (back-transformed: geometric-mean ratio a/b) or binary fits (odds ratio a/b).
    """

    a: str
    b: str
    estimate: float
    se: float
    df: float
    statistic: float
    p_value: float
    p_sidak: float
    ci_low: float
    ci_high: float
    ci_sidak_low: float
    ci_sidak_high: float
    ratio: float | None = None
    ratio_ci_low: float | None = None
    ratio_ci_high: float | None = None



def _ftest_dict(t: FTest | None) -> dict[str, float | int | None] | None:
    if t is None:
        return None
    return {"stat": json_number(t.statistic), "df_num": t.df_num, "df_den": json_number(t.df_den), "p": json_number(t.p_value)}



@dataclass(frozen=True, slots=True)
class CrossoverFit:
    """Everything estimated by :func:`fit_crossover`.

    Numeric arrays are aligned with ``terms``. Tests that do not apply are ``None``; the
    reason is in ``notes``. ``variance_residual`` is ``None`` for binary outcomes (the latent
    logistic variance ``pi^2/3`` is used for the ICC there).
    """

    outcome: str
    formula: str
    method: str
    df_method: str
    conf_level: float
    log: bool
    binary: bool
    n_obs: int
    n_subjects: int
    terms: tuple[str, ...]
    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    variance_subject: float
    variance_residual: float | None
    icc: float
    loglik: float
    aic: float
    bic: float
    singular: bool
    treatment_test: FTest
    contrasts: tuple[Contrast, ...]
    effect_sizes: tuple[EffectSize, ...]
    residual_normality: tuple[float, float] | None
    sequence_by_treatment: FTest | None
    carryover_test: FTest | None
    notes: tuple[str, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """Fixed effects: ``term, estimate, se, df, ci_low, ci_high, statistic, p_value``.

        CIs use the same df method as the tests (normal quantile when ``df`` is infinite);
        the confidence level is ``self.conf_level``.
        """
        return fixed_effects_frame(self.terms, self.estimate, self.se, self.df, self.statistic, self.p_value,
                                   self.conf_level)

    def contrasts_frame(self) -> pd.DataFrame:
        """Pairwise contrasts, one row per pair (columns = the fields of :class:`Contrast`)."""
        cols = list(Contrast.__slots__)
        return pd.DataFrame([{k: getattr(c, k) for k in cols} for c in self.contrasts], columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable contract of ``ketapain fit --json`` (JSON-safe)."""
        contrasts = []
        for c in self.contrasts:
            item: dict[str, Any] = {
                "a": c.a,
                "b": c.b,
                "estimate": c.estimate,
                "se": c.se,
                "df": json_number(c.df),
                "stat": c.statistic,
                "p": c.p_value,
                "p_sidak": c.p_sidak,
                "ci": [c.ci_low, c.ci_high],
                "ci_sidak": [c.ci_sidak_low, c.ci_sidak_high],
            }
            if c.ratio is not None:
                item["ratio"] = c.ratio
                item["ratio_ci"] = [c.ratio_ci_low, c.ratio_ci_high]
            contrasts.append(item)
        return {
            "n_obs": self.n_obs,
            "n_subjects": self.n_subjects,
            "model": {
                "formula": self.formula,
                "method": self.method,
                "df_method": self.df_method,
                "outcome_scale": "log" if self.log else ("logit" if self.binary else "identity"),
                "conf_level": self.conf_level,
            },
            "fixed_effects": [
                {
                    "term": t,
                    "estimate": float(e),
                    "se": float(s),
                    "df": json_number(d),
                    "stat": float(st),
                    "p": float(p),
                }
                for t, e, s, d, st, p in zip(
                    self.terms, self.estimate, self.se, self.df, self.statistic, self.p_value, strict=True
                )
            ],
            "variance": {"subject": self.variance_subject, "residual": json_number(self.variance_residual)},
            "icc": self.icc,
            "loglik": self.loglik,
            "aic": self.aic,
            "bic": self.bic,
            "singular": self.singular,
            "treatment_test": _ftest_dict(self.treatment_test),
            "contrasts": contrasts,
            "effect_sizes": [e.to_dict() for e in self.effect_sizes],
            "residual_normality": None
            if self.residual_normality is None
            else {"W": self.residual_normality[0], "p": self.residual_normality[1]},
            "sequence_by_treatment": _ftest_dict(self.sequence_by_treatment),
            "carryover_test": _ftest_dict(self.carryover_test),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """A readable text summary (model, variance, omnibus test, contrasts, effect sizes)."""
        lines = [
            f"Crossover mixed model: {self.formula}",
            f"  fit: {self.method}; df: {self.df_method}; n = {self.n_obs} observations, "
            f"{self.n_subjects} subjects" + ("; outcome on log scale" if self.log else ""),
            f"  variance: subject {self.variance_subject:.4g}, residual "
            + ("-" if self.variance_residual is None else f"{self.variance_residual:.4g}")
            + f"; ICC {self.icc:.3f}" + ("  [singular fit]" if self.singular else ""),
            f"  logLik {self.loglik:.3f}; AIC {self.aic:.2f}; BIC {self.bic:.2f}",
            "",
            self.to_frame().to_string(index=False, float_format=lambda v: f"{v:.4g}"),
            "",
        ]
        tt = self.treatment_test
        den = "inf" if math.isinf(tt.df_den) else f"{tt.df_den:.2f}"
        kind = "chi2" if math.isinf(tt.df_den) else "F"
        lines.append(f"Treatment: {kind}({tt.df_num}, {den}) = {tt.statistic:.3f}, P = {tt.p_value:.4g}")
        lines.append("Pairwise contrasts (a - b):")
        for c in self.contrasts:
            lines.append(
                f"  {c.a} - {c.b}: {c.estimate:.3f} [{c.ci_low:.3f}; {c.ci_high:.3f}] "
                f"P = {c.p_value:.4g}, Sidak P = {c.p_sidak:.4g}"
                + (f"; ratio {c.ratio:.3f} [{c.ratio_ci_low:.3f}; {c.ratio_ci_high:.3f}]" if c.ratio else "")
            )
        if self.effect_sizes:
            lines.append("Effect sizes:")
            for e in self.effect_sizes:
                lines.append(f"  {e.a} vs {e.b} ({e.kind}): {e.estimate:.2f} [{e.ci_low:.2f}; {e.ci_high:.2f}]")
        for name, t in (("Sequence x treatment", self.sequence_by_treatment), ("Carry-over", self.carryover_test)):
            if t is not None:
                lines.append(f"{name}: stat = {t.statistic:.3f} ({t.df_num}, {t.df_den:.2f}), P = {t.p_value:.4g}")
        if self.residual_normality is not None:
            lines.append(f"Shapiro-Wilk on residuals: W = {self.residual_normality[0]:.4f}, P = {self.residual_normality[1]:.4g}")
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)



# ---------------------------------------------------------------- logistic mixed model


_FRAME_COLUMNS = (  # to_frame() column -> attribute, after term, estimate, se, df
    ("statistic", "statistic"), ("p_value", "p_values"), ("ci_low", "ci_low"),
    ("ci_high", "ci_high"), ("odds_ratio", "odds_ratios"), ("or_ci_low", "or_ci_low"),
    ("or_ci_high", "or_ci_high"),
)



@dataclass(frozen=True, slots=True)
class LogisticGLMMFit:
    """Result of :func:`fit_logistic_glmm` (all tests are Wald z: normal reference, df = inf).

    Attributes
    ----------
    term_names : tuple of str
        Names of the fixed effects, in the column order of ``X``.
    estimates, se, statistic, p_values : ndarray
        Log-odds coefficients, their standard errors, Wald z = estimate / se and two-sided
        normal p-values (as ``summary(glmer(...))``).
    ci_low, ci_high : ndarray
        Wald confidence limits ``estimate -/+ z * se`` at ``conf_level`` (log-odds scale).
    odds_ratios, or_ci_low, or_ci_high : ndarray
        ``exp`` of the estimates and of their confidence limits.
    cov : ndarray
        Covariance matrix of the estimates (lme4's ``vcov``).
    theta, variance : float
        SD of the random intercept on the logit scale (lme4's theta) and its square.
    loglik, aic, bic : float
        AGQ log-likelihood; AIC and BIC count ``p + 1`` parameters, BIC uses ``n_obs``.
    nagq, n_obs, n_subjects : int
        Quadrature points (1 = Laplace), observations, subjects.
    singular, converged : bool
        ``theta < 1e-4`` (lme4's isSingular); optimiser reached its gradient tolerance.
    conf_level : float
        Confidence level of the intervals.
    """

    term_names: tuple[str, ...]
    estimates: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    p_values: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    odds_ratios: np.ndarray
    or_ci_low: np.ndarray
    or_ci_high: np.ndarray
    cov: np.ndarray
    theta: float
    variance: float
    loglik: float
    aic: float
    bic: float
    nagq: int
    n_obs: int
    n_subjects: int
    singular: bool
    converged: bool
    conf_level: float

    @property
    def deviance(self) -> float:
        """-2 log L, the criterion minimised (lme4's ``devcomp$cmp["dev"]``)."""
        return -2.0 * self.loglik

    @property
    def n_params(self) -> int:
        """Number of estimated parameters: fixed effects + theta."""
        return len(self.term_names) + 1

    def to_frame(self) -> pd.DataFrame:
        """One row per fixed effect; ``df`` is ``inf`` (Wald z, normal reference)."""
        cols = {"term": list(self.term_names), "estimate": self.estimates, "se": self.se,
                "df": np.full(len(self.term_names), np.inf)}
        cols |= {c: getattr(self, a) for c, a in _FRAME_COLUMNS}
        return pd.DataFrame(cols)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (non-finite numbers become ``None``)."""
        rows = self.to_frame().drop(columns="df").to_dict(orient="records")
        out: dict[str, Any] = {
            "model": "logistic GLMM, random intercept per subject, ML (adaptive Gauss-Hermite)",
            "test": "Wald z (normal reference, df = inf), two-sided",
            "coefficients": [
                {k: (v if k == "term" else json_number(v)) for k, v in r.items()} for r in rows
            ],
            "cov": [[json_number(v) for v in row] for row in self.cov],
        }
        out |= {k: getattr(self, k) for k in ("nagq", "n_obs", "n_subjects", "singular",
                                              "converged")}
        out |= {k: json_number(getattr(self, k))
                for k in ("conf_level", "theta", "variance", "loglik", "aic", "bic")}
        return out

    def summary(self) -> str:
        """Readable text table."""
        method = "Laplace" if self.nagq == 1 else f"adaptive Gauss-Hermite, nAGQ = {self.nagq}"
        pct = f"{100 * self.conf_level:g}%"
        lines = [
            "Logistic mixed model, random intercept per subject (ML, " + method + ")",
            f"  observations {self.n_obs}, subjects {self.n_subjects}",
            f"  logLik {self.loglik:.3f}   AIC {self.aic:.3f}   BIC {self.bic:.3f}",
            f"  random intercept SD (logit) {self.theta:.4f}, variance {self.variance:.4f}"
            + ("   [singular: on the boundary]" if self.singular else ""),
            "",
            f"{'term':<20}{'estimate':>10}{'se':>9}{'z':>8}{'p':>9}"
            f"{'OR':>9}  {pct + ' CI (OR)':>17}",
        ]
        for j, t in enumerate(self.term_names):
            p = self.p_values[j]
            ptxt = "<0.0001" if p < 1e-4 else f"{p:.4f}"
            lines.append(
                f"{t:<20}{self.estimates[j]:>10.4f}{self.se[j]:>9.4f}{self.statistic[j]:>8.2f}"
                f"{ptxt:>9}{self.odds_ratios[j]:>9.3f}  "
                f"{self.or_ci_low[j]:>7.3f} to {self.or_ci_high[j]:<7.3f}"
            )
        lines.append("Wald z tests (normal reference, df = inf), two-sided.")
        if not self.converged:
            lines.append("WARNING: the optimiser did not reach its tolerance.")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class WaldTest:
    """Wald chi-square test of ``L beta = 0`` (chi-square reference with ``df`` = rank L)."""

    statistic: float
    df: int
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return {"statistic": json_number(self.statistic), "df": self.df,
                "p_value": json_number(self.p_value), "test": "Wald chi-square"}


@dataclass(frozen=True, slots=True)
class ContrastEstimate:
    """A single contrast ``c'beta`` with its Wald z test and confidence interval."""

    estimate: float
    se: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    conf_level: float

    @property
    def odds_ratio(self) -> float:
        """``exp(estimate)``."""
        return math.exp(self.estimate)

    @property
    def or_ci(self) -> tuple[float, float]:
        """``exp`` of the confidence limits."""
        return math.exp(self.ci_low), math.exp(self.ci_high)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        keys = ("estimate", "se", "statistic", "p_value", "ci_low", "ci_high", "conf_level")
        out: dict[str, Any] = {k: json_number(getattr(self, k)) for k in keys}
        out["odds_ratio"] = json_number(self.odds_ratio)
        out["or_ci_low"], out["or_ci_high"] = (json_number(v) for v in self.or_ci)
        out["test"] = "Wald z (normal reference, df = inf), two-sided"
        return out

