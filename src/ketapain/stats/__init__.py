"""Pure numerics for crossover trials: AUC, mixed models, contrasts, effect sizes, descriptives.

Nothing here reads or writes files; every function takes arrays or tidy DataFrames.
"""

from __future__ import annotations

from ketapain.stats._auc import auc_arrays, auc_day_major, diary_auc
from ketapain.stats._batch import BATCH_COLUMNS, fit_crossover_batch
from ketapain.stats._batch_array import BatchArrays, fit_crossover_arrays
from ketapain.stats._crossover import fit_crossover
from ketapain.stats._daily_lmm import (
    AucContrast,
    AucMean,
    DailyModelFit,
    fit_daily_model,
)
from ketapain.stats._degenerate import (
    MODEL_CHECK_STATUSES,
    ModelCheck,
    check_crossover_fit,
    check_daily_fit,
    check_linear_numbers,
    check_logistic_fit,
    combine_checks,
    degenerate_mask,
    fixed_effect_separation,
    within_subject_separation,
)
from ketapain.stats._descriptives import Description, describe, describe_by
from ketapain.stats._effect_sizes import cohens_dz, hedges_g_av, model_d_effect, total_sd_effect
from ketapain.stats._glmm import (
    contrast,
    fit_logistic_glmm,
    logistic_glmm_loglik,
    wald_test,
)
from ketapain.stats._imputation import (
    ImputedDiaries,
    MIResult,
    PooledContrast,
    impute_diary,
    multiple_imputation_auc,
)
from ketapain.stats._lmm import LMMFit, fit_random_intercept
from ketapain.stats._mi_tipping import (
    TippingPoint,
    TippingPointResult,
    tipping_point_auc,
)
from ketapain.stats._multiplicity import sidak_critical_value, sidak_p
from ketapain.stats._results import (
    Contrast,
    ContrastEstimate,
    CrossoverFit,
    EffectSize,
    FTest,
    LogisticGLMMFit,
    TTest,
    WaldTest,
)

__all__ = [
    "AucContrast",
    "AucMean",
    "BATCH_COLUMNS",
    "BatchArrays",
    "Contrast",
    "ContrastEstimate",
    "CrossoverFit",
    "DailyModelFit",
    "Description",
    "EffectSize",
    "FTest",
    "ImputedDiaries",
    "LMMFit",
    "LogisticGLMMFit",
    "MIResult",
    "MODEL_CHECK_STATUSES",
    "ModelCheck",
    "PooledContrast",
    "TTest",
    "TippingPoint",
    "TippingPointResult",
    "WaldTest",
    "auc_arrays",
    "auc_day_major",
    "check_crossover_fit",
    "check_daily_fit",
    "check_linear_numbers",
    "check_logistic_fit",
    "cohens_dz",
    "combine_checks",
    "contrast",
    "degenerate_mask",
    "describe",
    "describe_by",
    "diary_auc",
    "fit_crossover",
    "fit_crossover_arrays",
    "fit_crossover_batch",
    "fit_daily_model",
    "fit_logistic_glmm",
    "fit_random_intercept",
    "fixed_effect_separation",
    "hedges_g_av",
    "impute_diary",
    "logistic_glmm_loglik",
    "model_d_effect",
    "multiple_imputation_auc",
    "sidak_critical_value",
    "sidak_p",
    "tipping_point_auc",
    "total_sd_effect",
    "wald_test",
    "within_subject_separation",
]
