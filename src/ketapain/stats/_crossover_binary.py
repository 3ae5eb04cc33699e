"""Logistic backend of :func:`ketapain.stats.fit_crossover` (``binary=True``).

Same design and contrasts as the linear model; the model is ``logit P(y = 1) = x'beta +
b_subject`` fitted by adaptive Gauss-Hermite quadrature (``_glmm``). All tests are Wald
(normal reference, as ``summary(glmer(...))``): z for coefficients and contrasts, chi-square
for joint tests (``df_den = inf``). Contrasts are log odds ratios; ``ratio`` is the odds ratio,
which is also the effect size. The ICC is on the latent scale,
``sigma_b^2 / (sigma_b^2 + pi^2 / 3)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from ketapain._options import check_option
from ketapain.errors import FIRST_DATA_ROW, ModelError
from ketapain.stats._crossover_backend import FitReport
from ketapain.stats._design import CrossoverData, CrossoverDesign
from ketapain.stats._glmm import NAGQ, contrast, fit_logistic_glmm, wald_test
from ketapain.stats._results import Contrast, EffectSize, FTest, LogisticGLMMFit, TTest

__all__ = ["LATENT_LOGISTIC_VARIANCE", "LogisticBackend", "LogisticFit"]

LATENT_LOGISTIC_VARIANCE = math.pi**2 / 3.0


@dataclass(frozen=True, slots=True)
class LogisticBackend:
    """The logistic GLMM with the caller's options (``nagq`` points, 1 = Laplace)."""

    outcome: str
    nagq: int
    conf_level: float

    def __post_init__(self) -> None:
        check_option("nagq", self.nagq, NAGQ)

    @property
    def binary(self) -> bool:
        return True

    @property
    def ratios(self) -> bool:
        return True

    @property
    def method(self) -> str:
        return f"ML (adaptive Gauss-Hermite, nAGQ = {self.nagq})"

    @property
    def df_method(self) -> str:
        return "normal"

    def check_data(self, parsed: CrossoverData) -> None:
        """Every observed outcome is 0 or 1."""
        yv = parsed.y
        bad = ~np.isnan(yv) & ~np.isin(yv, (0.0, 1.0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + FIRST_DATA_ROW
            raise ModelError(f"{self.outcome}={yv[row - FIRST_DATA_ROW]} is not 0 or 1 (binary outcome)",
                             located=True, source="data", row=int(row))

    def check_design(self, design: CrossoverDesign) -> None:
        """``fit_logistic_glmm`` checks rank, separation and sizes itself."""

    def fit(self, design: CrossoverDesign) -> LogisticFit:
        return LogisticFit(self, design, fit_logistic_glmm(design.X, design.y, design.group_codes,
                                                           term_names=design.columns, nagq=self.nagq,
                                                           conf_level=self.conf_level))

    def formula(self, design: CrossoverDesign) -> str:
        return f"logit P({self.outcome} = 1){design.formula[len(self.outcome):]}"

    def critical_value(self, df: float) -> float:
        return np.float64(sps.norm.ppf(0.5 + self.conf_level / 2))  # numpy float64, as in the contrasts before

    def closing_notes(self) -> tuple[str, ...]:
        return (
            "binary outcome: Wald z/chi-square tests; ICC on the latent logistic scale (pi^2/3)",
            "residual normality does not apply to a binary outcome",
        )


@dataclass(frozen=True, slots=True)
class LogisticFit:
    """One design fitted by :class:`LogisticBackend` (Wald tests, normal reference)."""

    backend: LogisticBackend
    design: CrossoverDesign
    fit: LogisticGLMMFit

    @property
    def singular(self) -> bool:
        return self.fit.singular

    def term_test(self, term: str) -> FTest:
        t = wald_test(self.fit, self.design.term_hypothesis(term))
        return FTest(statistic=t.statistic, df_num=t.df, df_den=float("inf"), p_value=t.p_value)

    def contrast(self, lvec: np.ndarray) -> TTest:
        c = contrast(self.fit, lvec, conf_level=self.backend.conf_level)
        return TTest(estimate=c.estimate, se=c.se, df=float("inf"), statistic=c.statistic, p_value=c.p_value)

    def report(self) -> FitReport:
        fit = self.fit
        return FitReport(
            estimate=np.asarray(fit.estimates, dtype=float).copy(), se=np.asarray(fit.se, dtype=float).copy(),
            df=np.full(len(self.design.columns), np.inf), statistic=np.asarray(fit.statistic, dtype=float).copy(),
            p_value=np.asarray(fit.p_values, dtype=float).copy(), variance_subject=float(fit.variance),
            variance_residual=None, icc=float(fit.variance / (fit.variance + LATENT_LOGISTIC_VARIANCE)),
            loglik=float(fit.loglik), aic=float(fit.aic), bic=float(fit.bic), singular=bool(fit.singular),
            n_obs=fit.n_obs, n_subjects=fit.n_subjects,
        )

    def effect_sizes(self, contrast: Contrast, lvec: np.ndarray) -> tuple[list[EffectSize], list[str]]:
        """The odds ratio ``exp(estimate)`` with its interval."""
        es = EffectSize(contrast.a, contrast.b, "odds_ratio", math.exp(contrast.estimate), math.exp(contrast.ci_low),
                        math.exp(contrast.ci_high), self.backend.conf_level, self.fit.n_subjects)
        return [es], []

    def residual_normality(self) -> tuple[tuple[float, float] | None, list[str]]:
        return None, []  # the closing notes say why
