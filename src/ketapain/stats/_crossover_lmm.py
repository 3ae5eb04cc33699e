"""Linear backend of :func:`ketapain.stats.fit_crossover`: the random-intercept LMM.

The model is ``y = X beta + b_subject + e`` fitted by REML or ML (:mod:`._lmm`); tests and
contrasts use the chosen denominator df (:mod:`._ddf`: Kenward-Roger as pbkrtest,
Satterthwaite as lmerTest, containment as nlme, normal as Stata). Effect sizes per pair: the
model-based total-SD effect, the paired Cohen's d_z and Hedges' g_av, and d_model
(:mod:`._effect_sizes`); residual check: Shapiro-Wilk on the conditional residuals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketapain.errors import ModelError
from ketapain.stats._crossover_backend import FitReport
from ketapain.stats._ddf import (
    ContainmentDf,
    DfMethod,
    VarianceDerivatives,
    containment_df,
    f_test,
    t_test,
    variance_derivatives,
)
from ketapain.stats._design import CrossoverData, CrossoverDesign
from ketapain.stats._effect_sizes import cohens_dz, hedges_g_av, model_d_effect, total_sd_effect
from ketapain.stats._lmm import LMMFit, Method, fit_random_intercept_stats, sufficient_stats_cells
from ketapain.stats._multiplicity import sidak_critical_value
from ketapain.stats._results import Contrast, EffectSize, FTest, TTest

__all__ = ["LinearBackend", "LinearFit", "paired_means", "paired_values"]


def paired_values(data: pd.DataFrame, subject: str, treatment: str, outcome: str, levels: Sequence[str]) -> pd.DataFrame:
    """Subject x treatment table of the outcome (mean over replicates) for paired effect sizes."""
    frame = pd.DataFrame(
        {
            "s": data[subject].astype(str).to_numpy(),
            "t": data[treatment].astype(str).str.strip().to_numpy(),
            "y": pd.to_numeric(data[outcome], errors="coerce").to_numpy(dtype=float),
        }
    ).dropna()
    # pivot_table(aggfunc="mean") by codes and bincount (same sorted subject index, NaN for
    # an unobserved cell); pandas' pivot_table costs ~5 ms per call.
    s_codes, subjects = pd.factorize(frame["s"], sort=True)
    t_codes = pd.Index(list(levels)).get_indexer(pd.Index(frame["t"]))
    keep = t_codes >= 0
    cell = s_codes[keep] * len(levels) + t_codes[keep]
    size = len(subjects) * len(levels)
    sums = np.bincount(cell, weights=frame["y"].to_numpy()[keep], minlength=size)
    counts = np.bincount(cell, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, np.nan).reshape(len(subjects), len(levels))
    return pd.DataFrame(means, index=pd.Index(subjects, name="s"), columns=pd.Index(list(levels), name="t"))


def paired_means(parsed: CrossoverData, levels: Sequence[str]) -> pd.DataFrame:
    """:func:`paired_values` from parsed data (integer codes, no text column per row): the
    same table, the same sums in the same order."""
    observed = ~np.isnan(parsed.y)
    subj = parsed.subject.codes[observed]
    present = np.bincount(subj, minlength=len(parsed.subject.levels)) > 0
    s_codes = (np.cumsum(present) - 1)[subj]
    t_codes = pd.Index(list(levels)).get_indexer(pd.Index(parsed.treatment_levels))[parsed.treatment.codes[observed]]
    keep = t_codes >= 0
    n_subjects = int(present.sum())
    cell = s_codes[keep] * len(levels) + t_codes[keep]
    size = n_subjects * len(levels)
    sums = np.bincount(cell, weights=parsed.y[observed][keep], minlength=size)
    counts = np.bincount(cell, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, np.nan).reshape(n_subjects, len(levels))
    subjects = pd.Index(parsed.subject.levels[present], name="s")
    return pd.DataFrame(means, index=subjects, columns=pd.Index(list(levels), name="t"))


@dataclass(slots=True)
class LinearBackend:
    """The linear mixed model with the caller's options (see the module docstring).

    ``data`` is the frame as analysed (``log(outcome)`` already taken when ``log``); the paired
    effect sizes are computed from it, by subject and treatment label.
    """

    data: pd.DataFrame
    outcome: str
    subject: str
    treatment: str
    method: Method
    df_method: DfMethod
    conf_level: float
    log: bool
    _paired: pd.DataFrame | None = field(default=None, init=False)
    _parsed: CrossoverData | None = field(default=None, init=False)

    @property
    def binary(self) -> bool:
        return False

    @property
    def ratios(self) -> bool:
        return self.log

    def check_data(self, parsed: CrossoverData) -> None:
        """Any finite outcome will do (``parse_crossover`` has checked that); the parsed data
        are kept for the paired effect sizes."""
        self._parsed = parsed

    def check_design(self, design: CrossoverDesign) -> None:
        """A constant outcome, or no subject observed twice, leaves a variance unidentified."""
        yv = design.y
        if np.ptp(yv) == 0:
            raise ModelError(f"{self.outcome} is constant ({yv[0]}): there is no variance to model")
        if np.bincount(design.group_codes).max() < 2:
            raise ModelError(
                "no subject has two observed periods: between- and within-subject variance cannot be separated"
            )

    def fit(self, design: CrossoverDesign) -> LinearFit:
        stats = sufficient_stats_cells(design.cell_x, design.cell, design.y, design.group_codes)
        return LinearFit(self, design, fit_random_intercept_stats(stats, method=self.method))

    def formula(self, design: CrossoverDesign) -> str:
        return ("log(" + self.outcome + ")" + design.formula[len(self.outcome):]) if self.log else design.formula

    def critical_value(self, df: float) -> float:
        return sidak_critical_value(self.conf_level, 1, df)  # the unadjusted t (or z) quantile

    def closing_notes(self) -> tuple[str, ...]:
        return ()

    def paired(self, levels: Sequence[str]) -> pd.DataFrame:
        """Subject x treatment means of the analysed outcome (computed once per call)."""
        if self._paired is None:
            self._paired = (paired_values(self.data, self.subject, self.treatment, self.outcome, levels)
                            if self._parsed is None else paired_means(self._parsed, levels))
        return self._paired


@dataclass(slots=True)
class LinearFit:
    """One design fitted by :class:`LinearBackend`; the variance derivatives (Kenward-Roger,
    Satterthwaite, the total-SD effect size) and the containment df are computed once, when
    first needed."""

    backend: LinearBackend
    design: CrossoverDesign
    fit: LMMFit
    _deriv: VarianceDerivatives | None = field(default=None, init=False)
    _containment: ContainmentDf | None = field(default=None, init=False)
    _varcomp_cov: np.ndarray | None = field(default=None, init=False)

    @property
    def singular(self) -> bool:
        return self.fit.singular

    def derivatives(self) -> VarianceDerivatives:
        """:func:`~ketapain.stats._ddf.variance_derivatives` of the fit (cached)."""
        if self._deriv is None:
            self._deriv = variance_derivatives(self.fit)
        return self._deriv

    def _df_inputs(self) -> tuple[VarianceDerivatives | None, ContainmentDf | None]:
        """What the df method needs: the derivatives or the containment df (or neither)."""
        df_method = self.backend.df_method
        deriv = self.derivatives() if df_method in ("kenward-roger", "satterthwaite") else None
        if df_method == "containment" and self._containment is None:
            d = self.design
            self._containment = containment_df(d.X, d.group_codes, len(d.subjects))
        return deriv, self._containment if df_method == "containment" else None

    def term_test(self, term: str) -> FTest:
        deriv, cont = self._df_inputs()
        return f_test(self.fit, self.design.term_hypothesis(term), df_method=self.backend.df_method, deriv=deriv,
                      containment=cont)

    def contrast(self, lvec: np.ndarray) -> TTest:
        deriv, cont = self._df_inputs()
        return t_test(self.fit, lvec, df_method=self.backend.df_method, deriv=deriv, containment=cont)

    def report(self) -> FitReport:
        fit = self.fit
        eye = np.eye(len(self.design.columns))
        coef = [self.contrast(row) for row in eye]
        return FitReport(
            estimate=fit.beta.copy(), se=np.array([c.se for c in coef]), df=np.array([c.df for c in coef]),
            statistic=np.array([c.statistic for c in coef]), p_value=np.array([c.p_value for c in coef]),
            variance_subject=fit.sigma2_subject, variance_residual=fit.sigma2, icc=fit.icc, loglik=fit.loglik,
            aic=fit.aic, bic=fit.bic, singular=fit.singular, n_obs=fit.n_obs, n_subjects=fit.n_subjects,
        )

    def effect_sizes(self, contrast: Contrast, lvec: np.ndarray) -> tuple[list[EffectSize], list[str]]:
        """Total-SD effect (delta method with the variance components' covariance ``2 H^-1``,
        the observed REML Hessian; fixed on the boundary), then d_z and g_av of the subjects
        observed on both treatments, then ``d_model`` (the contrast and its CI over the total
        SD, which agrees with the model's test)."""
        fit, a, b = self.fit, contrast.a, contrast.b
        conf_level = self.backend.conf_level
        paired = self.backend.paired(self.design.treatment_levels)
        out = [total_sd_effect(
            a, b, difference=contrast.estimate, difference_var=float(lvec @ fit.vcov @ lvec),
            sigma2_subject=fit.sigma2_subject, sigma2=fit.sigma2, varcomp_cov=self.varcomp_cov(),
            n_subjects=fit.n_subjects, conf_level=conf_level,
        )]
        notes = []
        for fn in (cohens_dz, hedges_g_av):
            try:
                out.append(fn(a, b, paired[a].to_numpy(), paired[b].to_numpy(), conf_level=conf_level))
            except ModelError as exc:
                notes.append(f"{fn.__name__} {a} vs {b} not available: {exc}")
        out.append(model_d_effect(
            a, b, difference=contrast.estimate, ci_low=contrast.ci_low, ci_high=contrast.ci_high,
            sigma2_subject=fit.sigma2_subject, sigma2=fit.sigma2, n_subjects=fit.n_subjects, conf_level=conf_level,
        ))
        return out, notes

    def varcomp_cov(self) -> np.ndarray:
        """Covariance of ``(sigma_b^2, sigma^2)``: ``2 H^-1`` with ``H`` the observed Hessian of the
        deviance; zero on the boundary, where the variance components are treated as fixed."""
        if self._varcomp_cov is None:
            hess = self.derivatives().hessian_observed
            self._varcomp_cov = 2.0 * np.linalg.pinv(hess) if not self.fit.singular else np.zeros((2, 2))
        return self._varcomp_cov

    def residual_normality(self) -> tuple[tuple[float, float] | None, list[str]]:
        if self.design.y.size > 5000:  # not built: the dense design of a large fit
            return None, [f"Shapiro-Wilk not computed on {self.design.y.size} residuals (needs 3..5000, not all equal)"]
        resid = self.conditional_residuals()
        if 3 <= resid.size <= 5000 and np.ptp(resid) > 0:
            w, pw = sps.shapiro(resid)
            return (float(w), float(pw)), []
        return None, [f"Shapiro-Wilk not computed on {resid.size} residuals (needs 3..5000, not all equal)"]

    def conditional_residuals(self) -> np.ndarray:
        """``y - X beta - b_i`` with the BLUP ``b_i = sigma_b^2 a_i sum_j e_ij`` (lme4 ``residuals``)."""
        fit, design = self.fit, self.design
        e = design.y - design.X @ fit.beta
        e_sum = np.bincount(design.group_codes, weights=e, minlength=fit.n_subjects)
        blup = fit.sigma2_subject * fit.subject_weights() * e_sum
        resid: np.ndarray = e - blup[design.group_codes]
        return resid
