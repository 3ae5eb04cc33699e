"""Pure numerics for crossover trials: AUC, mixed models, contrasts, effect sizes, descriptives.

Nothing here reads or writes files; every function takes arrays or tidy DataFrames.
"""

from __future__ import annotations

from ketapain.stats._auc import diary_auc
from ketapain.stats._crossover import Contrast, CrossoverFit, fit_crossover
from ketapain.stats._ddf import FTest, TTest
from ketapain.stats._descriptives import Description, describe, describe_by
from ketapain.stats._effect_sizes import EffectSize, cohens_dz, hedges_g_av, total_sd_effect
from ketapain.stats._lmm import LMMFit, fit_random_intercept
from ketapain.stats._multiplicity import sidak_critical_value, sidak_p

__all__ = [
    "Contrast",
    "CrossoverFit",
    "Description",
    "EffectSize",
    "FTest",
    "LMMFit",
    "TTest",
    "cohens_dz",
    "describe",
    "describe_by",
    "diary_auc",
    "fit_crossover",
    "fit_random_intercept",
    "hedges_g_av",
    "sidak_critical_value",
    "sidak_p",
    "total_sd_effect",
]
