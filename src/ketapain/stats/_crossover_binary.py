"""The crossover analysis of a binary (0/1) outcome: logistic mixed model, Wald inference.

Called by :func:`ketapain.stats.fit_crossover` with ``binary=True``. Same design and contrasts
as the linear model; the model is ``logit P(y = 1) = x'beta + b_subject`` fitted by adaptive
Gauss-Hermite quadrature (``_glmm``). All tests are Wald (normal reference, as
``summary(glmer(...))``): z for coefficients and contrasts, chi-square for joint tests
(``df_den = inf``). Contrasts are log odds ratios; ``ratio`` is the odds ratio. The ICC is on the
latent scale, ``sigma_b^2 / (sigma_b^2 + pi^2 / 3)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketapain.errors import FIRST_DATA_ROW, ModelError, TwoStageTestingWarning
from ketapain.stats._crossover import two_stage_message
from ketapain.stats._design import (
    CrossoverDesign,
    ModelKind,
    build_design,
    parse_crossover,
)
from ketapain.stats._glmm import LogisticGLMMFit, contrast, fit_logistic_glmm, wald_test
from ketapain.stats._multiplicity import sidak_critical_value, sidak_p
from ketapain.stats._results import Contrast, CrossoverFit, EffectSize, FTest

__all__ = ["fit_crossover_binary"]

LATENT_LOGISTIC_VARIANCE = math.pi**2 / 3.0


def _wald(fit: LogisticGLMMFit, L: np.ndarray) -> FTest:
    t = wald_test(fit, L)
    return FTest(statistic=t.statistic, df_num=t.df, df_den=float("inf"), p_value=t.p_value)


def fit_crossover_binary(
    data: pd.DataFrame,
    *,
    outcome: str,
    subject: str,
    period: str,
    sequence: str,
    treatment: str,
    model: ModelKind,
    carryover: Any,
    carryover_alpha: float,
    covariates: Sequence[str],
    ref: str | None,
    conf_level: float,
    nagq: int,
) -> CrossoverFit:
    """Logistic mixed-model crossover analysis (see module docstring); use ``fit_crossover``."""
    parsed = parse_crossover(
        data, outcome=outcome, subject=subject, period=period, sequence=sequence,
        treatment=treatment, covariates=covariates, ref=ref,
    )
    yv = parsed.y
    bad = ~np.isnan(yv) & ~np.isin(yv, (0.0, 1.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + FIRST_DATA_ROW
        raise ModelError(f"data row {row}: {outcome}={yv[row - FIRST_DATA_ROW]} is not 0 or 1 (binary outcome)")

    def build(with_carry: bool, seq_trt: bool = False) -> CrossoverDesign:
        return build_design(parsed, model=model, carryover=with_carry, covariates=covariates,
                            sequence_by_treatment=seq_trt)

    def glmm(design: CrossoverDesign) -> LogisticGLMMFit:
        return fit_logistic_glmm(design.X, design.y, design.group_codes, term_names=design.columns,
                                 nagq=nagq, conf_level=conf_level)

    notes: list[str] = []
    design = build(bool(carryover))
    fit = glmm(design)
    carry_test: FTest | None = None
    if carryover:
        carry_test = _wald(fit, design.term_hypothesis("carryover"))
        if carryover == "test-drop":
            keep = carry_test.p_value < carryover_alpha
            msg = two_stage_message(carry_test.p_value, carryover_alpha)
            warnings.warn(msg, TwoStageTestingWarning, stacklevel=3)
            notes.append(msg)
            if not keep:
                design = build(False)
                fit = glmm(design)
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cdesign = build(True)
                carry_test = _wald(glmm(cdesign), cdesign.term_hypothesis("carryover"))
            notes.append("carryover_test is from the same model with carry-over added")
        except ModelError as exc:
            notes.append(f"carry-over test not available: {exc}")
    if fit.singular:
        notes.append("boundary (singular) fit: between-subject variance estimated as 0")

    pairs = design.treatment_pairs()
    k = len(pairs)
    zcrit = sps.norm.ppf(0.5 + conf_level / 2)
    zs = sidak_critical_value(conf_level, k, float("inf"))
    contrasts, effect_sizes = [], []
    p = len(design.columns)
    for a, b in pairs:
        c = contrast(fit, design.pair_vector(a, b), conf_level=conf_level)
        ci = (c.estimate - zcrit * c.se, c.estimate + zcrit * c.se)
        contrasts.append(Contrast(
            a=a, b=b, estimate=c.estimate, se=c.se, df=float("inf"), statistic=c.statistic,
            p_value=c.p_value, p_sidak=float(sidak_p(c.p_value, k)), ci_low=ci[0], ci_high=ci[1],
            ci_sidak_low=c.estimate - zs * c.se, ci_sidak_high=c.estimate + zs * c.se,
            ratio=math.exp(c.estimate), ratio_ci_low=math.exp(ci[0]), ratio_ci_high=math.exp(ci[1]),
        ))
        effect_sizes.append(EffectSize(a, b, "odds_ratio", math.exp(c.estimate), math.exp(ci[0]),
                                       math.exp(ci[1]), conf_level, fit.n_subjects))
    trt_test = _wald(fit, design.term_hypothesis("treatment"))

    seq_trt: FTest | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sdesign = build("carryover" in design.terms, True)
            if sdesign.term_columns("sequence:treatment").size == 0:
                raise ModelError("all sequence x treatment columns are aliased with the main effects")
            seq_trt = _wald(glmm(sdesign), sdesign.term_hypothesis("sequence:treatment"))
    except ModelError as exc:
        notes.append(f"sequence x treatment test not available: {exc}")
    notes.append("binary outcome: Wald z/chi-square tests; ICC on the latent logistic scale (pi^2/3)")
    notes.append("residual normality does not apply to a binary outcome")

    return CrossoverFit(
        outcome=outcome,
        formula=f"logit P({outcome} = 1){design.formula[len(outcome):]}",
        method=f"ML (adaptive Gauss-Hermite, nAGQ = {nagq})",
        df_method="normal",
        conf_level=conf_level,
        log=False,
        binary=True,
        n_obs=fit.n_obs,
        n_subjects=fit.n_subjects,
        terms=design.columns,
        estimate=np.asarray(fit.estimates, dtype=float).copy(),
        se=np.asarray(fit.se, dtype=float).copy(),
        df=np.full(p, np.inf),
        statistic=np.asarray(fit.statistic, dtype=float).copy(),
        p_value=np.asarray(fit.p_values, dtype=float).copy(),
        variance_subject=float(fit.variance),
        variance_residual=None,
        icc=float(fit.variance / (fit.variance + LATENT_LOGISTIC_VARIANCE)),
        loglik=float(fit.loglik),
        aic=float(fit.aic),
        bic=float(fit.bic),
        singular=bool(fit.singular),
        treatment_test=trt_test,
        contrasts=tuple(contrasts),
        effect_sizes=tuple(effect_sizes),
        residual_normality=None,
        sequence_by_treatment=seq_trt,
        carryover_test=carry_test,
        notes=tuple(notes),
    )
