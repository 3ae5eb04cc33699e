"""The model-backend interface of :func:`ketapain.stats.fit_crossover`.

``fit_crossover`` runs one orchestration for every outcome type (``_crossover``): options ->
data checks -> main fit with the carry-over strategy and test -> fixed effects and omnibus
treatment test -> pairwise contrasts and effect sizes -> residual check -> sequence x
treatment test. What depends on the model family is behind two small protocols:

:class:`ModelBackend`
    A model family with the caller's options (``_crossover_lmm.LinearBackend``: the
    random-intercept linear mixed model by REML/ML with the chosen df method;
    ``_crossover_binary.LogisticBackend``: the random-intercept logistic GLMM by adaptive
    Gauss-Hermite quadrature, Wald z/chi-square tests). It checks the data, fits a design and
    supplies what the report states about the model (formula, method, df method, the critical
    value of the unadjusted intervals, closing notes).
:class:`FittedModel`
    One fitted design: its joint tests of a term (``FTest``: F with the backend's denominator
    df, or chi-square with ``df_den = inf``), single contrasts (``TTest``: t or z), the
    numbers of :class:`FitReport`, effect sizes and the residual check.

The orchestration never looks inside a fit, so a backend is free in how it computes; the
linear backend caches the variance derivatives of Kenward-Roger/Satterthwaite per fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ketapain.stats._design import CrossoverData, CrossoverDesign
from ketapain.stats._results import Contrast, EffectSize, FTest, TTest

__all__ = ["FitReport", "FittedModel", "ModelBackend"]


@dataclass(frozen=True, slots=True)
class FitReport:
    """The numbers of the main fit that :class:`~ketapain.stats.CrossoverFit` reports.

    ``estimate``, ``se``, ``df``, ``statistic`` and ``p_value`` are aligned with the design's
    columns (``df`` is ``inf`` for z inference); ``variance_residual`` is None for a binary
    outcome (latent logistic scale).
    """

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
    n_obs: int
    n_subjects: int


class FittedModel(Protocol):
    """A crossover design fitted by a backend; every test uses the backend's df method."""

    @property
    def design(self) -> CrossoverDesign:
        """The design that was fitted."""
        ...

    @property
    def singular(self) -> bool:
        """The between-subject variance is on its boundary 0."""
        ...

    def term_test(self, term: str) -> FTest:
        """Joint test that every column of ``term`` is 0."""
        ...

    def contrast(self, lvec: np.ndarray) -> TTest:
        """Test of ``l'beta = 0``."""
        ...

    def report(self) -> FitReport:
        """Coefficient tests, variance components and criteria of the fit."""
        ...

    def effect_sizes(self, contrast: Contrast, lvec: np.ndarray) -> tuple[list[EffectSize], list[str]]:
        """Effect sizes of the pair of ``contrast`` (``lvec``: its vector) and notes on those
        that could not be computed."""
        ...

    def residual_normality(self) -> tuple[tuple[float, float] | None, list[str]]:
        """Shapiro-Wilk ``(W, p)`` on the residuals (None when it does not apply) and notes."""
        ...


class ModelBackend(Protocol):
    """A model family for ``fit_crossover``, configured with the caller's options."""

    @property
    def binary(self) -> bool:
        """The outcome is 0/1 (logistic model)."""
        ...

    @property
    def ratios(self) -> bool:
        """Contrasts are also reported back-transformed (``exp``: a ratio of geometric means
        or an odds ratio)."""
        ...

    @property
    def method(self) -> str:
        """The fitting method as reported (``CrossoverFit.method``)."""
        ...

    @property
    def df_method(self) -> str:
        """The df method of every test as reported (``CrossoverFit.df_method``)."""
        ...

    def check_data(self, parsed: CrossoverData) -> None:
        """Refuse outcome values the model cannot take (before any design is built)."""
        ...

    def check_design(self, design: CrossoverDesign) -> None:
        """Refuse a main design the model cannot estimate (before it is fitted)."""
        ...

    def fit(self, design: CrossoverDesign) -> FittedModel:
        """Fit ``design``; raise :class:`~ketapain.errors.ModelError` when it cannot be fitted."""
        ...

    def formula(self, design: CrossoverDesign) -> str:
        """The model as text, on the scale of the fit (``log(y) ~ ...``, ``logit P(y = 1) ~ ...``)."""
        ...

    def critical_value(self, df: float) -> float:
        """Two-sided quantile of the unadjusted intervals at the confidence level."""
        ...

    def closing_notes(self) -> tuple[str, ...]:
        """Notes on the inference of the backend, added after all others."""
        ...
