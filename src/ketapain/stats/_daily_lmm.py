"""The likelihood-based analysis of the daily diary, valid under missing at random (MAR).

``fit_daily_model`` fits a linear mixed model to every observed diary day (treatment x day
cell means, period or sequence, random patient and patient x period intercepts) by REML, and
derives the AUC of each treatment and the pairwise AUC contrasts from the cell means. Missing
days are simply absent from the likelihood, which is valid when they are missing at random
given the observed days of the same patient (Verbeke & Molenberghs 2000). See
``docs/missing-data.md``.

Function length: ``fit_daily_model`` is over 80 lines only by its numpydoc docstring (66
lines: the model and its R equivalent); its body is 6 lines.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketapain._json import json_number
from ketapain._options import CONF_LEVEL, OneOf, check_option
from ketapain.errors import ModelError, SingularFitWarning
from ketapain.stats._daily_engine import NestedFit, fit_nested
from ketapain.stats._daily_grid import DailyGrid, DailyModelKind, build_grid
from ketapain.stats._ddf import fstat_ddf
from ketapain.stats._multiplicity import sidak_p
from ketapain.stats._results import FTest
from ketapain.stats._tables import fixed_effects_frame, t_quantile

__all__ = ["AucContrast", "AucMean", "DailyModelFit", "fit_daily_model"]

DailyDfMethod = Literal["satterthwaite", "normal"]


@dataclass(frozen=True, slots=True)
class AucMean:
    """Model-based AUC of one treatment (score-days), averaged over periods (or sequences)."""

    treatment: str
    estimate: float
    se: float
    df: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True, slots=True)
class AucContrast:
    """Model-based AUC contrast ``AUC_a - AUC_b`` (score-days)."""

    a: str
    b: str
    estimate: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    statistic: float
    p_value: float
    p_sidak: float

    @property
    def label(self) -> str:
        """``"a - b"``."""
        return f"{self.a} - {self.b}"


def _p(stat: float | np.ndarray, df: float | np.ndarray) -> Any:
    df = np.asarray(df, dtype=float)
    a = np.abs(stat)
    return 2.0 * np.where(np.isinf(df), sps.norm.sf(a), sps.t.sf(a, np.where(np.isinf(df), 1.0, df)))


@dataclass(frozen=True, slots=True)
class DailyModelFit:
    """Result of :func:`fit_daily_model` (all AUCs in score-days).

    Attributes
    ----------
    value, window, model, anchor, ref, df_method, conf_level : the call's options.
    formula : the model in lme4 syntax.
    terms, estimate, se, df, statistic, p_value : fixed effects (cell means
        ``treatment[K]:day[d]`` then ``period[..]`` or ``sequence[..]``).
    vcov : covariance of the fixed effects.
    sigma2_patient, sigma2_patient_period, sigma2_residual : variance components.
    loglik : REML log-likelihood (lme4's ``logLik`` of a REML fit).
    n_obs : observed points used (days, plus pre-infusion scores with ``anchor``).
    n_missing_days : points of the grid (every patient x period of the allocation x modelled
        day) with no observation.
    n_patients : patients in the allocation.
    singular : a variance component is estimated as exactly 0.
    omnibus : joint test that all treatment AUCs are equal.
    auc_weights : trapezoid weights of the modelled days.
    """

    value: str
    window: int
    model: str
    anchor: bool
    ref: str
    df_method: str
    conf_level: float
    formula: str
    treatment_levels: tuple[str, ...]
    terms: tuple[str, ...]
    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    vcov: np.ndarray
    sigma2_patient: float
    sigma2_patient_period: float
    sigma2_residual: float
    loglik: float
    n_obs: int
    n_missing_days: int
    n_patients: int
    singular: bool
    omnibus: FTest
    auc_weights: np.ndarray
    means: tuple[AucMean, ...]
    contrasts: tuple[AucContrast, ...]
    notes: tuple[str, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """Fixed effects: ``term, estimate, se, df, ci_low, ci_high, statistic, p_value``."""
        return fixed_effects_frame(self.terms, self.estimate, self.se, self.df, self.statistic, self.p_value,
                                   self.conf_level)

    def auc_means(self) -> pd.DataFrame:
        """Model-based AUC per treatment: ``treatment, estimate, se, df, ci_low, ci_high``."""
        cols = list(AucMean.__slots__)
        return pd.DataFrame([{k: getattr(m, k) for k in cols} for m in self.means], columns=cols)

    def auc_contrasts(self) -> pd.DataFrame:
        """Pairwise AUC contrasts: ``contrast, estimate, se, df, ci_low, ci_high, statistic,
        p_value, p_sidak`` (``contrast`` is ``"a - b"``)."""
        cols = ["estimate", "se", "df", "ci_low", "ci_high", "statistic", "p_value", "p_sidak"]
        rows = [{"contrast": c.label, **{k: getattr(c, k) for k in cols}} for c in self.contrasts]
        return pd.DataFrame(rows, columns=["contrast", *cols])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (infinite df are ``None``)."""
        return {
            "value": self.value,
            "window": self.window,
            "model": {
                "formula": self.formula, "kind": self.model, "anchor": self.anchor, "method": "REML",
                "df_method": self.df_method, "conf_level": self.conf_level, "ref": self.ref,
            },
            "n_obs": self.n_obs,
            "n_missing_days": self.n_missing_days,
            "n_patients": self.n_patients,
            "variance": {
                "patient": self.sigma2_patient,
                "patient_period": self.sigma2_patient_period,
                "residual": self.sigma2_residual,
            },
            "loglik": self.loglik,
            "singular": self.singular,
            "fixed_effects": [
                {"term": t, "estimate": float(e), "se": float(s), "df": json_number(d), "stat": float(z), "p": float(p)}
                for t, e, s, d, z, p in zip(
                    self.terms, self.estimate, self.se, self.df, self.statistic, self.p_value, strict=True
                )
            ],
            "auc_means": [
                {"treatment": m.treatment, "estimate": m.estimate, "se": m.se, "df": json_number(m.df),
                 "ci": [m.ci_low, m.ci_high]}
                for m in self.means
            ],
            "auc_contrasts": [
                {"a": c.a, "b": c.b, "estimate": c.estimate, "se": c.se, "df": json_number(c.df),
                 "ci": [c.ci_low, c.ci_high], "stat": c.statistic, "p": c.p_value, "p_sidak": c.p_sidak}
                for c in self.contrasts
            ],
            "omnibus": {
                "stat": self.omnibus.statistic, "df_num": self.omnibus.df_num,
                "df_den": json_number(self.omnibus.df_den), "p": self.omnibus.p_value,
            },
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """Readable text: model, variance components, AUC means, contrasts, omnibus test."""
        om = self.omnibus
        kind = "chi2" if math.isinf(om.df_den) else "F"
        den = "" if math.isinf(om.df_den) else f", {om.df_den:.2f}"
        lines = [
            f"Daily mixed model (REML, MAR): {self.formula}",
            f"  {self.value}, days {'0' if self.anchor else '1'}..{self.window}; {self.n_obs} observed points, "
            f"{self.n_missing_days} missing, {self.n_patients} patients; df: {self.df_method}",
            f"  variance: patient {self.sigma2_patient:.4g}, patient x period {self.sigma2_patient_period:.4g}, "
            f"residual {self.sigma2_residual:.4g}; REML logLik {self.loglik:.3f}"
            + ("  [singular fit]" if self.singular else ""),
            "Model-based AUC (score-days):",
        ]
        for m in self.means:
            lines.append(f"  {m.treatment}: {m.estimate:.2f} [{m.ci_low:.2f}; {m.ci_high:.2f}]")
        lines.append(f"Equal AUCs: {kind}({om.df_num}{den}) = {om.statistic:.3f}, P = {om.p_value:.4g}")
        lines.append("AUC contrasts:")
        for c in self.contrasts:
            lines.append(
                f"  {c.label}: {c.estimate:.2f} [{c.ci_low:.2f}; {c.ci_high:.2f}] (df {c.df:.1f}) "
                f"P = {c.p_value:.4g}, Sidak P = {c.p_sidak:.4g}"
            )
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)


def joint_test(fit: NestedFit, L: np.ndarray, df_method: str) -> FTest:
    """lmerTest ``contestMD``: Wald F over the positive eigen-directions of ``L Phi L'``."""
    vl = L @ fit.vcov @ L.T
    vals, vecs = np.linalg.eigh(vl)
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    pos = vals > max(np.sqrt(np.finfo(float).eps) * vals[0], 0.0)
    q = int(pos.sum())
    if q == 0:
        raise ModelError("the treatment hypothesis is not estimable (zero variance)")
    ptl = vecs[:, pos].T @ L
    wald = float(((ptl @ fit.beta) ** 2 / vals[pos]).sum())
    if df_method == "normal":
        return FTest(statistic=wald, df_num=q, df_den=math.inf, p_value=float(sps.chi2.sf(wald, q)))
    nu = np.array([fit.satterthwaite_df(row) for row in ptl])
    ddf = fstat_ddf(nu)
    stat = wald / q
    return FTest(statistic=stat, df_num=q, df_den=float(ddf), p_value=float(sps.f.sf(stat, q, ddf)))


def fit_daily_model(
    diary: pd.DataFrame,
    allocation: pd.DataFrame,
    *,
    value: str = "avg_pain",
    window: int = 35,
    ref: str,
    model: DailyModelKind = "standard",
    anchor: bool = True,
    subject: str = "patient_id",
    conf_level: float = 0.95,
    df_method: DailyDfMethod = "satterthwaite",
    scale: tuple[float, float] = (0.0, 10.0),
) -> DailyModelFit:
    r"""Fit the daily mixed model by REML and derive the AUCs and AUC contrasts from it.

    Parameters
    ----------
    diary : pandas.DataFrame
        Long diary: ``subject``, ``period``, ``day`` (integer >= 1), ``value`` (on ``scale``,
        NaN = missing). Absent rows are missing days too; days after ``window`` are ignored.
    allocation : pandas.DataFrame
        One row per patient x period: ``subject``, ``period``, ``sequence``, ``treatment``
        and, with ``anchor``, ``pre_infusion_pain`` (NaN allowed). It defines the grid: a
        period without diary rows is entirely missing.
    value : str
        Score column of ``diary``.
    window : int
        Last diary day of the AUC (>= 2).
    ref : str
        Reference treatment (listed first; contrasts are ``a - b`` over the pairs of levels in
        the order reference, then code-point order, as :func:`fit_crossover`).
    model : {"standard", "paper"}
        Nuisance fixed effect: period (standard) or sequence (the paper's description).
    anchor : bool
        True: the period's pre-infusion score is day 0 (the infusion time axis of
        :func:`diary_auc`); False: days 1..W only (its first-diary-day axis).
    subject : str
        Patient identifier column in both frames.
    conf_level : float
        Level of every interval.
    df_method : {"satterthwaite", "normal"}
        Satterthwaite df as ``lmerTest::contest(ddf = "Satterthwaite")``, or Wald z/chi-square.
    scale : (float, float), default (0.0, 10.0)
        The pain scale (the protocol's ``[diary] scale_min``, ``scale_max``): every score, diary
        and pre-infusion, must lie in it (checked; the model itself does not use it).

    Returns
    -------
    DailyModelFit

    Raises
    ------
    DataError
        Missing columns, scores outside ``scale``, duplicate rows, diary rows without allocation.
    ModelError
        A treatment x day cell without observations, aliased fixed effects, or variance
        components that are not identified (no patient-period with two observed days, no
        patient with two observed periods).

    Warns
    -----
    SingularFitWarning
        A variance component is estimated as exactly 0 (lme4's "boundary (singular) fit").

    Notes
    -----
    lme4 equivalent, with ``X`` the cell-mean indicators followed by the period (or sequence)
    treatment-contrast dummies: ``lmer(y ~ 0 + X + (1 | patient) + (1 | patient:period),
    REML = TRUE)``. The AUC of treatment :math:`T` is
    :math:`\sum_d w_d \mu_{Td}` with the trapezoid weights :math:`w` of :func:`diary_auc`
    (1/2 at the first and last point), plus the nuisance effects averaged over their levels
    (as emmeans); contrasts :math:`\sum_d w_d(\mu_{ad} - \mu_{bd})` do not depend on them.
    Sidak adjustment is over the :math:`k = T(T-1)/2` pairs.

    Examples
    --------
    >>> from ketapain.examples import load_example
    >>> t = load_example()
    >>> fit = fit_daily_model(t["diary"], t["allocation"], ref="P")
    >>> fit.auc_contrasts()["contrast"].tolist()
    ['P - K', 'P - KM', 'K - KM']
    """
    check_option("df_method", df_method, OneOf("satterthwaite", "normal"))
    check_option("conf_level", conf_level, CONF_LEVEL)
    grid = build_grid(diary, allocation, value=value, window=window, ref=ref, model=model, anchor=anchor,
                      subject=subject, scale=scale)
    nf = fit_nested(grid)
    return _assemble(grid, nf, value=value, conf_level=conf_level, df_method=df_method, stacklevel=3)


def _formula(grid: DailyGrid, subject: str = "patient") -> str:
    nuis = "period" if grid.model == "standard" else "sequence"
    return f"y ~ 0 + treatment:factor(day) + {nuis} + (1 | {subject}) + (1 | {subject}:period)"


def _assemble(grid: DailyGrid, nf: NestedFit, *, value: str, conf_level: float, df_method: str,
              stacklevel: int) -> DailyModelFit:
    notes: list[str] = []
    singular = nf.theta_b == 0.0 or nf.theta_c == 0.0
    if singular:
        which = [n for n, t in (("patient", nf.theta_b), ("patient x period", nf.theta_c)) if t == 0.0]
        msg = f"boundary (singular) fit: the {' and '.join(which)} variance is estimated as 0"
        warnings.warn(msg, SingularFitWarning, stacklevel=stacklevel)
        notes.append(msg)
    se = np.sqrt(np.diag(nf.vcov))
    df = nf.satterthwaite_df_diag() if df_method == "satterthwaite" else np.full(se.size, np.inf)
    stat = nf.beta / se

    def one(lvec: np.ndarray) -> tuple[float, float, float]:
        est = float(lvec @ nf.beta)
        s = float(np.sqrt(lvec @ nf.vcov @ lvec))
        d = nf.satterthwaite_df(lvec) if df_method == "satterthwaite" else math.inf
        return est, s, d

    levels = grid.treatment_levels
    means = []
    for t in levels:
        est, s, d = one(grid.mean_vector(t))
        q = float(t_quantile(conf_level, d))
        means.append(AucMean(treatment=t, estimate=est, se=s, df=d, ci_low=est - q * s, ci_high=est + q * s))
    pairs = [(levels[i], levels[j]) for i in range(len(levels)) for j in range(i + 1, len(levels))]
    contrasts = []
    for a, b in pairs:
        est, s, d = one(grid.contrast_vector({a: 1.0, b: -1.0}))
        q = float(t_quantile(conf_level, d))
        p = float(_p(est / s, d))
        contrasts.append(AucContrast(
            a=a, b=b, estimate=est, se=s, df=d, ci_low=est - q * s, ci_high=est + q * s, statistic=est / s,
            p_value=p, p_sidak=float(sidak_p(p, len(pairs))),
        ))
    L = np.stack([grid.contrast_vector({t: 1.0, levels[0]: -1.0}) for t in levels[1:]])
    omnibus = joint_test(nf, L, df_method)
    st = nf.stats
    return DailyModelFit(
        value=value, window=grid.window, model=grid.model, anchor=grid.anchor, ref=levels[0],
        df_method=df_method, conf_level=conf_level, formula=_formula(grid), treatment_levels=levels,
        terms=grid.columns, estimate=nf.beta.copy(), se=se, df=df, statistic=stat,
        p_value=np.asarray(_p(stat, df), dtype=float), vcov=nf.vcov,
        sigma2_patient=nf.sigma2_patient, sigma2_patient_period=nf.sigma2_patient_period,
        sigma2_residual=nf.sigma2, loglik=-nf.reml_criterion / 2.0, n_obs=st.n_obs,
        n_missing_days=int(grid.y.size - st.n_obs), n_patients=int(grid.patient.max()) + 1,
        singular=singular, omnibus=omnibus, auc_weights=grid.weights.copy(), means=tuple(means),
        contrasts=tuple(contrasts), notes=tuple(notes),
    )
