"""The crossover analysis: one orchestration over a linear and a logistic model backend.

``fit_crossover`` is the one entry point. It checks the options, parses the long data
(``_design``), and runs the same steps for every outcome type, whatever the model:

1. the main fit, with the carry-over strategy: carry-over in the model (``carryover=True``),
   not in the model but tested in the same model with carry-over added (``False``), or the
   two-stage pre-test that drops it when not significant (``"test-drop"``);
2. the fixed effects with the backend's df method and the omnibus treatment test;
3. all pairwise treatment contrasts with unadjusted and Sidak-adjusted p-values and
   intervals, and their effect sizes;
4. the residual check and the sequence x treatment interaction test (in the model of step 1
   with the interaction added), then the backend's closing notes.

The model family is a backend (``_crossover_backend``): the random-intercept linear mixed
model (``_crossover_lmm``: REML/ML, Kenward-Roger, Satterthwaite, containment or normal df)
or, with ``binary=True``, the random-intercept logistic GLMM (``_crossover_binary``: adaptive
Gauss-Hermite quadrature, Wald z/chi-square tests). A test that cannot be computed (aliased
terms, separation...) is ``None`` with the reason in ``notes``. Results: ``_results``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ketapain._options import (
    CONF_LEVEL,
    DF_METHOD,
    FIT_METHOD,
    MODEL_KIND,
    OneOf,
    check_option,
)
from ketapain.errors import FIRST_DATA_ROW, ModelError, TwoStageTestingWarning
from ketapain.stats._crossover_backend import FittedModel, ModelBackend
from ketapain.stats._crossover_binary import LogisticBackend
from ketapain.stats._crossover_lmm import LinearBackend
from ketapain.stats._ddf import DfMethod
from ketapain.stats._design import (
    CrossoverData,
    CrossoverDesign,
    ModelKind,
    build_design,
    parse_crossover,
)
from ketapain.stats._glmm import NAGQ
from ketapain.stats._lmm import Method
from ketapain.stats._multiplicity import sidak_critical_value, sidak_p
from ketapain.stats._results import Contrast, CrossoverFit, EffectSize, FTest

__all__ = ["fit_crossover", "two_stage_message"]

CarryoverOption = bool | Literal["test-drop"]

#: ``stacklevel`` that attributes the two-stage warning to the caller of ``fit_crossover``
#: (``warnings.warn`` <- ``_main_fit`` <- ``fit_crossover`` <- caller).
_CALLER = 3


def two_stage_message(p_value: float, alpha: float) -> str:
    """The note and warning text of the two-stage carry-over strategy."""
    keep = p_value < alpha
    return (
        f"carry-over pre-test P = {p_value:.4g} {'<' if keep else '>='} {alpha}: carry-over "
        f"{'kept' if keep else 'dropped'}; two-stage testing biases the treatment test "
        "(Freeman 1989) - prefer a pre-specified model"
    )


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
    marginal means, as ``emmeans(m, pairwise ~ treatment)`` with ``m = lmerTest::lmer(y ~
    treatment + period + sequence + (1 | subject))`` (``lme4::glmer(..., family = binomial,
    nAGQ = nagq)`` for ``binary``). Sidak adjustment is over the ``k = T (T - 1) / 2`` pairs:
    ``p_sidak = 1 - (1 - p)^k``, intervals at level ``conf_level^(1/k)``.
    """
    _check_options(method=method, df_method=df_method, conf_level=conf_level, carryover=carryover, log=log,
                   binary=binary, nagq=nagq)
    work = _analysed_data(data, outcome, log)
    backend: ModelBackend = (
        LogisticBackend(outcome=outcome, nagq=nagq, conf_level=conf_level) if binary
        else LinearBackend(data=work, outcome=outcome, subject=subject, treatment=treatment, method=method,
                           df_method=df_method, conf_level=conf_level, log=log))
    check_option("model", model, MODEL_KIND)
    parsed = parse_crossover(work, outcome=outcome, subject=subject, period=period, sequence=sequence,
                             treatment=treatment, covariates=covariates, ref=ref)
    _check_scale(parsed.y, outcome)
    backend.check_data(parsed)
    models = _Models(parsed, model, tuple(covariates), backend)
    notes: list[str] = []
    main, carry_test = _main_fit(models, carryover, carryover_alpha, notes)
    return _comparisons(models, main, carry_test, notes, log=log, conf_level=conf_level)


def _check_options(*, method: str, df_method: str, conf_level: float, carryover: CarryoverOption, log: bool,
                   binary: bool, nagq: int) -> None:
    """Refuse an unknown option value or a combination that cannot be fitted."""
    check_option("df_method", df_method, DF_METHOD)
    check_option("method", method, FIT_METHOD)
    check_option("conf_level", conf_level, CONF_LEVEL)
    check_option("carryover", carryover, OneOf(True, False, "test-drop"))
    check_option("nagq", nagq, NAGQ)
    if binary and log:
        raise ModelError(template="{@log} and {@binary} cannot be combined")
    if df_method == "kenward-roger" and method != "REML" and not binary:
        raise ModelError(template="{@df_method='kenward-roger'} needs {@method='REML'} (as pbkrtest)")


def _analysed_data(data: pd.DataFrame, outcome: str, log: bool) -> pd.DataFrame:
    """``data``, with ``log(outcome)`` in place of the outcome when ``log`` (values must be > 0)."""
    if outcome not in data.columns:
        raise ModelError(f"outcome column {outcome!r} is missing; columns: {', '.join(map(str, data.columns))}")
    if not log:
        return data
    yv = pd.to_numeric(data[outcome], errors="coerce")
    bad = yv.notna() & ~(yv > 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + FIRST_DATA_ROW
        raise ModelError(f"{outcome}={yv.iloc[row - FIRST_DATA_ROW]} is not > 0; log needs positive values",
                         located=True, source="data", row=int(row))
    return data.assign(**{outcome: np.log(yv)})


OUTCOME_SCALE = (1e-100, 1e100)
"""Magnitudes of the outcome the fit accepts: results are equivariant to about 1e-10
relative across 1e-50..1e50 (tests/stats/test_crossover_degenerate.py); beyond 1e100 squares
and cubes of variances leave double precision."""


def _check_scale(y: np.ndarray, outcome: str) -> None:
    """Refuse an outcome whose size leaves double precision (module constant OUTCOME_SCALE)."""
    size = np.abs(y[np.isfinite(y) & (y != 0)])
    if size.size and (size.max() > OUTCOME_SCALE[1] or size.max() < OUTCOME_SCALE[0]):
        raise ModelError(
            f"{outcome}: values up to {size.max():.3g} in size cannot be fitted in double precision; "
            f"rescale the outcome (e.g. another unit) so that it lies within {OUTCOME_SCALE[0]:g}..{OUTCOME_SCALE[1]:g}",
            column=outcome, value=float(size.max()), allowed=f"{OUTCOME_SCALE[0]:g}..{OUTCOME_SCALE[1]:g}",
        )


@dataclass(frozen=True, slots=True)
class _Models:
    """The designs of one analysis (same data and terms, with or without carry-over and the
    sequence x treatment interaction) and their fits by the backend."""

    parsed: CrossoverData
    model: ModelKind
    covariates: tuple[str, ...]
    backend: ModelBackend

    def design(self, carryover: bool, sequence_by_treatment: bool = False) -> CrossoverDesign:
        return build_design(self.parsed, model=self.model, carryover=carryover, covariates=self.covariates,
                            sequence_by_treatment=sequence_by_treatment)

    def fit(self, carryover: bool) -> FittedModel:
        return self.backend.fit(self.design(carryover))

    def side_test(self, term: str, *, carryover: bool, notes: list[str]) -> FTest | None:
        """Test of ``term`` in a model fitted for it alone (warnings silenced); None, with a
        note saying why, when that model cannot be fitted."""
        what = "carry-over test" if term == "carryover" else "sequence x treatment test"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                design = self.design(carryover, term == "sequence:treatment")
                if term == "sequence:treatment" and design.term_columns(term).size == 0:
                    raise ModelError("all sequence x treatment columns are aliased with the main effects")
                return self.backend.fit(design).term_test(term)
        except ModelError as exc:
            notes.append(f"{what} not available: {exc}")
            return None


def _main_fit(models: _Models, carryover: CarryoverOption, alpha: float,
              notes: list[str]) -> tuple[FittedModel, FTest | None]:
    """The model of the analysis and the carry-over test, by the ``carryover`` strategy."""
    design = models.design(bool(carryover))
    models.backend.check_design(design)
    main = models.backend.fit(design)
    carry_test: FTest | None
    if not carryover:
        carry_test = models.side_test("carryover", carryover=True, notes=notes)
        if carry_test is not None:
            notes.append("carryover_test is from the same model with carry-over added")
    else:
        carry_test = main.term_test("carryover")
    if carry_test is not None and carryover == "test-drop":
        keep = carry_test.p_value < alpha
        msg = two_stage_message(carry_test.p_value, alpha)
        warnings.warn(msg, TwoStageTestingWarning, stacklevel=_CALLER)
        notes.append(msg)
        if not keep:
            main = models.fit(False)
    if main.singular:
        notes.append("boundary (singular) fit: between-subject variance estimated as 0")
    return main, carry_test


def _comparisons(models: _Models, main: FittedModel, carry_test: FTest | None, notes: list[str], *, log: bool,
                 conf_level: float) -> CrossoverFit:
    """Fixed effects, omnibus test, contrasts, effect sizes, residual and interaction checks."""
    backend, design = models.backend, main.design
    report = main.report()
    treatment_test = main.term_test("treatment")
    contrasts, effect_sizes = _pairwise(main, backend, conf_level, notes)
    normality, normality_notes = main.residual_normality()
    notes.extend(normality_notes)
    seq_trt = models.side_test("sequence:treatment", carryover="carryover" in design.terms, notes=notes)
    notes.extend(backend.closing_notes())
    return CrossoverFit(
        outcome=models.parsed.outcome, formula=backend.formula(design), method=backend.method,
        df_method=backend.df_method, conf_level=conf_level, log=log, binary=backend.binary,
        n_obs=report.n_obs, n_subjects=report.n_subjects, terms=design.columns, estimate=report.estimate,
        se=report.se, df=report.df, statistic=report.statistic, p_value=report.p_value,
        variance_subject=report.variance_subject, variance_residual=report.variance_residual, icc=report.icc,
        loglik=report.loglik, aic=report.aic, bic=report.bic, singular=report.singular,
        treatment_test=treatment_test, contrasts=tuple(contrasts), effect_sizes=tuple(effect_sizes),
        residual_normality=normality, sequence_by_treatment=seq_trt, carryover_test=carry_test, notes=tuple(notes),
    )


def _pairwise(main: FittedModel, backend: ModelBackend, conf_level: float,
              notes: list[str]) -> tuple[list[Contrast], list[EffectSize]]:
    """Every pair ``a - b`` of treatment levels (reference first): the contrast with its
    unadjusted and Sidak intervals (``k`` pairs: level ``conf_level^(1/k)``), and its effect
    sizes."""
    design = main.design
    pairs = design.treatment_pairs()
    k = len(pairs)
    contrasts: list[Contrast] = []
    effect_sizes: list[EffectSize] = []
    for a, b in pairs:
        lvec = design.pair_vector(a, b)
        tt = main.contrast(lvec)
        qcrit = backend.critical_value(tt.df)
        qs = sidak_critical_value(conf_level, k, tt.df)
        ci = (tt.estimate - qcrit * tt.se, tt.estimate + qcrit * tt.se)
        ratio = backend.ratios
        contrasts.append(Contrast(
            a=a, b=b, estimate=tt.estimate, se=tt.se, df=tt.df, statistic=tt.statistic, p_value=tt.p_value,
            p_sidak=float(sidak_p(tt.p_value, k)), ci_low=ci[0], ci_high=ci[1],
            ci_sidak_low=tt.estimate - qs * tt.se, ci_sidak_high=tt.estimate + qs * tt.se,
            ratio=math.exp(tt.estimate) if ratio else None, ratio_ci_low=math.exp(ci[0]) if ratio else None,
            ratio_ci_high=math.exp(ci[1]) if ratio else None,
        ))
        sizes, size_notes = main.effect_sizes(contrasts[-1], lvec)
        effect_sizes.extend(sizes)
        notes.extend(size_notes)
    return contrasts, effect_sizes
