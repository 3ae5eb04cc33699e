"""The crossover analysis: a mixed model with treatment contrasts, tests and effect sizes.

``fit_crossover`` is the one entry point. It builds the design (``_design``), fits the
random-intercept model (``_lmm`` by REML, or ``_glmm`` for a binary outcome), and derives
everything a crossover report needs: fixed effects with the chosen df method, the omnibus
treatment test, all pairwise treatment contrasts with unadjusted and Sidak-adjusted p-values
and CIs, effect sizes, the residual normality check, the sequence x treatment interaction and
the carry-over test.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketapain._options import CONF_LEVEL, DF_METHOD, FIT_METHOD, OneOf, check_option
from ketapain.errors import FIRST_DATA_ROW, ModelError, TwoStageTestingWarning
from ketapain.stats._ddf import (
    DfMethod,
    containment_df,
    f_test,
    t_test,
    variance_derivatives,
)
from ketapain.stats._design import (
    CrossoverDesign,
    ModelKind,
    build_design,
    parse_crossover,
)
from ketapain.stats._effect_sizes import (
    cohens_dz,
    hedges_g_av,
    total_sd_effect,
)
from ketapain.stats._lmm import LMMFit, Method, fit_random_intercept
from ketapain.stats._multiplicity import sidak_critical_value, sidak_p
from ketapain.stats._results import Contrast, CrossoverFit, EffectSize, FTest

__all__ = ["Contrast", "CrossoverFit", "fit_crossover"]

CarryoverOption = bool | Literal["test-drop"]


def _conditional_residuals(fit: LMMFit, design: CrossoverDesign) -> np.ndarray:
    """``y - X beta - b_i`` with the BLUP ``b_i = sigma_b^2 a_i sum_j e_ij`` (lme4 ``residuals``)."""
    e = design.y - design.X @ fit.beta
    e_sum = np.bincount(design.group_codes, weights=e, minlength=fit.n_subjects)
    blup = fit.sigma2_subject * fit.subject_weights() * e_sum
    return e - blup[design.group_codes]


def _lmm_test(
    design: CrossoverDesign, fit: LMMFit, L: np.ndarray, df_method: DfMethod, deriv: Any = None
) -> FTest:
    cont = containment_df(design.X, design.group_codes, len(design.subjects)) if df_method == "containment" else None
    return f_test(fit, L, df_method=df_method, deriv=deriv, containment=cont)


def two_stage_message(p_value: float, alpha: float) -> str:
    """The note and warning text of the two-stage carry-over strategy."""
    keep = p_value < alpha
    return (
        f"carry-over pre-test P = {p_value:.4g} {'<' if keep else '>='} {alpha}: carry-over "
        f"{'kept' if keep else 'dropped'}; two-stage testing biases the treatment test "
        "(Freeman 1989) - prefer a pre-specified model"
    )


def _fit_design(design: CrossoverDesign, method: Method) -> LMMFit:
    return fit_random_intercept(design.X, design.y, design.group_codes, method=method)


def _paired_values(data: pd.DataFrame, subject: str, treatment: str, outcome: str, levels: Sequence[str]) -> pd.DataFrame:
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
    t_codes = pd.Index(list(levels)).get_indexer(frame["t"])
    keep = t_codes >= 0
    cell = s_codes[keep] * len(levels) + t_codes[keep]
    size = len(subjects) * len(levels)
    sums = np.bincount(cell, weights=frame["y"].to_numpy()[keep], minlength=size)
    counts = np.bincount(cell, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, np.nan).reshape(len(subjects), len(levels))
    return pd.DataFrame(means, index=pd.Index(subjects, name="s"), columns=pd.Index(list(levels), name="t"))


def fit_crossover(
    data: pd.DataFrame,
    *,
    outcome: str = "y",
    subject: str = "subject",
    period: str = "period",
    sequence: str = "sequence",
    treatment: str = "treatment",
    model: ModelKind = "standard",
    carryover: CarryoverOption = False,
    carryover_alpha: float = 0.05,
    covariates: Sequence[str] = (),
    method: Method = "REML",
    df_method: DfMethod = "kenward-roger",
    ref: str | None = None,
    conf_level: float = 0.95,
    log: bool = False,
    binary: bool = False,
    nagq: int = 1,
) -> CrossoverFit:
    """Fit a crossover mixed model and derive the full set of treatment comparisons.

    Parameters
    ----------
    data : long frame, one row per subject x period; an empty/NaN outcome is a missing period
        (the row still defines carry-over).
    outcome, subject, period, sequence, treatment : column names.
    model : ``"standard"`` (treatment + period + sequence) or ``"paper"`` (treatment +
        sequence, as the KETAPAIN report describes).
    carryover : ``True`` adds first-order carry-over; ``"test-drop"`` is the reference study's
        two-stage strategy (fit with carry-over, drop it when its test has
        ``P >= carryover_alpha``), which warns ``TwoStageTestingWarning`` because the
        pre-test biases the treatment test (Freeman 1989).
    covariates : extra columns (e.g. baseline pain).
    method : ``"REML"`` (default) or ``"ML"``.
    df_method : ``"kenward-roger"`` (default, REML only), ``"satterthwaite"``,
        ``"containment"`` or ``"normal"`` (Wald z / chi-square). Binary outcomes always use
        ``"normal"``.
    ref : reference treatment (default: first in code-point order).
    conf_level : confidence level of every interval.
    log : fit ``log(outcome)`` (all values must be > 0) and back-transform contrasts to
        ratios of geometric means.
    binary : logistic mixed model (outcome 0/1) by adaptive Gauss-Hermite quadrature.
    nagq : quadrature points for ``binary`` (1 = Laplace).

    Returns
    -------
    CrossoverFit

    Raises
    ------
    DataError
        Missing columns, non-numeric or infinite outcome values, duplicate subject x period.
    ModelError
        The model cannot be estimated (aliased terms, fewer than 2 subjects, constant outcome,
        no subject observed twice, non-positive values with ``log``...).

    Notes
    -----
    Contrasts are ``beta_a - beta_b`` (reference coded 0): the difference of estimated
    marginal means, as ``emmeans(m, pairwise ~ treatment)``. Sidak adjustment is over the
    ``k = T (T - 1) / 2`` pairs: ``p_sidak = 1 - (1 - p)^k``, intervals at level
    ``conf_level^(1/k)``.
    """
    check_option("df_method", df_method, DF_METHOD)
    check_option("method", method, FIT_METHOD)
    check_option("conf_level", conf_level, CONF_LEVEL)
    check_option("carryover", carryover, OneOf(True, False, "test-drop"))
    if binary and log:
        raise ModelError(template="{@log} and {@binary} cannot be combined")
    if df_method == "kenward-roger" and method != "REML" and not binary:
        raise ModelError(template="{@df_method='kenward-roger'} needs {@method='REML'} (as pbkrtest)")
    if outcome not in data.columns:
        raise ModelError(f"outcome column {outcome!r} is missing; columns: {', '.join(map(str, data.columns))}")
    work = data
    notes: list[str] = []
    if log:
        yv = pd.to_numeric(data[outcome], errors="coerce")
        bad = yv.notna() & ~(yv > 0)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + FIRST_DATA_ROW
            raise ModelError(f"data row {row}: {outcome}={yv.iloc[row - FIRST_DATA_ROW]} is not > 0; log needs positive values")
        work = data.assign(**{outcome: np.log(yv)})
    if binary:
        from ketapain.stats._crossover_binary import fit_crossover_binary

        return fit_crossover_binary(
            work, outcome=outcome, subject=subject, period=period, sequence=sequence, treatment=treatment,
            model=model, carryover=carryover, carryover_alpha=carryover_alpha, covariates=covariates,
            ref=ref, conf_level=conf_level, nagq=nagq,
        )
    if model not in ("standard", "paper"):
        raise ModelError(f"model={model!r} is not one of standard, paper")
    parsed = parse_crossover(
        work, outcome=outcome, subject=subject, period=period, sequence=sequence,
        treatment=treatment, covariates=covariates, ref=ref,
    )

    def build(with_carry: bool, seq_trt: bool = False) -> CrossoverDesign:
        return build_design(
            parsed, model=model, carryover=with_carry, covariates=covariates, sequence_by_treatment=seq_trt,
        )

    design = build(bool(carryover))
    yv = design.y
    if np.ptp(yv) == 0:
        raise ModelError(f"{outcome} is constant ({yv[0]}): there is no variance to model")
    counts = np.bincount(design.group_codes)
    if counts.max() < 2:
        raise ModelError(
            "no subject has two observed periods: between- and within-subject variance cannot be separated"
        )
    fit = _fit_design(design, method)
    carry_test: FTest | None = None
    if carryover:
        deriv = variance_derivatives(fit) if df_method in ("kenward-roger", "satterthwaite") else None
        carry_test = _lmm_test(design, fit, design.term_hypothesis("carryover"), df_method, deriv)
        if carryover == "test-drop":
            keep = carry_test.p_value < carryover_alpha
            msg = two_stage_message(carry_test.p_value, carryover_alpha)
            warnings.warn(msg, TwoStageTestingWarning, stacklevel=2)
            notes.append(msg)
            if not keep:
                design = build(False)
                fit = _fit_design(design, method)
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cdesign = build(True)
                cfit = _fit_design(cdesign, method)
                cderiv = variance_derivatives(cfit) if df_method in ("kenward-roger", "satterthwaite") else None
                carry_test = _lmm_test(cdesign, cfit, cdesign.term_hypothesis("carryover"), df_method, cderiv)
            notes.append("carryover_test is from the same model with carry-over added")
        except ModelError as exc:
            notes.append(f"carry-over test not available: {exc}")

    if fit.singular:
        notes.append("boundary (singular) fit: between-subject variance estimated as 0")
    deriv = variance_derivatives(fit) if df_method in ("kenward-roger", "satterthwaite") else None
    cont = containment_df(design.X, design.group_codes, len(design.subjects)) if df_method == "containment" else None
    p = len(design.columns)
    eye = np.eye(p)
    coef = [t_test(fit, eye[j], df_method=df_method, deriv=deriv, containment=cont) for j in range(p)]
    trt_test = f_test(fit, design.term_hypothesis("treatment"), df_method=df_method, deriv=deriv, containment=cont)

    pairs = design.treatment_pairs()
    k = len(pairs)
    contrasts = []
    effect_sizes: list[EffectSize] = []
    # Covariance of (sigma_b^2, sigma^2) for the total-SD effect size: 2 H^-1 (observed REML
    # Hessian); on the boundary the variance components are treated as fixed.
    hess = (deriv or variance_derivatives(fit)).hessian_observed
    cov_vc = 2.0 * np.linalg.pinv(hess) if not fit.singular else np.zeros((2, 2))
    paired = _paired_values(work, subject, treatment, outcome, design.treatment_levels)
    for a, b in pairs:
        lvec = design.pair_vector(a, b)
        tt = t_test(fit, lvec, df_method=df_method, deriv=deriv, containment=cont)
        qcrit = sidak_critical_value(conf_level, 1, tt.df)  # the unadjusted t (or z) quantile
        qs = sidak_critical_value(conf_level, k, tt.df)
        ci = (tt.estimate - qcrit * tt.se, tt.estimate + qcrit * tt.se)
        ci_s = (tt.estimate - qs * tt.se, tt.estimate + qs * tt.se)
        contrasts.append(
            Contrast(
                a=a, b=b, estimate=tt.estimate, se=tt.se, df=tt.df, statistic=tt.statistic,
                p_value=tt.p_value, p_sidak=float(sidak_p(tt.p_value, k)),
                ci_low=ci[0], ci_high=ci[1], ci_sidak_low=ci_s[0], ci_sidak_high=ci_s[1],
                ratio=math.exp(tt.estimate) if log else None,
                ratio_ci_low=math.exp(ci[0]) if log else None,
                ratio_ci_high=math.exp(ci[1]) if log else None,
            )
        )
        effect_sizes.append(
            total_sd_effect(
                a, b, difference=tt.estimate, difference_var=float(lvec @ fit.vcov @ lvec),
                sigma2_subject=fit.sigma2_subject, sigma2=fit.sigma2, varcomp_cov=cov_vc,
                n_subjects=fit.n_subjects, conf_level=conf_level,
            )
        )
        for fn in (cohens_dz, hedges_g_av):
            try:
                effect_sizes.append(fn(a, b, paired[a].to_numpy(), paired[b].to_numpy(), conf_level=conf_level))
            except ModelError as exc:
                notes.append(f"{fn.__name__} {a} vs {b} not available: {exc}")

    resid = _conditional_residuals(fit, design)
    normality: tuple[float, float] | None
    if 3 <= resid.size <= 5000 and np.ptp(resid) > 0:
        w, pw = sps.shapiro(resid)
        normality = (float(w), float(pw))
    else:
        normality = None
        notes.append(f"Shapiro-Wilk not computed on {resid.size} residuals (needs 3..5000, not all equal)")

    seq_trt: FTest | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sdesign = build(carryover is True or (carryover == "test-drop" and "carryover" in design.terms), True)
            if sdesign.term_columns("sequence:treatment").size == 0:
                raise ModelError("all sequence x treatment columns are aliased with the main effects")
            sfit = _fit_design(sdesign, method)
            sderiv = variance_derivatives(sfit) if df_method in ("kenward-roger", "satterthwaite") else None
            seq_trt = _lmm_test(sdesign, sfit, sdesign.term_hypothesis("sequence:treatment"), df_method, sderiv)
    except ModelError as exc:
        notes.append(f"sequence x treatment test not available: {exc}")

    return CrossoverFit(
        outcome=outcome,
        formula=("log(" + outcome + ")" + design.formula[len(outcome):]) if log else design.formula,
        method=method,
        df_method=df_method,
        conf_level=conf_level,
        log=log,
        binary=False,
        n_obs=fit.n_obs,
        n_subjects=fit.n_subjects,
        terms=design.columns,
        estimate=fit.beta.copy(),
        se=np.array([c.se for c in coef]),
        df=np.array([c.df for c in coef]),
        statistic=np.array([c.statistic for c in coef]),
        p_value=np.array([c.p_value for c in coef]),
        variance_subject=fit.sigma2_subject,
        variance_residual=fit.sigma2,
        icc=fit.icc,
        loglik=fit.loglik,
        aic=fit.aic,
        bic=fit.bic,
        singular=fit.singular,
        treatment_test=trt_test,
        contrasts=tuple(contrasts),
        effect_sizes=tuple(effect_sizes),
        residual_normality=normality,
        sequence_by_treatment=seq_trt,
        carryover_test=carry_test,
        notes=tuple(notes),
    )
