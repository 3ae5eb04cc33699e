"""Pure numerics for crossover trials: AUC, mixed models, contrasts, effect sizes, descriptives.

Nothing here reads or writes files; every function takes arrays or tidy DataFrames.
"""

from __future__ import annotations

from ketapain.stats._auc import diary_auc
from ketapain.stats._crossover import Contrast, CrossoverFit, fit_crossover
from ketapain.stats._ddf import FTest, TTest
from ketapain.stats._descriptives import Description, describe, describe_by
from ketapain.stats._effect_sizes import EffectSize, cohens_dz, hedges_g_av, total_sd_effect
from ketapain.stats._glmm import (
    ContrastEstimate,
    LogisticGLMMFit,
    WaldTest,
    contrast,
    fit_logistic_glmm,
    logistic_glmm_loglik,
    wald_test,
)
from ketapain.stats._lmm import LMMFit, fit_random_intercept
from ketapain.stats._multiplicity import sidak_critical_value, sidak_p

__all__ = [
    "Contrast",
    "ContrastEstimate",
    "CrossoverFit",
    "Description",
    "EffectSize",
    "FTest",
    "LMMFit",
    "LogisticGLMMFit",
    "TTest",
    "WaldTest",
    "cohens_dz",
    "contrast",
    "describe",
    "describe_by",
    "diary_auc",
    "fit_crossover",
    "fit_logistic_glmm",
    "fit_random_intercept",
    "hedges_g_av",
    "logistic_glmm_loglik",
    "sidak_critical_value",
    "sidak_p",
    "total_sd_effect",
    "wald_test",
]
