"""Degenerate-fit rules shared by every model: when a fitted number is not a result.

One module owns the rules; every model of the analysis plan (the crossover linear mixed
models, the logistic GLMMs of responders and adverse events, the binary crossover fit) is
checked here after it is fitted, and the outcome is one :class:`ModelCheck`:

``ok``
    No rule tripped; the numbers are reported.
``singular``
    A variance component is on its lower boundary 0 (lme4's ``isSingular``, tolerance 1e-4
    on the random-intercept SD for a GLMM, exactly 0 for the REML fit). The fit is the valid
    maximum-likelihood fit of the model without the random intercept; numbers are reported,
    and the status says so.
``not_estimable``
    At least one rule below tripped; the caller reports NaN estimates, intervals and P values
    with the reasons as a note, never the diverged numbers.

Rules (thresholds are module constants, justified in ``docs/glmm.md``, "Degenerate fits"):

Logistic GLMM (log-odds scale)
    * a treatment log odds ratio with ``|beta| > MAX_ABS_LOG_ODDS`` (10: an odds ratio beyond
      e^10 = 22,026 or below 1/22,026);
    * a treatment SE above ``MAX_SE_LOG_ODDS`` (5: the 95% CI of the odds ratio then spans a
      factor e^(2 x 1.96 x 5) = 3e8, it says nothing);
    * a random-intercept SD ``theta > MAX_THETA_LOGIT`` (10, a variance of 100 on the logit
      scale: two patients 1 SD apart differ in odds by e^10; the fit is chasing all-or-none
      patients, the variance is diverging towards its upper bound +infinity);
    * the covariance of the fixed effects (inverse Hessian) near-singular: the condition number
      of its correlation matrix above ``MAX_CONDITION`` (1e8, half of double precision's
      digits lost), or not positive definite, or any non-finite estimate or SE;
    * reason only (it explains the above): within-patient quasi-separation of a treatment
      (:func:`within_subject_separation`), the condition under which the conditional
      likelihood has no finite maximum and the GLMM's estimate diverges with theta.
Linear mixed model
    * a non-finite estimate, SE or denominator df, or an SE of 0 for a treatment term;
    * the residual variance at its bound 0 (below ``MIN_RESIDUAL_SHARE`` = 1e-6 of the total
      variance, the engine's own limit ``sigma_b / sigma > 1000`` of ``_lmm``): the model
      reproduces every observation, its tests divide by zero;
    * a treatment-test denominator df below ``MIN_DF`` (1): no t or F reference exists.
Daily linear mixed model (the MAR sensitivity analysis, :func:`check_daily_fit`)
    * a non-finite estimate or SE, the residual variance at its bound (as above, against the
      sum of the three variance components), or a near-singular covariance of the fixed
      effects (as for the GLMM); ``singular`` when a variance component is exactly 0.

Examples
--------
>>> check = ModelCheck("not_estimable", ("|log OR| of treatment[K] = 79.5 > 10",))
>>> check.estimable, check.reason
(False, '|log OR| of treatment[K] = 79.5 > 10')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize

from ketapain.stats._daily_lmm import DailyModelFit
from ketapain.stats._results import CrossoverFit, LogisticGLMMFit

__all__ = [
    "MAX_ABS_LOG_ODDS",
    "MAX_CONDITION",
    "MAX_SE_LOG_ODDS",
    "MAX_THETA_LOGIT",
    "MIN_DF",
    "MIN_RESIDUAL_SHARE",
    "MODEL_CHECK_STATUSES",
    "ModelCheck",
    "check_crossover_fit",
    "check_daily_fit",
    "check_linear_numbers",
    "check_logistic_fit",
    "combine_checks",
    "degenerate_mask",
    "fixed_effect_separation",
    "within_subject_separation",
]

MAX_ABS_LOG_ODDS = 10.0
MAX_SE_LOG_ODDS = 5.0
MAX_THETA_LOGIT = 10.0
MAX_CONDITION = 1e8
MIN_RESIDUAL_SHARE = 1e-6
MIN_DF = 1.0
SINGULAR_THETA = 1e-4  # lme4::isSingular(tol = 1e-4), as _glmm.SINGULAR_TOL
Status = Literal["ok", "singular", "not_estimable"]
#: The statuses of a check, from best to worst.
MODEL_CHECK_STATUSES: tuple[Status, ...] = ("ok", "singular", "not_estimable")


@dataclass(frozen=True, slots=True)
class ModelCheck:
    """The verdict on one fit: ``status`` (``ok``, ``singular``, ``not_estimable``) and why.

    ``reasons`` are complete sentences naming the term, the value and the bound.
    """

    status: Status
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in MODEL_CHECK_STATUSES:
            raise ValueError(f"status must be one of {MODEL_CHECK_STATUSES}, got {self.status!r}")

    @property
    def estimable(self) -> bool:
        """False when the numbers of the fit must not be reported."""
        return self.status != "not_estimable"

    @property
    def reason(self) -> str:
        """The reasons joined by ``"; "`` (empty when ``ok``)."""
        return "; ".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason}


def _verdict(fatal: list[str], singular: str | None) -> ModelCheck:
    if fatal:
        return ModelCheck("not_estimable", tuple(fatal))
    if singular is not None:
        return ModelCheck("singular", (singular,))
    return ModelCheck("ok")


def _condition_reason(cov: np.ndarray) -> str | None:
    """Why the fixed-effects covariance is near-singular (None when it is not)."""
    cov = np.asarray(cov, dtype=float)
    if not np.all(np.isfinite(cov)):
        return "the covariance of the fixed effects (inverse Hessian) has non-finite values"
    var = np.diag(cov)
    if not np.all(var > 0):
        return "the covariance of the fixed effects (inverse Hessian) has a variance <= 0"
    sd = np.sqrt(var)
    corr = cov / np.outer(sd, sd)
    eig = np.linalg.eigvalsh(0.5 * (corr + corr.T))
    if eig[0] <= 0:
        return "the covariance of the fixed effects (inverse Hessian) is not positive definite"
    cond = float(eig[-1] / eig[0])
    if cond > MAX_CONDITION:
        return (f"the Hessian is near-singular: condition number {cond:.3g} of the fixed effects' correlation "
                f"matrix > {MAX_CONDITION:g}")
    return None


def _treatment_index(names: Sequence[str], terms: Sequence[str] | None) -> list[int]:
    if terms is None:
        return [j for j, n in enumerate(names) if n.startswith("treatment[")]
    return [list(names).index(t) for t in terms]


def check_logistic_fit(
    fit: LogisticGLMMFit,
    *,
    terms: Sequence[str] | None = None,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> ModelCheck:
    """Check a :func:`~ketapain.stats.fit_logistic_glmm` fit by the module's GLMM rules.

    Parameters
    ----------
    fit : LogisticGLMMFit
    terms : sequence of str, optional
        The terms whose estimates are reported (default: every ``treatment[...]`` term).
    X, y, groups : arrays, optional
        The data of the fit; when given and a rule trips, the within-patient separation of
        ``terms`` is added to the reasons (:func:`within_subject_separation`).

    Returns
    -------
    ModelCheck
    """
    names = list(fit.term_names)
    idx = _treatment_index(names, terms)
    fatal: list[str] = []
    est, se = np.asarray(fit.estimates), np.asarray(fit.se)
    if not (np.all(np.isfinite(est)) and np.all(np.isfinite(se))):
        fatal.append("an estimate or SE is not finite")
    for j in idx:
        if abs(est[j]) > MAX_ABS_LOG_ODDS:
            fatal.append(f"|log OR| of {names[j]} = {abs(est[j]):.3g} > {MAX_ABS_LOG_ODDS:g} "
                         f"(odds ratio {math.exp(min(est[j], 700.0)):.3g})")
        if se[j] > MAX_SE_LOG_ODDS:
            fatal.append(f"SE of the log OR of {names[j]} = {se[j]:.3g} > {MAX_SE_LOG_ODDS:g}")
    if fit.theta > MAX_THETA_LOGIT:
        fatal.append(f"random-intercept SD theta = {fit.theta:.3g} > {MAX_THETA_LOGIT:g} on the logit scale "
                     f"(variance {fit.variance:.3g} diverging: patients with all-or-none outcomes)")
    cond = _condition_reason(np.asarray(fit.cov))
    if cond is not None:
        fatal.append(cond)
    if fatal and X is not None and y is not None and groups is not None:
        sep = within_subject_separation(X, y, groups, term_names=names, terms=[names[j] for j in idx])
        if sep:
            fatal.append("within-patient quasi-separation of " + ", ".join(sep)
                         + " (no finite conditional maximum-likelihood estimate)")
    singular = (f"boundary (singular) fit: random-intercept SD theta = {fit.theta:.3g} < {SINGULAR_THETA:g}"
                if fit.theta < SINGULAR_THETA else None)
    return _verdict(fatal, singular)


def check_crossover_fit(fit: CrossoverFit) -> ModelCheck:
    """Check a :func:`~ketapain.stats.fit_crossover` fit (linear, or binary by the GLMM rules
    on its coefficients and ``theta = sqrt(variance_subject)``)."""
    names = list(fit.terms)
    idx = _treatment_index(names, None)
    est, se, df = (np.asarray(a, dtype=float) for a in (fit.estimate, fit.se, fit.df))
    fatal: list[str] = []
    if not (np.all(np.isfinite(est)) and np.all(np.isfinite(se))):
        bad = [names[j] for j in range(len(names)) if not (math.isfinite(est[j]) and math.isfinite(se[j]))]
        fatal.append(f"estimate or SE not finite for {', '.join(bad)}")
    zero = [names[j] for j in idx if se[j] == 0]
    if zero:
        fatal.append(f"SE = 0 for {', '.join(zero)}")
    if fit.binary:
        theta = math.sqrt(max(fit.variance_subject, 0.0))
        for j in idx:
            if abs(est[j]) > MAX_ABS_LOG_ODDS:
                fatal.append(f"|log OR| of {names[j]} = {abs(est[j]):.3g} > {MAX_ABS_LOG_ODDS:g}")
            if se[j] > MAX_SE_LOG_ODDS:
                fatal.append(f"SE of the log OR of {names[j]} = {se[j]:.3g} > {MAX_SE_LOG_ODDS:g}")
        if theta > MAX_THETA_LOGIT:
            fatal.append(f"random-intercept SD theta = {theta:.3g} > {MAX_THETA_LOGIT:g} on the logit scale")
        singular = (f"boundary (singular) fit: random-intercept SD theta = {theta:.3g} < {SINGULAR_THETA:g}"
                    if theta < SINGULAR_THETA else None)
        return _verdict(fatal, singular)
    s2 = fit.variance_residual if fit.variance_residual is not None else math.nan
    fatal += _linear_rules(fit.variance_subject, s2, float(fit.treatment_test.df_den), df[idx])
    singular = ("boundary (singular) fit: between-patient variance estimated as 0" if fit.singular else None)
    return _verdict(fatal, singular)


def _linear_rules(var_subject: float, var_residual: float, df_den: float, df_terms: np.ndarray) -> list[str]:
    """The variance and df rules of a linear crossover fit (module doc), as reasons."""
    fatal = []
    total = var_subject + var_residual
    if not (math.isfinite(total) and total > 0) or var_residual <= MIN_RESIDUAL_SHARE * total:
        fatal.append(f"residual variance {var_residual:.3g} at its bound 0 (below {MIN_RESIDUAL_SHARE:g} of the "
                     f"total variance {total:.3g}): the model reproduces every observation")
    if not (df_den >= MIN_DF) or any(not (d >= MIN_DF) for d in df_terms):
        fatal.append(f"denominator df below {MIN_DF:g} or not finite (treatment test df {df_den:.3g})")
    return fatal


def check_linear_numbers(
    *,
    contrasts: Sequence[str],
    estimate: np.ndarray,
    se: np.ndarray,
    df: np.ndarray,
    df_den: float,
    var_subject: float,
    var_residual: float,
    singular: bool,
) -> ModelCheck:
    """The linear rules of :func:`check_crossover_fit` applied to the numbers of a fit that has
    no :class:`~ketapain.stats.CrossoverFit` (one completed data set of a multiple imputation):
    the treatment ``contrasts`` with their ``estimate``, ``se`` and ``df``, the denominator df
    of the treatment F test, and the two variance components (outcome units squared)."""
    est, se_, df_ = (np.asarray(a, dtype=float) for a in (estimate, se, df))
    fatal: list[str] = []
    finite = np.isfinite(est) & np.isfinite(se_)
    if not finite.all():
        fatal.append("estimate or SE not finite for " + ", ".join(c for c, f in zip(contrasts, finite, strict=True) if not f))
    zero = [c for c, v in zip(contrasts, se_, strict=True) if v == 0]
    if zero:
        fatal.append(f"SE = 0 for {', '.join(zero)}")
    fatal += _linear_rules(var_subject, var_residual, df_den, df_)
    return _verdict(fatal, "boundary (singular) fit: between-patient variance estimated as 0" if singular else None)


def degenerate_mask(
    *,
    estimate: np.ndarray,
    se: np.ndarray,
    df: np.ndarray,
    df_den: np.ndarray,
    var_subject: np.ndarray,
    var_residual: np.ndarray,
) -> np.ndarray:
    """The linear rules of :func:`check_linear_numbers` over a batch of ``G`` fits at once
    (the trials of a power simulation, :func:`~ketapain.stats.fit_crossover_arrays`): True
    where a fit is not estimable. ``estimate``, ``se``, ``df`` are ``(G, k)`` contrasts (a NaN
    pair counts as not estimable), ``df_den``, ``var_subject``, ``var_residual`` are ``(G,)``.
    A fit that failed (all NaN) is also True."""
    est, se_, df_ = (np.asarray(a, dtype=float) for a in (estimate, se, df))
    den, vs, vr = (np.asarray(a, dtype=float) for a in (df_den, var_subject, var_residual))
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(est) & np.isfinite(se_) & (se_ > 0) & (df_ >= MIN_DF)).all(axis=1)
        total = vs + vr
        bad |= ~(np.isfinite(total) & (total > 0) & (vr > MIN_RESIDUAL_SHARE * total))
        bad |= ~(den >= MIN_DF)
    return np.asarray(bad, dtype=bool)


def combine_checks(checks: Sequence[ModelCheck], what: str) -> ModelCheck:
    """One verdict for a set of fits that make one result (the ``m`` fits pooled by Rubin's
    rules): ``not_estimable`` if any is, with the first reasons and how many; ``singular`` if any
    is singular (counted); else ``ok``. ``what`` names one fit in the reasons ("imputation")."""
    bad = [(i, c) for i, c in enumerate(checks, start=1) if not c.estimable]
    if bad:
        first = "; ".join(f"{what} {i}: {c.reason}" for i, c in bad[:3])
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        return ModelCheck("not_estimable", (f"{len(bad)} of {len(checks)} {what} fits not estimable: {first}{more}",))
    singular = sum(c.status == "singular" for c in checks)
    if singular:
        return ModelCheck("singular", (f"{singular} of {len(checks)} {what} fits singular (between-patient "
                                       "variance estimated as 0)",))
    return ModelCheck("ok", ())


def check_daily_fit(fit: DailyModelFit) -> ModelCheck:
    """Check a :func:`~ketapain.stats.fit_daily_model` fit (the daily model's rules, module doc)."""
    fatal: list[str] = []
    est, se = np.asarray(fit.estimate, dtype=float), np.asarray(fit.se, dtype=float)
    if not (np.all(np.isfinite(est)) and np.all(np.isfinite(se))):
        fatal.append("an estimate or SE is not finite")
    total = fit.sigma2_patient + fit.sigma2_patient_period + fit.sigma2_residual
    if not (math.isfinite(total) and total > 0) or fit.sigma2_residual <= MIN_RESIDUAL_SHARE * total:
        fatal.append(f"residual variance {fit.sigma2_residual:.3g} at its bound 0 (below {MIN_RESIDUAL_SHARE:g} of "
                     f"the total variance {total:.3g})")
    cond = _condition_reason(np.asarray(fit.vcov))
    if cond is not None:
        fatal.append(cond)
    singular = "boundary (singular) fit: a variance component estimated as 0" if fit.singular else None
    return _verdict(fatal, singular)


@dataclass(frozen=True, slots=True)
class Separation:
    """A separating direction of the fixed effects: ``terms`` (the names with a non-zero
    component) and ``rows``, the observations it predicts perfectly (margin > 0)."""

    terms: tuple[str, ...]
    rows: np.ndarray


def fixed_effect_separation(X: np.ndarray, y: np.ndarray, *, term_names: Sequence[str]) -> Separation | None:
    """A direction ``d`` with ``(2y - 1) x'd >= 0`` on every row and > 0 on some (complete or
    quasi-complete separation by the fixed effects; Konis 2007's linear program, maximising
    the sum of margins in the box ``|d| <= 1``, HiGHS), or None when there is none.

    Examples
    --------
    >>> X = np.column_stack([np.ones(4), [0.0, 0.0, 1.0, 1.0]])    # every t = 1 row has y = 1
    >>> sep = fixed_effect_separation(X, np.array([0, 1, 1, 1]), term_names=["(Intercept)", "t"])
    >>> sep.terms, sep.rows.tolist()
    (('t',), [False, False, True, True])
    """
    X = np.asarray(X, dtype=float)
    s = 2.0 * np.asarray(y, dtype=float) - 1.0
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    sx = s[:, None] * (X / scale)
    res = optimize.linprog(-sx.sum(axis=0), A_ub=-sx, b_ub=np.zeros(len(s)), bounds=(-1.0, 1.0), method="highs")
    if res.status != 0 or -float(res.fun or 0.0) <= 1e-6:
        return None
    direction = np.asarray(res.x, dtype=float)
    margin = sx @ direction
    terms = tuple(term_names[int(j)] for j in np.flatnonzero(np.abs(direction) > 1e-7))
    return Separation(terms=terms, rows=margin > 1e-7)


def within_subject_separation(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, *, term_names: Sequence[str], terms: Sequence[str]
) -> list[str]:
    """The ``terms`` along which the data are (quasi-)separated once every subject has its own
    intercept: a direction ``d`` with ``d_term != 0`` and ``(2y - 1) x'd >= 0`` on every row of
    ``[X, subject dummies]`` exists (Konis 2007's linear program, solved twice per term:
    maximise and minimise ``d_term`` within the box ``|d| <= 1``).

    Then the conditional (within-patient) likelihood has no finite maximum in that term, and a
    random-intercept GLMM's estimate diverges as its variance grows.

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), np.tile([0.0, 1.0], 3)])
    >>> y = np.array([1, 0, 1, 0, 0, 0])            # treated never has the event, untreated may
    >>> within_subject_separation(X, y, np.repeat([1, 2, 3], 2), term_names=["(Intercept)", "t"], terms=["t"])
    ['t']
    """
    X = np.asarray(X, dtype=float)
    s = 2.0 * np.asarray(y, dtype=float) - 1.0
    codes, _ = pd.factorize(np.asarray(groups))
    dummies = (codes[:, None] == np.arange(codes.max() + 1)[None, :]).astype(float)
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    A = np.column_stack([X / scale, dummies])
    sx = s[:, None] * A
    out = []
    for t in terms:
        j = list(term_names).index(t)
        for sign in (1.0, -1.0):
            c = np.zeros(A.shape[1])
            c[j] = -sign
            res = optimize.linprog(c, A_ub=-sx, b_ub=np.zeros(len(s)), bounds=(-1.0, 1.0), method="highs")
            if res.status == 0 and -float(res.fun or 0.0) > 1e-7:
                out.append(t)
                break
    return out
