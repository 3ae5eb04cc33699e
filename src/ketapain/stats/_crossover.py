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
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketapain._options import CONF_LEVEL, DF_METHOD, FIT_METHOD, OneOf, check_option
from ketapain.errors import FIRST_DATA_ROW, ModelError, TwoStageTestingWarning
from ketapain.stats._ddf import (
    DfMethod,
    FTest,
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
    EffectSize,
    cohens_dz,
    hedges_g_av,
    total_sd_effect,
)
from ketapain.stats._lmm import LMMFit, Method, fit_random_intercept
from ketapain.stats._multiplicity import sidak_critical_value, sidak_p
from ketapain.stats._tables import fixed_effects_frame

__all__ = ["Contrast", "CrossoverFit", "fit_crossover"]

CarryoverOption = bool | Literal["test-drop"]


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


def _num(x: float | None) -> float | None:
    """JSON-safe float: None for None/NaN, ``None`` for infinite df (normal inference)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _ftest_dict(t: FTest | None) -> dict[str, float | int | None] | None:
    if t is None:
        return None
    return {"stat": _num(t.statistic), "df_num": t.df_num, "df_den": _num(t.df_den), "p": _num(t.p_value)}


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
                "df": _num(c.df),
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
                    "df": _num(d),
                    "stat": float(st),
                    "p": float(p),
                }
                for t, e, s, d, st, p in zip(
                    self.terms, self.estimate, self.se, self.df, self.statistic, self.p_value, strict=True
                )
            ],
            "variance": {"subject": self.variance_subject, "residual": _num(self.variance_residual)},
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
